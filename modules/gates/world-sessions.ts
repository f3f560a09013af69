/**
 * A simulated world's per-session quality, as the fleet's host agents export it: per pool, one
 * summary per session (its call's figure over its whole length; joins: 1 joined, 0 failed) and
 * per-minute totals of its session-minutes. The world keeps one quality figure per pool and
 * minute (shocks shared by every call of the minute included); a session's figure spreads around
 * the pool's exponentially (most near it, a few far worse). Counts are the expected ones,
 * computed rather than drawn: cheap, and the same on every run of a seed.
 */
import { COMPARISONS } from "./compare";
import type { Fetched, Histogram, MinuteTotal } from "./metrics";
import { emptyHistogram, renderHistogram, renderQuery, TEMPLATES } from "./prometheus";
import { poolMatchers, SLO_NAMES, type SloName } from "./slo";
/**
 * What a simulated world records of its calls (modules/rehearsal/world.ts is one): per
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

/** Adds `count` sessions whose figures spread exponentially around `mean` (0/1 for joins). */
function addSessions(h: Histogram, slo: SloName, count: number, mean: number): void {
  if (slo === "join-success") {
    // buckets le=0 (failed), le=1 and +Inf (every attempt)
    h.buckets.forEach((b) => (b.count += b.le === 0 ? count * (1 - mean) : count));
  } else {
    for (const b of h.buckets) b.count += count * (1 - Math.exp(-b.le / mean));
  }
  h.sum += count * mean;
}

/**
 * One minute's totals of a pool: its session-minutes and their sum (joins: the minute's
 * attempts and those that joined), the pool's figure being shared by all of them.
 */
function minuteTotal(slo: SloName, minute: Minute, pool: string): MinuteTotal {
  const q = minute.quality[pool]?.[SLO_NAMES.indexOf(slo)];
  const count = (slo === "join-success" ? minute.joins?.[pool] : minute.sessions[pool]) ?? 0;
  return q === undefined ? { count: 0, sum: 0 } : { count, sum: count * q };
}

/**
 * Pure: the per-session summaries of `slo` on `pool` over the minutes in (from, to] — every
 * session of the window once: those in progress in its first minute, then every join — with the
 * window's per-minute totals. A session's figure spreads around the pool's mean over the window
 * (weighted by session-minutes): its own minutes' mean, in the fluid model that has no single
 * calls.
 */
export function sessionHistogram(
  state: SessionRecord,
  slo: SloName,
  pool: string,
  from: number,
  to: number,
): { histogram: Histogram; minutes: MinuteTotal[] } | undefined {
  const window = state.minutes.filter((m) => m.t > from && m.t <= to);
  const minutes = window.map((m) => minuteTotal(slo, m, pool));
  const total = minutes.reduce((a, m) => ({ count: a.count + m.count, sum: a.sum + m.sum }), {
    count: 0,
    sum: 0,
  });
  if (!window.some((m) => m.quality[pool] !== undefined) || !(total.count > 0)) return undefined;
  const sessions =
    slo === "join-success"
      ? total.count
      : window.reduce((a, m, i) => a + ((i ? m.joins?.[pool] : m.sessions[pool]) ?? 0), 0);
  const histogram = emptyHistogram(COMPARISONS[slo].buckets);
  addSessions(histogram, slo, sessions, total.sum / total.count);
  return { histogram, minutes };
}

/** The world as a HistogramSource: what the same PromQL would return from a scrape of it. */
export function worldHistogram(
  state: SessionRecord,
  metric: string,
  pool: string,
  from: number,
  to: number,
): Fetched {
  const slo = SLO_NAMES.find((s) => COMPARISONS[s].summaryMetric === metric);
  const window = `${Math.max(1, Math.round((to - from) / 1000))}s`;
  const query = renderQuery(TEMPLATES.buckets, {
    metric,
    matchers: poolMatchers(pool),
    region: state.region,
    window,
  });
  if (!slo) throw new Error(`unknown per-session summary ${metric}`);
  const samples = sessionHistogram(state, slo, pool, from, to);
  return samples ? { query, ...samples } : { query, missing: `no sessions on ${pool}` };
}

/**
 * Exposition lines, per pool: each per-minute histogram since the world began; each summary of
 * the calls ended since (a minute's ended calls around that minute's figure); the calls in
 * progress around the last minute's.
 */
export function sessionExposition(state: SessionRecord): string[] {
  const series = (slo: SloName, fill: (h: Histogram, pool: string) => void) =>
    state.pools.map((pool) => {
      const histogram = emptyHistogram(COMPARISONS[slo].buckets);
      fill(histogram, pool);
      return { labels: { pool, region: state.region }, histogram };
    });
  const figure = (m: Minute, pool: string, slo: SloName) =>
    m.quality[pool]?.[SLO_NAMES.indexOf(slo)];
  return SLO_NAMES.flatMap((slo) => {
    const { sessionMetric, summaryMetric, openMetric } = COMPARISONS[slo];
    const perMinute = renderHistogram(
      sessionMetric,
      `Per-session ${slo}, one sample a session-minute (joins: 1 joined, 0 failed).`,
      series(slo, (h, pool) =>
        state.minutes.forEach((m) => {
          const q = figure(m, pool, slo);
          const { count } = minuteTotal(slo, m, pool);
          if (q !== undefined) addSessions(h, slo, count, q);
        }),
      ),
    );
    if (!openMetric) return perMinute;
    const ended = renderHistogram(
      summaryMetric,
      `Per-session ${slo} over the whole call, observed when it ends.`,
      series(slo, (h, pool) =>
        state.minutes.forEach((m, i) => {
          const q = figure(m, pool, slo);
          const before = i ? (state.minutes[i - 1].sessions[pool] ?? 0) : 0;
          const count = before + (m.joins?.[pool] ?? 0) - (m.sessions[pool] ?? 0);
          if (q !== undefined && i > 0 && count > 0) addSessions(h, slo, count, q);
        }),
      ),
    );
    const last = state.minutes.at(-1);
    // A gauge histogram: the text format (0.0.4) has no such type, so three gauge families.
    const open = renderHistogram(
      openMetric,
      `Per-session ${slo} of the calls in progress, so far.`,
      series(slo, (h, pool) => {
        const q = last && figure(last, pool, slo);
        if (q !== undefined) addSessions(h, slo, last!.sessions[pool] ?? 0, q);
      }),
    )
      .filter((line) => !line.startsWith("#"))
      .sort()
      .flatMap((line, i, all) => {
        const family = line.slice(0, line.indexOf("{"));
        return i && all[i - 1].startsWith(`${family}{`) ? [line] : [`# TYPE ${family} gauge`, line];
      });
    return [...perMinute, ...ended, ...open];
  });
}
