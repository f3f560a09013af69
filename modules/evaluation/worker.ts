/**
 * Evaluates stacks under Pulumi's mock runtime, one after another as the parent sends their
 * files, and sends each Plan back over IPC: resources in batches as they register (neither
 * side holds the whole Plan as one message), then the rest of the Plan and every file the
 * evaluation used. A warm worker keeps the SDK, the providers and our modules loaded and
 * runs the program (index.ts) afresh for each stack, under a new mock monitor and config;
 * test/evaluation/warm-worker.test.ts checks that this gives the Plans separate processes give.
 *
 * Runs only inside the bundle modules/evaluation/bundle.ts builds: node <bundle>, fed over IPC.
 */
import * as pulumi from "@pulumi/pulumi";
import fs from "node:fs";
import { getPriority } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { loadStackFile, pulumiConfigMap, stackFileName, type LoadedStack } from "../stacks/stack";
import { rememberCheckedInputs, type CheckedInput } from "../inputs/validate";
import { evaluatingOffline } from "../program/offline";
import type { FleetSpec } from "../config/fleet.schema";
import { fleetEconomics } from "../capacity/capacity";
import { trafficShareOf } from "../traffic/shares";
import { TRAFFIC_SPLITS } from "./cache";
import { mockAddress, mockCall, mockId, mockState } from "../plan/mock-state";
import type { Plan, PlanResource } from "../plan/plan";
import { hasAsset, redactSecrets } from "../plan/redact";
import { StringSharer } from "./shared-strings";
import { quietStackTraces, TRACES_HINT } from "./stack-traces";
import { SECRET } from "../plan/plan";

interface RegisterRequest {
  /** The inputs as the SDK serialized them: an asset is its signature and path there. */
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getImportid(): string;
  getIgnorechangesList(): string[];
  getRetainondelete(): boolean | undefined;
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
}

interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
}

type Callback = (err: unknown, response?: { toString(): string }) => void;

interface MockMonitorInternals {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, callback: Callback): Promise<void>;
  readResource(req: ReadRequest, callback: Callback): Promise<void>;
}

/**
 * The SDK interpolates every RPC response into a debug line, built whatever the log level:
 * a protobuf message as text is all its contents — for a bare-metal host its 95 KB payload
 * again, per resource. The line is never shown offline; the response says only its kind.
 */
function terse(callback: Callback): Callback {
  return (err, response) => {
    if (response) response.toString = () => "[response]";
    callback(err, response);
  };
}

async function resolveOutput(value: unknown): Promise<unknown> {
  const output = pulumi.output(value as pulumi.Input<object>) as pulumi.Output<unknown>;
  const [plain, secret] = await Promise.all([
    new Promise((done) => output.apply(done)),
    (output as unknown as { isSecret: Promise<boolean> }).isSecret,
  ]);
  return secret ? SECRET : redactSecrets(plain);
}

/**
 * What a StackReference reads offline: a fleet stack's outputs that come from its config
 * (endpoint, its signaling port, pool, media region, endpoint addresses); of the stack itself
 * what its last update left, `applied`: nothing unless the caller says (a GCP pool's address
 * is the one its own mock gets).
 */
function stackOutputs(
  self: LoadedStack,
  name: string,
  applied: Record<string, unknown> = {},
): Record<string, unknown> {
  if (name === self.name) return applied;
  const fleet = loadStackFile(stackFileName(dirname(self.file), name)).fleet;
  return fleet
    ? {
        endpoint: fleet.endpoint,
        signalingPort: fleet.ports.signalingTcp[0],
        pool: fleet.pool,
        mediaRegion: fleet.mediaRegion,
        kind: fleet.kind,
        ...endpointAddresses(fleet),
      }
    : {};
}

/** A GCP pool's load-balancer address (modules/fleets names it `<pool>-lb-ip`), a site's declared ones. */
function endpointAddresses(fleet: FleetSpec): { endpointAddresses?: string[] } {
  if (fleet.kind === "gcp") return { endpointAddresses: [mockAddress(`${fleet.pool}-lb-ip`)] };
  if (fleet.kind === "metal" && fleet.endpointAddresses)
    return { endpointAddresses: fleet.endpointAddresses };
  return {};
}

/** The parent's request: evaluate this stack file. */
export interface EvaluateMessage {
  kind: "evaluate";
  stackFile: string;
  /** The stack's outputs as its last update left them (none: never applied). */
  applied?: Record<string, unknown>;
}

/** Documents the parent already checked (an inventory is parsed once, not once per process). */
export interface CheckedMessage {
  kind: "checked";
  inputs: CheckedInput[];
}

/**
 * A batch of resources, in registration order, their long strings as references to `strings`
 * of this and earlier batches (./shared-strings.ts).
 */
export interface ResourcesMessage {
  kind: "resources";
  resources: PlanResource[];
  /** Long strings first used in this batch, numbered after those of earlier batches. */
  strings: string[];
}

/** The Plan without its resources, and the absolute paths of every file the evaluation read. */
export interface DoneMessage {
  kind: "done";
  plan: Omit<Plan, "resources">;
  reads: string[];
  stats: WorkerStats;
}

/** Where a worker's time and memory went, for benchmarks and progress. */
export interface WorkerStats {
  /** From the worker's process start until it could evaluate (SDK, providers, our modules). */
  startSeconds: number;
  /** This stack's evaluation, program and mocks, until its last resource was sent. */
  evaluateSeconds: number;
  /** The worker's peak resident memory so far. */
  peakMiB: number;
  /** The worker's scheduling priority (nice) when it finished the stack. */
  priority: number;
}

const BATCH = 500;

/** The bundle's module tracker (TRACKER in ./bundle.ts). */
interface Tracker {
  initializing: string[];
  edges: Map<string, Set<string>>;
  roots: Set<string>;
  use(key: string): void;
  reset(key: string): void;
}

const tracker = () => (globalThis as unknown as { __avfleet: Tracker }).__avfleet;

/** False while the worker reads files whose bytes a Plan does not depend on as such. */
let tracking = true;

/**
 * Files read at run time (stack files, inventories, data beside modules) count as used,
 * like modules: while a module initializes, by that module. Dependencies are covered by
 * the lockfile.
 */
function trackFileReads(): void {
  for (const name of ["readFileSync", "existsSync", "statSync", "readdirSync"] as const) {
    const original = fs[name] as (...args: unknown[]) => unknown;
    (fs as unknown as Record<string, unknown>)[name] = function (
      this: unknown,
      ...args: unknown[]
    ) {
      const file = typeof args[0] === "string" ? resolve(args[0]) : undefined;
      if (tracking && file && !file.includes(`${sep}node_modules${sep}`)) tracker().use(file);
      return original.apply(this, args);
    };
  }
}

/** Everything reachable from `roots`: modules by their path from the project root, files. */
function used(roots: Iterable<string>): string[] {
  const { edges } = tracker();
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const next of edges.get(key) ?? []) visit(next);
  };
  for (const key of roots) visit(key);
  return [...seen].map((key) => resolve(key)).sort();
}

/**
 * A fleet's share in the traffic splits of its directory. Finding them reads every stack file
 * there; the Plan depends on the splits alone (TRAFFIC_SPLITS in ./cache.ts).
 */
function trafficShare(stack: LoadedStack): number {
  const dir = dirname(stack.file);
  tracking = false;
  try {
    return trafficShareOf(dir, stack.name);
  } finally {
    tracking = true;
    tracker().use(join(dir, TRAFFIC_SPLITS));
  }
}

async function evaluate(
  { stackFile, applied }: EvaluateMessage,
  loadProgram: () => Record<string, unknown>,
  sharer: StringSharer,
  send: (message: ResourcesMessage) => void,
): Promise<Omit<Plan, "resources">> {
  const stack = loadStackFile(stackFile);
  evaluatingOffline(dirname(stackFile));
  // The mock answers the program's read and the Plan records the same read: load each once.
  const referenced = new Map<string, Record<string, unknown>>();
  const referencedOutputs = (self: LoadedStack, ref: string) => {
    if (!referenced.has(ref))
      referenced.set(ref, stackOutputs(self, ref.split("/").pop()!, applied));
    return referenced.get(ref)!;
  };
  // The mock monitor knows each resource's parent and URN, and hands the mock its inputs
  // already decoded; neither alone makes a Plan resource. The monitor's request is recorded
  // first, and the mock, which the monitor calls before it awaits anything, completes it.
  let resources: PlanResource[] = [];
  let awaitingInputs: PlanResource | undefined;
  let awaitingRequest: RegisterRequest | ReadRequest | undefined;
  const flush = () => {
    if (resources.length > 0) send({ kind: "resources", resources, strings: sharer.take() });
    resources = [];
  };
  const withInputs = (type: string, name: string, inputs: Record<string, unknown>) => {
    const resource = awaitingInputs;
    awaitingInputs = undefined;
    if (resource?.type !== type || resource.name !== name) {
      throw new Error(
        `the mock runtime created ${type} ${name} outside the monitor's request (${resource?.type} ${resource?.name}): has @pulumi/pulumi's MockMonitor changed?`,
      );
    }
    // The mock hands over an asset's path as a promise, which no Plan can hold: take the
    // request's serialized inputs, where it is a string.
    const request = awaitingRequest;
    const wire =
      request && "getObject" in request && hasAsset(inputs)
        ? (request.getObject()?.toJavaScript() ?? inputs)
        : inputs;
    resource.inputs = sharer.share(redactSecrets(wire)) as Record<string, unknown>;
    // Policies see a read resource's state; for a StackReference that is its outputs.
    if (type === "pulumi:pulumi:StackReference") {
      resource.inputs = {
        ...resource.inputs,
        outputs: referencedOutputs(stack, String(inputs.name)),
      };
    }
  };
  // preview=false: with true, outputs the mock did not return stay unknown and apply()
  // callbacks never run, so interpolated inputs would be missing from the Plan.
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        withInputs(type, name, inputs);
        return {
          id: mockId(type, name),
          state: mockState(type, name, inputs, (ref) => referencedOutputs(stack, ref)),
        };
      },
      call: ({ token, inputs }) => mockCall(token, inputs),
    },
    "avfleet",
    stack.name,
    false,
    // Self-managed backends name their one organization "organization".
    "organization",
  );
  const { config, secretKeys } = pulumiConfigMap(stack.document);
  pulumi.runtime.setAllConfig(config, secretKeys);

  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorInternals;
  const record = (req: RegisterRequest | ReadRequest, custom: boolean) => {
    if (resources.length >= BATCH) flush();
    const parent = req.getParent() || undefined;
    const importId = "getImportid" in req ? req.getImportid() : undefined;
    const ignoreChanges = "getIgnorechangesList" in req ? req.getIgnorechangesList() : [];
    const retainOnDelete = "getRetainondelete" in req && req.getRetainondelete() === true;
    const replaceOnChanges = "getReplaceonchangesList" in req ? req.getReplaceonchangesList() : [];
    const deleteBeforeReplace =
      "getDeletebeforereplace" in req && req.getDeletebeforereplace() === true;
    awaitingRequest = req;
    awaitingInputs = {
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      type: req.getType(),
      name: req.getName(),
      ...(parent ? { parent } : {}),
      custom,
      inputs: {},
      ...(importId ? { importId } : {}),
      ...(ignoreChanges.length ? { ignoreChanges } : {}),
      ...(retainOnDelete ? { retainOnDelete } : {}),
      ...(replaceOnChanges.length ? { replaceOnChanges } : {}),
      ...(deleteBeforeReplace ? { deleteBeforeReplace } : {}),
    };
    resources.push(awaitingInputs);
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    record(req, req.getCustom());
    return register(req, terse(callback));
  };
  // Resources the program reads rather than manages (StackReferences) arrive here.
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, callback) => {
    record(req, true);
    return read(req, terse(callback));
  };

  // The program is a function the language host calls and awaits (index.ts): so is it here.
  const program: unknown = loadProgram();
  const exported = (typeof program === "function" ? await program() : program) as Record<
    string,
    unknown
  >;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) outputs[key] = await resolveOutput(value);
  // Resources declared inside apply() register late: wait for every outstanding RPC.
  await pulumi.runtime.disconnect();
  flush();
  return {
    name: stack.name,
    outputs,
    ...(stack.fleet
      ? fleetEconomics(stack.fleet, stack.inventory, {
          region:
            stack.fleet.kind === "gcp"
              ? stack.document.config["gcp:region"]
              : stack.document.config["aws:region"],
          trafficShare: trafficShare(stack),
        })
      : {}),
  };
}

/**
 * The bundle's entry: evaluates each stack file the parent sends, until it disconnects.
 * `loadProgram` requires index.ts; its instance is forgotten before each stack, so the
 * program runs again for every stack.
 */
export function runWorker(loadProgram: () => Record<string, unknown>): void {
  quietStackTraces();
  trackFileReads();
  // What the worker itself used to get here shapes every Plan it makes.
  const base = [...tracker().roots];
  const send = (message: ResourcesMessage | DoneMessage) =>
    new Promise<void>((done) => process.send!(message, () => done()));
  const program = "index.ts";
  const startSeconds = performance.now() / 1000;
  const sharer = new StringSharer();
  let queue = Promise.resolve();
  process.on("message", (message: EvaluateMessage | CheckedMessage) => {
    if (message.kind === "checked") {
      rememberCheckedInputs(message.inputs);
      return;
    }
    queue = queue.then(async () => {
      const started = performance.now();
      tracker().roots = new Set(base);
      tracker().reset(program);
      let sending = Promise.resolve();
      try {
        const plan = await evaluate(message, loadProgram, sharer, (batch) => {
          sending = sending.then(() => send(batch));
        });
        await sending;
        const stats = {
          startSeconds,
          evaluateSeconds: (performance.now() - started) / 1000,
          peakMiB: process.resourceUsage().maxRSS / 1024,
          priority: getPriority(),
        };
        await send({ kind: "done", plan, reads: used(tracker().roots), stats });
      } catch (err) {
        const lines = (err as { lines?: string[] }).lines;
        const trace =
          Error.stackTraceLimit === 0
            ? `${String(err)} (${TRACES_HINT})`
            : String((err as Error).stack);
        process.stderr.write(`${lines ? lines.join("\n") : trace}\n`);
        process.exit(1);
      }
    });
  });
  process.on("disconnect", () => void queue.then(() => process.exit(0)));
}
