/**
 * The pools' drivers: the exact command lines a rollout runs on each provider, through runners
 * that a real run points at the CLIs (pulumi, gcloud, aws) and a rehearsal at its world.
 *
 * `avfleet:rollout` is written leaf by leaf with `pulumi config set --path`, which stores an
 * integer as a number, true/false as a boolean and anything else as a string
 * (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/): each value goes with its
 * `--type` (string, int or float; the flag came with pulumi/pulumi#18287, early 2025, so older
 * CLIs refuse it), after `--`, so `-1` is not read as a flag. The key is removed first: a
 * half-written config is no rollout, and an `up` then changes no host.
 */
import type { RolloutConfig } from "../config/rollout";
import {
  awsRollout,
  gcpRollout,
  type AwsRolloutPool,
  type GcpHost,
  type GcpRolloutPool,
} from "../release/cloud-rollout";
import { pulumiArgs } from "../runbook/pulumi-args";
import { summarize, type CliResult, type PulumiRunner } from "../migrate/pulumi";
import type { Clock } from "../migrate/clock";
import type { Action, Fence, PoolDriver } from "./executor";
import type { PoolRead } from "./units";

/** Runs a command line (argv[0] the program); never throws for a non-zero exit. */
export type CliRunner = (argv: string[]) => Promise<CliResult>;

export const ROLLOUT_KEY = "avfleet:rollout";

/** Each leaf of the config as `pulumi config set --path` args, after removing the key. */
export function rolloutConfigArgs(stack: string, config: RolloutConfig): string[][] {
  const leaves: [string, unknown][] = [];
  const walk = (path: string, value: unknown) => {
    if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(`${path}.${k}`, v);
    } else if (value !== undefined) leaves.push([path, value]);
  };
  walk(ROLLOUT_KEY, config);
  return [
    ["config", "rm", ROLLOUT_KEY, "--stack", stack],
    ...leaves.map(([path, value]) => [
      "config",
      "set",
      "--path",
      path,
      // Typed every time: untyped, a plan hash of 12 decimal digits would be stored as a number.
      "--type",
      typeof value !== "number" ? "string" : Number.isInteger(value) ? "int" : "float",
      "--stack",
      stack,
      "--",
      String(value),
    ]),
  ];
}

/** The config back from the calls rolloutConfigArgs makes (what `config set --path` stores). */
export function configFromArgs(calls: string[][]): Record<string, unknown> {
  const root: Record<string, any> = {};
  for (const args of calls) {
    if (args[0] !== "config" || args[1] !== "set") continue;
    const path = args[args.indexOf("--path") + 1].split(".").slice(1);
    const text = args[args.indexOf("--") + 1];
    const type = args[args.indexOf("--type") + 1];
    const value = type === "int" || type === "float" ? Number(text) : text;
    let node = root;
    for (const key of path.slice(0, -1)) node = node[key] ??= {};
    node[path.at(-1)!] = value;
  }
  return root;
}

async function pulumiAction(pulumi: PulumiRunner, args: string[], fence: Fence): Promise<Action> {
  const argv = ["pulumi", ...args];
  const result = await fence(argv, (lease) => pulumi(args, lease));
  return { argv, exitCode: result.exitCode, summary: summarize(result) };
}

/** Config set, then up; stops at the first failure (the executor journals each call). */
async function configure(
  pulumi: PulumiRunner,
  stack: string,
  config: RolloutConfig,
  fence: Fence,
): Promise<Action[]> {
  const actions: Action[] = [];
  for (const args of [...rolloutConfigArgs(stack, config), pulumiArgs.up(stack)]) {
    const action = await pulumiAction(pulumi, args, fence);
    actions.push(action);
    if (action.exitCode !== 0) break;
  }
  return actions;
}

/** Calls that change the pool, each fenced; stops at the first failure. */
async function runSteps(run: CliRunner, argvs: string[][], fence: Fence): Promise<Action[]> {
  const actions: Action[] = [];
  for (const argv of argvs) {
    const result = await fence(argv, () => run(argv));
    actions.push({ argv, exitCode: result.exitCode, summary: summarize(result) });
    if (result.exitCode !== 0) break;
  }
  return actions;
}

const failed = (actions: Action[]) => actions.some((a) => a.exitCode !== 0);

/**
 * A cloud pool pointed at a template or version: config set and up, then reads that change
 * nothing (journaled, unfenced), then what `replace` makes of their JSON answers. Its stopped
 * hosts of another one would be started on it, so they are replaced before any batch.
 */
async function pointAndReplace(
  o: { pulumi: PulumiRunner; stack: string; run: CliRunner },
  config: RolloutConfig,
  fence: Fence,
  reads: string[][],
  replace: (answers: unknown[]) => Promise<Action[]>,
): Promise<Action[]> {
  const actions = await configure(o.pulumi, o.stack, config, fence);
  if (failed(actions)) return actions;
  const answers: unknown[] = [];
  for (const argv of reads) {
    const result = await fence(argv, () => o.run(argv), false);
    actions.push({ argv, exitCode: result.exitCode, summary: summarize(result) });
    if (result.exitCode !== 0) return actions;
    answers.push(JSON.parse(result.stdout || "null"));
  }
  return [...actions, ...(await replace(answers))];
}

/**
 * Bare metal: the program does it all. A draining batch gets a drain request and leaves DNS
 * at the `up`; an updated batch runs its class payload (package installed behind policy-rc.d,
 * the drained server restarted on it) at the next.
 */
export function metalDriver(o: {
  stack: string;
  pulumi: PulumiRunner;
  read: () => Promise<PoolRead>;
}): PoolDriver {
  return {
    read: o.read,
    configure: (config, fence) => configure(o.pulumi, o.stack, config, fence),
    drain: (config, _batch, _hosts, fence) => configure(o.pulumi, o.stack, config, fence),
    update: (config, _batch, _hosts, fence) => configure(o.pulumi, o.stack, config, fence),
  };
}

/**
 * GCP: the `up` points the MIG at the batch's target template; the controller's mark drains
 * each VM (the rollout's release on it, so the controller leaves it be); once drained, the
 * MIG recreates them from that template under the same names.
 */
export function gcpDriver(o: {
  stack: string;
  pool: GcpRolloutPool;
  pulumi: PulumiRunner;
  run: CliRunner;
  clock: Clock;
  read: () => Promise<PoolRead>;
  zoneOf: (host: string) => string;
}): PoolDriver {
  const hosts = (names: string[]) => names.map((name) => ({ name, zone: o.zoneOf(name) }));
  async function recreate(vms: GcpHost[], fence: Fence): Promise<Action> {
    const argv = gcpRollout.replace(o.pool, vms).argv;
    const result = await fence(argv, () => o.run(argv));
    // gcloud answers per instance (SUCCESS, FAIL, MEMBER_NOT_FOUND) and exits 0 either way.
    const refused = /\b(FAIL|MEMBER_NOT_FOUND)\b/.exec(result.stdout);
    return refused
      ? { argv, exitCode: 1, summary: `an instance was not recreated: ${refused[1]}` }
      : { argv, exitCode: result.exitCode, summary: summarize(result) };
  }
  /**
   * Standby members of another template than the MIG's are recreated (they carry no calls). A
   * recreated one's first boot takes no join unless the MIG runs it (the agent's standbyHold).
   */
  const pointed = (config: RolloutConfig, fence: Fence) =>
    pointAndReplace(
      o,
      config,
      fence,
      [gcpRollout.group(o.pool).argv, gcpRollout.running(o.pool).argv],
      async ([group, list]) => {
        const stale = gcpRollout.staleStandby(list, group);
        return stale.length ? [await recreate(stale, fence)] : [];
      },
    );
  return {
    read: o.read,
    configure: pointed,
    async drain(config, _batch, names, fence) {
      const actions = await pointed(config, fence);
      if (failed(actions)) return actions;
      const steps = gcpRollout.drain(o.pool, hosts(names), config.release, new Date(o.clock.now()));
      return [
        ...actions,
        ...(await runSteps(
          o.run,
          steps.map((s) => s.argv),
          fence,
        )),
      ];
    },
    async update(config, _batch, names, fence) {
      const actions = await configure(o.pulumi, o.stack, config, fence);
      if (failed(actions)) return actions;
      return [...actions, await recreate(hosts(names), fence)];
    },
  };
}

/**
 * AWS: the `up` points the group at the batch's target version; terminating each instance in
 * the group (capacity kept) drains it through the termination hook while the group launches
 * its replacement from that version. The update is the hook's end: nothing more to call.
 */
export function awsDriver(o: {
  stack: string;
  pool: AwsRolloutPool;
  pulumi: PulumiRunner;
  run: CliRunner;
  read: () => Promise<PoolRead>;
}): PoolDriver {
  /**
   * After the `up` that points the group at a version: warm instances of another one would
   * come back as replacements on it, so they go first (they carry no calls).
   */
  const pointed = (config: RolloutConfig, fence: Fence) =>
    pointAndReplace(
      o,
      config,
      fence,
      [awsRollout.running(o.pool).argv, awsRollout.warmPool(o.pool).argv],
      async ([group, warm]) => {
        const version = awsRollout.groupVersion(group);
        const stale = version === undefined ? [] : awsRollout.staleWarm(warm, version);
        if (stale.length === 0) return [];
        return runSteps(o.run, [awsRollout.refreshWarmPool(o.pool, stale).argv], fence);
      },
    );
  return {
    read: o.read,
    configure: pointed,
    async drain(config, _batch, names, fence) {
      const actions = await pointed(config, fence);
      if (failed(actions)) return actions;
      return [
        ...actions,
        ...(await runSteps(
          o.run,
          awsRollout.drain(o.pool, names).map((s) => s.argv),
          fence,
        )),
      ];
    },
    update: async () => [],
  };
}
