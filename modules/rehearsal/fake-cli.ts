/**
 * The rehearsal's fake `pulumi` CLI: config set / set-all / up / stack output / preview /
 * destroy on the world's stacks, applied instantly, with the CLI's exit codes and, under a
 * concurrent update, each backend's own message; an `up` with the pack is judged by the pack's
 * migration rules (policy/contract/migration.ts) as the real pack would judge it.
 */
import { FLEET_MIGRATION_PATH, MIGRATION_PATH, MIN_HOSTS_PATH } from "../runbook/pulumi-args";
import type { CliResult } from "../migrate/pulumi";
import type { MigrationMarker } from "../../policy/contract/facts";
import { floorChangeAt, stagedRollback, staleWeights } from "../../policy/contract/migration";
import { groupIgnoreChanges } from "../fleets/aws-args";
import { desiredAfterMinSize } from "../providers/aws";
import { inputsAfterIgnore } from "../providers/replacement";
import { weightStep } from "../../policy/contract/rules";
import { sameWeights, type Weights } from "../runbook/weights";
import type { Backend, Fault } from "./faults";
import { BOOT_MS, triggerFaults, type SimStack, type WorldState } from "./state";

function ok(stdout = ""): CliResult {
  return { exitCode: 0, stdout, stderr: "" };
}

/**
 * The CLI's exit codes since 3.227.0 (pulumi/pulumi pkg/cmd/pulumi/cmd/exit_codes.go:28-40,
 * ExitCodeFor :61-126): a stack that does not exist 6, malformed flags or config 2, any other
 * error 1 — a failed update, a policy violation (ExitPolicyViolation is not wired yet), another
 * update's lock. Older CLIs exit 255 for every error; the executor reads the text, not the code.
 */
const CLI_EXIT = { error: 1, configuration: 2, stackNotFound: 6 } as const;

function fail(message: string, exitCode: number = CLI_EXIT.error): CliResult {
  return { exitCode, stdout: "", stderr: `error: ${message}` };
}

/** How long a concurrent-up fault's update holds the stack: a traffic stack's `up`. */
const CONCURRENT_UP_MS = 90_000;

/**
 * What the CLI prints when another update holds the stack, as each backend words it: Pulumi
 * Cloud's 409 (pkg/backend/httpstate/backend.go:1825-1827 wrapped by backenderr.go:106-108), a
 * DIY backend's lock file (pkg/backend/diy/lock.go:87-107).
 */
function lockedOut(backend: Backend, stack: string, since: number): CliResult {
  if (backend === "cloud") {
    return fail(
      "[409] Conflict: Another update is currently in progress.\nTo learn more about possible reasons and resolution, visit https://www.pulumi.com/docs/support/troubleshooting/common-issues/update-conflicts/",
    );
  }
  return fail(
    "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`." +
      `\n  s3://avfleet-pulumi-state/.pulumi/locks/organization/avfleet/${stack}/5f0b6c2e-8d1a-4c57-9a0e-3b7d2f1e9c44.json: created by teammate@ci-7 (pid 4242) at ${new Date(since).toISOString()}`,
  );
}

/**
 * A concurrent-up fault's update: a teammate deploying the traffic stack from a checkout
 * without the migration's changes (the stack file's weights as the run found them, no marker),
 * judged by the pack as the teammate's `up --policy-pack` would be.
 */
function teammateUp(state: WorldState, fault: Fault): string {
  const outputs = state.stacks[state.traffic].outputs!;
  const stale = staleWeights(undefined, outputs.migration ?? undefined);
  if (stale) return `refused by traffic-migration-order: ${stale}`;
  if (sameWeights(outputs.weights, state.checkoutWeights)) return "applied nothing: same weights";
  outputs.weights = { ...state.checkoutWeights };
  state.ups.push({ stack: state.traffic, at: state.now, change: `${fault.spec}: teammate's up` });
  return `applied ${JSON.stringify(state.checkoutWeights)}`;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Why the pack refuses a traffic stack's update to `weights`, or undefined (policy/). */
function packRefusal(state: WorldState, stack: SimStack, weights: Weights): string | undefined {
  const marker = migrationOf(stack.staged) ?? stack.outputs!.migration ?? undefined;
  const deployed = stack.outputs!.migration ?? undefined;
  const stale = staleWeights(marker, deployed);
  if (stale) return `traffic-migration-order: ${stale}`;
  const moved = weightStep(stack.outputs!.weights, weights);
  if (moved > state.maxStepPct && !stagedRollback(marker, deployed)) {
    return `traffic-weights: this change moves ${moved} points of traffic, more than maxStepPct ${state.maxStepPct}`;
  }
  return undefined;
}

/** The marker a `set-all` staged under `path` (a traffic or a fleet stack's), if it staged one. */
function migrationOf(
  staged: SimStack["staged"],
  path = MIGRATION_PATH,
): MigrationMarker | undefined {
  const seq = staged[`${path}.seq`];
  const at = staged[`${path}.at`];
  return typeof seq === "number"
    ? {
        seq,
        rollback: staged[`${path}.rollback`] === true,
        ...(typeof at === "string" ? { at } : {}),
      }
    : undefined;
}

/**
 * The hosts an AWS pool with scheduled floors wants after an `up` to `minHosts`: the program
 * ignores minSize unless the update carries a newer marker with its time
 * (modules/fleets/aws-args.ts groupIgnoreChanges), the engine then keeps the state's value
 * (pulumi.ignore-changes), and a minimum sent above the group's size raises its desired
 * capacity (aws.asg.min-size-raises-desired). The world fires no schedule, so the floor the
 * program computes is minHosts itself.
 */
function scheduledGroupWants(
  state: WorldState,
  name: string,
  minHosts: number,
  floorAt: string | undefined,
): number {
  const group = state.scheduledGroups![name];
  const ignored = groupIgnoreChanges(true, "running", floorAt);
  const sent = inputsAfterIgnore({ minSize: minHosts }, group, ignored).minSize as number;
  group.minSize = sent;
  return desiredAfterMinSize({ desired: state.hosts[name].want }, sent);
}

/** `pulumi up` on a simulated stack: staged config becomes outputs, or the up fails. */
function up(state: WorldState, name: string, withPack: boolean): CliResult {
  const stack = state.stacks[name];
  if (!stack.outputs) return fail(`stack ${name} was destroyed`);
  if (name === state.traffic) {
    const before: Weights = stack.outputs.weights;
    const weights = Object.fromEntries(
      state.pools.map((p, i) => [
        p,
        Number(stack.staged[`avfleet:traffic.pools[${i}].weight`] ?? before[p]),
      ]),
    );
    const held = state.concurrent && state.now < state.concurrent.until;
    const concurrent = state.faults.find(
      (f) =>
        f.kind === "concurrent-up" &&
        state.triggered[f.spec] === undefined &&
        weights[state.target] >= f.atWeight &&
        weights[state.target] !== before[state.target],
    );
    if (!held && concurrent) {
      state.triggered[concurrent.spec] = state.now;
      const outcome = teammateUp(state, concurrent);
      state.concurrent = {
        fault: concurrent.spec,
        until: state.now + CONCURRENT_UP_MS,
        outcome,
      };
    }
    if (state.concurrent && state.now < state.concurrent.until) {
      const fault = state.faults.find((f) => f.spec === state.concurrent!.fault)!;
      return lockedOut(fault.backend!, name, state.triggered[fault.spec]);
    }
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    if (sum !== 100) return fail(`traffic-split: pool weights sum to ${sum}, expected 100`);
    const refusal = withPack ? packRefusal(state, stack, weights) : undefined;
    if (refusal) return fail(`preview failed: mandatory policy violation: ${refusal}`);
    const upFail = state.faults.find(
      (f) => f.kind === "up-fail" && weights[state.target] >= f.atWeight,
    );
    if (upFail && weights[state.target] !== before[state.target]) {
      return fail(
        `update failed: route53 ChangeResourceRecordSets: Throttling: Rate exceeded (rehearsal fault ${upFail.spec})`,
      );
    }
    const migration = migrationOf(stack.staged) ?? stack.outputs.migration;
    stack.staged = {};
    if (Object.keys(weights).every((p) => weights[p] === before[p])) {
      stack.outputs = { ...stack.outputs, migration };
      return ok("Resources: unchanged");
    }
    stack.outputs = { ...stack.outputs, weights, migration };
    state.ups.push({ stack: name, at: state.now, change: JSON.stringify(weights) });
    triggerFaults(state);
    return ok(
      `Outputs: weights ${JSON.stringify(weights)} | Resources: ${state.pools.length} updated`,
    );
  }
  const minHosts = stack.staged[MIN_HOSTS_PATH];
  // fleet-migration-order (policy/migration.ts): no minHosts older than the stack last applied.
  const deployed = stack.outputs.migration ?? undefined;
  const migration = migrationOf(stack.staged, FLEET_MIGRATION_PATH) ?? deployed;
  const stale = withPack ? staleWeights(migration, deployed, "minHosts is") : undefined;
  if (stale)
    return fail(`preview failed: mandatory policy violation: fleet-migration-order: ${stale}`);
  stack.staged = {};
  if (typeof minHosts !== "number" || minHosts === stack.outputs.minHosts) {
    stack.outputs = { ...stack.outputs, migration };
    return ok("Resources: unchanged");
  }
  stack.outputs = { ...stack.outputs, minHosts, migration };
  const want = state.scheduledGroups?.[name]
    ? scheduledGroupWants(state, name, minHosts, floorChangeAt(migration, deployed))
    : minHosts;
  if (want !== state.hosts[name].want)
    state.hosts[name] = { ...state.hosts[name], want, readyAt: state.now + BOOT_MS };
  state.ups.push({ stack: name, at: state.now, change: `minHosts ${minHosts}` });
  return ok(`Resources: 1 updated (minHosts ${minHosts})`);
}

/** `config set --path K V` and `config set-all --path --plaintext K=V …`, as the CLI stores them. */
function stage(stack: SimStack, args: string[]): void {
  // The CLI stores an integer or true/false as one, anything else as a string (pulumi-args.ts).
  const value = (v: string) =>
    v === "true" || v === "false" ? v === "true" : /^-?\d+$/.test(v) ? Number(v) : v;
  if (args[1] === "set") {
    const i = args.indexOf("--path");
    stack.staged[args[i + 1]] = value(args[i + 2]);
    return;
  }
  args.forEach((a, i) => {
    if (a !== "--plaintext") return;
    const pair = args[i + 1];
    stack.staged[pair.slice(0, pair.indexOf("="))] = value(pair.slice(pair.indexOf("=") + 1));
  });
}

/** The fake `pulumi` CLI: the calls the executor makes, answered from the world's state. */
export function pulumiCall(
  state: WorldState,
  args: string[],
): { result: CliResult; changed: boolean } {
  const name = flag(args, "--stack") ?? "";
  const stack = state.stacks[name];
  // backenderr.StackNotFoundError (pkg/backend/backenderr/backenderr.go:47), exit 6.
  if (!stack)
    return {
      result: fail(`no stack named '${name}' found`, CLI_EXIT.stackNotFound),
      changed: false,
    };
  const [verb, sub] = args;
  if (args.includes("--skip-preview") || args.includes("-f")) {
    // The real CLI would run it; the rehearsal refuses, as up's preview is the policy gate.
    const message = `${verb} without its preview: the policy pack would judge nothing before the update`;
    return { result: fail(message, CLI_EXIT.configuration), changed: false };
  }
  if (verb === "stack" && sub === "output") {
    return { result: ok(JSON.stringify(stack.outputs ?? {})), changed: false };
  }
  if (verb === "config" && (sub === "set" || sub === "set-all")) {
    // --config-file: a dry run's copy of the config, which the world does not keep.
    if (flag(args, "--config-file")) return { result: ok(), changed: false };
    stage(stack, args);
    return { result: ok(), changed: true };
  }
  if (verb === "up")
    return { result: up(state, name, args.includes("--policy-pack")), changed: true };
  if (verb === "preview" || args.includes("--preview-only")) {
    const policies = flag(args, "--policy-pack")
      ? " | Policy Packs run: policy (local): passed"
      : "";
    return {
      result: ok(`Previewing update (${name}) | Resources: ~ 1 to update${policies}`),
      changed: false,
    };
  }
  if (verb === "destroy") {
    stack.outputs = null;
    state.hosts[name] = { healthy: 0, want: 0, readyAt: state.now };
    state.ups.push({ stack: name, at: state.now, change: "destroyed" });
    return { result: ok("Resources: - destroyed"), changed: true };
  }
  return {
    result: fail(`unknown command "${args.join(" ")}"`, CLI_EXIT.configuration),
    changed: false,
  };
}
