/**
 * A simulated world's per-session quality, as the fleet's SFUs export it: a histogram per
 * pool of session-minute samples (packet loss, jitter p95) and of join attempts (1 joined,
 * 0 failed). The world keeps one quality figure per pool and minute; the calls of that minute
 * spread around it exponentially (most near the pool's figure, a few far worse). Counts are the
 * expected ones, computed rather than drawn: cheap, and the same on every run of a seed.
 */
import { COMPARISONS, type Fetched, type Histogram } from "./compare";
import { emptyHistogram, renderHistogram, renderQuery, TEMPLATES } from "./prometheus";
import { poolMatchers, SLO_NAMES, type SloName } from "./slo";
/**
 * What a simulated world records of its calls (modules/migrate's rehearsal world is one): per
 * minute and pool, the sessions in progress, those that joined, and the quality figures in
 * SLO_NAMES order.
 */
export interface SessionRecord {
  region: string;
  pools: string[];
  now: number;
  minutes: {
    t: number;
    sessions: Record<string, number>;
    joins?: Record<string, number>;
    quality: Record<string, readonly number[]>;
  }[];
}

type Minute = SessionRecord["minutes"][number];

/** Adds one minute's expected samples of `slo` on a pool to a histogram. */
function addMinute(h: Histogram, slo: SloName, minute: Minute, joined: number, pool: string): void {
  const q = minute.quality[pool][SLO_NAMES.indexOf(slo)];
  if (slo === "join-success") {
    // buckets le=0 (failed), le=1 and +Inf (every attempt)
    h.buckets.forEach((b) => (b.count += b.le === 0 ? joined * (1 - q) : joined));
    h.sum += joined * q;
    return;
  }
  const sessions = minute.sessions[pool] ?? 0;
  for (const b of h.buckets) b.count += sessions * (1 - Math.exp(-b.le / q));
  h.sum += sessions * q;
}

/** Pure: the per-session histogram of `slo` on `pool` over the minutes in (from, to]. */
export function sessionHistogram(
  state: SessionRecord,
  slo: SloName,
  pool: string,
  from: number,
  to: number,
): Histogram | undefined {
  const h = { ...emptyHistogram(COMPARISONS[slo].buckets), sessions: 0 };
  let first = true;
  let seen = false;
  state.minutes.forEach((minute) => {
    if (minute.t <= from || minute.t > to) return;
    const joined = minute.joins?.[pool] ?? 0;
    // the window's calls: those in progress in its first minute, then every join
    h.sessions += first ? (minute.sessions[pool] ?? 0) : joined;
    first = false;
    if (minute.quality[pool] === undefined) return;
    seen = true;
    addMinute(h, slo, minute, joined, pool);
  });
  return seen ? h : undefined;
}

/** The world as a HistogramSource: what the same PromQL would return from a scrape of it. */
export function worldHistogram(
  state: SessionRecord,
  metric: string,
  pool: string,
  from: number,
  to: number,
): Fetched {
  const slo = SLO_NAMES.find((s) => COMPARISONS[s].sessionMetric === metric);
  const window = `${Math.max(1, Math.round((to - from) / 1000))}s`;
  const query = renderQuery(TEMPLATES.buckets, {
    metric,
    matchers: poolMatchers(pool),
    region: state.region,
    window,
  });
  if (!slo) throw new Error(`unknown per-session metric ${metric}`);
  const histogram = sessionHistogram(state, slo, pool, from, to);
  return histogram ? { query, histogram } : { query, missing: `no sessions on ${pool}` };
}

/** Exposition lines: each per-session histogram since the world began, per pool. */
export function sessionExposition(state: SessionRecord): string[] {
  return SLO_NAMES.flatMap((slo) =>
    renderHistogram(
      COMPARISONS[slo].sessionMetric,
      `Per-session ${slo} (one sample a session-minute; joins: 1 joined, 0 failed).`,
      state.pools.map((pool) => ({
        labels: { pool, region: state.region },
        histogram:
          sessionHistogram(state, slo, pool, -Infinity, state.now) ??
          emptyHistogram(COMPARISONS[slo].buckets),
      })),
    ),
  );
}
