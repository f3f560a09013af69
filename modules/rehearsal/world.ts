/**
 * The rehearsal world: a simulated region the executor migrates in seconds. It answers the
 * same Pulumi calls as the real CLI (fake-cli.ts), serves per-pool metrics, and keeps time.
 * Demand is modules/world's: the region's diurnal curve from the target fleet's spec (its peak
 * and peak-to-average, its region's time zone) and the session mix with its multi-hour tail;
 * sessions stay on the pool the weights gave them until they end. A cloud pool's healthy hosts
 * carry what preview says one host carries; joins beyond that are refused and counted (hosts a
 * raised minHosts asks for turn healthy a boot later). Quality is modules/world's per-pool
 * figures with seeded noise, so a run is deterministic. Its state is a file, so a killed
 * executor resumes the same world.
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
import type { PulumiRunner } from "../migrate/pulumi";
import type { LoadedRunbook } from "../runbook/runbook";
import { poolEconomics } from "../runbook/hosts-needed";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, SLO_NAMES, SLOS } from "../gates/slo";
import { worldHistogram, type SessionRecord } from "../gates/world-sessions";
import type { Fault } from "./faults";
import { pulumiCall } from "./fake-cli";
import {
  currentWeights,
  MINUTE,
  MONDAY,
  triggerFaults,
  type Demand,
  type Minute,
  type SimStack,
  type WorldState,
} from "./state";

export { currentWeights, type WorldState } from "./state";

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

/** Whether a pool's group has scheduled floors: an AWS pool under `ours` (modules/scaling). */
function scheduledGroup(file: string): boolean {
  const fleet = fleetConfig(file)["avfleet:fleet"];
  return fleet?.kind === "aws" && fleet.autoscaling?.policy === "ours";
}

function fleetOutputs(file: string): Record<string, unknown> {
  const fleet = fleetConfig(file)["avfleet:fleet"] ?? {};
  return {
    pool: fleet.pool,
    mediaRegion: fleet.mediaRegion,
    minHosts: fleet.minHosts ?? 1,
    maxHosts: fleet.maxHosts ?? 1,
    migration: fleet.migration ?? null,
  };
}

/** Calls per healthy host of each cloud pool, from the capacity preview counts (hosts-needed.ts). */
function sessionsPerHost(loaded: LoadedRunbook): Record<string, number> {
  const perHost: Record<string, number> = {};
  for (const pool of loaded.traffic.pools) {
    const found = poolEconomics(loaded.stacksDir, pool);
    if (!found || found.fleet.kind === "metal") continue;
    const { capacityStreams } = found.economics.capacity;
    perHost[pool] =
      capacityStreams / found.fleet.maxHosts / found.fleet.demand.streamsPerParticipant;
  }
  return perHost;
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

export function createWorld(loaded: LoadedRunbook, seed: number, faults: Fault[]): WorldState {
  const { runbook, traffic } = loaded;
  const stacks: Record<string, SimStack> = {
    [runbook.traffic]: {
      staged: {},
      outputs: { mediaRegion: runbook.region, weights: { ...traffic.weights } },
    },
  };
  const hosts: WorldState["hosts"] = {};
  const scheduledGroups: NonNullable<WorldState["scheduledGroups"]> = {};
  for (const pool of traffic.pools) {
    const file = stackFileName(loaded.stacksDir, pool);
    const outputs = fleetOutputs(file);
    stacks[pool] = { staged: {}, outputs };
    if (scheduledGroup(file)) scheduledGroups[pool] = { minSize: Number(outputs.minHosts) };
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
    sessionsPerHost: sessionsPerHost(loaded),
    ...(Object.keys(scheduledGroups).length > 0 ? { scheduledGroups } : {}),
  };
  triggerFaults(world);
  return world;
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

/** Calls `pool`'s healthy hosts can carry at `t` (hosts asked for turn healthy a boot later). */
function roomOf(state: WorldState, pool: string, t: number): number {
  const perHost = state.sessionsPerHost?.[pool];
  if (perHost === undefined) return Infinity;
  const h = state.hosts[pool];
  return (t >= h.readyAt ? h.want : h.healthy) * perHost;
}

/** Joins the world refused since it began, per pool stack: where a floor came too late (#28). */
export function refusedJoins(state: WorldState): Record<string, number> {
  const total: Record<string, number> = {};
  for (const m of state.minutes)
    for (const [pool, n] of Object.entries(m.refused ?? {})) total[pool] = (total[pool] ?? 0) + n;
  return total;
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
    const refused: Record<string, number> = {};
    const q: Minute["quality"] = {};
    for (const pool of state.pools) {
      const phases = (state.phases[pool] ??= MEDIA_SESSIONS.phases.map(() => 0));
      MEDIA_SESSIONS.phases.forEach((_, k) => (phases[k] *= survive[k]));
      const offered = (arriving * (weights[pool] ?? 0)) / 100;
      // A join lands only where a healthy host has room; the rest are refused this minute.
      const room = roomOf(state, pool, t) - phases.reduce((a, b) => a + b, 0);
      joins[pool] = Math.min(offered, Math.max(0, room));
      if (offered > joins[pool]) refused[pool] = offered - joins[pool];
      MEDIA_SESSIONS.phases.forEach((ph, k) => (phases[k] += joins[pool] * ph.share));
      sessions[pool] = phases.reduce((a, b) => a + b, 0);
      if (sessions[pool] >= 1) q[pool] = quality(state, pool, t);
    }
    last = { t, sessions, joins, quality: q, ...(Object.keys(refused).length ? { refused } : {}) };
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
