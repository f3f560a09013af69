/** Weights of a traffic split: what is valid, how far a change moves, which records exist. */
import type { TrafficSpec } from "../config/traffic.schema";
import type { KeyPath, Problem } from "../config/validate";

// The step rule is the pack's (policy/rules.ts): the pack judges it with no access to modules/.
import type { Weights } from "../../policy/rules";
export { weightStep, type Weights } from "../../policy/rules";

export function weightsOf(spec: TrafficSpec): Weights {
  return Object.fromEntries(spec.pools.map((p) => [p.stack, p.weight]));
}

/** Weights are integers that sum to 100, each pool listed once. */
export function weightProblems(spec: TrafficSpec, at: KeyPath): Problem[] {
  const problems: Problem[] = [];
  spec.pools.forEach((pool, i) => {
    const first = spec.pools.findIndex((p) => p.stack === pool.stack);
    if (first !== i) {
      problems.push({
        path: [...at, "pools", i, "stack"],
        message: `is "${pool.stack}" again (pools[${first}])`,
        expected: "each pool once",
      });
    }
  });
  const sum = spec.pools.reduce((n, p) => n + p.weight, 0);
  // Geo routing sends each client to its area's pool; the weights only say which pools serve.
  if (sum !== 100 && (spec.dns.routing ?? "weighted") === "weighted") {
    problems.push({
      path: [...at, "pools"],
      message: `weights sum to ${sum}`,
      expected: "weights that sum to 100",
    });
  }
  return problems;
}

/**
 * Pools that get a DNS record. A weight-0 record is left out, not kept at 0: Route53 answers
 * with weight-0 records when every non-zero one is unhealthy, which would send joins to a
 * pool that is not (or no longer) meant to take them.
 */
export function servingPools(spec: TrafficSpec): TrafficSpec["pools"] {
  return spec.pools.filter((p) => p.weight > 0);
}
