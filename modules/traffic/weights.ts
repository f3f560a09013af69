/** Weights of a traffic split: how far a change moves, how a migration moves them, which records exist. */
import type { TrafficSpec } from "../config/traffic";

// The step rule is the pack's (policy/contract/rules.ts): the pack judges it with no access to modules/.
import type { Weights } from "../../policy/contract/rules";
export { weightStep, type Weights } from "../../policy/contract/rules";

export function weightsOf(spec: TrafficSpec): Weights {
  return Object.fromEntries(spec.pools.map((p) => [p.stack, p.weight]));
}

/**
 * Pools that get a DNS record. A weight-0 record is left out, not kept at 0: Route53 answers
 * with weight-0 records when every non-zero one is unhealthy, which would send joins to a
 * pool that is not (or no longer) meant to take them.
 */
export function servingPools(spec: TrafficSpec): TrafficSpec["pools"] {
  return spec.pools.filter((p) => p.weight > 0);
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
