/**
 * TrafficSplit: the weighted DNS of one media region's join endpoint — Route53 weighted
 * records (one set identifier per pool, one TTL) or one Cloud DNS WRR record set. Pool
 * endpoints come from the fleet stacks' outputs; the last applied weights and migration marker
 * from this stack's own outputs, so that policies can bound the step and the program can
 * refuse a config older than what the stack applied.
 */
import * as pulumi from "@pulumi/pulumi";
import * as route53 from "@pulumi/aws/route53";
import * as compute from "@pulumi/gcp/compute";
import * as clouddns from "@pulumi/gcp/dns";
import type { TrafficSpec } from "../config/traffic";
import { servingPools } from "./weights";
import { refuseStale, selfReference, stackRef } from "./stack-ref";
import { routingOf, type Routing } from "../config/traffic";

type Pool = TrafficSpec["pools"][number];

/**
 * The health check of a Cloud DNS routing policy: global, probing from exactly three source
 * regions (which allow no check more often than every 30 s), TCP on the pools' signaling port —
 * the port their load balancer or edge already opens to the Internet, so no firewall change.
 */
export function cloudDnsHealthCheck(spec: TrafficSpec, port: pulumi.Input<number>) {
  return {
    description: `avfleet: joins of ${spec.mediaRegion} go only to pools that answer`,
    sourceRegions: [...(spec.dns.healthCheckRegions ?? [])],
    checkIntervalSec: 30,
    timeoutSec: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    tcpHealthCheck: { port, portSpecification: "USE_FIXED_PORT" },
  };
}

/** A Route53 record's routing arguments; the schema's checks guarantee each pool's geo. */
function route53Routing(routing: Routing, pool: Pool): Partial<route53.RecordArgs> {
  const geo = pool.geo ?? {};
  switch (routing) {
    case "weighted":
      return { weightedRoutingPolicies: [{ weight: pool.weight }] };
    case "latency":
      return { latencyRoutingPolicies: [{ region: geo.awsRegion! }] };
    case "geoproximity":
      return {
        geoproximityRoutingPolicy: {
          // Route53 takes one of a region or coordinates; coordinates as decimal strings.
          ...(geo.awsRegion
            ? { awsRegion: geo.awsRegion }
            : {
                coordinates: [{ latitude: geo.lat!.toFixed(2), longitude: geo.lon!.toFixed(2) }],
              }),
          ...(geo.bias !== undefined ? { bias: geo.bias } : {}),
        },
      };
    case "geolocation":
      throw new Error("Route53 geolocation needs client locations per pool; use geoproximity");
  }
}

export interface TrafficSplitArgs {
  /** The validated traffic spec from the stack file. */
  spec: TrafficSpec;
  /** Google project for a Cloud DNS record set (`gcp:project`). */
  gcpProject?: string;
}

export class TrafficSplit extends pulumi.ComponentResource {
  /** The weights last applied by `pulumi up` (empty before the first update). */
  readonly previousWeights: pulumi.Output<Record<string, number>>;
  /** This stack as its last update left it, through a StackReference to itself. */
  readonly applied: pulumi.StackReference;

  private constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("avfleet:traffic:TrafficSplit", name, {}, opts);
    this.applied = selfReference(name, { parent: this });
    this.previousWeights = this.applied
      .getOutput("weights")
      .apply((w) => (w ?? {}) as Record<string, number>);
  }

  /**
   * The split, its records declared only once the stack's last outputs are read and its config
   * is no older than what they carry. On a DIY backend nothing makes `pulumi up` load the pack,
   * so the program refuses a stale checkout itself: it throws before any record is declared,
   * and `up` and `preview` fail with nothing changed (docs/real-path.md: the program's own
   * migration-order guard).
   */
  static async declare(
    name: string,
    args: TrafficSplitArgs,
    opts?: pulumi.ComponentResourceOptions,
  ): Promise<TrafficSplit> {
    const split = new TrafficSplit(name, opts);
    await refuseStale(split.applied, args.spec.migration, "weights are");
    declareRecords(name, args, split);
    split.registerOutputs({ previousWeights: split.previousWeights });
    return split;
  }
}

function declareRecords(name: string, args: TrafficSplitArgs, parent: pulumi.Resource): void {
  const { spec, gcpProject } = args;
  const opts = { parent };
  const pools = servingPools(spec).map((pool) => {
    const fleet = new pulumi.StackReference(
      `${name}-ref-${pool.stack}`,
      { name: stackRef(pool.stack) },
      opts,
    );
    return {
      ...pool,
      endpoint: fleet.requireOutput("endpoint") as pulumi.Output<string>,
      signalingPort: fleet.requireOutput("signalingPort") as pulumi.Output<number>,
      // Only a Cloud DNS split reads them (validation requires every pool to publish them).
      endpointAddresses: pulumi
        .output(spec.dns.provider === "clouddns" ? fleet.requireOutput("endpointAddresses") : [])
        .apply((a) => a as string[]),
    };
  });

  const { dns } = spec;
  const routing = routingOf(spec);
  if (dns.provider === "route53") {
    for (const pool of pools) {
      // A pool whose join endpoint stops answering loses its share of joins.
      const health = new route53.HealthCheck(
        `${name}-${pool.stack}-health`,
        {
          type: "TCP",
          fqdn: pool.endpoint,
          port: pool.signalingPort,
          requestInterval: 10,
          failureThreshold: 3,
          tags: { pool: pool.stack, "media-region": spec.mediaRegion },
        },
        opts,
      );
      new route53.Record(
        `${name}-${pool.stack}`,
        {
          zoneId: dns.zone,
          name: dns.recordName,
          type: "CNAME",
          ttl: dns.ttl,
          setIdentifier: pool.stack,
          ...route53Routing(routing, pool),
          healthCheckId: health.id,
          records: [pool.endpoint],
        },
        opts,
      );
    }
  } else {
    // A pool whose endpoint stops answering loses its share of joins: Cloud DNS probes each
    // pool's addresses from three regions and answers only with the healthy ones. Health-checked
    // targets are IPs, so the record is an A record of each pool's endpoint addresses.
    const health = new compute.HealthCheck(
      `${name}-health`,
      { project: gcpProject, ...cloudDnsHealthCheck(spec, pools[0].signalingPort) },
      opts,
    );
    const targets = (pool: (typeof pools)[number]) => ({
      healthCheckedTargets: { externalEndpoints: pool.endpointAddresses },
    });
    // Same logical name for WRR and geolocation: switching routing updates the one record set
    // in place, where a new resource would collide with the old one's DNS name.
    new clouddns.RecordSet(
      `${name}-wrr`,
      {
        project: gcpProject,
        managedZone: dns.zone,
        name: `${dns.recordName}.`,
        type: "A",
        ttl: dns.ttl,
        routingPolicy: {
          healthCheck: health.id,
          ...(routing === "geolocation"
            ? { geos: pools.map((p) => ({ location: p.geo!.gcpRegion!, ...targets(p) })) }
            : { wrrs: pools.map((p) => ({ weight: p.weight, ...targets(p) })) }),
        },
      },
      // A split from before health checks is a CNAME set; Cloud DNS refuses an A set beside a
      // CNAME of the same name, so the replacement deletes the old one first (a gap of seconds).
      { ...opts, deleteBeforeReplace: true },
    );
  }
}
