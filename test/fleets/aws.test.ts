import { test, before } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { loadStackFile } from "../../modules/stacks/stack";
import * as args from "../../modules/fleets/aws-args";
import { AWS_MAX_DRAIN_SEC } from "../../modules/config/aws-drain";
import { agentConfig } from "../../modules/host/agent";
import { hookReleasesAt } from "../../modules/providers/aws";
import type { Plan } from "../../modules/plan/plan";
import { evaluateExamples, resource } from "../support/plans";
import { bootstrapFiles, cloudInit } from "../support/user-data";
import { launchTemplateUserData } from "../../policy/contract/user-data";
import { cloudwatchCounters } from "../../modules/alerting/cloud";

const spec = loadStackFile("stacks/Pulumi.aws-us-east-1.yaml").fleet as AwsFleetSpec;
let plan: Plan;
before(async () => {
  [plan] = await evaluateExamples("aws-us-east-1");
});

test("drain hook: on termination, heartbeat covers the drain time, capped at AWS's 2 h; the agent heartbeats a longer drain", () => {
  assert.deepEqual(args.drainHook(spec), {
    name: "media-drain",
    lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    heartbeatTimeout: 1920,
    defaultResult: "CONTINUE",
  });
  fc.assert(
    fc.property(fc.integer({ min: 60, max: AWS_MAX_DRAIN_SEC }), (drainSeconds) => {
      const hook = args.drainHook({ ...spec, drainSeconds });
      const beat = agentConfig({ ...spec, drainSeconds }).drainHeartbeatSec!;
      assert.ok(hook.heartbeatTimeout <= 7200);
      // Unbeaten, the hook outlasts the drain; beaten, the beats come well inside its timeout
      // (retried at each 30 s tick for the rest of it) and the hook outlasts the drain anyway.
      assert.ok(hook.heartbeatTimeout >= drainSeconds || hook.heartbeatTimeout === 7200);
      assert.ok(beat <= hook.heartbeatTimeout / 4 && beat <= 600);
      assert.ok(hookReleasesAt(hook, 0, Infinity) >= drainSeconds + 120);
    }),
  );
});

test("auto scaling group: subnets, sizes, drain hook, a pinned launch template version, no instance refresh", () => {
  const asg = resource(plan, "aws-use1-asg").inputs;
  assert.equal(asg.minSize, 6);
  assert.equal(asg.maxSize, 100);
  assert.deepEqual(asg.vpcZoneIdentifiers, [
    "subnet-0a11b22c33d44e551",
    "subnet-0a11b22c33d44e552",
    "subnet-0a11b22c33d44e553",
  ]);
  // The drain hook is its own resource, so a new drain time reaches the existing group; the
  // launching hook is there from the creation on, so no first host goes in service unready.
  assert.deepEqual(asg.initialLifecycleHooks, [args.launchHook(spec)]);
  // two launches' worth (a first host abandoned, its replacement) and two minutes
  assert.equal(asg.waitForCapacityTimeout, "1444s");
  assert.deepEqual(resource(plan, "aws-use1-drain-hook").inputs, {
    region: "us-east-1",
    autoscalingGroupName: "aws-use1-media",
    name: "media-drain",
    lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    heartbeatTimeout: 1920,
    defaultResult: "CONTINUE",
  });
  // Releases roll through drained batches (modules/release/cloud-rollout.ts): a declared refresh
  // would replace every host whenever the group's launch template version moves.
  assert.equal(asg.instanceRefresh, undefined);
  assert.equal(asg.launchTemplate.version, "1", "the version number, never $Latest");
  assert.ok(asg.tags.every((t: { propagateAtLaunch: boolean }) => t.propagateAtLaunch));
});

test("launching hook: held until the agent says the host serves, replaced (ABANDON) when it never does", () => {
  const hook = {
    name: "media-launch",
    lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
    // the stub's fetch at worst (362 s), then 300 s to install and tune
    heartbeatTimeout: 662,
    defaultResult: "ABANDON",
  };
  assert.deepEqual(resource(plan, "aws-use1-launch-hook").inputs, {
    region: "us-east-1",
    autoscalingGroupName: "aws-use1-media",
    ...hook,
  });
  // A container pool's hosts pull an image first: 10 more minutes.
  const container = { ...spec, workload: { ...spec.workload, image: "sfu", digest: undefined } };
  assert.equal(args.launchHook(container as AwsFleetSpec).heartbeatTimeout, 1262);
  assert.equal(args.waitForCapacityTimeout(container as AwsFleetSpec), "2644s");
});

test("target tracking on the per-host media-load metric (AVFleet/Media/<pool> MediaStreams, by ASG)", () => {
  const policy = resource(plan, "aws-use1-media-load").inputs;
  assert.equal(policy.policyType, "TargetTrackingScaling");
  assert.deepEqual(policy.targetTrackingConfiguration, {
    // c6in.8xlarge carries 4,800 streams; 60 % of that.
    targetValue: 2880,
    customizedMetricSpecification: {
      namespace: "AVFleet/Media/aws-use1",
      metricName: "MediaStreams",
      unit: "Count",
      statistic: "Average",
      metricDimensions: [{ name: "AutoScalingGroupName", value: "aws-use1-media" }],
    },
  });
});

test("security group: media only on the UDP range, signaling TCP, SSH only from admins", () => {
  const sg = resource(plan, "aws-use1-sg").inputs;
  // The load balancer's security group id, as the mock names it.
  const lbGroup = sg.ingress.at(-1).securityGroups[0];
  assert.match(lbGroup, /^aws-use1-lb-sg/);
  assert.deepEqual(sg.ingress, [
    {
      description: "WebRTC media, only on the declared UDP range",
      protocol: "udp",
      fromPort: 10000,
      toPort: 59999,
      cidrBlocks: ["0.0.0.0/0"],
      ipv6CidrBlocks: ["::/0"],
    },
    {
      description: "signaling and TURN/TLS on 443",
      protocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrBlocks: ["0.0.0.0/0"],
      ipv6CidrBlocks: ["::/0"],
    },
    {
      description: "SSH, only from the admin networks",
      protocol: "tcp",
      fromPort: 22,
      toPort: 22,
      cidrBlocks: ["198.51.100.0/24"],
      ipv6CidrBlocks: [],
    },
    {
      description: "health checks, only from the pool's load balancer",
      protocol: "tcp",
      fromPort: 8080,
      toPort: 8080,
      securityGroups: [lbGroup],
    },
  ]);
});

test("join endpoint: a network load balancer on the signaling port, target health from the agent, an alias record", () => {
  const tg = resource(plan, "aws-use1-tg-443").inputs;
  assert.equal(tg.protocol, "TCP");
  assert.deepEqual(tg.healthCheck, {
    protocol: "HTTP",
    port: "8080",
    path: "/healthz",
    interval: 10,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
  });
  assert.equal(resource(plan, "aws-use1-nlb").inputs.loadBalancerType, "network");
  assert.equal(resource(plan, "aws-use1-listener-443").inputs.port, 443);
  const record = resource(plan, "aws-use1-endpoint").inputs;
  assert.equal(record.name, "edge.aws-use1.media.example.net");
  assert.equal(record.aliases[0].evaluateTargetHealth, true);
  const asg = resource(plan, "aws-use1-asg").inputs;
  assert.equal(asg.targetGroupArns.length, 1);
  assert.equal(asg.healthCheckType, "EC2", "a draining host fails the LB check on purpose");
});

test("launch template: IMDSv2 required, tags in IMDS (the agent's release label), encrypted gp3, public IPv4, base64 cloud-init that tunes the host", () => {
  const lt = resource(plan, "aws-use1-lt").inputs;
  assert.deepEqual(lt.metadataOptions, {
    httpEndpoint: "enabled",
    httpTokens: "required",
    httpPutResponseHopLimit: 1,
    instanceMetadataTags: "enabled",
  });
  assert.equal(lt.blockDeviceMappings[0].ebs.encrypted, "true");
  assert.equal(lt.blockDeviceMappings[0].ebs.volumeType, "gp3");
  assert.equal(lt.networkInterfaces[0].associatePublicIpAddress, "true");
  assert.equal(lt.instanceType, "c6in.8xlarge");
  // gzipped far under AWS's 16 KB cap (a stub); cloud-init inflates it.
  assert.ok(Buffer.from(lt.userData, "base64").length <= 4096);
  const userData = launchTemplateUserData(lt.userData);
  assert.match(userData, /^#cloud-config\n/);
  const boot = cloudInit(userData);
  assert.match(boot.marker, /^# avfleet-tune 1 profile=media-udp hash=[0-9a-f]{64}$/);
  // Run at every boot by cloud-init's scripts-per-boot, not once by runcmd: a first boot stopped
  // half-way (a warm pool host) converges at the next.
  assert.equal(boot.runcmd, undefined);
  // The stub pins the payload object's sha256 and fetches it from the pool's bucket by the key
  // that sha256 names.
  const payload = resource(plan, "aws-use1-payload");
  const sha = createHash("sha256").update(payload.inputs.content).digest("hex");
  assert.equal(payload.inputs.key, `payload/${sha}`);
  assert.match(boot.bootstrap, new RegExp(`^SHA=${sha}$`, "m"));
  const bucket = resource(plan, "aws-use1-payloads").inputs.bucketPrefix;
  assert.match(
    boot.bootstrap,
    new RegExp(`https://${bucket}[0-9a-f]{26}\\.s3\\.\\$R\\.amazonaws\\.com`),
  );
  const files = bootstrapFiles(payload.inputs.content);
  // ENA on a 32-vCPU c6in: the script sets 32 combined channels on the media NIC.
  assert.match(files.get("/usr/local/sbin/avfleet-tune")!, /ena/);
  assert.match(files.get("/etc/systemd/system/sfu.service")!, /^TimeoutStopSec=1860$/m);
  // The agent publishes what the pool's alarms read, in the one namespace its role may write.
  const agent = JSON.parse(files.get("/etc/avfleet/agent.json")!);
  assert.deepEqual(agent.cloudwatch, cloudwatchCounters("aws-use1"));
  const policy = JSON.parse(resource(plan, "aws-use1-policy").inputs.policy);
  assert.equal(
    policy.Statement[0].Condition.StringEquals["cloudwatch:namespace"],
    agent.cloudwatch.namespace,
  );
  assert.match(files.get("/usr/local/sbin/avfleet-tune")!, /ena/);
  assert.match(files.get("/etc/systemd/system/sfu.service")!, /^TimeoutStopSec=1860$/m);
});

test("boot payloads: a private bucket of the pool's, objects kept when replaced, hosts read only payload/", () => {
  assert.equal(resource(plan, "aws-use1-payloads").inputs.bucketPrefix, "aws-use1-boot-");
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(resource(plan, "aws-use1-payloads-private").inputs).filter(
        ([k]) => k.startsWith("block") || k.startsWith("ignore") || k.startsWith("restrict"),
      ),
    ),
    {
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
  );
  // Hosts of older launch template versions still fetch theirs: the stack never deletes one.
  assert.equal(resource(plan, "aws-use1-payload").retainOnDelete, true);
  const [read] = JSON.parse(resource(plan, "aws-use1-payload-read").inputs.policy).Statement;
  assert.equal(read.Effect, "Allow");
  assert.equal(read.Action, "s3:GetObject");
  assert.match(read.Resource, /^arn:aws:s3:::aws-use1-boot-[0-9a-f]{26}\/payload\/\*$/);
});

test("instance profile: publish only the media metric, complete only this group's lifecycle actions and protect only its instances", () => {
  const policy = JSON.parse(resource(plan, "aws-use1-policy").inputs.policy);
  assert.deepEqual(policy.Statement[0].Condition, {
    StringEquals: { "cloudwatch:namespace": "AVFleet/Media/aws-use1" },
  });
  assert.deepEqual(policy.Statement[1].Action, [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:RecordLifecycleActionHeartbeat",
    "autoscaling:SetInstanceProtection",
  ]);
  assert.equal(
    policy.Statement[1].Resource,
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/aws-use1-media",
  );
  assert.equal(
    JSON.parse(resource(plan, "aws-use1-role").inputs.assumeRolePolicy).Statement[0].Principal
      .Service,
    "ec2.amazonaws.com",
  );
});
