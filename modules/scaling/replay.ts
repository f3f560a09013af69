/**
 * Replay: every policy on the same demand trace, through the same simulated pool, so their
 * host-hours, cost, overload and cut calls compare like for like. The loop is closed: a refused
 * join tries again and a cut call's participants come back (RETRY_MODEL), so a policy that
 * refuses or cuts more carries that load later instead of looking cheaper.
 */
import {
  MEDIA_SESSIONS,
  MINUTES_PER_DAY,
  meanSessionMin,
  type DemandEvent,
  survivalPerMinute,
  type SessionMix,
  type Trace,
} from "../world/demand";
import { Pool, type PoolSpec, type PoolTotals } from "../world/pool";
import type { Policy } from "./policies";

/**
 * How users answer a refusal or a cut. Clients reconnect on their own: LiveKit's client SDK
 * tries 10 times, after 0 (+ up to 1 s), 3, 5 and then 7 s, each ±50 % — about a minute in all
 * (livekit/client-sdk-js src/room/DefaultReconnectPolicy.ts at 0be977c), so a retry lands in
 * the next minute; a person whose join keeps failing gives up more often than a client does.
 */
export interface RetryModel {
  /** Share of refused joins that try again; each retry that is refused again retries at this share. */
  retryShare: number;
  /** Minutes until a refused join tries again. */
  retryDelayMin: number;
  /** Share of a cut call's participants who rejoin; their call goes on as long as it would have. */
  rejoinShare: number;
  /** Minutes until they rejoin. */
  rejoinDelayMin: number;
}

export const RETRY_MODEL: RetryModel = {
  retryShare: 0.8,
  retryDelayMin: 1,
  rejoinShare: 0.9,
  rejoinDelayMin: 1,
};

/** Nobody comes back: every replay sees the same joins, whatever it refused or cut. */
export const OPEN_LOOP: RetryModel = { ...RETRY_MODEL, retryShare: 0, rejoinShare: 0 };

/**
 * A regional failover the traffic split carries out: it raises this pool's floor to `factor` ×
 * its load, plus `headroom`, `noticeMin` before it shifts the joins (trace minutes), so the
 * step meets serving hosts; without notice the pool meets it with its headroom alone.
 */
export interface Failover {
  start: number;
  end: number;
  factor: number;
  noticeMin: number;
  headroom: number;
}

/**
 * The calendar's events in a file trace's minutes: `day` counts local days from the first row's
 * local date (day 0), `hour` is local time at the region's standard offset.
 */
export function fileCalendar(
  events: DemandEvent[],
  firstMinute: number,
  utcOffsetHours: number,
): Trace["events"] {
  const localFirst = firstMinute + Math.round(utcOffsetHours * 60);
  const sinceMidnight = ((localFirst % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  return events.map((e) => {
    const start = e.day * MINUTES_PER_DAY + e.hour * 60 - sinceMidnight;
    return { start, end: start + e.durationMin, factor: e.factor };
  });
}

export interface ReplayPool {
  trace: Trace;
  pool: Omit<PoolSpec, "warmPool">;
  minHosts: number;
  maxHosts: number;
  /** Price of one host-hour in this region. */
  hourlyUsd: number;
  /**
   * The busiest minute of the weeks before the replay (sessions): what an operator sizes a
   * static fleet from. The replayed trace's own peak would be hindsight.
   */
  sizingPeak: number;
  failovers?: Failover[];
}

export interface ReplayTotals extends PoolTotals {
  /** Calls started: every admitted join, retries and rejoins included. */
  calls: number;
  /** Joins that were refused and did not try again. */
  gaveUp: number;
  /** Participants of cut calls who came back. */
  rejoins: number;
  /** Session-minutes the demand asked for, and those of it the pool carried (each minute at most its demand). */
  demandSessionMin: number;
  servedSessionMin: number;
}

export interface ReplayResult {
  policy: string;
  region: string;
  warmPool: boolean;
  /** The pool's drain limit this replay ran with. */
  drainLimitMin: number;
  totals: ReplayTotals;
  /** Served session-minutes as a share of the demand's, in %. */
  servedPct: number;
  /** The worst minute's load as a share of that minute's demand, in %. */
  worstMinuteServedPct: number;
  hostHours: number;
  costUsd: number;
  /** Per minute, when asked for: serving capacity (sessions) and joins refused. */
  series?: { capacity: Float64Array; refused: Float64Array };
}

/** Hosts for a peak of `sessions` +30 %, plus one, within maxHosts: what a static fleet is sized for. */
export function staticHostsFor(sessions: number, capacity: number, maxHosts: number): number {
  return Math.min(maxHosts, Math.ceil((sessions * 1.3) / capacity) + 1);
}

/** The busiest minute of a trace. */
export function peakOf(sessions: Float64Array): number {
  let peak = 0;
  for (const s of sessions) peak = Math.max(peak, s);
  return peak;
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

/** Hosts the traffic split asks for at `now`: its failover's factor × load + headroom, from the notice on. */
function splitFloor(failovers: Failover[], now: number, load: number, capacity: number): number {
  let hosts = 0;
  for (const f of failovers)
    if (now >= f.start - f.noticeMin && now < f.end)
      hosts = Math.max(hosts, Math.ceil((load * f.factor * (1 + f.headroom)) / capacity));
  return hosts;
}

export function replay(
  target: ReplayPool,
  policy: Policy,
  options: { warmPool: boolean; keepSeries?: boolean; mix?: SessionMix; retry?: RetryModel },
): ReplayResult {
  const { trace, pool: spec, minHosts, maxHosts } = target;
  const retry = options.retry ?? RETRY_MODEL;
  const minutes = trace.joins.length;
  const staticHosts = staticHostsFor(target.sizingPeak, spec.capacity, maxHosts);
  const run = policy.start({ minHosts, maxHosts, staticHosts });
  const initialHosts = policy.fixed
    ? staticHosts
    : clamp(Math.ceil((trace.sessions[0] * 1.35) / spec.capacity), minHosts, maxHosts);
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
  // Who comes back: refused joins that retry, and cut calls' participants per phase of the mix.
  const phases = pool.cutByPhase.length;
  const retrying = new Float64Array(minutes + retry.retryDelayMin);
  const resuming = new Float64Array((minutes + retry.rejoinDelayMin) * phases);
  const cutSeen = new Float64Array(phases);
  const loop = { calls: 0, gaveUp: 0, rejoins: 0, demandSessionMin: 0, servedSessionMin: 0 };
  // The demand: what a pool without limits would carry of the same joins, phase by phase (the
  // curve's own sessions differ from it wherever demand falls faster than calls end).
  const mix = options.mix ?? MEDIA_SESSIONS;
  const survive = survivalPerMinute(mix);
  const wanted = mix.phases.map(
    (p) => (trace.sessions[0] * p.share * p.meanMin) / meanSessionMin(mix),
  );
  let worstServed = 1;
  let load = trace.sessions[0];
  for (let now = 0; now < minutes; now++) {
    const { serving, booting, draining, drainingSessions } = pool.active(now);
    const seen = {
      now,
      load,
      serving,
      booting,
      drainingSessions,
      capacity: spec.capacity,
      history,
      events: trace.events,
      bootMin,
    };
    let desired = run.desired(seen);
    if (!policy.fixed)
      desired = Math.max(desired, splitFloor(target.failovers ?? [], now, load, spec.capacity));
    // Draining hosts still run: they count against maxHosts (a group's or a quota's cap).
    if (desired > serving + booting)
      desired = Math.min(desired, Math.max(serving + booting, maxHosts - draining));
    pool.scaleTo(now, desired, run.removal);
    if (run.cordon)
      pool.cordon(
        now,
        run.cordon({ ...seen, ...pool.active(now) }, desired),
        run.removal.pick,
        run.deployedCordon,
      );
    const joins = trace.joins[now] + retrying[now];
    const resumed = resuming.subarray(now * phases, (now + 1) * phases);
    const back = resumed.reduce((n, v) => n + v, 0);
    const minute = pool.step(now, joins, resumed);
    const refused = minute.refused >= 0.5 ? minute.refused : 0;
    retrying[now + retry.retryDelayMin] += refused * retry.retryShare;
    loop.gaveUp += refused * (1 - retry.retryShare);
    for (let k = 0; k < phases; k++) {
      const cut = pool.cutByPhase[k] - cutSeen[k];
      cutSeen[k] = pool.cutByPhase[k];
      resuming[(now + retry.rejoinDelayMin) * phases + k] += cut * retry.rejoinShare;
      loop.rejoins += cut * retry.rejoinShare;
    }
    // Calls started: the admitted share of new joins and retries; a resumed call started before.
    loop.calls += joins * (1 - minute.refused / Math.max(1e-9, joins + back));
    let demand = 0;
    for (let k = 0; k < phases; k++) {
      wanted[k] = wanted[k] * survive[k] + trace.joins[now] * mix.phases[k].share;
      demand += wanted[k];
    }
    loop.demandSessionMin += demand;
    // A minute's surplus (returning calls start afresh) does not make up another's shortfall.
    loop.servedSessionMin += Math.min(minute.load, demand);
    if (demand > 0) worstServed = Math.min(worstServed, minute.load / demand);
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
    drainLimitMin: spec.drainLimitMin,
    totals: { ...pool.totals, ...loop },
    servedPct: servedPct(loop),
    worstMinuteServedPct: Math.min(100, worstServed * 100),
    hostHours,
    costUsd: hostHours * target.hourlyUsd,
    ...(series ? { series } : {}),
  };
}

/** Served session-minutes as a share of the demand's. */
function servedPct(t: Pick<ReplayTotals, "demandSessionMin" | "servedSessionMin">): number {
  return (100 * t.servedSessionMin) / Math.max(1, t.demandSessionMin);
}

/** One policy's results over several regions, added up. */
export function sumResults(
  results: ReplayResult[],
): Omit<ReplayResult, "region" | "series" | "drainLimitMin"> {
  const first = results[0];
  const totals = { ...first.totals };
  for (const r of results.slice(1)) {
    // Peak hosts add up to the sum of each region's peak: regions peak at different hours.
    for (const key of Object.keys(totals) as (keyof ReplayTotals)[]) totals[key] += r.totals[key];
  }
  return {
    policy: first.policy,
    warmPool: first.warmPool,
    totals,
    servedPct: servedPct(totals),
    worstMinuteServedPct: Math.min(...results.map((r) => r.worstMinuteServedPct)),
    hostHours: results.reduce((n, r) => n + r.hostHours, 0),
    costUsd: results.reduce((n, r) => n + r.costUsd, 0),
  };
}
