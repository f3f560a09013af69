/** Traffic weights (one number per pool stack, summing to 100): comparing, printing. */
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
