/**
 * The rollout's provider actions on a cloud pool: the exact argv of each step, the reading of
 * each answer (shaped as the providers' API references give them), and the rules each cites.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { awsRollout, gcpRollout } from "../../modules/release/cloud-rollout";
import { ALL_RULES } from "../../modules/providers/rules";

const GCP = {
  project: "media-prod-usw1",
  region: "us-west1",
  instanceGroupManager: "gcp-usw1-mig",
};
const AWS = { region: "us-east-1", autoScalingGroup: "aws-use1-media" };
const RELEASE = "r-0123456789ab";
const ids = (steps: { rules: { id: string }[] }[]) =>
  steps.flatMap((s) => s.rules.map((r) => r.id));

test("GCP: drain marks each VM as the scale-in controller does, with the release it drains for", () => {
  const steps = gcpRollout.drain(
    GCP,
    [
      { name: "gcp-usw1-ab12", zone: "us-west1-a" },
      { name: "gcp-usw1-cd34", zone: "us-west1-b" },
    ],
    RELEASE,
    new Date("2026-12-04T10:00:00.123Z"),
  );
  assert.deepEqual(
    steps.map((s) => s.argv),
    ["gcp-usw1-ab12 us-west1-a", "gcp-usw1-cd34 us-west1-b"].map((vm) => {
      const [name, zone] = vm.split(" ");
      return [
        "gcloud",
        "compute",
        "instances",
        "add-metadata",
        name,
        `--zone=${zone}`,
        "--metadata=avfleet-drain=true,avfleet-drain-at=2026-12-04T10:00:00Z,avfleet-drain-for=r-0123456789ab",
        "--project=media-prod-usw1",
      ];
    }),
  );
  assert.deepEqual([...new Set(ids(steps))], ["gcp.gce.add-metadata"]);
});

test("GCP: drained reads the agent's guest attribute; done is its first word", () => {
  const host = { name: "gcp-usw1-ab12", zone: "us-west1-a" };
  assert.deepEqual(gcpRollout.drained(GCP, host).argv, [
    "gcloud",
    "compute",
    "instances",
    "get-guest-attributes",
    "gcp-usw1-ab12",
    "--zone=us-west1-a",
    "--query-path=avfleet/",
    "--format=json",
    "--project=media-prod-usw1",
  ]);
  const item = (value: string) => ({ namespace: "avfleet", key: "drain", value });
  // The API's GuestAttributes, and a bare list of its items.
  assert.equal(
    gcpRollout.drainDone({
      queryPath: "avfleet/",
      queryValue: { items: [item("done 1764842400 0")] },
    }),
    true,
  );
  assert.equal(
    gcpRollout.drainDone([item("done 1764842400 2")]),
    true,
    "done at the limit, 2 calls cut",
  );
  assert.equal(gcpRollout.drainDone([item("draining 1764842400 5")]), false);
  assert.equal(gcpRollout.drainDone([{ namespace: "other", key: "drain", value: "done" }]), false);
  assert.equal(gcpRollout.drainDone({}), false, "none written yet");
  assert.equal(gcpRollout.drainDone(null), false);
});

test("GCP: replace recreates the drained VMs from the MIG's template; running reads each VM's template", () => {
  const step = gcpRollout.replace(GCP, [
    { name: "gcp-usw1-ab12", zone: "us-west1-a" },
    { name: "gcp-usw1-cd34", zone: "us-west1-b" },
  ]);
  assert.deepEqual(step.argv, [
    "gcloud",
    "compute",
    "instance-groups",
    "managed",
    "recreate-instances",
    "gcp-usw1-mig",
    "--region=us-west1",
    "--instances=gcp-usw1-ab12,gcp-usw1-cd34",
    "--format=json",
    "--project=media-prod-usw1",
  ]);
  assert.deepEqual(ids([step]), [
    "gcp.mig.recreate",
    "gcp.gce.stop-limit",
    "gcp.mig.autohealing",
    "gcp.mig.update-policy",
  ]);
  assert.deepEqual(gcpRollout.running(GCP).argv, [
    "gcloud",
    "compute",
    "instance-groups",
    "managed",
    "list-instances",
    "gcp-usw1-mig",
    "--region=us-west1",
    "--format=json",
    "--project=media-prod-usw1",
  ]);
  const link = (n: string) =>
    `https://www.googleapis.com/compute/v1/projects/media-prod-usw1/global/instanceTemplates/gcp-usw1-${n}`;
  const answer = [
    {
      instance:
        "https://www.googleapis.com/compute/v1/projects/media-prod-usw1/zones/us-west1-a/instances/gcp-usw1-ab12",
      instanceStatus: "RUNNING",
      targetStatus: "RUNNING",
      currentAction: "NONE",
      version: { name: "primary", instanceTemplate: link("0002") },
    },
    {
      instance:
        "https://www.googleapis.com/compute/v1/projects/media-prod-usw1/zones/us-west1-b/instances/gcp-usw1-cd34",
      instanceStatus: "STOPPING",
      targetStatus: "RUNNING",
      currentAction: "RECREATING",
      version: { name: "primary", instanceTemplate: link("0001") },
    },
    // a standby member the MIG keeps stopped, made from the old template
    {
      instance:
        "https://www.googleapis.com/compute/v1/projects/media-prod-usw1/zones/us-west1-c/instances/gcp-usw1-ef56",
      instanceStatus: "TERMINATED",
      targetStatus: "STOPPED",
      currentAction: "NONE",
      version: { name: "primary", instanceTemplate: link("0001") },
    },
  ];
  assert.deepEqual(gcpRollout.runningHosts(answer).slice(0, 2), [
    {
      name: "gcp-usw1-ab12",
      zone: "us-west1-a",
      template: link("0002"),
      status: "RUNNING",
      action: "NONE",
      target: "RUNNING",
    },
    {
      name: "gcp-usw1-cd34",
      zone: "us-west1-b",
      template: link("0001"),
      status: "STOPPING",
      action: "RECREATING",
      target: "RUNNING",
    },
  ]);
  assert.deepEqual(gcpRollout.runningHosts({}), []);
  // The MIG points at 0002 (its unique link names the same template): the stopped member of
  // 0001 is recreated; a running one of 0001 is the batches' to drain first.
  const pointed = { versions: [{ instanceTemplate: `${link("0002")}?uniqueId=123` }] };
  assert.deepEqual(gcpRollout.staleStandby(answer, pointed), [
    { name: "gcp-usw1-ef56", zone: "us-west1-c" },
  ]);
  assert.deepEqual(
    gcpRollout.staleStandby(answer, { versions: [{ instanceTemplate: link("0001") }] }),
    [],
  );
  assert.deepEqual(gcpRollout.staleStandby(answer, {}), []);
});

test("AWS: drain terminates each instance without decrementing; the group launches the replacement", () => {
  const steps = awsRollout.drain(AWS, ["i-0a1", "i-0b2"]);
  assert.deepEqual(steps[1].argv, [
    "aws",
    "autoscaling",
    "terminate-instance-in-auto-scaling-group",
    "--instance-id",
    "i-0b2",
    "--no-should-decrement-desired-capacity",
    "--region",
    "us-east-1",
    "--output",
    "json",
  ]);
  assert.deepEqual(ids([steps[0]]), [
    "aws.asg.terminate-instance",
    "aws.asg.termination",
    "aws.nlb.deregistration",
    "aws.asg.hook-timeout",
    "aws.asg.launch-template-version",
  ]);
});

test("AWS: drained reads lifecycle states, 50 ids a call; an instance the group no longer knows is gone", () => {
  const many = Array.from({ length: 51 }, (_, i) => `i-${i}`);
  const steps = awsRollout.drained(AWS, many);
  assert.equal(steps.length, 2);
  assert.deepEqual(steps[1].argv, [
    "aws",
    "autoscaling",
    "describe-auto-scaling-instances",
    "--instance-ids",
    "i-50",
    "--region",
    "us-east-1",
    "--output",
    "json",
  ]);
  const answer = {
    AutoScalingInstances: [
      {
        InstanceId: "i-0a1",
        LifecycleState: "Terminating:Wait",
        AutoScalingGroupName: "aws-use1-media",
      },
      { InstanceId: "i-0b2", LifecycleState: "Terminating:Proceed" },
      { InstanceId: "i-0c3", LifecycleState: "InService" },
    ],
  };
  assert.deepEqual(
    [...awsRollout.drainStages(answer, ["i-0a1", "i-0b2", "i-0c3", "i-0d4"])],
    [
      ["i-0a1", "draining"],
      ["i-0b2", "draining"],
      ["i-0c3", "serving"],
      ["i-0d4", "gone"],
    ],
  );
});

test("AWS: running reads each instance's launch template version; the warm pool is refreshed apart", () => {
  assert.deepEqual(awsRollout.running(AWS).argv, [
    "aws",
    "autoscaling",
    "describe-auto-scaling-groups",
    "--auto-scaling-group-names",
    "aws-use1-media",
    "--region",
    "us-east-1",
    "--output",
    "json",
  ]);
  const answer = {
    AutoScalingGroups: [
      {
        AutoScalingGroupName: "aws-use1-media",
        Instances: [
          {
            InstanceId: "i-0e5",
            AvailabilityZone: "us-east-1a",
            LifecycleState: "InService",
            LaunchTemplate: { LaunchTemplateId: "lt-0abc", Version: "4" },
          },
          {
            InstanceId: "i-0f6",
            AvailabilityZone: "us-east-1b",
            LifecycleState: "Pending:Wait",
            LaunchTemplate: { LaunchTemplateId: "lt-0abc", Version: "4" },
          },
        ],
      },
    ],
  };
  assert.deepEqual(awsRollout.runningHosts(answer), [
    { id: "i-0e5", zone: "us-east-1a", state: "InService", version: 4 },
    { id: "i-0f6", zone: "us-east-1b", state: "Pending:Wait", version: 4 },
  ]);
  assert.deepEqual(awsRollout.warmPool(AWS).argv, [
    "aws",
    "autoscaling",
    "describe-warm-pool",
    "--auto-scaling-group-name",
    "aws-use1-media",
    "--region",
    "us-east-1",
    "--output",
    "json",
  ]);
  assert.deepEqual(awsRollout.refreshWarmPool(AWS, ["i-0a7", "i-0b8"]).argv, [
    "aws",
    "ec2",
    "terminate-instances",
    "--instance-ids",
    "i-0a7",
    "i-0b8",
    "--region",
    "us-east-1",
    "--output",
    "json",
  ]);
});

test("every rule a step cites is a provider rule of the model", () => {
  const host = { name: "gcp-usw1-ab12", zone: "us-west1-a" };
  const steps = [
    ...gcpRollout.drain(GCP, [host], RELEASE, new Date(0)),
    gcpRollout.drained(GCP, host),
    gcpRollout.replace(GCP, [host]),
    gcpRollout.running(GCP),
    ...awsRollout.drain(AWS, ["i-0a1"]),
    ...awsRollout.drained(AWS, ["i-0a1"]),
    awsRollout.running(AWS),
    awsRollout.warmPool(AWS),
    awsRollout.refreshWarmPool(AWS, ["i-0a1"]),
  ];
  for (const id of ids(steps))
    assert.ok(
      ALL_RULES.some((r) => r.id === id),
      id,
    );
});
