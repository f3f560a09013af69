/**
 * JSON Schema of a traffic split — the `avfleet:traffic` key of a traffic stack: which pools
 * (fleet stacks) serve a media region's join endpoint, with what integer weights — or, with
 * `dns.routing` other than weighted, steered by where the client is (one pool per area).
 *
 * What a valid traffic split is beyond its schema: weights, and the geo steering each DNS
 * provider can actually serve with what each pool must say about where it is.
 */
import type { FromSchema } from "json-schema-to-ts";
import { FACT_DEFAULTS } from "../../policy/contract/stack-config";
import { dnsProviderProperties } from "./dns.schema";
import { migrationMarkerSchema } from "./marker.schema";
import type { KeyPath, Problem } from "../inputs/problems";

export const trafficSchema = {
  type: "object",
  description: "a traffic split {mediaRegion, dns, maxStepPct, pools, migration}",
  required: ["mediaRegion", "dns", "pools"],
  additionalProperties: false,
  properties: {
    mediaRegion: {
      type: "string",
      pattern: "^[a-z]+(-[a-z0-9]+)*$",
      description: "a media region name like us-west",
    },
    dns: {
      type: "object",
      description: "a mapping {provider, zone, recordName, ttl, routing, healthCheckRegions}",
      required: ["provider", "zone", "recordName"],
      additionalProperties: false,
      properties: {
        ...dnsProviderProperties,
        recordName: {
          type: "string",
          format: "hostname",
          description: "the join endpoint clients resolve, e.g. join.us-west.media.example.net",
        },
        ttl: {
          type: "integer",
          minimum: 5,
          maximum: 300,
          default: 30,
          description: "seconds; one TTL for the whole weighted set",
        },
        healthCheckRegions: {
          type: "array",
          description:
            "Cloud DNS: the three Google Cloud regions its health checks probe each pool's endpoint from, e.g. [europe-west1, europe-west3, europe-west4]",
          minItems: 3,
          maxItems: 3,
          uniqueItems: true,
          items: {
            type: "string",
            pattern: "^[a-z]+-[a-z]+[0-9]+$",
            description: "a Google Cloud region like europe-west4",
          },
        },
        routing: {
          type: "string",
          enum: ["weighted", "geoproximity", "geolocation", "latency"],
          default: "weighted",
          description:
            "how the record picks a pool: weighted (WRR), geoproximity or latency (Route53), geolocation (Cloud DNS)",
        },
      },
    },
    maxStepPct: {
      type: "integer",
      minimum: 1,
      maximum: 100,
      default: FACT_DEFAULTS.maxStepPct,
      description: "the most weight one change may move, in percentage points",
    },
    migration: migrationMarkerSchema(
      "written by avfleet migrate with each weight change, never by hand: {seq, rollback}; the policy pack refuses an update whose seq is older than the one the stack last applied",
      "the position in the region's migration journal of the change that wrote these weights",
      "the change is a rollback, which the pack never holds to maxStepPct",
    ),
    pools: {
      type: "array",
      description: "a list of at most 16 {stack, weight}: the fleet stacks serving the region",
      minItems: 1,
      maxItems: 16,
      items: {
        type: "object",
        description: "a pool {stack, weight}",
        required: ["stack", "weight"],
        additionalProperties: false,
        properties: {
          stack: {
            type: "string",
            pattern: "^[a-z0-9][a-z0-9-]*$",
            description: "a fleet stack name like gcp-us-west1",
          },
          weight: { type: "integer", minimum: 0, maximum: 100, description: "a weight in 0–100" },
          geo: {
            type: "object",
            description:
              "where the pool is, for geo routing: {lat, lon} or {awsRegion} (geoproximity), {awsRegion} (latency), {gcpRegion} (geolocation)",
            additionalProperties: false,
            properties: {
              lat: { type: "number", minimum: -90, maximum: 90, description: "a latitude" },
              lon: { type: "number", minimum: -180, maximum: 180, description: "a longitude" },
              awsRegion: {
                type: "string",
                pattern: "^[a-z]{2}-[a-z]+-[0-9]$",
                description: "the AWS region the pool runs in",
              },
              gcpRegion: {
                type: "string",
                pattern: "^[a-z]+-[a-z]+[0-9]+$",
                description: "the Google Cloud region Cloud DNS geolocation names the pool by",
              },
              bias: {
                type: "integer",
                minimum: -99,
                maximum: 99,
                description: "Route53 geoproximity bias",
              },
            },
          },
        },
      },
    },
  },
} as const;

export type TrafficSpec = FromSchema<typeof trafficSchema>;

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
