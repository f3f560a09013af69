/**
 * What a bare-metal site's stack leaves in Pulumi's state: the program (index.ts) run under
 * mocks in this process, every resource's inputs taken as the SDK sends them to the engine, and
 * measured by modules/plan/state-size.ts. The mock runtime is one per process: `measureSite`
 * runs this file in a child of its own.
 *
 *   node --import tsx bench/state.ts <stack file> agent|<private key file>
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MetalFleetSpec } from "../modules/config/fleet.schema";
import { loadStackFile, pulumiConfigMap } from "../modules/stacks/stack";
import { evaluatingOffline } from "../modules/program/offline";
import { mockCall, mockId, mockState } from "../modules/plan/mock-state";
import {
  siteStateBytes,
  type RegisteredResource,
  type StateBytes,
} from "../modules/plan/state-size";
import { ROOT } from "../test/support/cli";

export interface SiteState {
  stack: string;
  hosts: number;
  /** The host whose resources take the most. */
  maxPerHost: StateBytes;
  meanPerHost: StateBytes;
  total: StateBytes;
}

interface Request {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

interface OutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}

type Callback = (err: unknown, response?: unknown) => void;

/** How the site's connections authenticate: the operator's ssh-agent, or this private key. */
export type Auth = "agent" | { keyFile: string };

async function registered(stackFile: string, auth: Auth): Promise<SiteState> {
  const stack = loadStackFile(stackFile);
  const fleet = stack.fleet;
  if (fleet?.kind !== "metal") throw new Error(`${stackFile} is not a bare-metal stack`);
  // An update's state, measured under mocks: the example stacks are measured as they are.
  evaluatingOffline(dirname(stackFile));
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => ({
        id: mockId(type, name),
        state: mockState(type, name, inputs, () => ({})),
      }),
      call: ({ token, inputs }) => mockCall(token, inputs),
    },
    "avfleet",
    stack.name,
    false,
    "organization",
  );
  const document = structuredClone(stack.document);
  const spec = document.config["avfleet:fleet"] as MetalFleetSpec;
  if (auth === "agent") {
    spec.ssh.agent = true;
    delete document.config["avfleet:sshPrivateKey"];
  } else {
    spec.ssh.agent = false;
  }
  const { config, secretKeys } = pulumiConfigMap(document);
  if (auth !== "agent") config["avfleet:sshPrivateKey"] = readFileSync(auth.keyFile, "utf8");
  pulumi.runtime.setAllConfig(config, secretKeys);
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(req: Request, callback: Callback): Promise<void>;
    registerResourceOutputs(req: OutputsRequest, callback: Callback): void;
  };
  const resources = new Map<string, RegisteredResource>();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    resources.set(monitor.newUrn(req.getParent(), req.getType(), req.getName()), {
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      inputs: req.getObject()?.toJavaScript() ?? {},
    });
    return register(req, callback);
  };
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, callback) => {
    const resource = resources.get(req.getUrn());
    if (resource) resource.outputs = req.getOutputs()?.toJavaScript() ?? {};
    registerOutputs(req, callback);
  };
  // the program is an exported function, which Pulumi's Node.js host calls and awaits
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await (require(join(ROOT, "index.ts")) as () => Promise<unknown>)();
  await pulumi.runtime.disconnect();
  const hosts = stack.inventory!.hosts.filter((h) => h.state !== "retired").map((h) => h.name);
  const { perHost, total } = siteStateBytes([...resources.values()], fleet.pool, hosts);
  const each = [...perHost.values()];
  const mean = (key: keyof StateBytes) => each.reduce((n, b) => n + b[key], 0) / each.length;
  return {
    stack: stack.name,
    hosts: each.length,
    maxPerHost: each.reduce((a, b) => (b.compact > a.compact ? b : a)),
    meanPerHost: { compact: mean("compact"), indented: mean("indented") },
    total,
  };
}

/** A site's state, measured in a process of its own. */
export function measureSite(stackFile: string, auth: Auth): SiteState {
  const out = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--max-old-space-size=4096",
      join(ROOT, "bench/state.ts"),
      stackFile,
      auth === "agent" ? auth : auth.keyFile,
    ],
    { encoding: "utf8", cwd: ROOT, maxBuffer: 1 << 24 },
  );
  return JSON.parse(out) as SiteState;
}

if (require.main === module) {
  const [stackFile, auth] = process.argv.slice(2);
  registered(stackFile, auth === "agent" ? auth : { keyFile: auth }).then(
    (state) => process.stdout.write(`${JSON.stringify(state)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
      process.exit(1);
    },
  );
}
