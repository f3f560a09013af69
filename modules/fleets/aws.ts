/**
 * AwsFleet: one media pool in one AWS region — launch template, security group, instance
 * profile, auto scaling group with a drain hook, target tracking on media load. It only
 * declares; aws-args.ts computes.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { AwsFleetSpec } from "../config/fleet.schema";
import { fleetLabels } from "./labels";
import * as args from "./aws-args";
import { awsUserData } from "../host/bootstrap";
import type { AwsScaling } from "./scaling";

export interface AwsFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: AwsFleetSpec;
  /** The AWS region of the fleet (`aws:region`); every subnet's zone is inside it. */
  region: string;
  /** The #cloud-config carrying the host bootstrap (modules/host); gzipped and base64-encoded here. */
  userData: string;
  /** The pool's scaling policy compiled into provider settings (modules/scaling/compile.ts). */
  scaling: AwsScaling;
}

export class AwsFleet extends pulumi.ComponentResource {
  readonly autoScalingGroupName: pulumi.Output<string>;

  constructor(name: string, fleetArgs: AwsFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    // The endpoint is an input so policies can see whether a record serves it.
    super("avfleet:fleets:AwsFleet", name, { endpoint: fleetArgs.spec.endpoint }, opts);
    const { group } = createAwsFleet(name, fleetArgs, this);
    this.autoScalingGroupName = group.name;
    this.registerOutputs({ autoScalingGroupName: this.autoScalingGroupName });
  }
}

export function createAwsFleet(name: string, fleetArgs: AwsFleetArgs, parent: pulumi.Resource) {
  const { spec, region, userData, scaling } = fleetArgs;
  const tags = fleetLabels(spec);
  const opts = { parent };
  const groupName = args.groupName(spec);

  // The join endpoint's network load balancer has a security group of its own, so the
  // hosts' health port opens to it alone.
  const lbSecurityGroup = new aws.ec2.SecurityGroup(
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
  const securityGroup = new aws.ec2.SecurityGroup(
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

  const role = new aws.iam.Role(
    `${name}-role`,
    { assumeRolePolicy: JSON.stringify(args.EC2_ASSUME_ROLE), tags },
    opts,
  );
  const account = aws.getCallerIdentityOutput({}, opts);
  new aws.iam.RolePolicy(
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
  const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, opts);

  const launchTemplate = new aws.ec2.LaunchTemplate(
    `${name}-lt`,
    {
      region,
      namePrefix: `${spec.pool}-`,
      description: `media hosts of pool ${spec.pool} (${spec.mediaRegion})`,
      imageId: spec.ami,
      instanceType: spec.instanceType,
      userData: awsUserData(userData),
      iamInstanceProfile: { arn: profile.arn },
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 1,
      },
      // Media flows straight to clients: each host gets a public IPv4.
      networkInterfaces: [
        {
          deviceIndex: 0,
          associatePublicIpAddress: "true",
          deleteOnTermination: "true",
          securityGroups: [securityGroup.id],
        },
      ],
      blockDeviceMappings: [
        {
          deviceName: "/dev/xvda",
          ebs: {
            volumeSize: spec.rootVolumeGb,
            volumeType: "gp3",
            encrypted: "true",
            deleteOnTermination: "true",
          },
        },
      ],
      monitoring: { enabled: true },
      tagSpecifications: [
        { resourceType: "instance", tags },
        { resourceType: "volume", tags },
      ],
      updateDefaultVersion: true,
      tags,
    },
    opts,
  );

  const balancer = new aws.lb.LoadBalancer(
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
    const targetGroup = new aws.lb.TargetGroup(
      `${name}-tg-${port}`,
      {
        region,
        vpcId: spec.vpcId,
        port,
        protocol: "TCP",
        targetType: "instance",
        healthCheck: args.targetHealthCheck(spec),
        tags,
      },
      opts,
    );
    new aws.lb.Listener(
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
    new aws.route53.Record(
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

  const group = new aws.autoscaling.Group(
    `${name}-asg`,
    {
      region,
      name: groupName,
      minSize: spec.minHosts,
      maxSize: spec.maxHosts,
      vpcZoneIdentifiers: spec.subnets.map((s) => s.id),
      launchTemplate: {
        id: launchTemplate.id,
        version: launchTemplate.latestVersion.apply(String),
      },
      // EC2, not ELB: a draining host fails the load balancer's check on purpose and must not
      // be replaced for it.
      healthCheckType: "EC2",
      targetGroupArns: targetGroups.map((t) => t.arn),
      healthCheckGracePeriod: spec.autoscaling.warmupSec,
      defaultInstanceWarmup: spec.autoscaling.warmupSec,
      instanceRefresh: args.instanceRefresh(spec),
      terminationPolicies: ["OldestLaunchTemplate", "OldestInstance"],
      // Predictive scaling's load metric multiplies by the hosts in service.
      ...(scaling.predictive
        ? { metricsGranularity: "1Minute", enabledMetrics: ["GroupInServiceInstances"] }
        : {}),
      ...(scaling.warmPool ? { warmPool: scaling.warmPool } : {}),
      tags: args.asgTags(tags),
    },
    // Scheduled actions move the minimum every hour: after a refresh, the next up must not set
    // it back (the schedules carry spec.minHosts as their floor).
    scaling.schedules.length ? { ...opts, ignoreChanges: ["minSize"] } : opts,
  );

  // Its own resource, not initialLifecycleHooks (read only when the group is created): a new
  // drain time reaches groups that already exist.
  new aws.autoscaling.LifecycleHook(
    `${name}-drain-hook`,
    { region, autoscalingGroupName: group.name, ...args.drainHook(spec) },
    opts,
  );

  new aws.autoscaling.Policy(
    `${name}-media-load`,
    {
      region,
      autoscalingGroupName: group.name,
      policyType: "TargetTrackingScaling",
      estimatedInstanceWarmup: scaling.targetTracking.estimatedInstanceWarmup,
      targetTrackingConfiguration: {
        targetValue: scaling.targetTracking.targetValue,
        customizedMetricSpecification: {
          namespace: args.MEDIA_METRIC.namespace,
          metricName: args.MEDIA_METRIC.name,
          unit: args.MEDIA_METRIC.unit,
          statistic: "Average",
          metricDimensions: [{ name: "AutoScalingGroupName", value: group.name }],
        },
      },
    },
    opts,
  );

  if (scaling.predictive) {
    new aws.autoscaling.Policy(
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
    new aws.autoscaling.Schedule(
      `${name}-${action.scheduledActionName}`,
      { region, autoscalingGroupName: group.name, ...action },
      opts,
    );
  }

  return { group, launchTemplate, securityGroup };
}
