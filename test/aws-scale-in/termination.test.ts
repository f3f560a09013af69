/**
 * The AWS custom termination policy (modules/aws-scale-in/termination.py): its choice on a table
 * of invocations, a whole invocation run by python3 against stand-in CloudWatch and Auto Scaling
 * clients that check each request's documented shape, the per-instance reading the agent
 * publishes for it, and what a pool declares for it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  terminationConfig,
  terminationPolicy,
  TERMINATION_KEY,
  TERMINATION_SOURCE,
} from "../../modules/aws-scale-in/termination";
import { agentConfig } from "../../modules/host/agent";
import { TERMINATION_ENV } from "../../policy/contract/rules";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { forcesReplacement } from "../../modules/providers/replacement";
import { loadStacks } from "../../modules/stacks/stack";
import { evaluateExamples, resource } from "../support/plans";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const POLICY = join(ROOT, "modules/aws-scale-in/termination.py");
const AGENT = join(ROOT, "modules/host-agent");
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
const load = [
  "import importlib.util, json, sys",
  `spec = importlib.util.spec_from_file_location("termination", ${JSON.stringify(POLICY)})`,
  "main = importlib.util.module_from_spec(spec); spec.loader.exec_module(main)",
].join("\n");

const spec = loadStacks(join(ROOT, "stacks"), ["aws-us-east-1"])[0].fleet as AwsFleetSpec;

function python(script: string, input: unknown, env: Record<string, string> = {}) {
  const run = spawnSync("python3", ["-c", script], {
    input: JSON.stringify(input),
    encoding: "utf8",
    env: { ...PY_ENV, ...env },
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

const instance = (id: string, zone: string, market = "on-demand") => ({
  AvailabilityZone: zone,
  InstanceId: id,
  InstanceType: "c6in.4xlarge",
  InstanceMarketOption: market,
});
/** Four candidates in us-east-1a, two in us-east-1b; AWS asks for two and one. */
const EVENT = {
  AutoScalingGroupARN:
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/aws-use1-media",
  AutoScalingGroupName: "aws-use1-media",
  CapacityToTerminate: [
    { AvailabilityZone: "us-east-1a", Capacity: 2, InstanceMarketOption: "on-demand" },
    { AvailabilityZone: "us-east-1b", Capacity: 1, InstanceMarketOption: "on-demand" },
  ],
  Instances: [
    instance("i-a1", "us-east-1a"),
    instance("i-a2", "us-east-1a"),
    instance("i-a3", "us-east-1a"),
    instance("i-a4", "us-east-1a"),
    instance("i-b1", "us-east-1b"),
    instance("i-b2", "us-east-1b"),
  ],
  Cause: "SCALE_IN",
};
const READINGS = { "i-a1": 10, "i-a2": 2, "i-a3": 40, "i-b1": 50, "i-b2": 3 };

test("choose: per zone exactly the count AWS asks, outdated first, then the fewest calls expected at the drain limit, a host without a reading after those with one, none over the budget unless outdated (those are held)", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const cases = [
    // a3 is over the budget but outdated; a4 has no reading; b1 is over the budget
    [EVENT, READINGS, ["i-a3"], 35],
    // nothing outdated: a2 (2 calls), a1 (10); a3 (40) is held; a4 (no reading) not needed
    [EVENT, READINGS, [], 35],
    // zone b's hosts all over a budget of 2: it returns fewer than asked, the group asks again;
    // in zone a, a4 (no reading) goes before a1 and a3, held
    [EVENT, READINGS, [], 2],
    // only a2 and b2 within a budget of 5: a4 (no reading) comes before the held ones
    [EVENT, READINGS, [], 5],
    // a spot need takes only spot instances
    [
      {
        ...EVENT,
        CapacityToTerminate: [
          { AvailabilityZone: "us-east-1a", Capacity: 1, InstanceMarketOption: "spot" },
        ],
        Instances: [...EVENT.Instances, instance("i-s1", "us-east-1a", "spot")],
      },
      { ...READINGS, "i-s1": 30 },
      [],
      35,
    ],
    // not a scale-in: every suggested instance, the group's other policies choose
    [{ ...EVENT, Cause: "INSTANCE_REFRESH" }, READINGS, [], 35],
    // the readings or the group could not be read: the same
    [EVENT, null, [], 35],
    [EVENT, READINGS, null, 35],
    // no host publishes a reading (agents from before the policy): the same
    [EVENT, {}, [], 35],
  ];
  const got = python(
    `${load}
json.dump([main.choose(e, r, None if o is None else set(o), b) for e, r, o, b in json.load(sys.stdin)], sys.stdout)`,
    cases,
  );
  const every = EVENT.Instances.map((i) => i.InstanceId);
  assert.deepEqual(got, [
    [{ InstanceIDs: ["i-a3", "i-a2", "i-b2"] }, ["i-b1"]],
    [{ InstanceIDs: ["i-a2", "i-a1", "i-b2"] }, ["i-a3", "i-b1"]],
    [{ InstanceIDs: ["i-a2", "i-a4"] }, ["i-a1", "i-a3", "i-b2", "i-b1"]],
    [{ InstanceIDs: ["i-a2", "i-a4", "i-b2"] }, ["i-a1", "i-a3", "i-b1"]],
    [{ InstanceIDs: ["i-s1"] }, []],
    [{ InstanceIDs: every }, []],
    [{ InstanceIDs: every }, []],
    [{ InstanceIDs: every }, []],
    [{ InstanceIDs: every }, []],
  ]);
});

test("outdated_ids: the instances not on the group's launch template version", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const lt = (version: string, id = "lt-1") => ({ LaunchTemplateId: id, Version: version });
  const got = python(
    `${load}\njson.dump(sorted(main.outdated_ids(json.load(sys.stdin))), sys.stdout)`,
    {
      LaunchTemplate: lt("7"),
      Instances: [
        { InstanceId: "i-new", LaunchTemplate: lt("7") },
        { InstanceId: "i-old", LaunchTemplate: lt("6") },
        { InstanceId: "i-other", LaunchTemplate: lt("7", "lt-2") },
      ],
    },
  );
  assert.deepEqual(got, ["i-old", "i-other"]);
  // A group on $Latest names no version an instance's can be compared to: none is outdated.
  const latest = python(
    `${load}\njson.dump(sorted(main.outdated_ids(json.load(sys.stdin))), sys.stdout)`,
    {
      LaunchTemplate: lt("$Latest"),
      Instances: [{ InstanceId: "i-old", LaunchTemplate: lt("6") }],
    },
  );
  assert.deepEqual(latest, []);
});

/** Stand-in boto3: CloudWatch answers each query from `values` by its InstanceId dimension. */
const standIns = `
import types, datetime
requests = []
class CloudWatch:
    def get_metric_data(self, **kw):
        requests.append(("GetMetricData", kw))
        if FAIL: raise TimeoutError("read timeout")
        def value(q):
            dims = {d["Name"]: d["Value"] for d in q["MetricStat"]["Metric"]["Dimensions"]}
            return VALUES.get(dims["InstanceId"])
        return {"MetricDataResults": [
            {"Id": q["Id"], "Values": [] if value(q) is None else [value(q), 99.0]} for q in kw["MetricDataQueries"]]}
class AutoScaling:
    def describe_auto_scaling_groups(self, **kw):
        requests.append(("DescribeAutoScalingGroups", kw))
        lt = lambda v: {"LaunchTemplateId": "lt-1", "Version": v}
        return {"AutoScalingGroups": [{"LaunchTemplate": lt("3"), "DesiredCapacity": DESIRED, "Instances": [
            {"InstanceId": i, "LaunchTemplate": lt("2" if i == "i-a1" else "3")} for i in ("i-a1", "i-a2", "i-a3", "i-a4", "i-b1", "i-b2")]}]}
boto3 = types.ModuleType("boto3")
boto3.client = lambda name, config=None: {"cloudwatch": CloudWatch(), "autoscaling": AutoScaling()}[name]
config = types.ModuleType("botocore.config"); config.Config = lambda **kw: kw
sys.modules.update({"boto3": boto3, "botocore": types.ModuleType("botocore"), "botocore.config": config})
`;

/** The handler's answers to `times` invocations of one warm instance, and its requests. */
function invoke(fail: boolean, { times = 1, desired = 4 } = {}) {
  return python(
    `import json, sys
${standIns}
FAIL = ${fail ? "True" : "False"}
DESIRED = ${desired}
VALUES = ${JSON.stringify(READINGS)}
${load}
event = json.load(sys.stdin)
answers = [main.handler(event) for _ in range(${times})]
answer = answers[-1]
for name, kw in requests:
    for key in ("StartTime", "EndTime"):
        if key in kw: kw[key] = kw[key].timestamp()
json.dump({"answer": answer, "answers": answers, "requests": requests}, sys.stdout)`,
    EVENT,
    { [TERMINATION_ENV]: JSON.stringify(terminationConfig(spec)) },
  );
}

test("handler: reads each candidate's newest CallsLeftAtLimit of the last 5 minutes in the pool's namespace and group, and the group's release; i-a1 is outdated", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const { answer, requests } = invoke(false);
  assert.deepEqual(answer, { InstanceIDs: ["i-a1", "i-a2", "i-b2"] });
  const [[cw, read], [asg, group]] = requests;
  assert.equal(cw, "GetMetricData");
  assert.equal(read.EndTime - read.StartTime, 300);
  assert.equal(read.ScanBy, "TimestampDescending");
  assert.equal(read.MetricDataQueries.length, 6);
  assert.deepEqual(read.MetricDataQueries[0], {
    Id: "i0",
    MetricStat: {
      Metric: {
        Namespace: "AVFleet/Media/aws-use1",
        MetricName: "CallsLeftAtLimit",
        Dimensions: [
          { Name: "AutoScalingGroupName", Value: "aws-use1-media" },
          { Name: "InstanceId", Value: "i-a1" },
        ],
      },
      Period: 60,
      Stat: "Maximum",
    },
    ReturnData: true,
  });
  assert.deepEqual(
    [asg, group],
    ["DescribeAutoScalingGroups", { AutoScalingGroupNames: ["aws-use1-media"] }],
  );
});

test("handler: when CloudWatch cannot be read, none now (the group asks again, warm), and the group's own order after three such invocations in a row, never an error that would hold the scale-in", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const every = { InstanceIDs: EVENT.Instances.map((i) => i.InstanceId) };
  const { answers } = invoke(true, { times: 3 });
  assert.deepEqual(answers, [{ InstanceIDs: [] }, { InstanceIDs: [] }, every]);
});

test("handler: a group being emptied (desired 0, a destroy) takes every suggested instance, calls or not", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const { answer } = invoke(false, { desired: 0 });
  assert.deepEqual(answer, { InstanceIDs: EVENT.Instances.map((i) => i.InstanceId) });
});

test("the agent publishes its calls expected at the drain limit per instance, in the load's PutMetricData call, under the names the termination policy reads", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const metric = agentConfig(spec).metric;
  const got = python(
    `import json, sys
sys.path.insert(0, ${JSON.stringify(AGENT)})
from avfleet_agent.aws import left_at_limit, metric_data
metric = json.load(sys.stdin)
out = []
for left in (12.5, None):
    extra, values = left_at_limit(metric, "i-0abc", left)
    out.append(metric_data(metric["namespace"], [metric, *extra], [420, *values]))
json.dump(out, sys.stdout)`,
    metric,
  );
  const read = terminationConfig(spec);
  assert.deepEqual(got[0], {
    Action: "PutMetricData",
    Version: "2010-08-01",
    Namespace: read.namespace,
    "MetricData.member.1.MetricName": "MediaStreams",
    "MetricData.member.1.Unit": "Count",
    "MetricData.member.1.Value": "420",
    "MetricData.member.1.Dimensions.member.1.Name": "AutoScalingGroupName",
    "MetricData.member.1.Dimensions.member.1.Value": read.group,
    "MetricData.member.2.MetricName": read.metricName,
    "MetricData.member.2.Unit": "Count",
    "MetricData.member.2.Value": "12.5",
    "MetricData.member.2.Dimensions.member.1.Name": "AutoScalingGroupName",
    "MetricData.member.2.Dimensions.member.1.Value": read.group,
    "MetricData.member.2.Dimensions.member.2.Name": "InstanceId",
    "MetricData.member.2.Dimensions.member.2.Value": "i-0abc",
  });
  // no reading of the calls: the load alone
  assert.equal(Object.keys(got[1]).filter((k) => k.includes("member.2")).length, 0);
});

test("every AWS pool declares its termination policy first in its group's, invocable by the group's service-linked role, with the hash-named source and read-only grants", async () => {
  const [plan] = await evaluateExamples("aws-us-east-1");
  const fn = resource(plan, "aws-use1-termination-fn").inputs;
  const group = resource(plan, "aws-use1-asg").inputs;
  const arn = "arn:aws:lambda:us-east-1:123456789012:function:aws-use1-termination";
  assert.deepEqual(group.terminationPolicies, [arn, "OldestLaunchTemplate", "OldestInstance"]);
  assert.equal(fn.timeout, 2);
  assert.equal(fn.handler, "termination.handler");
  assert.equal(fn.runtime, "python3.12");
  assert.deepEqual(JSON.parse(fn.environment.variables[TERMINATION_ENV]), {
    group: "aws-use1-media",
    namespace: "AVFleet/Media/aws-use1",
    metricName: "CallsLeftAtLimit",
    maxCutPerHost: spec.autoscaling.maxCutPerHost,
  });
  const code = resource(plan, "aws-use1-termination-code").inputs;
  assert.equal(fn.s3Key, TERMINATION_KEY);
  assert.equal(code.key, TERMINATION_KEY);
  assert.equal(code.source.assets["termination.py"].text, TERMINATION_SOURCE);
  assert.match(TERMINATION_KEY, /^termination\/termination-[0-9a-f]{16}\.zip$/);
  const invoke = resource(plan, "aws-use1-termination-invoke").inputs;
  assert.deepEqual(invoke, {
    action: "lambda:InvokeFunction",
    function: "aws-use1-termination",
    principal:
      "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
    region: "us-east-1",
    statementId: "AllowInvokeByAutoScaling",
  });
  const grants = JSON.parse(resource(plan, "aws-use1-termination-policy").inputs.policy);
  assert.deepEqual(
    grants.Statement.map((s: any) => s.Action),
    [
      "cloudwatch:GetMetricData",
      "autoscaling:DescribeAutoScalingGroups",
      ["logs:CreateLogStream", "logs:PutLogEvents"],
    ],
  );
  assert.equal(
    terminationPolicy("arn:aws:logs:us-east-1:1:log-group:/aws/lambda/x").Statement[2].Resource,
    "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/x:log-stream:*",
  );
  // a new policy list updates the group in place: no host goes for it
  assert.equal(forcesReplacement("aws:autoscaling/group:Group", "terminationPolicies"), false);
});
