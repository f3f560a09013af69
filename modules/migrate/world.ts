/**
 * The rehearsal world: a simulated region the executor migrates in seconds. It answers the
 * same Pulumi calls as the real CLI (config set / up / stack output / preview / destroy,
 * applied instantly), serves per-pool metrics, and keeps time. Demand is modules/world's: the
 * region's diurnal curve from the target fleet's spec (its peak and peak-to-average, its
 * region's time zone) and the session mix with its multi-hour tail; sessions stay on the pool
 * the weights gave them until they end. Quality is modules/world's per-pool figures with
 * seeded noise, so a run is deterministic. Its state is a file, so a killed executor resumes
 * the same world.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { stackFileName } from "../config/stack";
import { readYamlFile } from "../config/validate";
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
import type { Clock } from "./clock";
import { consecutiveErrors, type MetricsProvider } from "../gates/metrics";
import type { CliResult, PulumiRunner } from "./pulumi";
import type { LoadedRunbook } from "./runbook";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, SLO_NAMES, SLOS } from "../gates/slo";
import type { Weights } from "./weights";
import { worldHistogram, type SessionRecord } from "../gates/world-sessions";

export interface Fault {
  spec: string;
  kind: "target-loss" | "metrics-outage" | "up-fail";
  /** The target's weight from which the fault is active. */
  atWeight: number;
  /** target-loss: the packet loss it causes, in percent. */
  pct?: number;
}

const FAULT = /^(?:(target-loss)=(\d+(?:\.\d+)?)|(metrics-outage)|(up-fail))@(\d{1,3})$/;
export const FAULT_HELP = "target-loss=<pct>@<weight> | metrics-outage@<weight> | up-fail@<weight>";
/** What each fault does, with units, for --help. */
export const FAULT_UNITS = `                     <weight>: the target pool's traffic weight, 0-100 (percent of new
                     joins); a fault is active from the moment the target reaches it,
                     including a weight it already has when the rehearsal starts
                     target-loss=<pct>: the target loses <pct> percent of packets (3 = 3 %)
                     metrics-outage: every metrics query fails (HTTP 503); the run holds
                     after 5 failed queries in a row, as a real run does
                     up-fail: pulumi up fails for any weight change to <weight> or above`;

/** Parses `--fault` specs; undefined for a malformed one. */
export function parseFault(spec: string): Fault | undefined {
  const m = FAULT.exec(spec);
  if (!m || Number(m[5]) > 100) return undefined;
  const kind = (m[1] ?? m[3] ?? m[4]) as Fault["kind"];
  return { spec, kind, atWeight: Number(m[5]), ...(m[2] ? { pct: Number(m[2]) } : {}) };
}

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
  /** `pulumi config set --path` values waiting for `up`. */
  staged: Record<string, number>;
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

/**
 * Activates every fault whose weight the target has reached, from now on: a fault at the
 * weight traffic already has is active from the world's first minute. `up-fail` acts on `up`.
 */
function triggerFaults(state: WorldState): void {
  const at = currentWeights(state)[state.target] ?? 0;
  for (const f of state.faults) {
    if (f.kind !== "up-fail" && at >= f.atWeight) state.triggered[f.spec] ??= state.now;
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

function fail(message: string): CliResult {
  return { exitCode: 255, stdout: "", stderr: `error: ${message}` };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `pulumi up` on a simulated stack: staged config becomes outputs, or the up fails. */
function up(state: WorldState, name: string): CliResult {
  const stack = state.stacks[name];
  if (!stack.outputs) return fail(`stack ${name} was destroyed`);
  if (name === state.traffic) {
    const before: Weights = stack.outputs.weights;
    const weights = Object.fromEntries(
      state.pools.map((p, i) => [
        p,
        stack.staged[`avfleet:traffic.pools[${i}].weight`] ?? before[p],
      ]),
    );
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    if (sum !== 100) return fail(`traffic-split: pool weights sum to ${sum}, expected 100`);
    const upFail = state.faults.find(
      (f) => f.kind === "up-fail" && weights[state.target] >= f.atWeight,
    );
    if (upFail && weights[state.target] !== before[state.target]) {
      return fail(
        `update failed: route53 ChangeResourceRecordSets: Throttling: Rate exceeded (rehearsal fault ${upFail.spec})`,
      );
    }
    stack.staged = {};
    if (Object.keys(weights).every((p) => weights[p] === before[p]))
      return ok("Resources: unchanged");
    stack.outputs = { ...stack.outputs, weights };
    state.ups.push({ stack: name, at: state.now, change: JSON.stringify(weights) });
    triggerFaults(state);
    return ok(
      `Outputs: weights ${JSON.stringify(weights)} | Resources: ${state.pools.length} updated`,
    );
  }
  const minHosts = stack.staged["avfleet:fleet.minHosts"];
  stack.staged = {};
  if (minHosts === undefined || minHosts === stack.outputs.minHosts)
    return ok("Resources: unchanged");
  stack.outputs = { ...stack.outputs, minHosts };
  state.hosts[name] = { ...state.hosts[name], want: minHosts, readyAt: state.now + BOOT_MS };
  state.ups.push({ stack: name, at: state.now, change: `minHosts ${minHosts}` });
  return ok(`Resources: 1 updated (minHosts ${minHosts})`);
}

/** The fake `pulumi` CLI: the calls the executor makes, answered from the world's state. */
function pulumiCall(state: WorldState, args: string[]): { result: CliResult; changed: boolean } {
  const name = flag(args, "--stack") ?? "";
  const stack = state.stacks[name];
  if (!stack) return { result: fail(`no stack named '${name}' found`), changed: false };
  const [verb, sub] = args;
  if (verb === "stack" && sub === "output") {
    return { result: ok(JSON.stringify(stack.outputs ?? {})), changed: false };
  }
  if (verb === "config" && sub === "set") {
    // --config-file: a dry run's copy of the config, which the world does not keep.
    if (flag(args, "--config-file")) return { result: ok(), changed: false };
    stack.staged[args[args.indexOf("--path") + 1]] = Number(args[args.indexOf("--path") + 2]);
    return { result: ok(), changed: true };
  }
  if (verb === "up") return { result: up(state, name), changed: true };
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
  return { result: fail(`unknown command "${args.join(" ")}"`), changed: false };
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
