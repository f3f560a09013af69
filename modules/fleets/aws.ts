/**
 * AwsFleet: one media pool in one AWS region — launch template, security group, instance
 * profile, auto scaling group with a drain hook, target tracking on media load. It only
 * declares; aws-args.ts computes.
 */
import * as pulumi from "@pulumi/pulumi";
import { getCallerIdentityOutput } from "@pulumi/aws/getCallerIdentity";
import * as autoscaling from "@pulumi/aws/autoscaling";
import * as ec2 from "@pulumi/aws/ec2";
import { getAmiOutput } from "@pulumi/aws/ec2/getAmi";
import * as iam from "@pulumi/aws/iam";
import * as lb from "@pulumi/aws/lb";
import * as route53 from "@pulumi/aws/route53";
import * as s3 from "@pulumi/aws/s3";
import type { AwsFleetSpec } from "../config/fleet.schema";
import type { RolloutConfig } from "../config/rollout";
import { groupIntent, releaseId, rolloutSummary } from "../release/cloud-intent";
import { fleetLabels } from "./labels";
import * as args from "./aws-args";
import type { AwsBoot } from "../host/bootstrap";
import {
  payloadBucketPrefix,
  PAYLOAD_PUBLIC_ACCESS_BLOCK,
  payloadReadPolicy,
} from "../host-payloads/aws-payload";
import type { AwsScaling } from "./scaling";
import { AwsTermination } from "../aws-scale-in/termination";

export interface AwsFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: AwsFleetSpec;
  /** The AWS region of the fleet (`aws:region`); every subnet's zone is inside it. */
  region: string;
  /** The host bootstrap as an S3 object and the user-data that fetches it (modules/host awsBoot). */
  boot: AwsBoot;
  /** The pool's scaling policy compiled into provider settings (modules/scaling/compile.ts). */
  scaling: AwsScaling;
  /** Where a release's rollout stands (`avfleet:rollout`), when one does. */
  rollout?: RolloutConfig;
  /**
   * The `at` of a migration's floor change this up carries and the stack has not applied
   * (policy/contract/migration.ts floorChangeAt), when it carries one.
   */
  floorAt?: string;
}

/** The pool's release as the stack outputs it; modules/release/cloud-intent.ts decides. */
export interface AwsRelease {
  /** The release id this `up` renders. */
  rendered: string;
  /** The launch template version this `up` renders (the template's latest). */
  version: number;
  /** The version the group launches from after this `up`: what new and replacement hosts get. */
  running: number;
  rollout?: ReturnType<typeof rolloutSummary>;
}

export class AwsFleet extends pulumi.ComponentResource {
  readonly autoScalingGroupName: pulumi.Output<string>;
  readonly release: pulumi.Output<AwsRelease>;

  constructor(name: string, fleetArgs: AwsFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    // The endpoint is an input so policies can see whether a record serves it.
    super("avfleet:fleets:AwsFleet", name, { endpoint: fleetArgs.spec.endpoint }, opts);
    const { group, release } = createAwsFleet(name, fleetArgs, this);
    this.autoScalingGroupName = group.name;
    this.release = release;
    this.registerOutputs({ autoScalingGroupName: this.autoScalingGroupName, release });
  }
}

export function createAwsFleet(name: string, fleetArgs: AwsFleetArgs, parent: pulumi.Resource) {
  const { spec, region, boot, scaling, rollout, floorAt } = fleetArgs;
  const tags = fleetLabels(spec);
  const opts = { parent };
  const groupName = args.groupName(spec);

  // The join endpoint's network load balancer has a security group of its own, so the
  // hosts' health port opens to it alone.
  const lbSecurityGroup = new ec2.SecurityGroup(
    `${name}-lb-sg`,
    {
      region,
      vpcId: spec.vpcId,
      description: `signaling load balancer of pool ${spec.pool}`,
      ingress: args.ingressRules(spec).filter((r) => r.protocol === "tcp" && r.fromPort !== 22),
      egress: [
        {
          description: "to the hosts",
          protocol: "tcp",
          fromPort: 0,
          toPort: 65535,
          cidrBlocks: ["0.0.0.0/0"],
        },
      ],
      tags,
    },
    opts,
  );
  const securityGroup = new ec2.SecurityGroup(
    `${name}-sg`,
    {
      region,
      vpcId: spec.vpcId,
      description: `media hosts of pool ${spec.pool}`,
      ingress: [
        ...args.ingressRules(spec),
        {
          description: "health checks, only from the pool's load balancer",
          protocol: "tcp",
          fromPort: spec.ports.health.port,
          toPort: spec.ports.health.port,
          securityGroups: [lbSecurityGroup.id],
        },
      ],
      egress: [
        {
          description: "media and updates to anywhere",
          protocol: "-1",
          fromPort: 0,
          toPort: 0,
          cidrBlocks: ["0.0.0.0/0"],
          ipv6CidrBlocks: ["::/0"],
        },
      ],
      tags,
    },
    opts,
  );

  const role = new iam.Role(
    `${name}-role`,
    { assumeRolePolicy: JSON.stringify(args.EC2_ASSUME_ROLE), tags },
    opts,
  );
  const account = getCallerIdentityOutput({}, opts);
  new iam.RolePolicy(
    `${name}-policy`,
    {
      role: role.id,
      policy:
        pulumi.interpolate`arn:aws:autoscaling:${region}:${account.accountId}:autoScalingGroup:*:autoScalingGroupName/${groupName}`.apply(
          (arn) => JSON.stringify(args.hostPolicy(spec, arn)),
        ),
    },
    opts,
  );
  const profile = new iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, opts);

  // The hosts' boot payload, which their user-data only fetches (modules/host/boot-stub.ts).
  // forceDestroy: the bucket goes only with its pool, after the launch template that names it,
  // and with the payloads the stack retained in it.
  const payloads = new s3.Bucket(
    `${name}-payloads`,
    { region, bucketPrefix: payloadBucketPrefix(spec), forceDestroy: true, tags },
    opts,
  );
  new s3.BucketPublicAccessBlock(
    `${name}-payloads-private`,
    { region, bucket: payloads.id, ...PAYLOAD_PUBLIC_ACCESS_BLOCK },
    opts,
  );
  // A new payload is a new key, so a changed one replaces this object; the old one stays in the
  // bucket (retainOnDelete): hosts of the launch template versions that pin it still launch
  // (scale-out and replacements until a rollout moves the group, the warm pool, a rollback).
  const payload = new s3.BucketObjectv2(
    `${name}-payload`,
    { region, bucket: payloads.id, key: boot.key, content: boot.payload, tags },
    { ...opts, retainOnDelete: true },
  );
  const payloadRead = new iam.RolePolicy(
    `${name}-payload-read`,
    { role: role.id, policy: payloads.arn.apply((arn) => JSON.stringify(payloadReadPolicy(arn))) },
    opts,
  );

  // The root volume's device name is the image's own (/dev/xvda on Amazon Linux and Debian,
  // /dev/sda1 on Ubuntu): a mapping under another name adds a second volume and leaves the
  // root at the image's default size.
  const image = getAmiOutput(
    { region, filters: [{ name: "image-id", values: [spec.ami] }] },
    { parent },
  );
  // The release is what hosts are handed less the bucket's name: the pool's one bucket for every
  // release, as the instance profile is. The payload's sha256, in the user-data, is in it. The
  // template's user-data is the same stub naming the bucket (below).
  const hostInputs = args.hostLaunchTemplate(spec, boot.userData(""));
  const { networkInterface, rootVolume, userData, ...host } = hostInputs;
  const rendered = releaseId(hostInputs);
  const intent = groupIntent(rendered, rollout);
  const launchTemplate = new ec2.LaunchTemplate(
    `${name}-lt`,
    {
      region,
      namePrefix: `${spec.pool}-`,
      description: `media hosts of pool ${spec.pool} (${spec.mediaRegion})`,
      ...host,
      userData: payloads.bucket.apply(boot.userData),
      iamInstanceProfile: { arn: profile.arn },
      networkInterfaces: [{ ...networkInterface, securityGroups: [securityGroup.id] }],
      blockDeviceMappings: [{ deviceName: image.rootDeviceName, ebs: rootVolume }],
      // No tagSpecifications: they are part of the template's version, so a label change would
      // be a new version, which reaches no host until a rollout points the group at it.
      // Instances take their tags from the group (propagateAtLaunch); a tag change reaches new
      // hosts only.
      updateDefaultVersion: true,
      tags,
    },
    // No version may name a payload its hosts cannot read yet.
    { ...opts, dependsOn: [payload, payloadRead] },
  );

  // The group's scale-in order: the hosts expected to hold the fewest calls at the drain limit.
  const termination = new AwsTermination(
    `${name}-termination`,
    { spec, region, account: account.accountId, bucket: payloads, tags },
    opts,
  );

  const balancer = new lb.LoadBalancer(
    `${name}-nlb`,
    {
      region,
      loadBalancerType: "network",
      internal: false,
      subnets: spec.subnets.map((s) => s.id),
      securityGroups: [lbSecurityGroup.id],
      tags,
    },
    opts,
  );
  const targetGroups = spec.ports.signalingTcp.map((port) => {
    const targetGroup = new lb.TargetGroup(
      `${name}-tg-${port}`,
      {
        region,
        vpcId: spec.vpcId,
        port,
        protocol: "TCP",
        targetType: "instance",
        healthCheck: args.targetHealthCheck(spec),
        ...args.targetConnectionPolicy(spec),
        tags,
      },
      opts,
    );
    new lb.Listener(
      `${name}-listener-${port}`,
      {
        region,
        loadBalancerArn: balancer.arn,
        port,
        protocol: "TCP",
        defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
      },
      opts,
    );
    return targetGroup;
  });
  if (spec.endpoint && spec.endpointZone) {
    new route53.Record(
      `${name}-endpoint`,
      {
        zoneId: spec.endpointZone,
        name: spec.endpoint,
        type: "A",
        aliases: [{ name: balancer.dnsName, zoneId: balancer.zoneId, evaluateTargetHealth: true }],
      },
      opts,
    );
  }

  const group = new autoscaling.Group(
    `${name}-asg`,
    {
      region,
      name: groupName,
      minSize: args.groupMinSize(spec, scaling.schedules, floorAt),
      maxSize: spec.maxHosts,
      vpcZoneIdentifiers: spec.subnets.map((s) => s.id),
      // An explicit version number, never $Latest or $Default: those follow the template, so a
      // new version would reach every instance the group launches (scale-out, replacements)
      // before any rollout vetted it. This up's version only when a rollout of exactly this
      // release says so, the one the pool ran before when it rolls back; otherwise
      // ignoreChanges keeps the state's (below).
      launchTemplate: {
        id: launchTemplate.id,
        version:
          intent.target === "from"
            ? String(rollout!.from.version!)
            : launchTemplate.latestVersion.apply(String),
      },
      // EC2, not ELB: a draining host fails the load balancer's check on purpose and must not
      // be replaced for it.
      healthCheckType: "EC2",
      targetGroupArns: targetGroups.map((t) => t.arn),
      healthCheckGracePeriod: spec.autoscaling.warmupSec,
      defaultInstanceWarmup: spec.autoscaling.warmupSec,
      // No instanceRefresh: with it, the provider starts a refresh of every instance whenever
      // launchTemplate changes (terraform-provider-aws autoscaling/group.go, resourceGroupUpdate),
      // so the up that points the group at a rollout's release would replace the whole pool at
      // once, beside the rollout's drained batches. Releases go through the rollout only.
      terminationPolicies: termination.arn.apply(args.terminationPolicies),
      suspendedProcesses: args.SUSPENDED_PROCESSES,
      // Predictive scaling's load metric multiplies by the hosts in service, and the pool-silent
      // alarm pages only while some are (group metrics at 1-minute granularity cost nothing:
      // https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html).
      metricsGranularity: "1Minute",
      enabledMetrics: [...args.GROUP_METRICS],
      ...(scaling.warmPool ? { warmPool: scaling.warmPool } : {}),
      // The launching hook from the group's creation on: without it the first hosts (and the warm
      // pool's) launch before the hook resource exists, go in service before they serve, and a
      // warm host is stopped in the middle of its bootstrap. Later changes come from the
      // resource below, which puts the same hook (PutLifecycleHook creates or updates).
      initialLifecycleHooks: [args.launchHook(spec)],
      waitForCapacityTimeout: args.waitForCapacityTimeout(spec, floorAt),
      tags: args.asgTags(tags),
    },
    // Scheduled actions move the minimum every half hour: after a refresh, an ordinary up must
    // not set it back (the schedules carry spec.minHosts as their floor). The up that carries a
    // migration's floor change sets it, so the raised floor is there when the up returns.
    {
      ...opts,
      ignoreChanges: args.groupIgnoreChanges(scaling.schedules.length > 0, intent.target, floorAt),
      // The group names the function only once its service-linked role may invoke it.
      dependsOn: [termination.invokable],
    },
  );

  // Their own resources, not only initialLifecycleHooks (read only when the group is created):
  // a new drain time or boot time reaches groups that already exist.
  new autoscaling.LifecycleHook(
    `${name}-drain-hook`,
    { region, autoscalingGroupName: group.name, ...args.drainHook(spec) },
    opts,
  );
  new autoscaling.LifecycleHook(
    `${name}-launch-hook`,
    { region, autoscalingGroupName: group.name, ...args.launchHook(spec) },
    opts,
  );

  new autoscaling.Policy(
    `${name}-media-load`,
    {
      region,
      autoscalingGroupName: group.name,
      policyType: "TargetTrackingScaling",
      estimatedInstanceWarmup: scaling.targetTracking.estimatedInstanceWarmup,
      targetTrackingConfiguration: {
        targetValue: scaling.targetTracking.targetValue,
        customizedMetricSpecification: {
          namespace: args.mediaMetric(spec.pool).namespace,
          metricName: args.mediaMetric(spec.pool).name,
          unit: args.mediaMetric(spec.pool).unit,
          statistic: "Average",
          metricDimensions: [{ name: "AutoScalingGroupName", value: group.name }],
        },
      },
    },
    opts,
  );

  if (scaling.predictive) {
    new autoscaling.Policy(
      `${name}-forecast`,
      {
        region,
        autoscalingGroupName: group.name,
        policyType: "PredictiveScaling",
        predictiveScalingConfiguration: scaling.predictive,
      },
      opts,
    );
  }
  for (const action of scaling.schedules) {
    new autoscaling.Schedule(
      `${name}-${action.scheduledActionName}`,
      { region, autoscalingGroupName: group.name, ...action },
      // Replaced, never updated: an update resends the startTime AWS computed at the creation,
      // which has passed by then ("Given start time is in the past": pulumi/pulumi-aws#2473,
      // hashicorp/terraform-provider-aws#38983); a create sends none. Deleted first: the new
      // action has the same name, and PutScheduledUpdateGroupAction would update the old one
      // that the deletion then removes.
      { ...opts, ...args.SCHEDULE_REPLACEMENT },
    );
  }

  const release = pulumi
    .all([launchTemplate.latestVersion, group.launchTemplate])
    .apply(([latest, running]) => ({
      rendered,
      version: latest,
      running: Number(running.version),
      ...(rollout ? { rollout: rolloutSummary(rollout) } : {}),
    }));

  return { group, launchTemplate, securityGroup, release };
}
