/**
 * Relative gates: is the target pool worse than the source pool, over the window since the
 * weight change, by more than a floor relative to the source's mean? Each round the gate
 * estimates θ, the log of the ratio of the pools' means less the log of the floor's (logRatio),
 * from both pools' per-session summaries — raw values, or Prometheus histograms' buckets and
 * sums, one sample per session — and runs the sequential test of sequential.ts on it: worse
 * beyond the floor with the sequence's confidence fails; better than the floor with the same
 * confidence passes; otherwise inconclusive, and the bake goes on (up to maxBake, then a human
 * decides). Fewer sessions than
 * the minimum on either side, or none, is inconclusive: never a pass.
 *
 * The unit of evidence is the session, and minutes are clusters on top of it. A session's
 * summary is one sample (its minutes are the same call on the same network), so the variance of
 * a pool's mean is the per-session spread over the sessions. But the calls of one minute on one
 * pool also share causes — a congested peering link, a noisy neighbour — that no count of
 * sessions averages away: a thousand calls in one bad minute are one bad minute. So the
 * variance also carries a cluster-robust term over the window's minutes, computed from each
 * pool's per-minute totals (session-minutes and their sum) paired minute by minute: a cause
 * both pools share in a minute, in proportion to their means, cancels in their ratio; one that
 * hits a single pool counts in full. Why this and not a model with a fitted time effect: the robust sum needs no model of
 * how minutes correlate within a pool or across pools, only per-minute totals Prometheus
 * already has; the per-session term keeps it from trusting a few quiet minutes (it adds the
 * two, erring towards a longer bake, never towards a wrong verdict). A verdict needs
 * MIN_MINUTES minutes: before that there are too few clusters to tell shared causes from an
 * effect.
 */
import { SESSION_SERIES } from "../host-series/sessions";
import {
  reachedErrorLimit,
  type Fetched,
  type Histogram,
  type HistogramSource,
  type MinuteTotal,
  type Samples,
} from "./metrics";
import { decide } from "./sequential";
import { selector, SLOS, type SloName } from "./slo";
import { fmt, type GateEvaluation } from "./verdict";

/**
 * The series a relative gate reads, every one labelled `pool`, `region`, `host` and `release`
 * (a cohort of a pool's hosts is picked by the last two, slo.ts poolMatchers). The host agent
 * publishes them with these buckets; the rehearsal worlds serve the same.
 */
export interface Comparison {
  /**
   * Histogram (a counter), observed once per session when its call ends: the call's figure over
   * its whole length (lost ÷ sent packets; the p95 of its jitter or RTT; for joins, the join's
   * result, observed at the attempt: 1 joined, 0 failed).
   */
  summaryMetric: string;
  /**
   * Gauge histogram (`_bucket`, `_sum`, `_count` gauges): the calls in progress, by their figure
   * so far. With the ended calls' increase it is every session of the window, once each; without
   * it a bake would wait for its calls to end (bench:gates: 12 % of healthy 1 % bakes held).
   * Joins have none: a join's result is known at once.
   */
  openMetric?: string;
  /** Histogram observed once per session per minute: its per-minute totals are the clusters. */
  sessionMetric: string;
  /** Finite bucket upper bounds; +Inf is implied. Fine where the SLO's threshold is. */
  buckets: readonly number[];
  /**
   * The smallest worsening of the target's mean worth a rollback, as a share of the source's
   * mean (0.5: the target's loss ratio is half as high again). A ratio holds at any baseline:
   * an absolute floor that fits 0.5 % loss is deaf at 0.1 % and trigger-happy at 3 %.
   */
  effectFloor: number;
}

/**
 * Relative comparisons per SLO, sharing the SLO's direction (slo.ts `bound`). The series and
 * their buckets are the host agent's (modules/host-series/sessions.ts), which publishes them.
 */
export const COMPARISONS: Record<SloName, Comparison> = {
  "packet-loss": { ...SESSION_SERIES["packet-loss"], effectFloor: 0.5 },
  "jitter-p95": { ...SESSION_SERIES["jitter-p95"], effectFloor: 0.5 },
  // A join is a session sample of 0 (failed) or 1 (joined): a difference of means on two
  // values is the difference of rates, so one mechanism serves every metric. A drop of 0.2 %
  // of the source's rate is about 0.002 of success ratio.
  "join-success": { ...SESSION_SERIES["join-success"], effectFloor: 0.002 },
  "rtt-p95": { ...SESSION_SERIES["rtt-p95"], effectFloor: 0.25 },
};

/**
 * A runbook's defaults for relative gates, as bench:gates measures them: 100 sessions per pool
 * before a verdict (the normal approximation needs some), and at most a 1 % chance over the
 * whole bake, however many rounds it takes, of a rollback where the target is within the floor,
 * and as much of a promotion where it is beyond it.
 */
export const COMPARE_DEFAULTS = { minSamples: 100, confidence: 0.99 } as const;

/** A relative gate as the runbook states it (defaults filled in by the schema). */
export interface CompareGate {
  slo: SloName;
  critical: boolean;
  /** The fewest sessions each pool needs before a verdict. */
  minSamples: number;
  /** One minus the chance, over every round of a bake at once, that the sequence misses. */
  confidence: number;
  /** Overrides the SLO's floor in COMPARISONS (a share of the source's mean). */
  effectFloor?: number;
}

/** One pool's samples reduced to what the test needs. */
export interface Moments {
  /** Finite samples: sessions. */
  n: number;
  mean: number;
  /** The spread of one session's figure around the mean. */
  variance: number;
  /** NaN or infinite samples (or histogram figures) left out. */
  dropped: number;
  /** A histogram's sessions per bucket (not cumulative), ascending by upper bound. */
  groups?: { le: number; count: number }[];
}

/**
 * Pure: mean and spread of raw values, or of a histogram. A histogram knows its sum but not
 * where in a bucket each sample lies: every finite bucket's samples are placed at one common
 * fraction of its width, the fraction that reproduces the exact sum (so a 0/1 metric with
 * buckets 0 and 1 comes out exact); the +Inf bucket takes whatever the finite ones cannot hold.
 * Values are taken as non-negative (every SLO metric is).
 */
export function moments(samples: Samples): Moments {
  if ("values" in samples) {
    const finite = samples.values.filter(Number.isFinite);
    const n = finite.length;
    const mean = n ? finite.reduce((a, b) => a + b, 0) / n : NaN;
    const variance = n ? finite.reduce((a, v) => a + (v - mean) ** 2, 0) / n : NaN;
    return { n, mean, variance, dropped: samples.values.length - n };
  }
  const { buckets, sum } = samples.histogram;
  const bad =
    buckets.filter((b) => !Number.isFinite(b.count)).length + (Number.isFinite(sum) ? 0 : 1);
  if (bad > 0) return { n: 0, mean: NaN, variance: NaN, dropped: bad };
  // increase() extrapolates: counts arrive fractional and, across buckets, not always monotone.
  const groups: { le: number; count: number; low: number }[] = [];
  let previous = 0;
  let low = 0;
  for (const b of [...buckets].sort((a, b) => a.le - b.le)) {
    const cumulative = Math.max(previous, Math.round(b.count));
    groups.push({ le: b.le, count: cumulative - previous, low: Math.min(low, b.le) });
    previous = cumulative;
    low = b.le;
  }
  const n = previous;
  const finite = groups.filter((g) => Number.isFinite(g.le));
  const atLow = groups.reduce((a, g) => a + g.count * g.low, 0);
  const widths = finite.reduce((a, g) => a + g.count * (g.le - g.low), 0);
  const fraction = widths > 0 ? Math.min(1, Math.max(0, (sum - atLow) / widths)) : 0;
  const placed = atLow + fraction * widths;
  const value = (g: (typeof groups)[number]) =>
    Number.isFinite(g.le)
      ? g.low + fraction * (g.le - g.low)
      : g.low + (g.count > 0 ? Math.max(0, sum - placed) / g.count : 0);
  const fitted = n ? groups.reduce((a, g) => a + g.count * value(g), 0) / n : NaN;
  const variance = n ? groups.reduce((a, g) => a + g.count * (value(g) - fitted) ** 2, 0) / n : NaN;
  return {
    n,
    mean: n ? sum / n : NaN,
    variance,
    dropped: 0,
    groups: groups.map(({ le, count }) => ({ le, count })),
  };
}

/**
 * The fewest minutes with calls on both pools before a verdict: the minute-level term below has
 * one degree of freedom fewer than its minutes, and with fewer than five a single shared cause
 * (one bad minute at a weight change) could pass for an effect.
 */
export const MIN_MINUTES = 5;

/**
 * Pure: what shared per-minute causes add to the variance of θ̂. The cluster-robust variance
 * over the window's minutes, from both pools' per-minute totals (aligned, oldest first): θ̂'s
 * linearization summed minute by minute, so what the pools share in a minute cancels and what
 * one pool has alone adds; M/(M − 1) corrects for the means being estimated from the same
 * minutes. Less what independent sessions alone would put in it (each pool's per-session spread
 * `spread` over its session-minutes; a session's figure varies less than its minutes', so this
 * takes away no more than their share): the sessions are counted once, in the per-session term.
 * `weights`: θ's derivatives by the target's and the source's means. Undefined when a pool has
 * no minutes or they do not line up.
 */
export function minuteVariance(
  target: MinuteTotal[] | undefined,
  source: MinuteTotal[] | undefined,
  weights: { target: number; source: number },
  spread: { target: number; source: number },
): { variance: number; minutes: number } | undefined {
  if (!target || !source || target.length !== source.length) return undefined;
  const total = (ms: MinuteTotal[]) =>
    ms.reduce((a, m) => ({ count: a.count + m.count, sum: a.sum + m.sum }), { count: 0, sum: 0 });
  const [t, s] = [total(target), total(source)];
  if (!(t.count > 0 && s.count > 0)) return undefined;
  const residual = (m: MinuteTotal, all: MinuteTotal) =>
    (m.sum - (all.sum / all.count) * m.count) / all.count;
  let squares = 0;
  let sessions = 0;
  let minutes = 0;
  target.forEach((m, i) => {
    if (!(m.count > 0 && source[i].count > 0)) return;
    minutes++;
    squares += (weights.target * residual(m, t) - weights.source * residual(source[i], s)) ** 2;
    sessions +=
      (weights.target ** 2 * spread.target * m.count) / t.count ** 2 +
      (weights.source ** 2 * spread.source * source[i].count) / s.count ** 2;
  });
  if (minutes < 2) return { variance: 0, minutes };
  return { variance: Math.max(0, (squares * minutes) / (minutes - 1) - sessions), minutes };
}

/**
 * Pure: θ̂ = sign·(ln t̄ − ln s̄ − ln(1 + sign·floor)), > 0 worse than the floor, and its
 * variance; `shared` is minuteVariance's term (undefined: the minutes do not line up; no
 * `minutes` in it: neither pool has any). The floor is a share of the source's mean, so the
 * question is a ratio, and on the log scale a pool's spread is relative (variance ÷ mean²): a
 * skewed figure's few lossy calls raise a pool's mean and its spread together, and on the
 * difference of means a 1 % bake without them looked both better and surer than it was (the
 * estimate and its standard error correlated 0.8 in bench:gates) — ln t̄ and the relative spread
 * barely move together (for gamma-like figures not at all). The target's relative spread is
 * taken as at least the source's: over its few hundred sessions the rare large ones are often
 * missing, over the source's thousands they are not. Each log-mean is corrected for its bias,
 * E ln x̄ ≈ ln μ − spread/2n (Jensen; at 100 sessions a tenth of a standard error, towards
 * "better").
 */
export function logRatio(
  pools: { source: Moments; target: Moments },
  minutes: { source?: MinuteTotal[]; target?: MinuteTotal[] },
  sign: 1 | -1,
  floor: number,
): {
  theta: number;
  variance: number;
  ratioFloor: number;
  shared?: { variance: number; minutes?: number };
  df: number;
} {
  const { source: s, target: t } = pools;
  const relative = (m: Moments) => m.variance / m.mean / m.mean || 0;
  const spread = { source: relative(s), target: Math.max(relative(t), relative(s)) };
  const logMean = (m: Moments, relative: number) => Math.log(m.mean) + relative / (2 * m.n);
  const ratioFloor = Math.log(1 + sign * floor);
  const theta = sign * (logMean(t, spread.target) - logMean(s, spread.source) - ratioFloor);
  // θ's derivatives by the pools' means (a target without any loss has no minutes to weigh)
  const weights = { target: t.mean > 0 ? 1 / t.mean : 0, source: 1 / s.mean };
  const shared =
    minutes.source || minutes.target
      ? minuteVariance(minutes.target, minutes.source, weights, {
          target: t.variance,
          source: s.variance,
        })
      : { variance: 0 };
  const terms = [
    { variance: spread.target / t.n, df: t.n - 1 },
    { variance: spread.source / s.n, df: s.n - 1 },
    ...(shared && "minutes" in shared
      ? [{ variance: shared.variance, df: shared.minutes - 1 }]
      : []),
  ];
  const variance = terms.reduce((a, x) => a + x.variance, 0);
  return { theta, variance, ratioFloor, shared, df: welchDf(terms) };
}

/**
 * Pure: the Welch–Satterthwaite degrees of freedom of a sum of variance estimates, each with its
 * own: (Σ v)² ÷ Σ v²/df.
 */
export function welchDf(terms: { variance: number; df: number }[]): number {
  const total = terms.reduce((a, x) => a + x.variance, 0);
  const spread = terms.reduce((a, x) => a + (x.df > 0 ? x.variance ** 2 / x.df : 0), 0);
  return spread > 0 ? (total * total) / spread : Infinity;
}

/** Two histograms compare only when they share their bucket bounds. */
function sameBounds(a: Samples, b: Samples): boolean {
  if (!("histogram" in a) || !("histogram" in b)) return "values" in a && "values" in b;
  const bounds = (h: Histogram) =>
    h.buckets
      .map((x) => x.le)
      .sort((x, y) => x - y)
      .join(",");
  return bounds(a.histogram) === bounds(b.histogram);
}

const signed = (x: number) => `${x >= 0 ? "+" : "−"}${fmt(Math.abs(100 * x))} %`;

/** A bake's horizon and rhythm, as the executor runs it: its maxBake and its gates' interval. */
export interface BakeSchedule {
  maxBakeMs: number;
  intervalMs: number;
}

/**
 * The least time between two looks that may promote. The calls in progress are read by their
 * figure so far, revised every minute, so the estimate is rougher from minute to minute than
 * the Brownian motion the spending boundary assumes (bench:gates' 1 % bakes: a 1-minute step
 * varies 2.3 times as much as the information it adds says, a 5-minute step 1.5 times), and a
 * boundary looked at every minute crossed on that roughness: 1.4 % of 1-minute bakes at the floor
 * promoted, 0.8 % of 5-minute ones. That is us-west's 90-minute bake looked at every 18th of it;
 * the boundary spends by the bake's share, so a shorter bake looks as often in its share, every
 * maxBake ÷ PROMOTION_LOOKS when that is less (a rehearsal's 16-second bake, looked at every
 * 5 minutes, could never promote and held healthy). Rollbacks are judged at every look
 * (sequential.ts).
 */
export const PROMOTION_SPACING_MS = 5 * 60_000;
const PROMOTION_LOOKS = 18;

/**
 * Pure: a relative gate's verdict from both pools' samples (or why they are missing). `look`:
 * the window's length and the bake's schedule, when the caller knows them — the sequence then
 * spends its alpha for a promotion over the bake (sequential.ts), judged every
 * PROMOTION_SPACING_MS of rounds (or maxBake ÷ PROMOTION_LOOKS, if less).
 */
export function judgeComparison(
  gate: CompareGate,
  pools: { source: string; target: string },
  fetched: { source: Fetched; target: Fetched } | { error: string; errorLimit?: boolean },
  look?: { elapsedMs: number } & BakeSchedule,
): GateEvaluation {
  const slo = SLOS[gate.slo];
  const floor = gate.effectFloor ?? COMPARISONS[gate.slo].effectFloor;
  const alpha = 1 - gate.confidence;
  const metric = COMPARISONS[gate.slo].summaryMetric;
  const base = {
    gate: `${gate.slo} vs source`,
    critical: gate.critical,
    metric,
    pool: pools.target,
    // a provider error leaves no query behind: name the series it was after
    query: "target" in fetched ? fetched.target.query : selector(metric, pools.target),
    sourceQuery: "source" in fetched ? fetched.source.query : selector(metric, pools.source),
    values: [] as number[],
    threshold: floor,
    bound: slo.bound,
    alpha,
  };
  const inconclusive = (reason: string, extra: Partial<GateEvaluation> = {}): GateEvaluation => ({
    ...base,
    verdict: "inconclusive",
    samples: 0,
    ...extra,
    reason,
  });
  if ("error" in fetched) {
    return inconclusive(`query failed: ${fetched.error}`, {
      queryError: fetched.error,
      ...(fetched.errorLimit ? { errorLimit: true } : {}),
    });
  }
  const { source, target } = fetched;
  if ("missing" in source || "missing" in target) {
    const why = [source, target].flatMap((f, i) =>
      "missing" in f ? [`${i ? pools.target : pools.source}: ${f.missing}`] : [],
    );
    return inconclusive(`no data: ${why.join("; ")}`);
  }
  if (!sameBounds(source, target)) {
    return inconclusive(
      `${pools.source} and ${pools.target} export different buckets of ${metric}`,
    );
  }
  const s = moments(source);
  const t = moments(target);
  const counts = {
    sourceSamples: s.n,
    targetSamples: t.n,
    samples: t.n,
    dropped: s.dropped + t.dropped,
    ...("values" in target ? { values: target.values } : {}),
    ...(s.groups && t.groups
      ? {
          buckets: s.groups.map((g, i) => ({
            le: g.le,
            source: g.count,
            target: t.groups![i].count,
          })),
        }
      : {}),
  };
  const droppedNote = counts.dropped ? ` (${counts.dropped} NaN or infinite left out)` : "";
  if (s.n < gate.minSamples || t.n < gate.minSamples) {
    return inconclusive(
      `${s.n} ${pools.source} and ${t.n} ${pools.target} sessions${droppedNote}, fewer than the ${gate.minSamples} per pool a comparison needs`,
      counts,
    );
  }
  if (!(s.mean > 0)) {
    return inconclusive(
      `${pools.source}'s mean ${metric} is ${fmt(s.mean)}: no baseline for a floor relative to it`,
      counts,
    );
  }
  const sign = slo.bound === "below" ? 1 : -1;
  const { theta, variance, ratioFloor, shared, df } = logRatio(
    { source: s, target: t },
    { source: source.minutes, target: target.minutes },
    sign,
    floor,
  );
  if (!shared) {
    return inconclusive(
      `no per-minute totals of ${COMPARISONS[gate.slo].sessionMetric} on both pools over the same minutes: shared causes cannot be told from an effect`,
      counts,
    );
  }
  if (shared.minutes !== undefined && shared.minutes < MIN_MINUTES) {
    return inconclusive(
      `${shared.minutes} minute(s) with calls on both pools, fewer than the ${MIN_MINUTES} a comparison needs (one minute's calls share its network)`,
      counts,
    );
  }
  if (!(variance > 0)) {
    return inconclusive(
      `no spread in either pool's samples: nothing to measure the difference by`,
      counts,
    );
  }
  // without a horizon, the mixture spreads over effects the size of the floor
  const { decision, low, high, pValue } = decide(
    { theta, variance, tau: Math.abs(ratioFloor), df },
    alpha,
    look && look.elapsedMs / look.maxBakeMs,
  );
  const effect = (sign * (t.mean - s.mean)) / s.mean;
  // the worsening, as a share of the source's mean, at a θ
  const worsening = (at: number) => sign * (Math.exp(sign * at + ratioFloor) - 1);
  const interval: [number, number] = [worsening(low), worsening(high)];
  const promotes = !look || promotionRound(look);
  const verdict =
    decision === "reject" ? "fail" : decision === "accept" && promotes ? "pass" : "inconclusive";
  const clustered =
    shared.minutes !== undefined
      ? `, over ${shared.minutes} minutes (shared per-minute causes ${fmt((100 * shared.variance) / variance)} % of the variance)`
      : "";
  const said = {
    fail: "target worse",
    pass: "target not worse",
    inconclusive: "not yet decided",
  }[verdict];
  const relation = { reject: "above", accept: "below", continue: "spans" }[decision];
  const waits =
    decision === "accept" && !promotes
      ? ` (a promotion is judged every ${fmt((promotionEvery(look) * look.intervalMs) / 60_000)} min of rounds)`
      : "";
  return {
    ...base,
    ...counts,
    verdict,
    value: effect,
    effect,
    interval,
    pValue,
    reason:
      `${said}: mean ${fmt(t.mean)} vs ${fmt(s.mean)}, ${signed(effect)} (${fmt(100 * gate.confidence)} % sequence ${signed(interval[0])} to ${signed(interval[1])}) ${relation} floor ${signed(floor)}, ` +
      `p ${fmt(pValue)}, ${s.n} vs ${t.n} sessions${droppedNote}${clustered}${waits}`,
  };
}

/**
 * Pure: the rounds from one look that may promote to the next — the executor's rounds come every
 * interval from the weight change, so ⌈spacing ÷ interval⌉ of them (1 at an interval of the
 * spacing or more), the spacing PROMOTION_SPACING_MS or maxBake ÷ PROMOTION_LOOKS, the less.
 */
function promotionEvery(schedule: BakeSchedule): number {
  const spacing = Math.min(PROMOTION_SPACING_MS, schedule.maxBakeMs / PROMOTION_LOOKS);
  return Math.max(1, Math.ceil(spacing / schedule.intervalMs));
}

/**
 * Pure: whether a look may promote: every promotionEvery-th round. The round is counted from the
 * elapsed time, which drifts by the executor's latency.
 */
export function promotionRound(look: { elapsedMs: number } & BakeSchedule): boolean {
  return Math.round(look.elapsedMs / look.intervalMs) % promotionEvery(look) === 0;
}

/**
 * Fetches both pools' per-session summaries over (from, to] and judges them; `schedule`, when
 * the caller knows it, is the bake's maxBake and interval. A provider error is inconclusive;
 * one carrying `errorLimit: true` (the provider's consecutive-error limit) holds.
 */
export async function evaluateComparison(
  gate: CompareGate,
  pools: { source: string; target: string },
  provider: Partial<HistogramSource>,
  from: number,
  to: number,
  schedule?: BakeSchedule,
): Promise<GateEvaluation> {
  const look = schedule && { ...schedule, elapsedMs: to - from };
  const metric = COMPARISONS[gate.slo].summaryMetric;
  try {
    const { histogram } = provider;
    if (!histogram) throw new Error("the metrics provider serves no per-session histograms");
    const [source, target] = await Promise.all([
      histogram(metric, pools.source, from, to),
      histogram(metric, pools.target, from, to),
    ]);
    return judgeComparison(gate, pools, { source, target }, look);
  } catch (err) {
    return judgeComparison(gate, pools, {
      error: (err as Error).message,
      errorLimit: reachedErrorLimit(err),
    });
  }
}
