/**
 * Policies on DNS steering a provider cannot actually serve, judged from the record's own
 * inputs only (so they hold for records written by hand, and in a published pack).
 */
import type { ResourcePolicy } from "./policy";

const CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet";
const ROUTE53_RECORD = "aws:route53/record:Record";

/** Hostnames that are AWS's own endpoints (ELB, Global Accelerator, CloudFront, EC2, API GW). */
const AWS_HOST = /\.(amazonaws\.com|cloudfront\.net|awsglobalaccelerator\.com)\.?$/i;

export const cloudDnsOneRoutingPolicy: ResourcePolicy = {
  name: "clouddns-one-routing-policy",
  description:
    "A Cloud DNS record set has one routing policy: weighted round robin and geolocation (or primary-backup) never combine.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Finish the weighted canary on this name first (one pool at 100), then switch avfleet:traffic.dns.routing to geolocation; or steer on a separate record name.",
  validateResource: (args, reportViolation) => {
    if (args.type !== CLOUD_DNS_RECORD) return args.notApplicable("not a Cloud DNS record set");
    const policy = args.props.routingPolicy ?? {};
    const kinds = ["wrrs", "geos", "primaryBackup"].filter((k) => {
      const value = policy[k];
      return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null;
    });
    if (kinds.length > 1) {
      reportViolation(
        `${args.props.name} combines ${kinds.join(" and ")} in one routing policy, which Cloud DNS refuses`,
      );
    }
  },
};

export const route53LatencyAwsOnly: ResourcePolicy = {
  name: "route53-latency-aws-only",
  description:
    "Route53 latency records point at AWS endpoints only: their routing uses AWS's own region latency data, meaningless for a metal site or another cloud.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set avfleet:traffic.dns.routing to geoproximity (with avfleet:traffic.pools[].geo {lat, lon} for non-AWS pools) or geolocation; latency routing only when every pool runs in AWS.",
  validateResource: (args, reportViolation) => {
    if (args.type !== ROUTE53_RECORD) return args.notApplicable("not a Route53 record");
    const latency = args.props.latencyRoutingPolicies ?? [];
    if (latency.length === 0) return args.notApplicable("not a latency record");
    const aliasNames: string[] = (args.props.aliases ?? []).map((a: { name: string }) => a.name);
    const targets: string[] = [...aliasNames, ...(args.props.records ?? [])];
    // TrafficSplit names each record after its pool's fleet stack, and fleet stacks are named
    // by provider (aws-*, gcp-*, metal-*): the only hint a CNAME to our own edge name gives.
    const awsPool = String(args.props.setIdentifier ?? "").startsWith("aws-");
    const awsTargets = targets.length > 0 && targets.every((t) => AWS_HOST.test(t));
    if (!awsPool && !awsTargets) {
      reportViolation(
        `${args.props.name} (${args.props.setIdentifier}) is a latency record for ${targets.join(", ") || "an unknown target"}, not an AWS endpoint`,
      );
    }
  },
};
