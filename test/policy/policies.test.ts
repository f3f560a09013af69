import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { listStacks, loadStacks } from "../../modules/config/stack";
import { evaluateStacks } from "../../modules/plan/evaluate";
import type { Plan, PlanResource } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy";
import { metalSshKeySecret } from "../../modules/policy/hosts";
import { checkPlan, evaluatePolicies } from "../../modules/policy/runner";
import { useStacksDir } from "../../modules/policy/stack-context";
import { ROOT } from "../support/cli";

const STACKS = join(ROOT, "stacks");
const plans = new Map<string, Plan>();

// Every stack file in stacks/, so a new stack is checked without editing this test.
before(async () => {
  useStacksDir(STACKS);
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
    ["aws-use1-sg: opens every protocol and port to the Internet"],
  ],
  [
    "admin-ports-not-from-internet",
    "gcp-us-west1",
    () => mutated("gcp-us-west1", "gcp-usw1-fw-ssh", (i) => (i.sourceRanges = ["0.0.0.0/0"])),
    ["gcp-usw1-fw-ssh: opens TCP 22 to 0.0.0.0/0"],
  ],
  [
    "admin-ports-not-from-internet",
    "aws-us-east-1",
    () => mutated("aws-us-east-1", "aws-use1-sg", (i) => (i.ingress[2].ipv6CidrBlocks = ["::/0"])),
    ["aws-use1-sg: opens TCP 22 to ::/0"],
  ],
  [
    "host-tuning-present",
    "gcp-us-west1",
    () =>
      mutated(
        "gcp-us-west1",
        "gcp-usw1-template",
        (i) => (i.metadata["user-data"] = "#cloud-config\nruncmd: [[echo, hi]]\n"),
      ),
    ["gcp-usw1-template: carries no avfleet-tune marker: the host would boot untuned"],
  ],
  [
    "host-tuning-present",
    "metal-sjc",
    () =>
      mutated(
        "metal-sjc",
        "metal-sjc-sjc-m001-tune",
        (i) => (i.create = i.create.replace("profile=media-udp", "profile=baseline")),
      ),
    ["metal-sjc-sjc-m001-tune: carries profile=baseline, but the stack names profile=media-udp"],
  ],
  [
    "host-tuning-present",
    "aws-us-east-1",
    () =>
      mutated("aws-us-east-1", "aws-use1-lt", (i) => {
        const text = Buffer.from(i.userData, "base64")
          .toString()
          .replace("# avfleet-tune 1 ", "# avfleet-tune 0 ");
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
    () => mutated("gcp-us-west1", "gcp-usw1-mig", (i) => (i.updatePolicy.maxUnavailableFixed = 3)),
    ["gcp-usw1-mig: a rollout may take hosts out of service before replacements are up"],
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
    () =>
      mutated(
        "aws-us-east-1",
        "aws-use1-asg",
        (i) => (i.initialLifecycleHooks[0].heartbeatTimeout = 600),
      ),
    ["aws-use1-asg: the drain hook's heartbeat 600 s is shorter than drainSeconds 1800"],
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
];

for (const [policy, quietStack, fire, expected] of fixtures) {
  test(`${policy}: quiet on ${quietStack}, fires when broken`, () => {
    const quiet = verdict(plans.get(quietStack)!, policy);
    assert.ok(quiet.judged > 0, `${policy} judged nothing in ${quietStack}`);
    assert.deepEqual(quiet.messages, []);
    assert.deepEqual(verdict(fire(), policy).messages, expected);
  });
}

test("every policy has a fixture that fires and one that keeps it quiet", () => {
  const covered = new Set(fixtures.map(([policy]) => policy).concat(metalSshKeySecret.name));
  assert.deepEqual(
    POLICIES.map((p) => p.name).filter((name) => !covered.has(name)),
    [],
  );
});

test("metal-ssh-key-secret: quiet with a secure key, fires on a plain-text key in the stack file", () => {
  assert.deepEqual(verdict(plans.get("metal-sjc")!, "metal-ssh-key-secret"), {
    messages: [],
    judged: 46,
  });
  // The loader refuses such a file; the pack, which sees decrypted values, checks the file itself.
  const dir = mkdtempSync(join(tmpdir(), "avfleet-policy-"));
  const doc = YAML.parse(readFileSync(join(STACKS, "Pulumi.metal-sjc.yaml"), "utf8"));
  doc.config["avfleet:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----";
  writeFileSync(join(dir, "Pulumi.metal-sjc.yaml"), YAML.stringify(doc));
  useStacksDir(dir);
  try {
    const violations = checkPlan(plans.get("metal-sjc")!, [metalSshKeySecret]);
    assert.equal(violations.length, 46);
    assert.equal(
      violations[0].message,
      "avfleet:sshPrivateKey is stored in plain text in the stack file",
    );
  } finally {
    useStacksDir(STACKS);
  }
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
      "gcp-us-west1: 1 violation(s)",
      "  [mandatory] capacity-covers-demand: avfleet-gcp-us-west1: 40 hosts at most, but the media region's peak needs 66 (headroom 0.3, N+1)",
      "      fix: Raise maxHosts (or add active hosts), use a larger machine type, or correct avfleet:fleet.demand.",
      `policy: 1 stacks, ${POLICIES.length} policies, 1 mandatory and 0 advisory violation(s)`,
      "",
    ].join("\n"),
  );
});
