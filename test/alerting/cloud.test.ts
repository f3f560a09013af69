/**
 * Cloud alerting as the stacks declare it (evaluated under Pulumi mocks): a GCP pool's alert
 * policies carry PromQL conditions narrowed to the pool with the spec's thresholds, an AWS pool
 * composes per-window alarms, and the pool-alerting policy notices a missing alert.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadStacks } from "../../modules/stacks/stack";
import { declareAlerting } from "../../modules/alerting/alerting";
import { awsTargets } from "../../modules/alerting/notify";
import { awsReceiverSchema, type AwsReceiver } from "../../modules/config/notify.schema";
import { schemaProblems } from "../../modules/inputs/validate";
import { alarmMetrics, awsAlarms, cloudwatchCounters } from "../../modules/alerting/cloud";
import { SLIS } from "../../modules/observe/spec";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy-runner";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { ROOT } from "../support/cli";

const STACKS = join(ROOT, "stacks");
const plans = new Map<string, Plan>();

before(async () => {
  for (const plan of await evaluateStacks(
    loadStacks(STACKS, ["gcp-us-west1", "aws-us-east-1", "aws-eu-central-1", "gcp-europe-west4"]),
  ))
    plans.set(plan.name, plan);
});

// inputs are whatever the providers took: read them untyped
const ofType = (plan: Plan, type: string) =>
  plan.resources.filter((r) => r.type === type).map((r) => ({ ...r, inputs: r.inputs as any }));

test("GCP: one PromQL alert policy per alert, narrowed to the pool, thresholds from the spec", () => {
  const policies = ofType(plans.get("gcp-us-west1")!, "gcp:monitoring/alertPolicy:AlertPolicy");
  // 10 burn alerts, 5 host alerts, the pool's silence
  assert.equal(policies.length, 16);
  const page = policies.find((p) => p.name === "gcp-usw1-alerting-packet-loss-burn-page")!;
  const cond = page.inputs.conditions[0].conditionPrometheusQueryLanguage;
  assert.equal(cond.alertRule, "AvfleetPacketLossBurnPage");
  assert.equal(cond.evaluationInterval, "60s");
  // created before the pool's hosts have sent a point of it
  assert.equal(cond.disableMetricValidation, true);
  assert.equal(page.inputs.severity, "CRITICAL");
  assert.equal(page.inputs.project, "media-prod-usw1");
  // both windows of the fastest pair, on this pool only, over 72 % bad
  assert.match(
    cond.query,
    /^\(\(\(sum by \(region, pool\) \(rate\(avfleet_session_packet_loss_ratio_count\{pool="gcp-usw1"\}\[1h\]\)\)/,
  );
  assert.match(cond.query, /\[5m\]\)\)\) > 0\.72\) or /);
  assert.match(page.inputs.documentation.content, /Runbook: README\.md#avfleetpacketlossburnpage/);
});

test("AWS: a composite alarm per burn alert over one metric-math alarm per window", () => {
  const plan = plans.get("aws-us-east-1")!;
  const composites = ofType(plan, "aws:cloudwatch/compositeAlarm:CompositeAlarm");
  const alarms = ofType(plan, "aws:cloudwatch/metricAlarm:MetricAlarm");
  assert.equal(composites.length, 10);
  // per SLI: page 3 pairs, ticket 2 pairs, two windows each; plus the two drop alarms and the
  // pool's silence
  assert.equal(alarms.length, 5 * (3 + 2) * 2 + 3);
  const page = composites.find(
    (c) => c.inputs.alarmName === "avfleet-aws-use1-AvfleetPacketLossBurnPage",
  )!;
  assert.equal(
    page.inputs.alarmRule,
    '(ALARM("avfleet-aws-use1-packet-loss-page-1h-1h") AND ALARM("avfleet-aws-use1-packet-loss-page-1h-5m")) OR (ALARM("avfleet-aws-use1-packet-loss-page-6h-6h") AND ALARM("avfleet-aws-use1-packet-loss-page-6h-30m")) OR (ALARM("avfleet-aws-use1-packet-loss-page-5m-5m") AND ALARM("avfleet-aws-use1-packet-loss-page-5m-1m"))',
  );
  const long = alarms.find((a) => a.inputs.name === "avfleet-aws-use1-packet-loss-ticket-3d-3d")!;
  // one period of the window: 3 days, within CloudWatch's 7-day evaluation limit
  assert.equal(long.inputs.metricQueries[0].metric.period, 259200);
  assert.equal(long.inputs.evaluationPeriods, 1);
  assert.equal(long.inputs.threshold, 0.05);
  assert.equal(long.inputs.metricQueries[2].expression, "bad / total");
  for (const a of alarms) {
    const period = a.inputs.period ?? a.inputs.metricQueries[0].metric.period;
    assert.ok(period * a.inputs.evaluationPeriods <= (period < 3600 ? 86400 : 604800), a.name);
  }
});

test("AWS: a dashboard per pool, its alerts' states over each SLI's bad share against its budget", () => {
  const plan = plans.get("aws-us-east-1")!;
  const [dashboard] = ofType(plan, "aws:cloudwatch/dashboard:Dashboard");
  assert.equal(dashboard.inputs.dashboardName, "avfleet-aws-use1");
  assert.equal(dashboard.inputs.region, "us-east-1");
  const body = JSON.parse(dashboard.inputs.dashboardBody);
  const [status, ...graphs] = body.widgets;
  // the alerts: 10 composites, the two drop alarms and the silence; no window alarm
  assert.equal(status.type, "alarm");
  assert.equal(status.properties.alarms.length, 13);
  assert.ok(status.properties.alarms.every((arn: string) => arn.startsWith("arn:aws:cloudwatch:")));
  assert.equal(graphs.length, SLIS.length + 4);
  for (const sli of SLIS) {
    const g = graphs.find((w: any) => w.properties.title === `${sli.name}: bad share`);
    assert.deepEqual(g.properties.metrics[2], [
      { expression: "bad / total", id: "share", label: "bad share" },
    ]);
    assert.equal(g.properties.annotations.horizontal[0].value, +(1 - sli.objective).toFixed(6));
  }
  // a 24-column grid, no two widgets on the same cells
  const cells = new Set<string>();
  for (const w of body.widgets) {
    assert.ok(w.x + w.width <= 24, JSON.stringify(w.properties.title));
    for (let x = w.x; x < w.x + w.width; x++)
      for (let y = w.y; y < w.y + w.height; y++) {
        assert.ok(!cells.has(`${x},${y}`), `overlap at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
  }
  assert.equal(ofType(plans.get("gcp-us-west1")!, "aws:cloudwatch/dashboard:Dashboard").length, 0);
});

test("metal stacks declare no cloud alerting: the Prometheus rules cover them", () => {
  const [metal] = loadStacks(STACKS, ["metal-sjc"]);
  assert.equal(declareAlerting(metal.document), undefined);
});

test("pool-alerting: quiet on the stacks, a missing alert is named", () => {
  const policy = POLICIES.filter((p) => p.name === "pool-alerting");
  for (const name of ["gcp-us-west1", "aws-us-east-1"]) {
    const { violations, judged } = evaluatePolicies(plans.get(name)!, policy);
    assert.deepEqual(violations, [], name);
    assert.ok(judged["pool-alerting"] > 0, `${name} judged`);
  }
  const gcp = structuredClone(plans.get("gcp-us-west1")!);
  gcp.resources = gcp.resources.filter(
    (r) => r.name !== "gcp-usw1-alerting-host-udp-receive-buffer-drops",
  );
  assert.deepEqual(
    evaluatePolicies(gcp, policy).violations.map((v) => v.message),
    ["pool gcp-usw1 lacks alert(s): AvfleetHostUdpReceiveBufferDrops"],
  );
  const aws = structuredClone(plans.get("aws-us-east-1")!);
  aws.resources = aws.resources.filter((r) => !r.name.endsWith("-ice-success-page"));
  assert.deepEqual(
    evaluatePolicies(aws, policy).violations.map((v) => v.message),
    ["pool aws-use1 lacks alert(s): avfleet-aws-use1-AvfleetIceSuccessBurnPage"],
  );
});

test("routing: every alert notifies its severity's receiver, a window alarm only through its composite", () => {
  const aws = plans.get("aws-us-east-1")!;
  const topic = (severity: string) =>
    ofType(aws, "aws:sns/topic:Topic").find((t) => t.inputs.tags.severity === severity)!;
  assert.equal(topic("page").inputs.name, "avfleet-aws-use1-page");
  const arn = (severity: string) => `arn:aws:sns:us-east-1:123456789012:${topic(severity).name}`;
  const alarms = [
    ...ofType(aws, "aws:cloudwatch/compositeAlarm:CompositeAlarm"),
    ...ofType(aws, "aws:cloudwatch/metricAlarm:MetricAlarm"),
  ];
  const alerts = alarms.filter((a) => a.inputs.tags?.severity);
  assert.equal(alerts.length, 13);
  for (const a of alerts) {
    // OK too, so a PagerDuty incident resolves with its alarm
    assert.deepEqual(a.inputs.alarmActions, [arn(a.inputs.tags.severity)], a.name);
    assert.deepEqual(a.inputs.okActions, a.inputs.alarmActions, a.name);
  }
  for (const a of alarms.filter((a) => !a.inputs.tags?.severity)) {
    assert.equal(a.inputs.alarmActions, undefined, a.name);
  }
  const subscriptions = ofType(aws, "aws:sns/topicSubscription:TopicSubscription");
  assert.deepEqual(
    subscriptions.map((s) => [s.name, s.inputs.protocol, s.inputs.endpoint, s.inputs.topic]),
    [
      ["aws-use1-alerting-ticket-email-0", "email", "media-infra@example.net", arn("ticket")],
      // the PagerDuty URL carries its key: a secret, never in the stack file or the plan
      ["aws-use1-alerting-page-https", "https", "[secret]", arn("page")],
    ],
  );
  // an existing topic: nothing created, the ARN as the stack names it
  const euc1 = plans.get("aws-eu-central-1")!;
  assert.equal(ofType(euc1, "aws:sns/topic:Topic").length, 0);
  const drops = ofType(euc1, "aws:cloudwatch/metricAlarm:MetricAlarm").find(
    (a) => a.name === "aws-euc1-alerting-nic-allowance-exceeded",
  )!;
  assert.deepEqual(drops.inputs.alarmActions, [
    "arn:aws:sns:eu-central-1:111122223333:media-pages",
  ]);

  const gcp = plans.get("gcp-us-west1")!;
  const channels = ofType(gcp, "gcp:monitoring/notificationChannel:NotificationChannel");
  assert.deepEqual(
    channels.map((c) => [c.name, c.inputs.type, c.inputs.labels, c.inputs.sensitiveLabels]),
    [
      [
        "gcp-usw1-alerting-ticket-email-0",
        "email",
        { email_address: "media-infra@example.net" },
        undefined,
      ],
      ["gcp-usw1-alerting-page-pagerduty", "pagerduty", undefined, "[secret]"],
    ],
  );
  const policies = ofType(gcp, "gcp:monitoring/alertPolicy:AlertPolicy");
  const channelOf = (severity: string) =>
    channels.find((c) => c.inputs.userLabels.severity === severity)!;
  for (const p of policies) {
    const severity = p.inputs.userLabels.severity;
    assert.equal(p.inputs.notificationChannels.length, 1, p.name);
    assert.match(
      p.inputs.notificationChannels[0],
      /^projects\/media-prod-usw1\/notificationChannels\/\d+$/,
    );
    assert.ok(channelOf(severity), p.name);
  }
  const pages = new Set(
    policies
      .filter((p) => p.inputs.severity === "CRITICAL")
      .map((p) => p.inputs.notificationChannels[0]),
  );
  const tickets = new Set(
    policies
      .filter((p) => p.inputs.severity === "WARNING")
      .map((p) => p.inputs.notificationChannels[0]),
  );
  assert.equal(pages.size, 1);
  assert.equal(tickets.size, 1);
  assert.notDeepEqual([...pages], [...tickets]);
  const euw4 = ofType(plans.get("gcp-europe-west4")!, "gcp:monitoring/alertPolicy:AlertPolicy");
  assert.deepEqual(
    euw4.find((p) => p.name === "gcp-euw4-alerting-pool-at-max-hosts")!.inputs.notificationChannels,
    ["projects/media-prod-euw4/notificationChannels/1234567890"],
  );
});

test("an HTTPS endpoint that does not confirm itself is subscribed without the up waiting for it", () => {
  const subscription = (https: AwsReceiver["https"]) =>
    awsTargets("aws-use1", {}, { page: { https }, ticket: { email: ["a@b.io"] } }).page
      .subscriptions[0].args;
  assert.deepEqual(subscription(true), {
    protocol: "https",
    endpointAutoConfirms: true,
    confirmationTimeoutInMinutes: 5,
  });
  assert.deepEqual(subscription({ autoConfirms: false }), {
    protocol: "https",
    endpointAutoConfirms: false,
  });
  const problems = (https: unknown) =>
    schemaProblems(awsReceiverSchema, { https }).map((p) => `${p.path.join(".")}: ${p.message}`);
  assert.deepEqual(problems({ autoConfirms: false }), []);
  assert.equal(problems({ autoConfirms: true }).at(-1), "https.autoConfirms: is true");
});

test("a GCP pool's at-max policy counts its serving hosts against its own maxHosts, inlined", () => {
  const gcp = plans.get("gcp-us-west1")!;
  const atMax = ofType(gcp, "gcp:monitoring/alertPolicy:AlertPolicy").find(
    (p) => p.inputs.conditions[0].displayName === "AvfleetPoolAtMaxHosts",
  )!;
  assert.equal(
    atMax.inputs.conditions[0].conditionPrometheusQueryLanguage.query,
    'sum by (region, pool) (avfleet_healthy_hosts{pool="gcp-usw1"}) >= 90',
  );
});

test("AWS: the alarms read exactly the metrics the hosts' table publishes, in its namespace, and the group's hosts in service", () => {
  const table = cloudwatchCounters("aws-use1");
  const { alarms } = awsAlarms({ pool: "aws-use1", mediaRegion: "us-east" });
  const read = new Set(
    alarms.flatMap(({ args }) =>
      alarmMetrics(args).map((m) => JSON.stringify([m.namespace, m.metricName, m.dimensions])),
    ),
  );
  assert.deepEqual(
    [...read].sort(),
    [
      ...table.metrics.map((m) => JSON.stringify([table.namespace, m.name, m.dimensions])),
      JSON.stringify([
        "AWS/AutoScaling",
        "GroupInServiceInstances",
        { AutoScalingGroupName: "aws-use1-media" },
      ]),
    ].sort(),
  );
  assert.equal(table.namespace, "AVFleet/Media/aws-use1");
  assert.equal(table.periodSec, 60);
  // packet loss: bad events are all samples less those under the threshold, as the PromQL has it
  assert.deepEqual(table.metrics[0], {
    name: "SessionBadEvents",
    unit: "Count",
    dimensions: { Pool: "aws-use1", Slo: "packet-loss" },
    terms: [
      { family: "avfleet_session_packet_loss_ratio_count", match: {}, sign: 1 },
      { family: "avfleet_session_packet_loss_ratio_bucket", match: { le: "0.01" }, sign: -1 },
    ],
  });
  const loss = SLIS.find((s) => s.name === "packet-loss")!;
  assert.equal(
    loss.bad("5m"),
    '(sum by (region, pool) (rate(avfleet_session_packet_loss_ratio_count[5m])) - sum by (region, pool) (rate(avfleet_session_packet_loss_ratio_bucket{le="0.01"}[5m])))',
  );
});
