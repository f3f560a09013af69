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

export interface AwsFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: AwsFleetSpec;
  /** The AWS region of the fleet (`aws:region`); every subnet's zone is inside it. */
  region: string;
  /** The #cloud-config carrying the host bootstrap (modules/host); gzipped and base64-encoded here. */
  userData: string;
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
  const { spec, region, userData } = fleetArgs;
  const tags = fleetLabels(spec);
  const opts = { parent };
  const groupName = `${spec.pool}-media`;

  const securityGroup = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      region,
      vpcId: spec.vpcId,
      description: `media hosts of pool ${spec.pool}`,
      ingress: args.ingressRules(spec),
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
          (arn) => JSON.stringify(args.hostPolicy(arn)),
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
      healthCheckType: "EC2",
      healthCheckGracePeriod: spec.autoscaling.warmupSec,
      defaultInstanceWarmup: spec.autoscaling.warmupSec,
      instanceRefresh: args.instanceRefresh(spec),
      terminationPolicies: ["OldestLaunchTemplate", "OldestInstance"],
      tags: args.asgTags(tags),
    },
    opts,
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
      estimatedInstanceWarmup: spec.autoscaling.warmupSec,
      targetTrackingConfiguration: {
        targetValue: args.targetStreamsPerHost(spec),
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

  return { group, launchTemplate, securityGroup };
}
