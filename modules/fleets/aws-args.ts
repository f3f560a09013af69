/**
 * What an AWS media fleet declares, computed from its spec: pure functions the AwsFleet
 * component passes to the provider and tests check directly.
 */
import type { AwsFleetSpec } from "../config/fleet.schema";
import { machineType } from "../capacity/machine-types";
import { AWS_DRAIN_HOOK, AWS_MEDIA_METRIC } from "../host/metrics";
import { containerImage, ecrRepository } from "../host/image";

/** The per-host media-load metric and the drain hook, named once for fleet and agent. */
export { AWS_MEDIA_METRIC as MEDIA_METRIC, AWS_DRAIN_HOOK as DRAIN_HOOK } from "../host/metrics";

/** AWS's ceiling for a lifecycle hook's heartbeat. */
const MAX_HEARTBEAT_SEC = 7200;

/** The group's name: the host's IAM grant and the metrics' dimension name it before it exists. */
export function groupName(spec: AwsFleetSpec): string {
  return `${spec.pool}-media`;
}

export function targetStreamsPerHost(spec: AwsFleetSpec): number {
  return Math.floor(
    machineType(spec.instanceType).streamsPerHost * spec.autoscaling.targetUtilization,
  );
}

/**
 * The drain hook: the host gets its drain time plus a margin for the lifecycle action's own
 * round trip before the instance goes (CONTINUE when the heartbeat runs out).
 */
export function drainHook(spec: AwsFleetSpec) {
  return {
    name: AWS_DRAIN_HOOK,
    lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    heartbeatTimeout: Math.min(MAX_HEARTBEAT_SEC, spec.drainSeconds + 120),
    defaultResult: "CONTINUE",
  };
}

/** Rollouts launch replacements first and never drop below full healthy capacity. */
export function instanceRefresh(spec: AwsFleetSpec) {
  return {
    strategy: "Rolling",
    preferences: {
      minHealthyPercentage: 100,
      maxHealthyPercentage: 200,
      instanceWarmup: String(spec.autoscaling.warmupSec),
      skipMatching: true,
    },
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
 * Least privilege: publish the media metric (only in its namespace), complete own lifecycle
 * actions, and pull the pool's image when it is in ECR.
 */
export function hostPolicy(spec: AwsFleetSpec, asgArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PublishMediaLoad",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": AWS_MEDIA_METRIC.namespace } },
      },
      {
        Sid: "DrainBeforeTermination",
        Effect: "Allow",
        Action: [
          "autoscaling:CompleteLifecycleAction",
          "autoscaling:RecordLifecycleActionHeartbeat",
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
