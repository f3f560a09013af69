/**
 * The shape every gate's verdict takes, absolute (gates.ts) and relative (compare.ts) alike, and
 * how its numbers print. Below both, so that the relative gates can build a verdict without
 * reading the module that dispatches to them.
 */
export type Verdict = "pass" | "fail" | "inconclusive";

export interface GateEvaluation {
  gate: string;
  verdict: Verdict;
  critical: boolean;
  metric: string;
  pool: string;
  query: string;
  /** The window's samples, oldest first. */
  values: number[];
  samples: number;
  /** The mean the threshold is held against, when there were samples. */
  value?: number;
  threshold: number;
  bound: "below" | "above";
  queryError?: string;
  /** The provider reached its consecutive-error limit: hold for a human now, not at maxBake. */
  errorLimit?: boolean;
  reason: string;
  /** Relative gates (compare.ts): the source pool's query, both sides' sample counts, NaN or
   * non-finite samples left out, the sequential test's always-valid p-value (of "no worse than
   * the floor") and alpha, the effect (how much worse the target's mean is, as a share of the
   * source's; `value` repeats it) and its always-valid (1 − alpha) interval. */
  sourceQuery?: string;
  sourceSamples?: number;
  targetSamples?: number;
  dropped?: number;
  pValue?: number;
  alpha?: number;
  effect?: number;
  interval?: [number, number];
  /** Histogram buckets compared: upper bound and each pool's sessions in the bucket. */
  buckets?: { le: number; source: number; target: number }[];
}

/** A figure as verdicts print it: four significant digits, no trailing zeros. */
export function fmt(value: number): string {
  return Number(value.toPrecision(4)).toString();
}
