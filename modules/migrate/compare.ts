/**
 * Relative gates: is the target pool worse than the source pool over the same window?
 * Per-session samples of both pools — raw values, or a Prometheus histogram's buckets, where
 * every session in a bucket ties — go through a one-sided Mann–Whitney U test (tie-corrected,
 * normal approximation with continuity correction) in the metric's bad direction. A failure
 * needs both significance and an effect above the metric's floor, so a huge sample cannot roll
 * back over a difference nobody hears. Fewer samples than the minimum on either side, or none,
 * is inconclusive: never a pass.
 */
import { fmt, type GateEvaluation } from "./gates";
import { reachedErrorLimit } from "./metrics";
import { selector, SLOS, type SloName } from "./slo";

/**
 * A histogram's increase over the window: cumulative session counts per upper bound
 * (ascending, the last +Inf) and the sum of the observed values.
 */
export interface Histogram {
  buckets: { le: number; count: number }[];
  sum: number;
  /**
   * Distinct sessions behind the samples. Each session reports once a minute, so its samples
   * are alike: without this count the test would take them for independent and fail healthy
   * pools far more often than its alpha says (the bench measures it).
   */
  sessions?: number;
}

/** One pool's per-session samples over the window. */
export type Samples = { values: number[] } | { histogram: Histogram };

/** What a pool's samples came from (journaled) and the samples, or why there are none. */
export type Fetched = { query: string } & (Samples | { missing: string });

/** Where per-session histograms come from: Prometheus, or the rehearsal world. */
export interface HistogramSource {
  histogram(metric: string, pool: string, from: number, to: number): Promise<Fetched>;
}

export interface Comparison {
  /** The per-session histogram the fleet exports (observed once per session per minute). */
  sessionMetric: string;
  /** Finite bucket upper bounds; +Inf is implied. Fine where the SLO's threshold is. */
  buckets: readonly number[];
  /** The smallest worsening of the mean worth a rollback, in the SLO's unit. */
  effectFloor: number;
}

/** Relative comparisons per SLO, sharing the SLO's direction (slo.ts `bound`). */
export const COMPARISONS: Record<SloName, Comparison> = {
  "packet-loss": {
    sessionMetric: "avfleet_session_packet_loss_ratio",
    buckets: [0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1],
    effectFloor: 0.0025,
  },
  "jitter-p95": {
    sessionMetric: "avfleet_session_jitter_p95_seconds",
    buckets: [0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2],
    effectFloor: 0.005,
  },
  // A join is a session sample of 0 (failed) or 1 (joined): Mann–Whitney on two values is
  // the two-proportion test, so one mechanism serves every metric.
  "join-success": {
    sessionMetric: "avfleet_session_join_success",
    buckets: [0, 1],
    effectFloor: 0.002,
  },
  "rtt-p95": {
    sessionMetric: "avfleet_session_rtt_p95_seconds",
    buckets: [0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1],
    effectFloor: 0.02,
  },
};

/**
 * A runbook's defaults for relative gates, as bench:gates measures them: 100 session-minutes
 * per pool before a verdict, and a 0.1 % false-failure chance per round.
 */
export const COMPARE_DEFAULTS = { minSamples: 100, confidence: 0.999 } as const;

/** A relative gate as the runbook states it (defaults filled in by the schema). */
export interface CompareGate {
  slo: SloName;
  critical: boolean;
  /** The fewest samples each pool needs before a verdict. */
  minSamples: number;
  /** One minus the per-evaluation false-failure rate: a bake of k rounds risks at most k×(1−confidence). */
  confidence: number;
  /** Overrides the SLO's floor in COMPARISONS. */
  effectFloor?: number;
}

/** Samples at one value (or in one bucket), ascending by value: the ties of a ranking. */
export interface Group {
  value: number;
  source: number;
  target: number;
}

export interface MannWhitney {
  /** U of the target: pairs where the target sample is larger, ties counting half. */
  u: number;
  z: number;
  /** One-sided: the chance of a U this far toward `worse` if the pools were alike. */
  pValue: number;
}

/** erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes' erfcc). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** P(Z > z) for a standard normal Z. */
export function upperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Pure: Mann–Whitney U over grouped samples. `worse: "greater"` asks whether the target tends
 * to be larger than the source; "less" whether smaller. Both pools need at least one sample.
 *
 * `perSession` is each pool's samples per session. Var(U) = nₛnₜ(n+1)/12 splits into a part
 * from the target's spread (nₛ·nₜ·nₛ/12) and one from the source's (nₛ·nₜ·nₜ/12); samples of
 * one session count as one in the worst case (intra-session correlation 1), which multiplies
 * each part by its pool's samples per session. 1 and 1 is the textbook test.
 */
export function mannWhitney(
  groups: Group[],
  worse: "greater" | "less",
  perSession = { source: 1, target: 1 },
): MannWhitney {
  let ns = 0;
  let nt = 0;
  let below = 0;
  let rankSum = 0;
  let ties = 0;
  for (const g of groups) {
    const c = g.source + g.target;
    rankSum += g.target * (below + (c + 1) / 2);
    ties += c * c * c - c;
    below += c;
    ns += g.source;
    nt += g.target;
  }
  const n = ns + nt;
  const u = rankSum - (nt * (nt + 1)) / 2;
  const mean = (ns * nt) / 2;
  const tieFactor = 1 - ties / (n * n * n - n);
  const spread = ns * perSession.target + nt * perSession.source + 1;
  const variance = ((ns * nt) / 12) * spread * tieFactor;
  const toward = worse === "greater" ? u - mean : mean - u;
  // Every sample tied: no evidence either way.
  if (!(variance > 0)) return { u, z: 0, pValue: 1 };
  const z = (toward - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: upperTail(z) };
}

interface Side {
  groups: Map<number, number>;
  n: number;
  mean: number;
  dropped: number;
  /** Samples per session, at least 1: raw values are one per session. */
  perSession: number;
}

/** NaN and infinities are left out and counted; a histogram's buckets become its groups. */
function side(samples: Samples): Side {
  if ("values" in samples) {
    const finite = samples.values.filter(Number.isFinite);
    const groups = new Map<number, number>();
    for (const v of finite) groups.set(v, (groups.get(v) ?? 0) + 1);
    const n = finite.length;
    const mean = n ? finite.reduce((a, b) => a + b, 0) / n : NaN;
    return { groups, n, mean, dropped: samples.values.length - n, perSession: 1 };
  }
  const { buckets, sum, sessions } = samples.histogram;
  const bad =
    buckets.filter((b) => !Number.isFinite(b.count)).length + (Number.isFinite(sum) ? 0 : 1);
  if (bad > 0) return { groups: new Map(), n: 0, mean: NaN, dropped: bad, perSession: 1 };
  // increase() extrapolates: counts arrive fractional and, across buckets, not always monotone.
  const groups = new Map<number, number>();
  let previous = 0;
  for (const b of [...buckets].sort((a, b) => a.le - b.le)) {
    const cumulative = Math.max(previous, Math.round(b.count));
    groups.set(b.le, cumulative - previous);
    previous = cumulative;
  }
  const perSession = sessions && sessions > 0 ? Math.max(1, previous / sessions) : 1;
  return { groups, n: previous, mean: previous ? sum / previous : NaN, dropped: 0, perSession };
}

function groupsOf(source: Side, target: Side): Group[] {
  const values = [...new Set([...source.groups.keys(), ...target.groups.keys()])].sort(
    (a, b) => a - b,
  );
  return values.map((value) => ({
    value,
    source: source.groups.get(value) ?? 0,
    target: target.groups.get(value) ?? 0,
  }));
}

/** Two histograms rank together only when they share their bucket bounds. */
function sameBounds(a: Samples, b: Samples): boolean {
  if (!("histogram" in a) || !("histogram" in b)) return "values" in a && "values" in b;
  const bounds = (h: Histogram) =>
    h.buckets
      .map((x) => x.le)
      .sort((x, y) => x - y)
      .join(",");
  return bounds(a.histogram) === bounds(b.histogram);
}

/** Pure: a relative gate's verdict from both pools' samples (or why they are missing). */
export function judgeComparison(
  gate: CompareGate,
  pools: { source: string; target: string },
  fetched: { source: Fetched; target: Fetched } | { error: string; errorLimit?: boolean },
): GateEvaluation {
  const slo = SLOS[gate.slo];
  const floor = gate.effectFloor ?? COMPARISONS[gate.slo].effectFloor;
  const alpha = 1 - gate.confidence;
  const metric = COMPARISONS[gate.slo].sessionMetric;
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
  const s = side(source);
  const t = side(target);
  const counts = {
    sourceSamples: s.n,
    targetSamples: t.n,
    samples: t.n,
    dropped: s.dropped + t.dropped,
    ...("values" in target ? { values: target.values } : {}),
  };
  const droppedNote = counts.dropped ? ` (${counts.dropped} NaN or infinite left out)` : "";
  if (s.n < gate.minSamples || t.n < gate.minSamples) {
    return inconclusive(
      `${s.n} ${pools.source} and ${t.n} ${pools.target} samples${droppedNote}, fewer than the ${gate.minSamples} per pool a comparison needs`,
      counts,
    );
  }
  const groups = groupsOf(s, t);
  const worse = slo.bound === "below" ? "greater" : "less";
  const { u, pValue } = mannWhitney(groups, worse, {
    source: s.perSession,
    target: t.perSession,
  });
  const effect = slo.bound === "below" ? t.mean - s.mean : s.mean - t.mean;
  const significant = pValue < alpha;
  const large = effect >= floor;
  const fail = significant && large;
  const clustered =
    s.perSession > 1 || t.perSession > 1
      ? `, ${fmt(s.perSession)} and ${fmt(t.perSession)} per session`
      : "";
  return {
    ...base,
    ...counts,
    verdict: fail ? "fail" : "pass",
    value: effect,
    effect,
    statistic: u,
    pValue,
    ...("histogram" in target
      ? { buckets: groups.map((g) => ({ le: g.value, source: g.source, target: g.target })) }
      : {}),
    reason:
      `target ${fail ? "" : "not "}worse: mean ${fmt(t.mean)} vs ${fmt(s.mean)}, effect ${fmt(effect)} ${large ? "≥" : "<"} floor ${fmt(floor)}, ` +
      `p ${fmt(pValue)} ${significant ? "<" : "≥"} ${fmt(alpha)} (U ${fmt(u)}, ${s.n} vs ${t.n} samples${droppedNote}${clustered})`,
  };
}

/**
 * Fetches both pools' histograms over (from, to] and judges them. A provider error is
 * inconclusive; one carrying `errorLimit: true` (the provider's consecutive-error limit) holds.
 */
export async function evaluateComparison(
  gate: CompareGate,
  pools: { source: string; target: string },
  provider: Partial<HistogramSource>,
  from: number,
  to: number,
): Promise<GateEvaluation> {
  const metric = COMPARISONS[gate.slo].sessionMetric;
  try {
    const { histogram } = provider;
    if (!histogram) throw new Error("the metrics provider serves no per-session histograms");
    const [source, target] = await Promise.all([
      histogram(metric, pools.source, from, to),
      histogram(metric, pools.target, from, to),
    ]);
    return judgeComparison(gate, pools, { source, target });
  } catch (err) {
    return judgeComparison(gate, pools, {
      error: (err as Error).message,
      errorLimit: reachedErrorLimit(err),
    });
  }
}
