/**
 * What an AWS host publishes for its pool's alarms (modules/host-agent/avfleet_agent/aws.py, Aws.count): the
 * increase of the table's counters (modules/alerting/cloud.ts cloudwatchCounters) between two
 * readings of its own /metrics text, per series as Prometheus's increase() counts it (a new
 * series is a baseline, a lower value a reset), summed over the host's series, and the
 * PutMetricData calls that carry them. Values worked by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { awsStandIns, StandIns } from "../../bench/host/stand-ins";
import { loadStackFile } from "../../modules/stacks/stack";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { hostPolicy } from "../../modules/fleets/aws-args";
import { autoScalingGroupName } from "../../modules/host/agent";
import { AWS_DRAIN_HOOK, AWS_LAUNCH_HOOK, awsMediaMetric } from "../../modules/host/metrics";
import { cloudwatchCounters } from "../../modules/alerting/cloud";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";

const TABLE = cloudwatchCounters("aws-use1");

const program = (body: string) =>
  [
    agentImports("from avfleet_agent import aws as agent"),
    "import json",
    "r = json.load(sys.stdin)",
    body,
  ].join("\n");

/** Runs `body` with the agent's AWS adapter module as `agent` and the JSON input as `r`; its stdout parsed. */
function python(body: string, input: unknown): any {
  const run = spawnSync("python3", ["-c", program(body)], {
    input: JSON.stringify(input),
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

const L = 'pool="aws-use1",host="i-0abc",zone="us-east-1b",region="us-east"';
const LOSS = "avfleet_session_packet_loss_ratio";

/** A host's /metrics text: the agent's own lines and an SFU's textfile, two releases' series. */
function exposition(v: {
  count: [number, number];
  good: [number, number];
  rcvbuf: number;
  allowance: [number, number];
  failed?: number;
}): string {
  return [
    `# HELP avfleet_host_udp_rcvbuf_errors_total UDP datagrams dropped (RcvbufErrors).`,
    `# TYPE avfleet_host_udp_rcvbuf_errors_total counter`,
    `avfleet_host_udp_rcvbuf_errors_total{${L}} ${v.rcvbuf}`,
    `avfleet_host_nic_allowance_exceeded_total{${L},interface="eth0",counter="pps_allowance_exceeded"} ${v.allowance[0]}`,
    `avfleet_host_nic_allowance_exceeded_total{${L},interface="eth1",counter="bw_in_allowance_exceeded"} ${v.allowance[1]}`,
    `# TYPE ${LOSS} histogram`,
    `${LOSS}_bucket{${L},release="v7",le="0.01"} ${v.good[0]}`,
    `${LOSS}_bucket{${L},release="v7",le="+Inf"} ${v.count[0]}`,
    `${LOSS}_count{${L},release="v7"} ${v.count[0]}`,
    `${LOSS}_bucket{${L},release="v8",le="0.01"} ${v.good[1]}`,
    `${LOSS}_count{${L},release="v8"} ${v.count[1]}`,
    ...(v.failed === undefined
      ? []
      : [
          `avfleet_ice_connections_total{${L},outcome="failed"} ${v.failed}`,
          `avfleet_ice_connections_total{${L},outcome="connected"} 40`,
        ]),
    "",
  ].join("\n");
}

/** [name, dimensions' Slo or "", value] of each table metric with a value other than 0. */
function moved(values: number[]): [string, string, number][] {
  return TABLE.metrics
    .map((m, i) => [m.name, m.dimensions.Slo ?? "", values[i]] as [string, string, number])
    .filter(([, , v]) => v !== 0);
}

const INCREASES =
  "print(json.dumps(agent.metric_increases(r['table']['metrics'], agent.parse_exposition(r['before']), agent.parse_exposition(r['after']))))";

test("increase: summed over the host's series, bad = count - good bucket, per table metric", () => {
  const before = exposition({ count: [100, 10], good: [90, 10], rcvbuf: 5, allowance: [3, 0] });
  const after = exposition({ count: [130, 30], good: [110, 25], rcvbuf: 9, allowance: [4, 2] });
  // count +30 +20 = 50; good +20 +15 = 35; bad 15; rcvbuf +4; allowance +1 +2
  assert.deepEqual(moved(python(INCREASES, { table: TABLE, before, after })), [
    ["SessionBadEvents", "packet-loss", 15],
    ["SessionEvents", "packet-loss", 50],
    ["UdpRcvbufErrors", "", 4],
    ["NicAllowanceExceeded", "", 3],
  ]);
});

test("increase: a series that went down was reset (all of it counts); a new one is a baseline", () => {
  // the v8 SFU restarted: its count went 30 -> 6 and good 25 -> 5; ICE appeared with 2 failures
  const before = exposition({ count: [130, 30], good: [110, 25], rcvbuf: 9, allowance: [4, 2] });
  const after = exposition({
    count: [140, 6],
    good: [118, 5],
    rcvbuf: 9,
    allowance: [4, 2],
    failed: 2,
  });
  // count +10 (v7) +6 (v8 reset) = 16; good +8 +5 = 13; bad 3; ICE new: nothing yet
  assert.deepEqual(moved(python(INCREASES, { table: TABLE, before, after })), [
    ["SessionBadEvents", "packet-loss", 3],
    ["SessionEvents", "packet-loss", 16],
  ]);
  const later = exposition({
    count: [140, 6],
    good: [118, 5],
    rcvbuf: 9,
    allowance: [4, 2],
    failed: 7,
  });
  assert.deepEqual(moved(python(INCREASES, { table: TABLE, before: after, after: later })), [
    ["SessionBadEvents", "ice-success", 5],
    ["SessionEvents", "ice-success", 5],
  ]);
});

test("exposition: an escaped quote does not end a label value; comments and timestamps ignored", () => {
  const text = '# HELP x a "quoted" help\nx{a="b\\"c",d="e\\\\f\\ng"} 3 1700000000000\nx 4\n';
  assert.deepEqual(
    python(
      "print(json.dumps([[k[0], k[1], v] for k, v in agent.parse_exposition(r).items()]))",
      text,
    ),
    [
      [
        "x",
        [
          ["a", 'b\\"c'],
          ["d", "e\\\\f\\ng"],
        ],
        3,
      ],
      ["x", [], 4],
    ],
  );
});

test("PutMetricData: the table's names, units and dimensions, all in one call within its limits", () => {
  const params = python(
    "print(json.dumps(agent.metric_data(r['namespace'], r['metrics'], list(range(len(r['metrics']))))))",
    TABLE,
  );
  assert.equal(params.Namespace, "AVFleet/Media/aws-use1");
  assert.equal(params["MetricData.member.1.MetricName"], "SessionBadEvents");
  assert.equal(params["MetricData.member.1.Unit"], "Count");
  assert.equal(params["MetricData.member.1.Value"], "0");
  assert.equal(params["MetricData.member.1.Dimensions.member.1.Name"], "Pool");
  assert.equal(params["MetricData.member.1.Dimensions.member.1.Value"], "aws-use1");
  assert.equal(params["MetricData.member.1.Dimensions.member.2.Name"], "Slo");
  assert.equal(params["MetricData.member.1.Dimensions.member.2.Value"], "packet-loss");
  const last = TABLE.metrics.length;
  assert.equal(params[`MetricData.member.${last}.MetricName`], "NicAllowanceExceeded");
  assert.equal(params[`MetricData.member.${last}.Value`], String(last - 1));
  assert.equal(params[`MetricData.member.${last}.Dimensions.member.2.Name`], undefined);
  // "no more than 1000 different metrics" and 1 MB a POST (API_PutMetricData): 13 and ~3 KB
  assert.equal(last, 13);
  assert.ok(new URLSearchParams(params).toString().length < 4096);
});

test("publisher: the first reading is a baseline, a refused call carries over, warm hosts publish nothing", () => {
  const texts = [
    exposition({ count: [100, 10], good: [90, 10], rcvbuf: 5, allowance: [3, 0] }),
    exposition({ count: [110, 10], good: [96, 10], rcvbuf: 5, allowance: [3, 0] }),
    exposition({ count: [120, 10], good: [100, 10], rcvbuf: 5, allowance: [3, 0] }),
    exposition({ count: [125, 10], good: [101, 10], rcvbuf: 5, allowance: [3, 0] }),
    exposition({ count: [127, 10], good: [103, 10], rcvbuf: 5, allowance: [3, 0] }),
  ];
  // per reading: the answer CloudWatch gives, and whether the host is in the warm pool
  const script = [
    "aws = agent.Aws({'cloudwatch': {**r['table'], 'periodSec': 0}}, {'imds': 'http://127.0.0.1:9'})",
    "calls, state = [], {}",
    "aws.warmed = lambda: state['warm']",
    "def call(service, params):",
    "    calls.append(params['MetricData.member.2.Value'] + '/' + params['MetricData.member.1.Value'])",
    "    return state['answer'], b''",
    "aws.call = call",
    "for text, (answer, warm) in zip(r['texts'], r['steps']):",
    "    state.update(answer=answer, warm=warm)",
    "    aws.count(lambda: text)",
    "print(json.dumps(calls))",
  ].join("\n");
  const steps = [
    [200, false],
    [403, false],
    [200, false],
    [200, true],
    [200, false],
  ];
  // packet-loss total/bad: baseline; 10/4 refused; 10/6 more, sent as 20/10; warm: 5/4 nobody's;
  // then 2/0
  assert.deepEqual(python(script, { table: TABLE, texts, steps }), ["10/4", "20/10", "2/0"]);
});

test("the CloudWatch stand-in answers AccessDenied, as IAM would, outside the role's namespace", async () => {
  const spec = loadStackFile(join(ROOT, "stacks/Pulumi.aws-us-east-1.yaml")).fleet as AwsFleetSpec;
  const standIns = new StandIns("127.0.0.1");
  try {
    const aws = await awsStandIns(standIns, {
      region: "us-east-1",
      zone: "us-east-1b",
      instanceId: "i-0abc1234def567890",
      role: "aws-use1-role",
      group: autoScalingGroupName(spec.pool),
      hook: AWS_DRAIN_HOOK,
      launchHook: AWS_LAUNCH_HOOK,
      metric: awsMediaMetric(spec.pool),
      policy: hostPolicy(spec, "arn:aws:autoscaling:us-east-1:123456789012:*"),
    });
    // the agent's own signed call: the old alarms' namespace, the one all pools shared, then its pool's
    const child = spawn(
      "python3",
      [
        "-c",
        program(
          "aws = agent.Aws({}, r)\n" +
            "metric = {'name': 'SessionEvents', 'unit': 'Count', 'dimensions': {'Pool': 'aws-use1'}}\n" +
            "calls = [agent.metric_data(n, [metric], [1]) for n in ('avfleet', 'AVFleet/Media', 'AVFleet/Media/aws-use1')]\n" +
            "print(json.dumps([aws.call('monitoring', params)[0] for params in calls]))",
        ),
      ],
      { env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stdin.end(JSON.stringify(aws.endpoints));
    await new Promise((resolve) => child.on("close", resolve));
    assert.deepEqual(JSON.parse(out), [403, 403, 200]);
    assert.deepEqual(
      standIns.calls.map((c) => c.action),
      ["PutMetricData:denied", "PutMetricData:denied", "PutMetricData"],
    );
    assert.deepEqual(
      aws.published().map((d) => [d.namespace, d.name, d.value]),
      [["AVFleet/Media/aws-use1", "SessionEvents", 1]],
    );
    assert.deepEqual(standIns.problems, []);
  } finally {
    standIns.close();
  }
});
