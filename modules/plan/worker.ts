/**
 * Evaluates one stack's program under Pulumi's mock runtime and sends its Plan to the parent
 * over IPC. One process per stack: the SDK keeps global state, so a program evaluated twice
 * in one process needs a fresh module cache anyway.
 *
 * Usage (by modules/plan/evaluate.ts): node --import tsx worker.ts <stack-file> <program>
 */
import * as pulumi from "@pulumi/pulumi";
import { dirname, resolve } from "node:path";
import { loadStackFile, pulumiConfigMap, stackFileName, type LoadedStack } from "../config/stack";
import { fleetEconomics } from "../capacity/capacity";
import { mockCall, mockId, mockState } from "./mock-state";
import type { Plan, PlanResource } from "./plan";
import { redactSecrets } from "./redact";
import { quietStackTraces, TRACES_HINT } from "./stack-traces";
import { SECRET } from "./plan";

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): unknown;
}

interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProperties(): unknown;
}

interface MockMonitorInternals {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, callback: unknown): Promise<void>;
  readResource(req: ReadRequest, callback: unknown): Promise<void>;
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
 * (endpoint, its signaling port, pool, media region); nothing of the stack itself, which has never been applied.
 */
function stackOutputs(self: LoadedStack, name: string): Record<string, unknown> {
  if (name === self.name) return {};
  const fleet = loadStackFile(stackFileName(dirname(self.file), name)).fleet;
  return fleet
    ? {
        endpoint: fleet.endpoint,
        signalingPort: fleet.ports.signalingTcp[0],
        pool: fleet.pool,
        mediaRegion: fleet.mediaRegion,
        kind: fleet.kind,
      }
    : {};
}

// The mock answers the program's read and the Plan records the same read: load each once.
const referenced = new Map<string, Record<string, unknown>>();

function referencedOutputs(self: LoadedStack, ref: string): Record<string, unknown> {
  if (!referenced.has(ref)) referenced.set(ref, stackOutputs(self, ref.split("/").pop()!));
  return referenced.get(ref)!;
}

async function evaluate(stackFile: string, program: string): Promise<Plan> {
  const stack = loadStackFile(stackFile);
  // preview=false: with true, outputs the mock did not return stay unknown and apply()
  // callbacks never run, so interpolated inputs would be missing from the Plan.
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => ({
        id: mockId(type, name),
        state: mockState(type, name, inputs, (ref) => referencedOutputs(stack, ref)),
      }),
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

  // The mock monitor knows each resource's parent and URN; MockResourceArgs does not carry
  // them, so record them where the monitor receives the request.
  const resources: PlanResource[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorInternals;
  const record = (req: RegisterRequest | ReadRequest, custom: boolean, properties: unknown) => {
    const parent = req.getParent() || undefined;
    resources.push({
      urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
      type: req.getType(),
      name: req.getName(),
      ...(parent ? { parent } : {}),
      custom,
      inputs: redactSecrets(
        pulumi.runtime.deserializeProperties(properties as never, true),
      ) as Record<string, unknown>,
    });
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    record(req, req.getCustom(), req.getObject());
    return register(req, callback);
  };
  // Resources the program reads rather than manages (StackReferences) arrive here.
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, callback) => {
    record(req, true, req.getProperties());
    // Policies see a read resource's state; for a StackReference that is its outputs.
    const last = resources[resources.length - 1];
    if (last.type === "pulumi:pulumi:StackReference") {
      last.inputs = { ...last.inputs, outputs: referencedOutputs(stack, String(last.inputs.name)) };
    }
    return read(req, callback);
  };

  const exported = require(resolve(program)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) outputs[key] = await resolveOutput(value);
  // Resources declared inside apply() register late: wait for every outstanding RPC.
  await pulumi.runtime.disconnect();
  return {
    name: stack.name,
    resources,
    outputs,
    ...(stack.fleet ? fleetEconomics(stack.fleet, stack.inventory) : {}),
  };
}

quietStackTraces();

const [stackFile, program] = process.argv.slice(2);
evaluate(stackFile, program ?? "index.ts").then(
  (plan) => process.send!(plan, () => process.exit(0)),
  (err: unknown) => {
    const lines = (err as { lines?: string[] }).lines;
    const trace =
      Error.stackTraceLimit === 0
        ? `${String(err)} (${TRACES_HINT})`
        : String((err as Error).stack);
    process.stderr.write(`${lines ? lines.join("\n") : trace}\n`);
    process.exit(1);
  },
);
