/**
 * Gate verdicts. Absolute SLO guards: the mean over the bake window against the SLO's
 * threshold. No data or too few samples is inconclusive, never a pass; a query error is
 * inconclusive too and counted apart. Relative gates (compare.ts) return the same shape.
 */
import { COMPARE_DEFAULTS, evaluateComparison, type BakeSchedule } from "./compare";
import { keeps, selector, SLOS, type SloName } from "./slo";
import { reachedErrorLimit, type MetricsProvider } from "./metrics";
import { fmt, type GateEvaluation } from "./verdict";

/**
 * A gate as a runbook states it, with the schema's defaults filled in (modules/runbook's
 * runbook schema is its source; this is the part the verdicts read).
 */
export interface Gate {
  slo: SloName;
  /** The pool an absolute gate watches. */
  pool: "target" | "source";
  /** Overrides the SLO's threshold (absolute gates). */
  threshold?: number;
  critical: boolean;
  minSamples: number;
  /** Set: a relative gate, the target against the source (compare.ts). */
  compare?: "source";
  confidence?: number;
  effectFloor?: number;
}

/** A round's verdict: any critical failure rolls back; then failure holds; then inconclusive. */
export type RoundVerdict = "pass" | "critical-fail" | "fail" | "inconclusive";

/** Pure: one gate's verdict from its window's samples (or the query's error). */
export function judgeGate(
  gate: Gate,
  pool: string,
  result: { values: number[] } | { error: string; errorLimit?: boolean },
): GateEvaluation {
  const slo = SLOS[gate.slo];
  const threshold = gate.threshold ?? slo.threshold;
  const base = {
    gate: gate.slo,
    critical: gate.critical,
    metric: slo.metric,
    pool,
    query: selector(slo.metric, pool),
    threshold,
    bound: slo.bound,
  };
  const minSamples = gate.minSamples;
  if ("error" in result) {
    return {
      ...base,
      verdict: "inconclusive",
      values: [],
      samples: 0,
      queryError: result.error,
      ...(result.errorLimit ? { errorLimit: true } : {}),
      reason: `query failed: ${result.error}`,
    };
  }
  const { values } = result;
  if (values.length < minSamples) {
    return {
      ...base,
      verdict: "inconclusive",
      values,
      samples: values.length,
      reason: `${values.length} sample(s), fewer than the ${minSamples} a verdict needs`,
    };
  }
  const value = values.reduce((a, b) => a + b, 0) / values.length;
  const ok = keeps(slo, value, threshold);
  const sign = slo.bound === "below" ? "<" : ">";
  return {
    ...base,
    verdict: ok ? "pass" : "fail",
    values,
    samples: values.length,
    value,
    reason: `mean ${fmt(value)} over ${values.length} samples, ${ok ? "" : "not "}${sign} ${fmt(threshold)}`,
  };
}

export function roundVerdict(evaluations: GateEvaluation[]): RoundVerdict {
  if (evaluations.some((e) => e.verdict === "fail" && e.critical)) return "critical-fail";
  if (evaluations.some((e) => e.verdict === "fail")) return "fail";
  if (evaluations.some((e) => e.verdict === "inconclusive")) return "inconclusive";
  return "pass";
}

/**
 * Queries every gate over (from, to] and judges it; a relative gate compares the two pools.
 * `schedule`: the bake's maxBake and interval. Given, a relative gate spends its alpha for a
 * promotion over the bake and promotes sooner (compare.ts); without it, its sequence must hold
 * for ever.
 */
export async function evaluateGates(
  gates: Gate[],
  pools: { source: string; target: string },
  metrics: MetricsProvider,
  from: number,
  to: number,
  schedule?: BakeSchedule,
): Promise<GateEvaluation[]> {
  return Promise.all(
    gates.map(async (gate) => {
      if (gate.compare) {
        const confidence = gate.confidence ?? COMPARE_DEFAULTS.confidence;
        return evaluateComparison({ ...gate, confidence }, pools, metrics, from, to, schedule);
      }
      const pool = pools[gate.pool];
      const query = selector(SLOS[gate.slo].metric, pool);
      try {
        return judgeGate(gate, pool, { values: await metrics.range(query, from, to) });
      } catch (err) {
        const message = (err as Error).message;
        return judgeGate(gate, pool, { error: message, errorLimit: reachedErrorLimit(err) });
      }
    }),
  );
}
