import { launchTemplateUserData } from "../../policy/contract/user-data";
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { listStacks, loadStacks } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan, PlanResource } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy-runner";
import { cloudDnsOneRoutingPolicy, route53LatencyAwsOnly } from "../../policy/dns-steering";
import { checkPlan, evaluatePolicies } from "../../modules/policy-runner/runner";
import { STACK_FACTS_TYPE } from "../../policy/contract/facts";
import { metalSshKeySecret } from "../../policy/hosts";
import { placeholderReason } from "../../policy/contract/placeholders";
import { ROOT } from "../support/cli";

const STACKS = join(ROOT, "stacks");
const plans = new Map<string, Plan>();

// Every stack file in stacks/, so a new stack is checked without editing this test.
before(async () => {
  for (const plan of await evaluateStacks(loadStacks(STACKS, listStacks(STACKS))))
    plans.set(plan.name, plan);
});

test("every stack in stacks/ passes every mandatory policy", () => {
  assert.deepEqual([...plans.keys()], listStacks(STACKS));
  const mandatory = [...plans.values()]
    .flatMap((p) => checkPlan(p))
    .filter((v) => v.level === "mandatory");
  assert.deepEqual(mandatory, []);
});

test("every policy has a name, a description, an enforcement level and a remediation hint", () => {
  for (const p of POLICIES) {
    assert.match(p.name, /^[a-z0-9-]+$/);
    assert.ok(p.description.length > 20, p.name);
    assert.ok(p.enforcementLevel === "mandatory" || p.enforcementLevel === "advisory", p.name);
    assert.ok(p.remediationSteps.length > 10, p.name);
  }
  assert.equal(new Set(POLICIES.map((p) => p.name)).size, POLICIES.length);
});

/** A copy of an example plan with one resource's inputs changed. */
function mutated(stack: string, name: string, change: (inputs: any) => void): Plan {
  const plan = structuredClone(plans.get(stack)!);
  const resource = plan.resources.find((r) => r.name === name);
  assert.ok(resource, `${stack} has no ${name}`);
  change(resource.inputs);
  return plan;
}

/** The messages one policy reports for a plan, and how much it judged. */
function verdict(plan: Plan, policy: string) {
  const { violations, judged } = evaluatePolicies(
    plan,
    POLICIES.filter((p) => p.name === policy),
  );
  return {
    messages: violations.map((v) => `${v.urn.split("::").pop()}: ${v.message}`),
    judged: judged[policy],
  };
}

/** [policy, the example stack that keeps it quiet, a mutation of it that makes it fire, the message]. */
const fixtures: [string, string, () => Plan, string[]][] = [
  [
    "media-udp-declared-range",
    "gcp-us-west1",
    () =>
      mutated(
        "gcp-us-west1",
        "gcp-usw1-fw-media-udp",
        (i) => (i.allows = [{ protocol: "udp", ports: ["0-65535"] }]),
      ),
    ["gcp-usw1-fw-media-udp: opens UDP 0-65535, outside the declared media range 10000-59999"],
  ],
  [
    "media-udp-declared-range",
    "aws-us-east-1",
    () =>
      mutated("aws-us-east-1", "aws-use1-sg", (i) =>
        i.ingress.push({ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }),
      ),
    [
      "aws-use1-sg: opens every protocol and port to the Internet: 0.0.0.0/0 (100% of the public IPv4 space)",
    ],
  ],
  [
    "container-image-pinned",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-template", (i) => {
        i.metadataStartupScript = i.metadataStartupScript.replace(
          "# avfleet-workload package=avfleet-sfu=2.4.1-1",
          "# avfleet-workload image=registry.example.net/sfu:2.4.1",
        );
      }),
    [
      "gcp-usw1-template: runs registry.example.net/sfu:2.4.1 by tag only: hosts booted later may run another image",
    ],
  ],
  [
    "admin-ports-not-from-internet",
    "gcp-us-west1",
    () => mutated("gcp-us-west1", "gcp-usw1-fw-ssh", (i) => (i.sourceRanges = ["0.0.0.0/0"])),
    ["gcp-usw1-fw-ssh: opens TCP 22 to 0.0.0.0/0 (100% of the public IPv4 space)"],
  ],
  [
    "admin-ports-not-from-internet",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-sg", (i) => (i.ingress[2].ipv6CidrBlocks = ["::/0"])),
    ["aws-use1-sg: opens TCP 22 to ::/0 (100% of the public IPv6 space)"],
  ],
  [
    "host-tuning-present",
    "gcp-us-west1",
    () =>
      mutated(
        "gcp-us-west1",
        "gcp-usw1-template",
        (i) => (i.metadataStartupScript = "#!/bin/sh\necho hi\n"),
      ),
    ["gcp-usw1-template: carries no avfleet-tune marker: the host would boot untuned"],
  ],
  [
    "host-tuning-present",
    "metal-sjc",
    () =>
      mutated(
        "metal-sjc",
        "metal-sjc-payload-r640-2x25g",
        (i) => (i.payload = i.payload.replace("profile=media-udp", "profile=baseline")),
      ),
    [
      "metal-sjc-payload-r640-2x25g: carries profile=baseline, but the stack names profile=media-udp",
    ],
  ],
  [
    "host-tuning-present",
    "aws-us-east-1",
    () =>
      mutated("aws-us-east-1", "aws-use1-lt", (i) => {
        const text = launchTemplateUserData(i.userData).replace(
          "# avfleet-tune 1 ",
          "# avfleet-tune 0 ",
        );
        i.userData = Buffer.from(text).toString("base64");
      }),
    ["aws-use1-lt: carries avfleet-tune 0, expected 1"],
  ],
  [
    "gcp-gvnic",
    "gcp-us-west1",
    () =>
      mutated(
        "gcp-us-west1",
        "gcp-usw1-template",
        (i) => (i.networkInterfaces[0].nicType = "VIRTIO_NET"),
      ),
    ["gcp-usw1-template: networkInterfaces[0] is VIRTIO_NET, not GVNIC"],
  ],
  [
    "gcp-tier1-eligible",
    "gcp-us-west1",
    () => mutated("gcp-us-west1", "gcp-usw1-template", (i) => (i.machineType = "n2d-highcpu-16")),
    ["gcp-usw1-template: requests TIER_1 on n2d-highcpu-16, which is not eligible"],
  ],
  [
    "gcp-mig-keeps-capacity",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-mig", (i) => {
        i.updatePolicy.type = "PROACTIVE";
        i.updatePolicy.minimalAction = "REPLACE";
        delete i.updatePolicy.instanceRedistributionType;
      }),
    [
      "gcp-usw1-mig: update type PROACTIVE replaces serving hosts on a template change, cutting their calls",
      "gcp-usw1-mig: instance redistribution PROACTIVE (default) deletes serving hosts to even out zones",
    ],
  ],
  [
    "gcp-autoscaler-bounds",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-autoscaler", (i) => {
        delete i.autoscalingPolicy.scaleInControl;
        i.autoscalingPolicy.minReplicas = 2;
      }),
    [
      "gcp-usw1-autoscaler: has no scaleInControl: scale-in may end many hosts' calls at once",
      "gcp-usw1-autoscaler: minReplicas 2 leaves a zone of 3 without a host",
    ],
  ],
  [
    "aws-imdsv2",
    "aws-us-east-1",
    () =>
      mutated("aws-us-east-1", "aws-use1-lt", (i) => (i.metadataOptions.httpTokens = "optional")),
    ["aws-use1-lt: httpTokens is optional"],
  ],
  [
    "aws-drain-hook",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-drain-hook", (i) => (i.heartbeatTimeout = 600)),
    ["aws-use1-drain-hook: the drain hook's heartbeat 600 s is shorter than drainSeconds 1800"],
  ],
  [
    "aws-ebs-encrypted",
    "aws-us-east-1",
    () =>
      mutated(
        "aws-us-east-1",
        "aws-use1-lt",
        (i) => (i.blockDeviceMappings[0].ebs.encrypted = "false"),
      ),
    ["aws-use1-lt: /dev/xvda is not encrypted"],
  ],
  [
    "metal-no-retired-provisioning",
    "metal-sjc",
    () => {
      const plan = structuredClone(plans.get("metal-sjc")!);
      const m001 = plan.resources.find((r) => r.name === "metal-sjc-sjc-m001-tune")!;
      plan.resources.push({
        ...structuredClone(m001),
        name: "metal-sjc-sjc-m030-tune",
        urn: m001.urn.replace("m001", "m030"),
      });
      return plan;
    },
    ["metal-sjc-sjc-m030-tune: provisions sjc-m030, which is retired"],
  ],
  [
    "labels-present",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-sg", (i) => delete i.tags["cost-center"]),
    ["aws-use1-sg: lacks cost-center"],
  ],
  [
    "labels-present",
    "gcp-us-west1",
    () => mutated("gcp-us-west1", "gcp-usw1-template", (i) => delete i.labels.pool),
    ["gcp-usw1-template: lacks pool"],
  ],
  [
    "capacity-covers-demand",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-autoscaler", (i) => (i.autoscalingPolicy.maxReplicas = 50)),
    [
      "avfleet-gcp-us-west1: 50 hosts at most, but the media region's peak needs 66 (headroom 0.3, N+1)",
    ],
  ],
  [
    "capacity-covers-demand",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-asg", (i) => (i.maxSize = 80)),
    [
      "avfleet-aws-us-east-1: 80 hosts at most, but the media region's peak needs 83 (headroom 0.3, N+1)",
    ],
  ],
  [
    "traffic-weights",
    "traffic-us-west",
    () =>
      mutated(
        "traffic-us-west",
        "traffic-us-west-metal-sjc",
        (i) => (i.weightedRoutingPolicies[0].weight = 90),
      ),
    ["traffic-us-west: the records' weights sum to 90, not 100"],
  ],
  [
    "traffic-weights",
    "traffic-eu-west",
    () => {
      // Last applied 95/5 (read through the split's own StackReference); now 50/50.
      const plan = mutated("traffic-eu-west", "traffic-eu-west-wrr", (i) => {
        i.routingPolicy.wrrs[0].weight = 50;
        i.routingPolicy.wrrs[1].weight = 50;
      });
      const self = plan.resources.find((r: PlanResource) => r.name === "traffic-eu-west-ref-self")!;
      self.inputs.outputs = { weights: { "metal-ams": 95, "gcp-europe-west4": 5 } };
      return plan;
    },
    ["traffic-eu-west: this change moves 45 points of traffic, more than maxStepPct 25"],
  ],
  [
    "bootstrap-runs-on-image",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-template", (i) => {
        // Today's mistake: tuning as cloud-init user-data on Google's Debian image.
        i.metadata["user-data"] = i.metadataStartupScript;
        delete i.metadataStartupScript;
      }),
    [
      "gcp-usw1-template: carries user-data, but projects/debian-cloud/global/images/family/debian-12 has no cloud-init: the host boots without it",
    ],
  ],
  [
    "bootstrap-runs-on-image",
    "aws-us-east-1",
    () =>
      mutated(
        "aws-us-east-1",
        "aws-use1-lt",
        (i) => (i.userData = Buffer.from("tune the host\n").toString("base64")),
      ),
    ["aws-use1-lt: user-data is neither a #cloud-config nor a script: cloud-init ignores it"],
  ],
  [
    "autoscaler-metric-published",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-template", (i) => {
        // Today's mistake: the template boots hosts with tuning only, no agent.
        i.metadataStartupScript = "#!/bin/sh\n/usr/local/sbin/avfleet-tune apply\n";
      }),
    [
      "gcp-usw1-autoscaler: scales on custom.googleapis.com/avfleet/media_streams, which no host's agent publishes",
    ],
  ],
  [
    "autoscaler-metric-published",
    "aws-us-east-1",
    () =>
      mutated(
        "aws-us-east-1",
        "aws-use1-media-load",
        (i) => (i.targetTrackingConfiguration.customizedMetricSpecification.metricName = "Streams"),
      ),
    [
      "aws-use1-media-load: scales on AVFleet/Media/aws-use1 Streams, which no host's agent publishes",
    ],
  ],
  [
    "pool-endpoint-has-record",
    "gcp-us-west1",
    () => {
      // Today's mistake: a pool names an endpoint that no record serves.
      const plan = structuredClone(plans.get("gcp-us-west1")!);
      plan.resources = plan.resources.filter((r) => r.name !== "gcp-usw1-endpoint");
      return plan;
    },
    ["gcp-usw1: endpoint edge.gcp-usw1.media.example.net has no DNS record: joins go nowhere"],
  ],
  [
    "pool-endpoint-has-record",
    "aws-us-east-1",
    () => {
      const plan = structuredClone(plans.get("aws-us-east-1")!);
      plan.resources = plan.resources.filter((r) => r.name !== "aws-use1-endpoint");
      return plan;
    },
    ["aws-use1: endpoint edge.aws-use1.media.example.net has no DNS record: joins go nowhere"],
  ],
  [
    "lifecycle-hook-resource",
    "aws-us-east-1",
    () => {
      // Today's mistake: the drain hook only in the group's initialLifecycleHooks.
      const plan = mutated("aws-us-east-1", "aws-use1-asg", (i) => {
        i.initialLifecycleHooks = [
          {
            name: "media-drain",
            lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
            heartbeatTimeout: 1920,
            defaultResult: "CONTINUE",
          },
        ];
      });
      plan.resources = plan.resources.filter((r) => r.name !== "aws-use1-drain-hook");
      return plan;
    },
    [
      "aws-use1-asg: its drain hook is only in initialLifecycleHooks: changes never reach the existing group",
    ],
  ],
  [
    "aws-launch-hook",
    "aws-us-east-1",
    () => {
      // Today's mistake: a warm pool, and no launching hook that waits for the host to serve.
      const plan = mutated("aws-us-east-1", "aws-use1-asg", (i) => delete i.initialLifecycleHooks);
      plan.resources = plan.resources.filter((r) => r.name !== "aws-use1-launch-hook");
      return plan;
    },
    [
      "aws-use1-asg: has a warm pool but no launching hook: AWS stops a warm host without waiting for its bootstrap, and hosts go in service before they serve",
    ],
  ],
  [
    "aws-launch-hook",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-launch-hook", (i) => (i.defaultResult = "CONTINUE")),
    [
      "aws-use1-asg: launching hook media-launch defaults to CONTINUE: a host that never gets ready goes in service",
    ],
  ],
  [
    "pool-alerting",
    "aws-us-east-1",
    () =>
      mutated(
        "aws-us-east-1",
        "aws-use1-alerting-rtt-p95-page",
        (i) => (i.alarmName = "avfleet-aws-use1-renamed"),
      ),
    ["aws-use1-asg: pool aws-use1 lacks alert(s): avfleet-aws-use1-AvfleetRttP95BurnPage"],
  ],
  // Every GCP pool, not only one draining longer than an hour: gcp-us-west1 drains 1800 s.
  [
    "gcp-drain-first-scale-in",
    "gcp-us-west1",
    () => mutated("gcp-us-west1", "gcp-usw1-autoscaler", (i) => (i.autoscalingPolicy.mode = "ON")),
    [
      "gcp-usw1-autoscaler: mode ON scales in by deleting VMs: each gets ~90 s to stop, not the 1800 s drain, and its calls are cut; set mode ONLY_SCALE_OUT",
    ],
  ],
  [
    "gcp-drain-first-scale-in",
    "gcp-us-west1",
    () => {
      const plan = structuredClone(plans.get("gcp-us-west1")!);
      plan.resources = plan.resources.filter((r) => !r.name.startsWith("gcp-usw1-scale-in"));
      return plan;
    },
    [
      "stack-facts: pool gcp-usw1 has no scale-in controller: its autoscaler never scales in, so surplus hosts stay; declare it with GcpFleet",
    ],
  ],
  [
    "gcp-drain-first-scale-in",
    "gcp-europe-west4",
    () => {
      const plan = structuredClone(plans.get("gcp-europe-west4")!);
      plan.resources = plan.resources.filter((r) => r.name !== "gcp-euw4-scale-in-schedule");
      return plan;
    },
    [
      "gcp-euw4-scale-in-fn: no Cloud Scheduler job calls the scale-in controller with OIDC: it never runs",
    ],
  ],
  [
    "compiled-scaling-safe",
    "aws-us-east-1",
    () => {
      // What a hand edit of the compiled settings looks like: provider defaults left in.
      const plan = structuredClone(plans.get("aws-us-east-1")!);
      const inputs = (name: string) => plan.resources.find((r) => r.name === name)!.inputs as any;
      delete inputs("aws-use1-weekday-1800").desiredCapacity;
      delete inputs("aws-use1-forecast").predictiveScalingConfiguration.mode;
      inputs("aws-use1-asg").warmPool.minSize = 200;
      delete inputs("aws-use1-asg").warmPool.maxGroupPreparedCapacity;
      return plan;
    },
    [
      "aws-use1-weekday-1800: desiredCapacity is unset (the provider's default 0): the action would set the group's desiredCapacity at its time, not only its floor",
      "aws-use1-forecast: predictive scaling mode is unset (ForecastOnly): it forecasts and never scales",
      "aws-use1-asg: warm pool has no maxGroupPreparedCapacity: AWS keeps max size − desired capacity hosts in it",
      "aws-use1-asg: warm pool of 200 exceeds the 94 hosts the group can ever add",
    ],
  ],
  [
    "compiled-scaling-safe",
    "gcp-us-west1",
    () =>
      mutated("gcp-us-west1", "gcp-usw1-autoscaler", (i) => {
        const first = i.autoscalingPolicy.scalingSchedules[0];
        first.durationSec = 60;
        i.autoscalingPolicy.scalingSchedules = Array.from({ length: 129 }, () => first);
      }),
    [
      "gcp-usw1-autoscaler: 129 scaling schedules, GCP allows 128",
      ...Array.from(
        { length: 129 },
        () => "gcp-usw1-autoscaler: schedule weekday-0000 lasts 60 s, GCP needs ≥ 300",
      ),
    ],
  ],
];

for (const [policy, quietStack, fire, expected] of fixtures) {
  test(`${policy}: quiet on ${quietStack}, fires when broken`, () => {
    const quiet = verdict(plans.get(quietStack)!, policy);
    assert.ok(quiet.judged > 0, `${policy} judged nothing in ${quietStack}`);
    assert.deepEqual(quiet.messages, []);
    assert.deepEqual(verdict(fire(), policy).messages, expected);
  });
}

// Both clouds: traffic-us-west's Route53 records and traffic-eu-west's Cloud DNS set each carry
// a health check per pool; without them a dead pool keeps its share of joins.
test("weighted-record-health-checked: quiet on checked records of both clouds, fires without", () => {
  const judge = (plan: Plan) => verdict(plan, "weighted-record-health-checked");
  for (const stack of ["traffic-us-west", "traffic-eu-west"]) {
    const checked = judge(plans.get(stack)!);
    assert.ok(checked.judged > 0, stack);
    assert.deepEqual(checked.messages, [], stack);
  }
  const unchecked = structuredClone(plans.get("traffic-us-west")!);
  for (const r of unchecked.resources) delete r.inputs.healthCheckId;
  assert.deepEqual(judge(unchecked).messages, [
    "traffic-us-west-metal-sjc: weighted record metal-sjc has no health check",
  ]);
  // Today's Cloud DNS mistake: CNAMEs of each pool's endpoint, nothing probed.
  const cnames = mutated("traffic-eu-west", "traffic-eu-west-wrr", (i) => {
    i.type = "CNAME";
    delete i.routingPolicy.healthCheck;
    for (const w of i.routingPolicy.wrrs) {
      delete w.healthCheckedTargets;
      w.rrdatas = ["edge.example."];
    }
  });
  assert.deepEqual(judge(cnames).messages, [
    "traffic-eu-west-wrr: its routing policy names no healthCheck",
    "traffic-eu-west-wrr: wrrs[0] has no health-checked targets",
    "traffic-eu-west-wrr: wrrs[1] has no health-checked targets",
  ]);
  const geoUnchecked = mutated("traffic-eu-west", "traffic-eu-west-wrr", (i) => {
    i.routingPolicy.geos = [{ location: "europe-west4", rrdatas: ["203.0.113.7"] }];
    delete i.routingPolicy.wrrs;
  });
  assert.deepEqual(judge(geoUnchecked).messages, [
    "traffic-eu-west-wrr: geos[0] has no health-checked targets",
  ]);
  assert.equal(
    POLICIES.find((p) => p.name === "weighted-record-health-checked")!.enforcementLevel,
    "mandatory",
  );
});

test("every policy has a fixture that fires and one that keeps it quiet", () => {
  // These have tests of their own below; the DNS-steering policies are judged on
  // geo-steered plans in test/placement, example-never-applied in test/security (08) and by
  // the pack itself in test/policy/pack.test.ts, stack-facts-match-config in
  // test/policy/facts-config.test.ts, traffic- and fleet-migration-order in migration.test.ts.
  const ownTests = [
    metalSshKeySecret.name,
    "stack-facts-match-config",
    "traffic-migration-order",
    "fleet-migration-order",
    "page-has-receiver",
    "stack-facts-declared",
    "no-placeholders",
    "example-placeholders",
    "example-never-applied",
    "weighted-record-health-checked",
    cloudDnsOneRoutingPolicy.name,
    route53LatencyAwsOnly.name,
  ];
  const covered = new Set(fixtures.map(([policy]) => policy).concat(ownTests));
  assert.deepEqual(
    POLICIES.map((p) => p.name).filter((name) => !covered.has(name)),
    [],
  );
});

/** A copy of an example plan with its declared facts changed. */
function withFacts(stack: string, change: (facts: any) => void): Plan {
  const plan = structuredClone(plans.get(stack)!);
  const facts = plan.resources.find((r) => r.type === STACK_FACTS_TYPE);
  assert.ok(facts, `${stack} declares no facts`);
  change(facts.inputs);
  return plan;
}

test("metal-ssh-key-secret: quiet with a secure key, fires on a key the stack stores in plain text", () => {
  assert.deepEqual(verdict(plans.get("metal-sjc")!, "metal-ssh-key-secret"), {
    messages: [],
    judged: 1,
  });
  // The loader refuses such a file; the program declares how Pulumi holds the key.
  const plain = withFacts("metal-sjc", (f) => (f.secrets["avfleet:sshPrivateKey"] = false));
  assert.deepEqual(verdict(plain, metalSshKeySecret.name).messages, [
    "stack-facts: avfleet:sshPrivateKey is stored in plain text in the stack file",
  ]);
});

test("page-has-receiver: every example stack's pages reach a receiver; an alert, a stack or a site without one is refused", async () => {
  const judge = (plan: Plan) => verdict(plan, "page-has-receiver");
  for (const stack of ["aws-us-east-1", "aws-eu-central-1", "gcp-us-west1", "gcp-europe-west4"]) {
    assert.deepEqual(judge(plans.get(stack)!), { messages: [], judged: 1 }, stack);
  }
  for (const stack of ["metal-sjc", "metal-ams"]) {
    assert.deepEqual(judge(plans.get(stack)!), { messages: [], judged: 1 }, stack);
  }
  // a ticket without actions is not this policy's: only pages must reach someone
  const aws = mutated("aws-us-east-1", "aws-use1-alerting-packet-loss-page", (i) => {
    delete i.alarmActions;
  });
  const ticketOnly = mutated("aws-us-east-1", "aws-use1-alerting-packet-loss-ticket", (i) => {
    delete i.alarmActions;
  });
  assert.deepEqual(judge(aws).messages, [
    "aws-use1-alerting-packet-loss-page: page-severity alert aws-use1-alerting-packet-loss-page has no alarmActions: it would page no one",
  ]);
  assert.deepEqual(judge(ticketOnly).messages, []);
  const muted = mutated(
    "aws-us-east-1",
    "aws-use1-alerting-udp-receive-buffer-drops",
    (i) => (i.actionsEnabled = false),
  );
  assert.deepEqual(judge(muted).messages, [
    "aws-use1-alerting-udp-receive-buffer-drops: page-severity alert aws-use1-alerting-udp-receive-buffer-drops has its actions disabled: it would page no one",
  ]);
  const gcp = mutated("gcp-us-west1", "gcp-usw1-alerting-jitter-p95-burn-page", (i) => {
    i.notificationChannels = [];
  });
  assert.deepEqual(judge(gcp).messages, [
    "gcp-usw1-alerting-jitter-p95-burn-page: page-severity alert gcp-usw1-alerting-jitter-p95-burn-page has no notificationChannels: it would page no one",
  ]);
  const site = withFacts("metal-sjc", (f) => delete f.fleet.notify);
  assert.deepEqual(judge(site).messages, [
    "stack-facts: pool metal-sjc's page alerts (Prometheus rules, routed by Alertmanager) have no receiver: the stack declares no alerting.notify.page",
  ]);
  // The program itself, for a stack file that says nowhere: every page alert is refused.
  const doc = YAML.parse(readFileSync(join(STACKS, "Pulumi.aws-us-east-1.yaml"), "utf8"));
  delete doc.config["avfleet:fleet"].alerting;
  delete doc.config["avfleet:notifyPageSecret"];
  const file = join(mkdtempSync(join(tmpdir(), "page-has-receiver-")), "Pulumi.aws-us-east-1.yaml");
  writeFileSync(file, YAML.stringify(doc));
  const [plan] = await evaluateStacks([{ name: "aws-us-east-1", file }]);
  // in any order: the alarms' registration order is the engine's
  const refused = judge(plan)
    .messages.map((m) => m.split(":")[0])
    .sort();
  assert.deepEqual(refused, [
    "aws-use1-alerting-ice-success-page",
    "aws-use1-alerting-jitter-p95-page",
    "aws-use1-alerting-join-success-page",
    "aws-use1-alerting-nic-allowance-exceeded",
    "aws-use1-alerting-packet-loss-page",
    "aws-use1-alerting-pool-silent",
    "aws-use1-alerting-rtt-p95-page",
    "aws-use1-alerting-udp-receive-buffer-drops",
  ]);
  assert.equal(POLICIES.find((p) => p.name === "page-has-receiver")!.enforcementLevel, "mandatory");
});

test("placeholders: every example stack lists its own, advisory; without avfleet:example they are mandatory", () => {
  const advisory = (stack: string) =>
    checkPlan(plans.get(stack)!)
      .filter((v) => v.policy === "example-placeholders")
      .map((v) => `${v.level}: ${v.message}`);
  assert.deepEqual(advisory("metal-sjc"), [
    'advisory: avfleet:fleet.alerting.notify.ticket.email.from is "alertmanager@sjc.ops.example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.alerting.notify.ticket.email.smarthost is "smtp.example.net:587", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.alerting.notify.ticket.email.to[0] is "media-infra@example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.dns.domain is "sjc.media.example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.dns.zone is "Z04517273OFFLINE", which carries the marker OFFLINE: set it to your own value',
    'advisory: avfleet:fleet.endpoint is "edge.sjc.media.example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.ssh.bastion.host is "bastion.sjc.ops.example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: avfleet:fleet.workload.aptSource.uri is "https://apt.media.example.net/debian", which is a name reserved for documentation (RFC 2606): set it to your own value',
    'advisory: inventory/metal-sjc.yaml: hosts[*].publicIp: 48 values like "198.51.100.11", which is a documentation address range (RFC 5737): set them to your own',
  ]);
  assert.deepEqual(
    advisory("aws-us-east-1").map((m) => m.split(" is ")[0]),
    [
      "advisory: avfleet:fleet.adminCidrs[0]",
      "advisory: avfleet:fleet.alerting.notify.ticket.email[0]",
      "advisory: avfleet:fleet.ami",
      "advisory: avfleet:fleet.endpoint",
      "advisory: avfleet:fleet.endpointZone",
      "advisory: avfleet:fleet.subnets[0].id",
      "advisory: avfleet:fleet.subnets[1].id",
      "advisory: avfleet:fleet.subnets[2].id",
      "advisory: avfleet:fleet.vpcId",
      "advisory: avfleet:fleet.workload.aptSource.uri",
    ],
  );
  for (const stack of plans.keys()) {
    assert.ok(advisory(stack).length > 0, `${stack} is an example with no placeholder found`);
  }
  const applied = withFacts("traffic-us-west", (f) => (f.example = false));
  const mandatory = checkPlan(applied).filter((v) => v.level === "mandatory");
  assert.deepEqual(
    mandatory.map((v) => `${v.policy}: ${v.message}`),
    [
      'no-placeholders: avfleet:traffic.dns.recordName is "join.us-west.media.example.net", which is a name reserved for documentation (RFC 2606): set it to your own value',
      'no-placeholders: avfleet:traffic.dns.zone is "Z04517273OFFLINE", which carries the marker OFFLINE: set it to your own value',
    ],
  );
});

test("placeholderReason: flags made-up values, passes real-looking ones", () => {
  for (const value of [
    "Z04517273OFFLINE",
    "Z3M3LMPEXAMPLE",
    "ami-0abcdef1234567890",
    "vpc-0a1b2c3d4e5f60718",
    "subnet-0a11b22c33d44e551",
    "edge.example.com",
    "join.media.example.net.",
    "198.51.100.0/24",
    "203.0.113.16/28",
    "2001:db8::/32",
    // a receiver copied from an example would page no one
    "media-infra@example.net",
    "https://alerts.example.net/avfleet/page",
    "smtp.example.net:587",
    "arn:aws:sns:eu-central-1:111122223333:media-pages",
    "projects/media-prod-euw4/notificationChannels/1234567890",
  ]) {
    assert.ok(placeholderReason(value), value);
  }
  for (const value of [
    "Z1R8UBAEXAMPL",
    "ami-0e5f9a3c2b1d47e86",
    "vpc-07f3e1a9c2d84b5b6",
    "media.examplecorp.net",
    "10.20.250.0/28",
    "media-prod-usw1",
    "c2d-highcpu-32",
    "oncall@media.examplecorp.net",
    "arn:aws:sns:eu-central-1:480913274615:media-pages",
    "projects/media-prod-euw4/notificationChannels/8302716495",
  ]) {
    assert.equal(placeholderReason(value), undefined, value);
  }
});

test("a stack without facts is one clear violation, and no policy that needs them crashes", () => {
  const plan = structuredClone(plans.get("gcp-us-west1")!);
  plan.resources = plan.resources.filter((r) => r.type !== STACK_FACTS_TYPE);
  const { violations, judged } = evaluatePolicies(plan);
  assert.deepEqual(
    violations.map((v) => `${v.policy}: ${v.message}`),
    [
      `stack-facts-declared: the stack declares no ${STACK_FACTS_TYPE}: the policies that need it judge nothing`,
    ],
  );
  assert.equal(judged["host-tuning-present"], 0);
  assert.equal(judged["gcp-gvnic"], 1, "policies on resource inputs alone still judge");
  const stale = withFacts("gcp-us-west1", (f) => (f.version = 0));
  assert.deepEqual(
    checkPlan(stale).map((v) => v.message),
    [`its ${STACK_FACTS_TYPE} is version 0, expected 1: the policies that need it judge nothing`],
  );
});

test("avfleet policy exits 1 on a mandatory violation and prints how to fix it", async () => {
  const { avfleet } = await import("../support/cli");
  const dir = mkdtempSync(join(tmpdir(), "avfleet-policy-cli-"));
  const doc = YAML.parse(readFileSync(join(STACKS, "Pulumi.gcp-us-west1.yaml"), "utf8"));
  doc.config["avfleet:fleet"].maxHosts = 40;
  writeFileSync(join(dir, "Pulumi.gcp-us-west1.yaml"), YAML.stringify(doc));
  const result = avfleet(["policy", "--stacks-dir", dir]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(
    result.stdout,
    [
      "gcp-us-west1: 6 violation(s)",
      "  [mandatory] capacity-covers-demand: avfleet-gcp-us-west1: 40 hosts at most, but the media region's peak needs 66 (headroom 0.3, N+1)",
      "      fix: Raise avfleet:fleet.maxHosts (metal: add active hosts to the inventory avfleet:fleet.inventory names), use a larger avfleet:fleet.machineType / instanceType, or correct avfleet:fleet.demand.",
      ...[
        'avfleet:fleet.adminCidrs[0] is "198.51.100.0/24", which is a documentation address range (RFC 5737)',
        'avfleet:fleet.adminCidrs[1] is "203.0.113.16/28", which is a documentation address range (RFC 5737)',
        'avfleet:fleet.alerting.notify.ticket.email[0] is "media-infra@example.net", which is a name reserved for documentation (RFC 2606)',
        'avfleet:fleet.endpoint is "edge.gcp-usw1.media.example.net", which is a name reserved for documentation (RFC 2606)',
        'avfleet:fleet.workload.aptSource.uri is "https://apt.media.example.net/debian", which is a name reserved for documentation (RFC 2606)',
      ].flatMap((finding) => [
        `  [advisory] example-placeholders: stack-facts: ${finding}: set it to your own value`,
        "      fix: Set each avfleet: key the violation names (e.g. avfleet:fleet.dns.zone, avfleet:fleet.adminCidrs[0]) in stacks/Pulumi.<stack>.yaml to your own value (pulumi config set --path, --secret for a secret); see docs/reference/policy-pack.md, Placeholders. Then remove avfleet:example.",
      ]),
      `policy: 1 stacks, ${POLICIES.length} policies, 1 mandatory and 5 advisory violation(s)`,
      "",
    ].join("\n"),
  );
});

test("avfleet policy: a placeholder in a stack that is not an example is mandatory and names the key", async () => {
  const { avfleet } = await import("../support/cli");
  const dir = mkdtempSync(join(tmpdir(), "policy-placeholders-"));
  const doc = YAML.parse(readFileSync(join(STACKS, "Pulumi.gcp-europe-west4.yaml"), "utf8"));
  delete doc.config["avfleet:example"];
  // Ciphertext-shaped (random bytes): the example's base64 text is refused at load (#27).
  for (const value of Object.values(doc.config) as { secure?: string }[])
    if (value?.secure)
      value.secure = "v1:nMHuV0TSs6HI4P8B:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  writeFileSync(join(dir, "Pulumi.gcp-europe-west4.yaml"), YAML.stringify(doc));
  const result = avfleet(["policy", "--stacks-dir", dir]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stdout,
    /\n {2}\[mandatory\] no-placeholders: stack-facts: avfleet:fleet\.endpoint is "edge\.gcp-euw4\.media\.example\.net", which is a name reserved for documentation \(RFC 2606\): set it to your own value\n/,
  );
  assert.match(
    result.stdout,
    /policy: 1 stacks, \d+ policies, 5 mandatory and 0 advisory violation\(s\)\n$/,
  );
});

test("aws-drain-hook: a 4-hour drain held by a 7200 s hook (the agent heartbeats it) passes; a shorter hook does not (#28)", () => {
  const longDrain = (heartbeatTimeout: number) => {
    const plan = withFacts("aws-us-east-1", (f) => (f.fleet.drainSeconds = 14_400));
    plan.resources.find((r) => r.name === "aws-use1-drain-hook")!.inputs.heartbeatTimeout =
      heartbeatTimeout;
    return plan;
  };
  assert.deepEqual(verdict(longDrain(7200), "aws-drain-hook"), { messages: [], judged: 1 });
  assert.deepEqual(verdict(longDrain(3600), "aws-drain-hook").messages, [
    "aws-use1-drain-hook: the drain hook's heartbeat 3600 s is shorter than 7200 (drainSeconds 14400)",
  ]);
});
