/**
 * TrafficSplit: the weighted DNS of one media region's join endpoint — Route53 weighted
 * records (one set identifier per pool, one TTL) or one Cloud DNS WRR record set. Pool
 * endpoints come from the fleet stacks' outputs; the last applied weights from this stack's
 * own outputs, so that policies can bound the step.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as gcp from "@pulumi/gcp";
import type { TrafficSpec } from "../config/traffic.schema";
import { servingPools } from "./weights";

export interface TrafficSplitArgs {
  /** The validated traffic spec from the stack file. */
  spec: TrafficSpec;
  /** Google project for a Cloud DNS record set (`gcp:project`). */
  gcpProject?: string;
}

/** The StackReference name of a stack of this project. */
export function stackRef(stack: string): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

export class TrafficSplit extends pulumi.ComponentResource {
  /** The weights last applied by `pulumi up` (empty before the first update). */
  readonly previousWeights: pulumi.Output<Record<string, number>>;

  constructor(name: string, args: TrafficSplitArgs, opts?: pulumi.ComponentResourceOptions) {
    super("avfleet:traffic:TrafficSplit", name, {}, opts);
    this.previousWeights = createTrafficSplit(name, args, this);
    this.registerOutputs({ previousWeights: this.previousWeights });
  }
}

export function createTrafficSplit(name: string, args: TrafficSplitArgs, parent: pulumi.Resource) {
  const { spec, gcpProject } = args;
  const opts = { parent };
  const self = new pulumi.StackReference(
    `${name}-ref-self`,
    { name: stackRef(pulumi.getStack()) },
    opts,
  );
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
    };
  });

  const { dns } = spec;
  if (dns.provider === "route53") {
    for (const pool of pools) {
      // A pool whose join endpoint stops answering loses its share of joins.
      const health = new aws.route53.HealthCheck(
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
      new aws.route53.Record(
        `${name}-${pool.stack}`,
        {
          zoneId: dns.zone,
          name: dns.recordName,
          type: "CNAME",
          ttl: dns.ttl,
          setIdentifier: pool.stack,
          weightedRoutingPolicies: [{ weight: pool.weight }],
          healthCheckId: health.id,
          records: [pool.endpoint],
        },
        opts,
      );
    }
  } else {
    new gcp.dns.RecordSet(
      `${name}-wrr`,
      {
        project: gcpProject,
        managedZone: dns.zone,
        name: `${dns.recordName}.`,
        type: "CNAME",
        ttl: dns.ttl,
        routingPolicy: {
          wrrs: pools.map((pool) => ({
            weight: pool.weight,
            rrdatas: [pulumi.interpolate`${pool.endpoint}.`],
          })),
        },
      },
      opts,
    );
  }
  return self.getOutput("weights").apply((w) => (w ?? {}) as Record<string, number>);
}
