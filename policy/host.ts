/**
 * Policies on what makes a host real (modules/host): a boot payload the image runs, a load
 * metric someone publishes, a drain hook that reaches existing groups, weighted join records
 * that follow pool health. Judged from resource inputs only.
 */
import type { PolicyResource } from "@pulumi/policy";
import type { ResourcePolicy, StackPolicy } from "./policy";
import { launchTemplateUserData } from "./contract/user-data";

const INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const ASG = "aws:autoscaling/group:Group";
/** An AWS pool's boot payload: its launch template's user-data only fetches it. */
const S3_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2";
const LIFECYCLE_HOOK = "aws:autoscaling/lifecycleHook:LifecycleHook";
const GCP_AUTOSCALER = [
  "gcp:compute/regionAutoscaler:RegionAutoscaler",
  "gcp:compute/autoscaler:Autoscaler",
];
const AWS_SCALING_POLICY = "aws:autoscaling/policy:Policy";
const ROUTE53_RECORD = "aws:route53/record:Record";
const CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet";

/** Google image projects whose images run cloud-init (and the guest agent); the rest run only the agent. */
export const GCE_CLOUD_INIT_PROJECTS = ["ubuntu-os-cloud", "ubuntu-os-pro-cloud"];

function imageProject(image: string): string | undefined {
  return /(?:^|\/)projects\/([^/]+)\//.exec(image)?.[1] ?? /^([a-z0-9-]+)\//.exec(image)?.[1];
}

export const bootstrapRunsOnImage: ResourcePolicy = {
  name: "bootstrap-runs-on-image",
  description:
    "A host's boot payload is one its image runs: GCE startup-script (every Google image's guest agent), cloud-init user-data only on images that ship cloud-init.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: avfleet's program carries the bootstrap (GCP: modules/host's script as metadataStartupScript; AWS: a #cloud-config from cloudConfig, gzipped by awsUserData); a template declared outside it must do the same.",
  validateResource: (args, reportViolation) => {
    if (args.type === INSTANCE_TEMPLATE) {
      const userData = args.props.metadata?.["user-data"];
      const startup = args.props.metadataStartupScript ?? args.props.metadata?.["startup-script"];
      const image = String(args.props.disks?.find((d: any) => d.boot)?.sourceImage ?? "");
      const project = imageProject(image);
      if (userData !== undefined && !GCE_CLOUD_INIT_PROJECTS.includes(project ?? "")) {
        reportViolation(
          `carries user-data, but ${image || "its image"} has no cloud-init: the host boots without it`,
        );
      }
      if (userData === undefined && startup === undefined)
        reportViolation("carries no startup-script: the host boots into nothing");
      return;
    }
    if (args.type === LAUNCH_TEMPLATE) {
      const text = launchTemplateUserData(args.props.userData);
      if (!/^(#cloud-config|#!)/.test(text))
        reportViolation("user-data is neither a #cloud-config nor a script: cloud-init ignores it");
      return;
    }
    args.notApplicable("not a host template");
  },
};

function payloads(resources: PolicyResource[]): string[] {
  return resources.flatMap((r) => {
    if (r.type === INSTANCE_TEMPLATE)
      return [
        String(
          r.props.metadataStartupScript ??
            r.props.metadata?.["startup-script"] ??
            r.props.metadata?.["user-data"] ??
            "",
        ),
      ];
    if (r.type === LAUNCH_TEMPLATE) return [launchTemplateUserData(r.props.userData)];
    if (r.type === S3_OBJECT) return [String(r.props.content ?? "")];
    return [];
  });
}

/** Whether a payload's agent config (compact JSON, or indented) sets `key` to `value`. */
function sets(carried: string, key: string, value: string): boolean {
  return carried.includes(`"${key}":"${value}"`) || carried.includes(`"${key}": "${value}"`);
}

export const autoscalerMetricPublished: StackPolicy = {
  name: "autoscaler-metric-published",
  description:
    "Every custom metric an autoscaler scales on is published by the agent its hosts boot with (otherwise the group sits at its minimum).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: the metric's name is the program's (modules/host/metrics.ts, on the autoscaler and in the agent's config); an autoscaler declared outside it must name the same metric.",
  validateStack: (args, reportViolation) => {
    const carried = payloads(args.resources).join("\n");
    for (const r of args.resources) {
      if (GCP_AUTOSCALER.includes(r.type)) {
        for (const m of r.props.autoscalingPolicy?.metrics ?? []) {
          if (String(m.name).startsWith("custom.googleapis.com/") && !sets(carried, "type", m.name))
            reportViolation(`scales on ${m.name}, which no host's agent publishes`, r.urn);
        }
      }
      if (r.type === AWS_SCALING_POLICY) {
        const spec = r.props.targetTrackingConfiguration?.customizedMetricSpecification;
        if (!spec) continue;
        const published =
          sets(carried, "namespace", spec.namespace) && sets(carried, "name", spec.metricName);
        if (!published)
          reportViolation(
            `scales on ${spec.namespace} ${spec.metricName}, which no host's agent publishes`,
            r.urn,
          );
      }
    }
  },
};

/** A group's hooks on one transition: its own LifecycleHook resources, its initialLifecycleHooks. */
function groupHooks(resources: PolicyResource[], group: PolicyResource, transition: string) {
  return {
    own: resources.filter(
      (r) =>
        r.type === LIFECYCLE_HOOK &&
        r.props.lifecycleTransition === transition &&
        r.props.autoscalingGroupName === group.props.name,
    ),
    initial: (group.props.initialLifecycleHooks ?? []).filter(
      (h: { lifecycleTransition?: string }) => h.lifecycleTransition === transition,
    ),
  };
}

export const lifecycleHookResource: StackPolicy = {
  name: "lifecycle-hook-resource",
  description:
    "Every ASG's termination drain hook is its own aws.autoscaling.LifecycleHook: initialLifecycleHooks apply only when the group is created.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: AwsFleet declares the hook as its own resource; a group declared outside it needs an aws.autoscaling.LifecycleHook instead of initialLifecycleHooks.",
  validateStack: (args, reportViolation) => {
    for (const group of args.resources.filter((r) => r.type === ASG)) {
      const { own, initial } = groupHooks(
        args.resources,
        group,
        "autoscaling:EC2_INSTANCE_TERMINATING",
      );
      if (own.length === 0 && initial.length > 0)
        reportViolation(
          "its drain hook is only in initialLifecycleHooks: changes never reach the existing group",
          group.urn,
        );
      else if (own.length === 0)
        reportViolation("has no termination lifecycle hook: scale-in cuts calls", group.urn);
    }
  },
};

const LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING";

export const awsLaunchHook: StackPolicy = {
  name: "aws-launch-hook",
  description:
    "An ASG with a warm pool holds every launch until the host serves: a launching hook (its own resource, and in initialLifecycleHooks from the creation on) whose default result is ABANDON.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: AwsFleet declares it; a group declared outside it needs its autoscaling:EC2_INSTANCE_LAUNCHING hook as aws.autoscaling.LifecycleHook and in initialLifecycleHooks, defaultResult ABANDON.",
  validateStack: (args, reportViolation) => {
    for (const group of args.resources.filter((r) => r.type === ASG)) {
      const { own, initial } = groupHooks(args.resources, group, LAUNCHING);
      for (const hook of [...own.map((h) => h.props), ...initial])
        if (hook.defaultResult !== "ABANDON")
          reportViolation(
            `launching hook ${hook.name} defaults to ${hook.defaultResult ?? "ABANDON"}: a host that never gets ready goes in service`,
            group.urn,
          );
      if (!group.props.warmPool) continue;
      if (own.length === 0 && initial.length === 0)
        reportViolation(
          "has a warm pool but no launching hook: AWS stops a warm host without waiting for its bootstrap, and hosts go in service before they serve",
          group.urn,
        );
      else if (own.length === 0)
        reportViolation(
          "its launching hook is only in initialLifecycleHooks: changes never reach the existing group",
          group.urn,
        );
      else if (initial.length === 0)
        reportViolation(
          "its launching hook is not in initialLifecycleHooks: the group's first hosts and its warm pool launch before the hook exists",
          group.urn,
        );
    }
  },
};

export const weightedRecordHealthChecked: ResourcePolicy = {
  name: "weighted-record-health-checked",
  description:
    "A weighted join record carries a health check per pool, so a dead pool loses its share of joins.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key for Route53 (modules/traffic gives every weighted record its healthCheckId); Cloud DNS: set avfleet:traffic.dns.healthCheckRegions, and avfleet:fleet.endpointAddresses on a metal pool, so every wrrs/geos item gets healthCheckedTargets.",
  validateResource: (args, reportViolation) => {
    if (args.type === ROUTE53_RECORD) {
      if (!args.props.weightedRoutingPolicies?.length) return args.notApplicable("not weighted");
      // `in`, not the value: a check created in the same update is still unknown at preview.
      if (!("healthCheckId" in args.props))
        reportViolation(`weighted record ${args.props.setIdentifier} has no health check`);
      return;
    }
    if (args.type === CLOUD_DNS_RECORD) {
      const policy = args.props.routingPolicy ?? {};
      const items: Array<[string, any]> = [
        ...(policy.wrrs ?? []).map((w: any, i: number): [string, any] => [`wrrs[${i}]`, w]),
        ...(policy.geos ?? []).map((g: any, i: number): [string, any] => [`geos[${i}]`, g]),
      ];
      if (!items.length) return args.notApplicable("no routing policy");
      // Cloud DNS probes external endpoints only with the record's health check.
      if (!("healthCheck" in policy)) reportViolation("its routing policy names no healthCheck");
      for (const [at, item] of items) {
        const targets = item.healthCheckedTargets ?? {};
        if (!targets.externalEndpoints?.length && !targets.internalLoadBalancers?.length)
          reportViolation(`${at} has no health-checked targets`);
      }
      return;
    }
    args.notApplicable("not a DNS record");
  },
};

export const poolEndpointHasRecord: StackPolicy = {
  name: "pool-endpoint-has-record",
  description: "A pool's join endpoint resolves: the fleet stack declares its DNS record.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set avfleet:fleet.endpointZone in stacks/Pulumi.<stack>.yaml (GCP: the Cloud DNS managed zone of gcp:project; AWS: the Route53 hosted zone id) so the program declares the endpoint's record, or remove avfleet:fleet.endpoint.",
  validateStack: (args, reportViolation) => {
    const names = new Set(
      args.resources
        .filter((r) => r.type === ROUTE53_RECORD || r.type === CLOUD_DNS_RECORD)
        .map((r) => String(r.props.name).replace(/\.$/, "")),
    );
    for (const r of args.resources) {
      const endpoint = r.type.startsWith("avfleet:fleets:") ? r.props.endpoint : undefined;
      if (endpoint && !names.has(endpoint))
        reportViolation(`endpoint ${endpoint} has no DNS record: joins go nowhere`, r.urn);
    }
  },
};
