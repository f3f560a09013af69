/**
 * What a valid traffic split is beyond its schema: weights, and the geo steering each DNS
 * provider can actually serve with what each pool must say about where it is.
 */
import { FACT_DEFAULTS } from "../../policy/stack-config";
import type { TrafficSpec } from "./traffic.schema";
import type { KeyPath, Problem } from "../inputs/problems";

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

export type Routing = NonNullable<TrafficSpec["dns"]["routing"]>;

/** Routings each provider serves on one record name. */
export const ROUTINGS: Record<TrafficSpec["dns"]["provider"], Routing[]> = {
  route53: ["weighted", "geoproximity", "latency"],
  // Cloud DNS: one routing policy per record set, and WRR and geolocation never combine.
  clouddns: ["weighted", "geolocation"],
};

export function routingOf(spec: TrafficSpec): Routing {
  return spec.dns.routing ?? FACT_DEFAULTS.routing;
}

export function steeringProblems(spec: TrafficSpec, at: KeyPath): Problem[] {
  const routing = routingOf(spec);
  const problems: Problem[] = [];
  if (!ROUTINGS[spec.dns.provider].includes(routing)) {
    problems.push({
      path: [...at, "dns", "routing"],
      message: `is "${routing}", which ${spec.dns.provider} cannot serve`,
      expected: `one of ${ROUTINGS[spec.dns.provider].join(" | ")}`,
    });
    return problems;
  }
  spec.pools.forEach((pool, i) => {
    if (pool.weight === 0 || routing === "weighted") return;
    const geo = pool.geo ?? {};
    const path = [...at, "pools", i, "geo"];
    const hasPoint = geo.lat !== undefined && geo.lon !== undefined;
    if (routing === "geoproximity" && hasPoint === (geo.awsRegion !== undefined)) {
      problems.push({
        path,
        message: hasPoint
          ? "has both a point and awsRegion"
          : "has neither {lat, lon} nor awsRegion",
        expected: "exactly one: awsRegion for an AWS pool, {lat, lon} for any other",
      });
    }
    if (routing === "latency" && geo.awsRegion === undefined) {
      problems.push({
        path,
        message: "has no awsRegion",
        expected:
          "an AWS pool's region: Route53 latency records use AWS's own latency data, meaningless for other endpoints",
      });
    }
    if (routing === "geolocation" && geo.gcpRegion === undefined) {
      problems.push({
        path,
        message: "has no gcpRegion",
        expected: "the Google Cloud region Cloud DNS geolocation names the pool by",
      });
    }
  });
  return problems;
}
