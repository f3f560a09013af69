/** Traffic weights (one number per pool stack, summing to 100): comparing, printing, moving. */
import type { Weights } from "../traffic/weights";

export type { Weights };

export function sameWeights(a: Weights, b: Weights): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/** `metal-sjc 75, gcp-us-west1 25` in the traffic stack's pool order. */
export function formatWeights(weights: Weights, pools: string[] = Object.keys(weights)): string {
  return pools.map((p) => `${p} ${weights[p] ?? 0}`).join(", ");
}

/** The weights with the target at `target` and the source taking what the others leave. */
export function shiftedWeights(
  current: Weights,
  source: string,
  target: string,
  targetWeight: number,
): Weights {
  const others = Object.entries(current)
    .filter(([p]) => p !== source && p !== target)
    .reduce((sum, [, w]) => sum + w, 0);
  return { ...current, [target]: targetWeight, [source]: 100 - others - targetWeight };
}
