/**
 * A cloud pool whose hosts publish nothing pages: its other alerts read no data and stay quiet.
 * The GCP policy's PromQL runs in Debian's promtool (the same PromQL engine Managed Service for
 * Prometheus matches); the AWS alarm's fields are held to CloudWatch's documented meaning.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import {
  awsAlarms,
  gcpAlertPolicies,
  POOL_SILENT,
  type PoolRef,
} from "../../modules/alerting/cloud";
import { missingCommands, prerequisite } from "../support/prerequisites";

const ref = { pool: "gcp-usw1", mediaRegion: "us-west", maxHosts: 90, minHosts: 3 };

function silencePolicy(r: PoolRef = ref) {
  return gcpAlertPolicies(r).find(
    (p) => (p.args.conditions as { displayName: string }[])[0].displayName === POOL_SILENT.alert,
  );
}

test("GCP: the silence policy fires 20 minutes after the pool's last point, and on a pool that never published", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const policy = silencePolicy()!;
  assert.equal(policy.severity, "page");
  const cond = (
    policy.args.conditions as {
      conditionPrometheusQueryLanguage: { query: string; duration: string };
    }[]
  )[0].conditionPrometheusQueryLanguage;
  const dir = mkdtempSync(join(tmpdir(), "silence-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, "rules.yml"),
    YAML.stringify({
      groups: [
        {
          name: "silence",
          rules: [{ alert: POOL_SILENT.alert, expr: cond.query, for: cond.duration }],
        },
      ],
    }),
  );
  const firing = [{ exp_labels: { pool: "gcp-usw1" } }];
  const at = (minutes: number, alerts: { exp_labels: object }[]) => ({
    eval_time: `${minutes}m`,
    alertname: POOL_SILENT.alert,
    exp_alerts: alerts,
  });
  writeFileSync(
    join(dir, "tests.yml"),
    YAML.stringify({
      rule_files: ["rules.yml"],
      evaluation_interval: "1m",
      tests: [
        {
          // two hosts publish for 30 minutes, then nothing: the last point is at 30m
          interval: "1m",
          input_series: [
            { series: 'avfleet_healthy_hosts{pool="gcp-usw1",host="a"}', values: "1x30" },
            { series: 'avfleet_healthy_hosts{pool="gcp-usw1",host="b"}', values: "0x30" },
            // another pool's points do not keep this one's alert quiet
            { series: 'avfleet_healthy_hosts{pool="gcp-usw2",host="c"}', values: "1x90" },
          ],
          alert_rule_test: [at(30, []), at(49, []), at(51, firing), at(80, firing)],
        },
        {
          // a pool created, whose hosts never publish: 15 minutes of grace from creation
          interval: "1m",
          input_series: [
            { series: 'avfleet_healthy_hosts{pool="other",host="c"}', values: "1x30" },
          ],
          alert_rule_test: [at(14, []), at(16, firing)],
        },
      ],
    }),
  );
  const r = spawnSync("promtool", ["test", "rules", join(dir, "tests.yml")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("AWS: the silence alarm pages while the group has hosts in service and none of them publishes", () => {
  const { alarms } = awsAlarms({ ...ref, pool: "aws-use1", mediaRegion: "us-east" });
  const silent = alarms.find((a) => a.role === "pool-silent")!;
  assert.equal(silent.severity, "page");
  const [points, serving, silence] = silent.args.metricQueries as any[];
  assert.deepEqual(
    [points.metric, serving.metric],
    [
      {
        namespace: "AVFleet/Media/aws-use1",
        metricName: "UdpInDatagrams",
        dimensions: { Pool: "aws-use1" },
        period: 300,
        stat: "SampleCount",
      },
      {
        namespace: "AWS/AutoScaling",
        metricName: "GroupInServiceInstances",
        dimensions: { AutoScalingGroupName: "aws-use1-media" },
        period: 300,
        stat: "Minimum",
      },
    ],
  );
  assert.equal(silence.expression, "IF(FILL(serving, 0) > 0 AND FILL(points, 0) == 0, 1, 0)");
  assert.deepEqual(
    [
      silent.args.comparisonOperator,
      silent.args.threshold,
      silent.args.evaluationPeriods,
      silent.args.datapointsToAlarm,
      silent.args.treatMissingData,
    ],
    ["GreaterThanOrEqualToThreshold", 1, 4, 4, "notBreaching"],
  );
});

test("a pool that may scale to zero hosts gets no silence alert on either cloud", () => {
  const zero = { ...ref, minHosts: 0 };
  assert.equal(silencePolicy(zero), undefined);
  assert.equal(
    awsAlarms(zero).alarms.some((a) => a.role === "pool-silent"),
    false,
  );
  // and a pool whose floor is unknown is watched
  assert.ok(silencePolicy({ pool: "p", mediaRegion: "r" }));
});
