/**
 * The rehearsal world: a simulated region the executor migrates in seconds. It answers the
 * same Pulumi calls as the real CLI (config set / set-all / up / stack output / preview /
 * destroy, applied instantly), with the CLI's exit codes and, under a concurrent update, each
 * backend's own message; an `up` with the pack is judged by the pack's traffic rules. It
 * serves per-pool metrics, and keeps time. Demand is modules/world's: the
 * region's diurnal curve from the target fleet's spec (its peak and peak-to-average, its
 * region's time zone) and the session mix with its multi-hour tail; sessions stay on the pool
 * the weights gave them until they end. Quality is modules/world's per-pool figures with
 * seeded noise, so a run is deterministic. Its state is a file, so a killed executor resumes
 * the same world.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { stackFileName } from "../stacks/stack";
import { readYamlFile } from "../inputs/yaml-read";
import {
  curveTrace,
  demandCurve,
  MEDIA_SESSIONS,
  meanSessionMin,
  MINUTES_PER_DAY,
  survivalPerMinute,
  type Trace,
} from "../world/demand";
import { poolQuality } from "../world/quality";
import { utcOffsetHours } from "../world/regions";
import type { Clock } from "../migrate/clock";
import { consecutiveErrors, type MetricsProvider } from "../gates/metrics";
import { MIGRATION_PATH } from "../runbook/pulumi-args";
import { type CliResult, type PulumiRunner } from "../migrate/pulumi";
import type { MigrationMarker } from "../../policy/contract/facts";
import { stagedRollback, staleWeights } from "../../policy/contract/migration";
import { weightStep } from "../../policy/contract/rules";
import type { LoadedRunbook } from "../runbook/runbook";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, SLO_NAMES, SLOS } from "../gates/slo";
import { sameWeights, type Weights } from "../runbook/weights";
import { worldHistogram, type SessionRecord } from "../gates/world-sessions";
import type { Backend, Fault } from "./faults";

interface Minute {
  t: number;
  sessions: Record<string, number>;
  /** Sessions that joined each pool in this minute (none in the first). */
  joins?: Record<string, number>;
  /** Per pool, one figure per SLO in SLO_NAMES order: loss, jitter, joins, RTT. */
  quality: Record<string, [number, number, number, number]>;
}

/** The region's demand, from the target fleet's spec: what modules/world builds its curve from. */
interface Demand {
  region: string;
  utcOffsetHours: number;
  peakSessions: number;
  peakToAverage: number;
}

interface SimStack {
  /** `pulumi config set --path` / `set-all --path` values waiting for `up`. */
  staged: Record<string, number | boolean>;
  /** Stack outputs after the last `up`; null once destroyed. */
  outputs: Record<string, any> | null;
}

export interface WorldState {
  seed: number;
  faults: Fault[];
  region: string;
  traffic: string;
  source: string;
  target: string;
  pools: string[];
  /** Each pool stack's `pool` label: the world answers queries by it, as the fleet's hosts do. */
  labels: Record<string, string>;
  now: number;
  stacks: Record<string, SimStack>;
  hosts: Record<string, { healthy: number; want: number; readyAt: number }>;
  demand: Demand;
  /** Sessions in progress per pool, one count per phase of the session mix. */
  phases: Record<string, number[]>;
  minutes: Minute[];
  /** When each fault became active. */
  triggered: Record<string, number>;
  /** Every `up` that changed something, for the tests' "never applied twice". */
  ups: { stack: string; at: number; change: string }[];
  /** The traffic split's maxStepPct: what the pack's step rule allows one update to move. */
  maxStepPct: number;
  /** The traffic stack file's weights as the run found them: what a stale checkout deploys. */
  checkoutWeights: Weights;
  /** A concurrent-up fault's update: until when it holds the traffic stack, and its verdict. */
  concurrent?: { fault: string; until: number; outcome: string };
}

/** Minute 0 of modules/world's traces: Monday 9 March 2026, 00:00 UTC. */
const MONDAY = Date.UTC(2026, 2, 9, 0, 0, 0);
const MINUTE = 60_000;
const BOOT_MS = 4 * MINUTE;
/** The curve a world runs on, repeated: long enough for a migration and a day-long drain. */
const TRACE_DAYS = 7;

/** Tuesday 14:00 in the region's time zone: afternoon traffic, climbing to the evening peak. */
const startOf = (demand: Demand) => MONDAY + (24 + 14 - demand.utcOffsetHours) * 3_600_000;

const traces = new Map<string, Trace>();
/** The region's curve (computed once per demand: a world is saved often, its curve never). */
function traceOf(demand: Demand): Trace {
  const key = JSON.stringify(demand);
  let trace = traces.get(key);
  if (!trace) {
    const spec = demandCurve(
      demand.region,
      demand.utcOffsetHours,
      demand.peakSessions,
      demand.peakToAverage,
      [],
    );
    trace = curveTrace(spec, TRACE_DAYS, MEDIA_SESSIONS);
    traces.set(key, trace);
  }
  return trace;
}

/** Index of minute `t` in the region's trace. */
const minuteOf = (t: number) => Math.floor((t - MONDAY) / MINUTE) % (TRACE_DAYS * MINUTES_PER_DAY);

function fleetConfig(file: string): Record<string, any> {
  return (readYamlFile(file, "a fleet stack file") as any)?.config ?? {};
}

function fleetOutputs(file: string): Record<string, unknown> {
  const fleet = fleetConfig(file)["avfleet:fleet"] ?? {};
  return {
    pool: fleet.pool,
    mediaRegion: fleet.mediaRegion,
    minHosts: fleet.minHosts ?? 1,
    maxHosts: fleet.maxHosts ?? 1,
  };
}

/**
 * The region's demand from the target fleet: its cloud region's time zone, and the peak the
 * pool must carry once the move is done (the schema's peak-to-average when it gives none).
 */
function demandOf(file: string, mediaRegion: string): Demand {
  const config = fleetConfig(file);
  const region: string = config["gcp:region"] ?? config["aws:region"] ?? mediaRegion;
  const demand = config["avfleet:fleet"]?.demand ?? {};
  return {
    region,
    utcOffsetHours: utcOffsetHours(region) ?? 0,
    peakSessions: demand.peakParticipants ?? 10_000,
    peakToAverage: demand.peakToAverage ?? 2.5,
  };
}

/** Faults that act on the `up` that moves the target to their weight, not on traffic. */
const ON_UP: Fault["kind"][] = ["up-fail", "concurrent-up"];

/**
 * Activates every fault whose weight the target has reached, from now on: a fault at the
 * weight traffic already has is active from the world's first minute. `up-fail` acts on `up`.
 */
function triggerFaults(state: WorldState): void {
  const at = currentWeights(state)[state.target] ?? 0;
  for (const f of state.faults) {
    if (!ON_UP.includes(f.kind) && at >= f.atWeight) state.triggered[f.spec] ??= state.now;
  }
}

export function createWorld(loaded: LoadedRunbook, seed: number, faults: Fault[]): WorldState {
  const { runbook, traffic } = loaded;
  const stacks: Record<string, SimStack> = {
    [runbook.traffic]: {
      staged: {},
      outputs: { mediaRegion: runbook.region, weights: { ...traffic.weights } },
    },
  };
  const hosts: WorldState["hosts"] = {};
  for (const pool of traffic.pools) {
    const outputs = fleetOutputs(stackFileName(loaded.stacksDir, pool));
    stacks[pool] = { staged: {}, outputs };
    hosts[pool] = {
      healthy: Number(outputs.minHosts),
      want: Number(outputs.minHosts),
      readyAt: 0,
    };
  }
  const demand = demandOf(stackFileName(loaded.stacksDir, runbook.target), runbook.region);
  const start = startOf(demand);
  // Start in steady state: every pool carries its share of calls already in progress, each
  // phase of the mix in proportion to how long its calls last.
  const now = traceOf(demand).sessions[minuteOf(start)];
  const mean = meanSessionMin(MEDIA_SESSIONS);
  const phases = Object.fromEntries(
    traffic.pools.map((p) => [
      p,
      MEDIA_SESSIONS.phases.map(
        (ph) => (now * (traffic.weights[p] / 100) * ph.share * ph.meanMin) / mean,
      ),
    ]),
  );
  const sessions = Object.fromEntries(
    traffic.pools.map((p) => [p, phases[p].reduce((a, b) => a + b, 0)]),
  );
  const world: WorldState = {
    seed,
    faults,
    region: runbook.region,
    traffic: runbook.traffic,
    source: runbook.source,
    target: runbook.target,
    pools: traffic.pools,
    labels: traffic.poolLabels,
    now: start,
    stacks,
    hosts,
    demand,
    phases,
    minutes: [{ t: start, sessions, quality: {} }],
    triggered: {},
    ups: [],
    maxStepPct: traffic.maxStepPct,
    checkoutWeights: { ...traffic.weights },
  };
  triggerFaults(world);
  return world;
}

export function currentWeights(state: WorldState): Weights {
  return state.stacks[state.traffic].outputs!.weights;
}

/** A pool's figures in SLO_NAMES order (loss, jitter, joins, RTT), with a target-loss fault. */
function quality(state: WorldState, pool: string, t: number): [number, number, number, number] {
  const lossFault = state.faults.find(
    (f) =>
      f.kind === "target-loss" && pool === state.target && (state.triggered[f.spec] ?? t + 1) <= t,
  );
  const q = poolQuality(state.seed, pool, t, lossFault ? (lossFault.pct ?? 0) / 100 : undefined);
  return [q.loss, q.jitter, q.joinSuccess, q.rtt];
}

/**
 * Simulates whole minutes up to `until`: the curve's joins split by weight, each pool's calls
 * ending phase by phase as the session mix says.
 */
export function advance(state: WorldState, until: number): void {
  let last = state.minutes[state.minutes.length - 1];
  const trace = traceOf(state.demand);
  const survive = survivalPerMinute(MEDIA_SESSIONS);
  while (last.t + MINUTE <= until) {
    const t = last.t + MINUTE;
    const weights = currentWeights(state);
    const arriving = trace.joins[minuteOf(last.t)];
    const sessions: Record<string, number> = {};
    const joins: Record<string, number> = {};
    const q: Minute["quality"] = {};
    for (const pool of state.pools) {
      joins[pool] = (arriving * (weights[pool] ?? 0)) / 100;
      const phases = (state.phases[pool] ??= MEDIA_SESSIONS.phases.map(() => 0));
      MEDIA_SESSIONS.phases.forEach((ph, k) => {
        phases[k] = phases[k] * survive[k] + joins[pool] * ph.share;
      });
      sessions[pool] = phases.reduce((a, b) => a + b, 0);
      if (sessions[pool] >= 1) q[pool] = quality(state, pool, t);
    }
    last = { t, sessions, joins, quality: q };
    state.minutes.push(last);
  }
  for (const h of Object.values(state.hosts)) {
    if (h.healthy !== h.want && until >= h.readyAt) h.healthy = h.want;
  }
  state.now = Math.max(state.now, until);
}

function faultActive(state: WorldState, kind: Fault["kind"]): Fault | undefined {
  return state.faults.find((f) => f.kind === kind && state.triggered[f.spec] !== undefined);
}

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

/** The marker a `set-all` staged, if it staged one. */
function migrationOf(staged: SimStack["staged"]): MigrationMarker | undefined {
  const seq = staged[`${MIGRATION_PATH}.seq`];
  return typeof seq === "number"
    ? { seq, rollback: staged[`${MIGRATION_PATH}.rollback`] === true }
    : undefined;
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
  const minHosts = stack.staged["avfleet:fleet.minHosts"];
  stack.staged = {};
  if (typeof minHosts !== "number" || minHosts === stack.outputs.minHosts)
    return ok("Resources: unchanged");
  stack.outputs = { ...stack.outputs, minHosts };
  state.hosts[name] = { ...state.hosts[name], want: minHosts, readyAt: state.now + BOOT_MS };
  state.ups.push({ stack: name, at: state.now, change: `minHosts ${minHosts}` });
  return ok(`Resources: 1 updated (minHosts ${minHosts})`);
}

/** `config set --path K V` and `config set-all --path --plaintext K=V …`, as the CLI stores them. */
function stage(stack: SimStack, args: string[]): void {
  const value = (v: string) => (v === "true" || v === "false" ? v === "true" : Number(v));
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
function pulumiCall(state: WorldState, args: string[]): { result: CliResult; changed: boolean } {
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

/** A gate's selector, its pool label read back as the world's pool stack. */
function parseSelector(state: WorldState, query: string): { metric: string; pool: string } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{pool="([^"]+)"\}$/.exec(query);
  if (!m) throw new Error(`unsupported query ${query}`);
  const pool = state.pools.find((p) => state.labels[p] === m[2]);
  if (!pool) throw new Error(`no pool labelled ${m[2]} in the world (${query})`);
  return { metric: m[1], pool };
}

/** The world's calls as its hosts would export them: by pool label, not by stack. */
export function labelledSessions(state: WorldState): SessionRecord {
  const relabel = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).map(([stack, v]) => [state.labels[stack], v]));
  return {
    region: state.region,
    now: state.now,
    pools: state.pools.map((p) => state.labels[p]),
    minutes: state.minutes.map((m) => ({
      t: m.t,
      sessions: relabel(m.sessions),
      ...(m.joins ? { joins: relabel(m.joins) } : {}),
      quality: relabel(m.quality),
    })),
  };
}

export interface World {
  state: WorldState;
  pulumi: PulumiRunner;
  metrics: MetricsProvider;
  clock: Clock;
}

export function saveWorld(file: string, state: WorldState): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  writeSync(fd, JSON.stringify(state));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

export function loadWorld(file: string): WorldState {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** Drivers over a world kept in `file`; every change is saved before the call returns. */
export function worldDrivers(
  file: string,
  state: WorldState,
  afterWrite?: (what: string) => void,
): World {
  const save = () => {
    saveWorld(file, state);
    afterWrite?.("world");
  };
  // The same consecutive-error limit as a real run's Prometheus provider.
  const errors = consecutiveErrors();
  const outage = () => {
    const f = faultActive(state, "metrics-outage");
    if (!f) return errors.succeeded();
    const err = new Error(
      `metrics backend unavailable: 503 Service Unavailable (rehearsal fault ${f.spec})`,
    );
    throw errors.failed(err, (message) => Object.assign(new Error(message), { errorLimit: true }));
  };
  return {
    state,
    pulumi: async (args) => {
      const { result, changed } = pulumiCall(state, args);
      if (changed) save();
      return result;
    },
    metrics: {
      async range(query, from, to) {
        outage();
        const { metric, pool } = parseSelector(state, query);
        const index = SLO_NAMES.findIndex((slo) => SLOS[slo].metric === metric);
        if (index < 0) throw new Error(`unknown metric ${metric}`);
        return state.minutes
          .filter((m) => m.t > from && m.t <= to && m.quality[pool])
          .map((m) => m.quality[pool][index]);
      },
      async instant(query) {
        outage();
        const { metric, pool } = parseSelector(state, query);
        if (metric === HEALTHY_HOSTS) return state.hosts[pool]?.healthy;
        if (metric === ACTIVE_SESSIONS) {
          const last = state.minutes[state.minutes.length - 1];
          return Math.round(last.sessions[pool] ?? 0);
        }
        throw new Error(`unknown metric ${metric}`);
      },
      async histogram(metric, pool, from, to) {
        outage();
        return worldHistogram(labelledSessions(state), metric, pool, from, to);
      },
    },
    clock: {
      now: () => state.now,
      // Simulated time costs nothing to skip; aborts are checked between gate rounds.
      tickMs: Number.POSITIVE_INFINITY,
      async sleep(ms) {
        advance(state, state.now + ms);
        save();
        await new Promise((resolve) => setImmediate(resolve));
      },
    },
  };
}
