/** Weights of a traffic split: how far a change moves, which records exist. */
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
