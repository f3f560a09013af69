/**
 * Geo steering of a traffic split: which routing each DNS provider can actually serve, and
 * what each pool must say about where it is for that routing.
 */
import type { TrafficSpec } from "../config/traffic.schema";
import type { KeyPath, Problem } from "../config/validate";

export type Routing = NonNullable<TrafficSpec["dns"]["routing"]>;

/** Routings each provider serves on one record name. */
export const ROUTINGS: Record<TrafficSpec["dns"]["provider"], Routing[]> = {
  route53: ["weighted", "geoproximity", "latency"],
  // Cloud DNS: one routing policy per record set, and WRR and geolocation never combine.
  clouddns: ["weighted", "geolocation"],
};

export function routingOf(spec: TrafficSpec): Routing {
  return spec.dns.routing ?? "weighted";
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
