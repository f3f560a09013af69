/**
 * Replay: every policy on the same demand trace, through the same simulated pool, so their
 * host-hours, cost, overload and cut calls compare like for like.
 */
import { MEDIA_SESSIONS, type SessionMix, type Trace } from "../world/demand";
import { Pool, type PoolSpec, type PoolTotals } from "../world/pool";
import type { Policy } from "./policies";

export interface ReplayPool {
  trace: Trace;
  pool: Omit<PoolSpec, "warmPool">;
  minHosts: number;
  maxHosts: number;
  /** Price of one host-hour in this region. */
  hourlyUsd: number;
}

export interface ReplayResult {
  policy: string;
  region: string;
  warmPool: boolean;
  totals: PoolTotals;
  hostHours: number;
  costUsd: number;
  /** Per minute, when asked for: serving capacity (sessions) and joins refused. */
  series?: { capacity: Float64Array; refused: Float64Array };
}

/** Hosts for the trace's busiest minute +30 %, plus one: what a static fleet is sized for. */
export function staticHostsFor(trace: Trace, capacity: number): number {
  let peak = 0;
  for (const s of trace.sessions) peak = Math.max(peak, s);
  return Math.ceil((peak * 1.3) / capacity) + 1;
}

export function replay(
  target: ReplayPool,
  policy: Policy,
  options: { warmPool: boolean; keepSeries?: boolean; mix?: SessionMix },
): ReplayResult {
  const { trace, pool: spec } = target;
  const minutes = trace.joins.length;
  const staticHosts = staticHostsFor(trace, spec.capacity);
  const run = policy.start({ minHosts: target.minHosts, maxHosts: target.maxHosts, staticHosts });
  const initialHosts =
    policy.name === "static"
      ? staticHosts
      : Math.max(target.minHosts, Math.ceil((trace.sessions[0] * 1.35) / spec.capacity));
  const pool = new Pool(
    { ...spec, warmPool: options.warmPool },
    options.mix ?? MEDIA_SESSIONS,
    initialHosts,
    trace.sessions[0],
  );
  const bootMin = options.warmPool
    ? spec.warmBootMin
    : Math.round((spec.coldBootMin[0] + spec.coldBootMin[1]) / 2);
  // What the policy saw: demand, i.e. the load served plus the joins refused.
  const history = new Float64Array(minutes);
  const series = options.keepSeries
    ? { capacity: new Float64Array(minutes), refused: new Float64Array(minutes) }
    : undefined;
  let load = trace.sessions[0];
  for (let now = 0; now < minutes; now++) {
    const { serving, booting } = pool.active(now);
    const desired = run.desired({
      now,
      load,
      serving,
      booting,
      capacity: spec.capacity,
      history,
      events: trace.events,
      bootMin,
    });
    pool.scaleTo(now, desired, run.removal);
    const minute = pool.step(now, trace.joins[now]);
    history[now] = minute.load + minute.refused;
    load = minute.load;
    if (series) {
      series.capacity[now] = minute.serving * spec.capacity;
      series.refused[now] = minute.refused;
    }
  }
  const hostHours = pool.totals.hostMinutes / 60;
  return {
    policy: policy.name,
    region: trace.region,
    warmPool: options.warmPool,
    totals: { ...pool.totals },
    hostHours,
    costUsd: hostHours * target.hourlyUsd,
    ...(series ? { series } : {}),
  };
}

/** One policy's results over several regions, added up. */
export function sumResults(results: ReplayResult[]): Omit<ReplayResult, "region" | "series"> {
  const first = results[0];
  const totals = { ...first.totals };
  for (const r of results.slice(1)) {
    // Peak hosts add up to the sum of each region's peak: regions peak at different hours.
    for (const key of Object.keys(totals) as (keyof PoolTotals)[]) totals[key] += r.totals[key];
  }
  return {
    policy: first.policy,
    warmPool: first.warmPool,
    totals,
    hostHours: results.reduce((n, r) => n + r.hostHours, 0),
    costUsd: results.reduce((n, r) => n + r.costUsd, 0),
  };
}
