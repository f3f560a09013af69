/**
 * What an AWS media fleet declares, computed from its spec: pure functions the AwsFleet
 * component passes to the provider and tests check directly.
 */
import type { AwsFleetSpec } from "../config/fleet.schema";
import { awsDrainHeartbeatTimeout } from "../config/aws-drain";
import { AWS_DRAIN_HOOK, AWS_LAUNCH_HOOK, awsMediaMetric } from "../host/metrics";
import { launchSeconds } from "../host/units";
import { containerImage, ecrRepository } from "../host/image";
import type { GroupTarget } from "../release/cloud-intent";
import { scheduledFloorAt, type AwsScheduledAction } from "./scaling";

/** The per-host media-load metric and the drain hook, named once for fleet and agent. */
export { awsMediaMetric as mediaMetric, AWS_DRAIN_HOOK as DRAIN_HOOK } from "../host/metrics";

/** The group's name: the host's IAM grant and the metrics' dimension name it before it exists. */
export function groupName(spec: AwsFleetSpec): string {
  return `${spec.pool}-media`;
}

export { autoscalerTarget as targetStreamsPerHost } from "../host/metrics";

/**
 * The drain hook: the host gets its drain time plus a margin for the lifecycle action's own
 * round trip before the instance goes (CONTINUE when the heartbeat runs out); a drain longer
 * than AWS's two-hour heartbeatTimeout is held by the agent's heartbeats.
 */
export function drainHook(spec: AwsFleetSpec) {
  return {
    name: AWS_DRAIN_HOOK,
    lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    heartbeatTimeout: awsDrainHeartbeatTimeout(spec.drainSeconds),
    defaultResult: "CONTINUE",
  };
}

/**
 * The launching hook: a new host (into the warm pool, out of it, or into service) waits until its
 * agent completes the action with CONTINUE — bootstrap done, tuning verified, media server
 * healthy — and is replaced (ABANDON) when it never does within the boot's time.
 */
export function launchHook(spec: AwsFleetSpec) {
  return {
    name: AWS_LAUNCH_HOOK,
    lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
    heartbeatTimeout: launchSeconds(spec),
    defaultResult: "ABANDON",
  };
}

/**
 * How long `pulumi up` waits for a new group's first hosts: each may hold its launching hook for
 * the hook's timeout and, heartbeating, as long again (the provider's default is 10 minutes).
 */
export function waitForCapacityTimeout(spec: AwsFleetSpec, floorAt?: string): string {
  // At a floor change the provider would wait for exactly max(minSize, desired) healthy hosts
  // and fail on any failed activity (terraform-provider-aws autoscaling/group.go
  // resourceGroupUpdate, waitGroupCapacitySatisfied), while target tracking moves desired: the
  // up would fail with the minimum already set. The executor waits for the hosts itself.
  return floorAt ? "0" : `${2 * launchSeconds(spec) + 120}s`;
}

/**
 * Everything the launch template hands an instance, less the references to other resources:
 * what it boots (AMI, root volume), runs (user data), runs on (instance type, IMDS, a public
 * address) and is watched with. Its hash is the pool's release id
 * (modules/release/cloud-intent.ts). Left out: the template's name, description and tags, the
 * instance profile and security group (the same resources for every release of the pool) and
 * the root device's name (the AMI's own, which imageId already fixes).
 *
 * @param userData the gzipped, base64-encoded cloud-config (modules/host/bootstrap.ts awsUserData)
 */
export function hostLaunchTemplate(spec: AwsFleetSpec, userData: string) {
  return {
    imageId: spec.ami,
    instanceType: spec.instanceType,
    userData,
    metadataOptions: {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
      // The agent reads the launch template version it runs (its release label) from the tag
      // EC2 puts on the instance, which IMDS serves only so (instance-metadata-tags).
      instanceMetadataTags: "enabled",
    },
    // Media flows straight to clients: each host gets a public IPv4.
    networkInterface: {
      deviceIndex: 0,
      associatePublicIpAddress: "true",
      deleteOnTermination: "true",
    },
    rootVolume: {
      volumeSize: spec.rootVolumeGb,
      volumeType: "gp3",
      encrypted: "true",
      deleteOnTermination: "true",
    },
    monitoring: { enabled: true },
  };
}

export interface IngressRule {
  description: string;
  protocol: "udp" | "tcp";
  fromPort: number;
  toPort: number;
  cidrBlocks: string[];
  ipv6CidrBlocks: string[];
}

export function ingressRules(spec: AwsFleetSpec): IngressRule[] {
  const world = { cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] };
  const { mediaUdp, signalingTcp } = spec.ports;
  const v4 = spec.adminCidrs.filter((c) => !c.includes(":"));
  const v6 = spec.adminCidrs.filter((c) => c.includes(":"));
  return [
    {
      description: "WebRTC media, only on the declared UDP range",
      protocol: "udp",
      fromPort: mediaUdp.from,
      toPort: mediaUdp.to,
      ...world,
    },
    ...signalingTcp.map((port) => ({
      description: `signaling and TURN/TLS on ${port}`,
      protocol: "tcp" as const,
      fromPort: port,
      toPort: port,
      ...world,
    })),
    {
      description: "SSH, only from the admin networks",
      protocol: "tcp",
      fromPort: 22,
      toPort: 22,
      cidrBlocks: v4,
      ipv6CidrBlocks: v6,
    },
  ];
}

/**
 * ECR pulls with exactly the calls a pull makes (AWS's AmazonEC2ContainerRegistryPullOnly): a
 * registry token (an action with no resource), then the manifest and layers of one repository.
 */
export function imagePullStatements(spec: AwsFleetSpec) {
  const image = containerImage(spec);
  const repo = image?.auth === "ecr" ? ecrRepository(image.name) : undefined;
  if (!repo) return [];
  return [
    { Sid: "RegistryToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "PullMediaImage",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Resource: `arn:aws:ecr:${repo.region}:${repo.account}:repository/${repo.repository}`,
    },
  ];
}

/**
 * Least privilege: publish the media metric and the alarms' counters (only in the pool's own
 * namespace), heartbeat and complete the group's lifecycle actions (launch and drain), protect
 * the host from the group's scale-in while it holds calls, and pull the pool's image when it is
 * in ECR.
 */
export function hostPolicy(spec: AwsFleetSpec, asgArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // PutMetricData has no resource; the namespace condition is what narrows it
        // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
        Sid: "PublishMediaLoad",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: {
          StringEquals: { "cloudwatch:namespace": awsMediaMetric(spec.pool).namespace },
        },
      },
      {
        // The drain hook at termination and the launching hook at every boot, on this group;
        // SetInstanceProtection takes the group's ARN as its resource too
        // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html).
        // The agent names only its own instance (IMDS instance-id); IAM cannot narrow it further.
        Sid: "LifecycleActions",
        Effect: "Allow",
        Action: [
          "autoscaling:CompleteLifecycleAction",
          "autoscaling:RecordLifecycleActionHeartbeat",
          "autoscaling:SetInstanceProtection",
        ],
        Resource: asgArn,
      },
      ...imagePullStatements(spec),
    ],
  };
}

export const EC2_ASSUME_ROLE = {
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
  ],
};

/** AWS tags as an ASG wants them: propagated to the instances it launches. */
export function asgTags(tags: Record<string, string>) {
  return Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: true }));
}

/**
 * A target that turns unhealthy is a host that drains: the balancer must stop sending it new
 * connections and leave its established ones open (signaling of calls in progress). NLBs close
 * them by default (target_health_state.unhealthy.connection_termination.enabled = true); the
 * draining interval only names the state while the host drains (AWS: 0-360000 s). Connections
 * of a deregistered target stay open too (connection termination on deregistration is off by
 * default, kept off here explicitly).
 */
export function targetConnectionPolicy(spec: AwsFleetSpec) {
  return {
    connectionTermination: false,
    // A terminating host waits out this delay before its drain hook is even active (AWS's
    // default is 300 s); its connections stay open after it anyway, so the drain needs none.
    deregistrationDelay: 30,
    targetHealthStates: [
      {
        enableUnhealthyConnectionTermination: false,
        unhealthyDrainingInterval: Math.min(spec.drainSeconds, 360000),
      },
    ],
  };
}

/**
 * Processes the group must not run: AZRebalance terminates serving hosts to even out zones (through
 * the drain hook, but a host replaced for balance alone). Scale-out launches into the emptiest
 * zone and scale-in takes from the fullest anyway, so zones even out as the pool breathes.
 */
export const SUSPENDED_PROCESSES = ["AZRebalance"];

/**
 * The group's termination policies: the pool's Lambda function first (AWS takes one, and only
 * first), which returns exactly the instances to terminate; the predefined ones after it pick
 * only when it returns more than needed, as it does when it cannot read the hosts
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/lambda-custom-termination-policy.html,
 * "Considerations" and "Limitations").
 */
export function terminationPolicies(functionArn: string): string[] {
  return [functionArn, "OldestLaunchTemplate", "OldestInstance"];
}

/** The group metrics every pool's group publishes to AWS/AutoScaling. */
export const GROUP_METRICS = ["GroupInServiceInstances"] as const;

/**
 * Group inputs a later `up` must not change: initialLifecycleHooks is ForceNew upstream (a changed
 * hook would delete and recreate the group, every host with it); the hooks' own LifecycleHook
 * resources carry every change. minSize moves with scheduled actions, except at the up that
 * carries a migration's floor change (`floorAt`, policy/contract/migration.ts floorChangeAt). The
 * launch template's version, unless a rollout of this release points it
 * (modules/release/cloud-intent.ts): the new version is created, and the group keeps launching
 * the one it ran.
 */
export function groupIgnoreChanges(
  hasSchedules: boolean,
  target: GroupTarget,
  floorAt?: string,
): string[] {
  return [
    "initialLifecycleHooks",
    ...(hasSchedules && !floorAt ? ["minSize"] : []),
    ...(target === "running" ? ["launchTemplate.version"] : []),
  ];
}

/**
 * The group's minSize. At the up that carries a migration's floor change (#28) on a group whose
 * schedules move its minimum, the floor the schedules hold at the change's time, at least
 * minHosts: the schedules carry the new minHosts too, so the next one to fire keeps it, and a
 * lowered minHosts does not drop the group under the forecast of the hour. From the marker's
 * time, never the clock: a preview and its up declare the same. Otherwise minHosts, which an
 * `up` sends only to a group without schedules or at its creation (ignoreChanges).
 */
export function groupMinSize(
  spec: AwsFleetSpec,
  schedules: AwsScheduledAction[],
  floorAt?: string,
): number {
  if (!floorAt || schedules.length === 0) return spec.minHosts;
  return Math.max(spec.minHosts, scheduledFloorAt(schedules, floorAt));
}

/** How a scheduled action changes (aws.ts): deleted, then created again. */
export const SCHEDULE_REPLACEMENT = { replaceOnChanges: ["*"], deleteBeforeReplace: true };

/** The health check the load balancer's target groups run against each host's agent. */
export function targetHealthCheck(spec: AwsFleetSpec) {
  return {
    protocol: "HTTP",
    port: String(spec.ports.health.port),
    path: spec.ports.health.path,
    interval: 10,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
  };
}
