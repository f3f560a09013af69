/**
 * Finding 4: any host could forge the load metric another pool scales on. AWS: every pool's
 * hosts could PutMetricData into the one namespace all pools' target tracking and alarms read.
 * GCP: Cloud Monitoring's metricWriter cannot be narrowed, so the scale-in controller no longer
 * trusts the gauge: it reads each member's load from the guest attribute only that VM can
 * write, and does not follow a (forged) low recommendation below what those loads need.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { loadStacks } from "../../modules/stacks/stack";
import { hostPolicy } from "../../modules/fleets/aws-args";
import { autoscalerTarget } from "../../modules/gcp-scale-in/pool";
import {
  SCALE_IN_INSPECT_PERMISSIONS,
  SCALE_IN_READ_PERMISSIONS,
} from "../../modules/gcp-scale-in/controller";
import { mayPutMetricData } from "../../bench/host/stand-ins";
import { evaluateExamples, resource } from "../support/plans";
import { EUW4, euw4Pass } from "../support/scale-in";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const ARN = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/x";

test("AWS: a host may publish only into its own pool's namespace, which is what its pool scales on", async () => {
  const [use1, euc1] = await evaluateExamples("aws-us-east-1", "aws-eu-central-1");
  const scalesOn = (plan: typeof use1, pool: string) =>
    resource(plan, `${pool}-media-load`).inputs.targetTrackingConfiguration
      .customizedMetricSpecification.namespace as string;
  assert.equal(scalesOn(use1, "aws-use1"), "AVFleet/Media/aws-use1");
  assert.equal(scalesOn(euc1, "aws-euc1"), "AVFleet/Media/aws-euc1");
  const policy = (plan: typeof use1, pool: string) =>
    JSON.parse(resource(plan, `${pool}-policy`).inputs.policy);
  // each pool's hosts feed their own autoscaler...
  assert.equal(mayPutMetricData(policy(use1, "aws-use1"), scalesOn(use1, "aws-use1")), true);
  assert.equal(mayPutMetricData(policy(euc1, "aws-euc1"), scalesOn(euc1, "aws-euc1")), true);
  // ...and cannot write a point into the other's, whatever AutoScalingGroupName they name
  assert.equal(mayPutMetricData(policy(euc1, "aws-euc1"), scalesOn(use1, "aws-use1")), false);
  assert.equal(mayPutMetricData(policy(use1, "aws-use1"), scalesOn(euc1, "aws-euc1")), false);
  assert.equal(mayPutMetricData(policy(use1, "aws-use1"), "AVFleet/Media"), false);
  // the role renders the same for any ARN: the namespace comes from the pool alone
  const spec = loadStacks(join(ROOT, "stacks"), ["aws-us-east-1"])[0].document.config[
    "avfleet:fleet"
  ] as AwsFleetSpec;
  assert.deepEqual(hostPolicy(spec, ARN).Statement[0], policy(use1, "aws-use1").Statement[0]);
});

test("GCP: a forged low gauge drains no busy pool, and no host's series picks who drains", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  // the controller cannot even read the gauge any metricWriter of the project can write
  assert.deepEqual(
    [...SCALE_IN_READ_PERMISSIONS, ...SCALE_IN_INSPECT_PERMISSIONS].filter((p) =>
      p.startsWith("monitoring."),
    ),
    [],
  );
  const target = autoscalerTarget(EUW4);
  assert.equal(target, 4200);
  const now = Math.floor(Date.now() / 1000);
  // what a forged gauge of 0 streams on every VM makes the autoscaler recommend: 1
  const { report, problems } = await euw4Pass(1, [
    { name: "gcp-euw4-c3d4", zone: "europe-west4-b", id: "6000000000000000001", load: 4100 },
    { name: "gcp-euw4-e5f6", zone: "europe-west4-c", id: "6000000000000000002", load: 3900 },
    // an agent of #28: 300 streams, 8 calls expected at the drain limit
    {
      name: "gcp-euw4-g7h8",
      zone: "europe-west4-a",
      id: "6000000000000000003",
      guest: { "avfleet/load": `${now} 300 8.00` },
    },
    // its own word is 10 minutes old, or unreadable: no load it can be picked by
    {
      name: "gcp-euw4-i9j0",
      zone: "europe-west4-b",
      id: "6000000000000000004",
      guest: { "avfleet/load": `${now - 600} 0` },
    },
    {
      name: "gcp-euw4-k1l2",
      zone: "europe-west4-c",
      id: "6000000000000000005",
      guest: { "avfleet/load": "0 streams" },
    },
  ]);
  assert.deepEqual(problems, []);
  // 8300 streams of the members' own word need 2 hosts at 4200 each, and 3 hosts' loads are
  // unknown (this VM runs no agent here): of 6, one may go, the one with the fewest calls at
  // the limit; the two left serving are both needed, none cordoned
  assert.deepEqual(report, {
    size: 6,
    recommended: 5,
    draining: 0,
    marked: ["gcp-euw4-g7h8"],
    waiting: [],
    cordoned: [],
    deleted: [],
    blind: [],
  });
});

test("GCP: the recommendation is followed down to, not below, the hosts the members' own loads need", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const run = spawnSync(
    "python3",
    [
      "-c",
      [
        "import importlib.util, json",
        `spec = importlib.util.spec_from_file_location("main", ${JSON.stringify(join(ROOT, "modules/gcp-scale-in/controller.py"))})`,
        "main = importlib.util.module_from_spec(spec); spec.loader.exec_module(main)",
        "h = lambda *loads: [{'load': l} for l in loads]",
        "print(json.dumps([main.trusted_recommendation(1, h(2700, 2600, 300, None), 2880),",
        "  main.trusted_recommendation(1, h(2700, 2600, 300), 2880),",
        "  main.trusted_recommendation(4, h(2700, 2600), 2880),",
        "  main.trusted_recommendation(0, h(5760), 2880),",
        "  main.trusted_recommendation(0, h(5761), 2880),",
        "  main.trusted_recommendation(None, h(9999), 2880),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'avfleet', 'key': 'load', 'value': '990 12'}]}}, 1000, 4),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'avfleet', 'key': 'load', 'value': '990 12 2.50'}]}}, 1000, 4),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'avfleet', 'key': 'load', 'value': '990 12 nan'}]}}, 1000, 4),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'avfleet', 'key': 'load', 'value': '990 12 2 7'}]}}, 1000, 4),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'avfleet', 'key': 'load', 'value': '990 -3'}]}}, 1000, 4),",
        "  main.own_load({'queryValue': {'items': [{'namespace': 'other', 'key': 'load', 'value': '990 12'}]}}, 1000, 4)]))",
      ].join("\n"),
    ],
    { encoding: "utf8", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
  );
  assert.equal(run.status, 0, run.stderr);
  // an old agent's two fields count its 12 streams as 3 calls left at the limit (4 a session)
  assert.deepEqual(JSON.parse(run.stdout), [
    3,
    2,
    4,
    2,
    3,
    null,
    [12, 3],
    [12, 2.5],
    [null, null],
    [null, null],
    [null, null],
    [null, null],
  ]);
});
