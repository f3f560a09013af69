import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { validateStackDocument } from "../../modules/stacks/stack";
import type { AwsFleetSpec, GcpFleetSpec } from "../../modules/config/fleet.schema";
import type { AwsScaling, GcpScaling } from "../../modules/fleets/scaling";
import {
  compileAws,
  compileGcp,
  controlsOf,
  curveOf,
  maxCutPerHostOf,
  poolOf,
  WINDOW_MIN,
} from "../../modules/scaling/compile";
import { compiledPolicy, replayCompiled } from "../../modules/scaling/interpret";
import { cronStarts } from "../../modules/fleets/scaling";
import { OURS_MAX_CUT_PER_HOST } from "../../modules/scaling/policies";
import { replay } from "../../modules/scaling/replay";
import { curveTrace } from "../../modules/world/demand";
import { ROOT } from "../support/cli";

function specOf<T>(stack: string, change: (fleet: any) => void = () => {}): T {
  const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
  change(doc.config["avfleet:fleet"]);
  return validateStackDocument("test.yaml", doc).document.config["avfleet:fleet"] as T;
}
const gcp = (change?: (fleet: any) => void) => specOf<GcpFleetSpec>("gcp-us-west1", change);
const aws = (change?: (fleet: any) => void) => specOf<AwsFleetSpec>("aws-us-east-1", change);

const DAYS = 14;

/**
 * The tolerance: the compiled floors are held for half an hour each, the policy's floor moves
 * every minute, so the compiled config may serve more; it must not serve fewer hosts (beyond one)
 * in more than 0.5 % of minutes, cost at most 3 % more host-hours, and refuse no join.
 */
function assertAgrees(agreement: ReturnType<typeof replayCompiled>, what: string) {
  assert.equal(agreement.overloadMinutes.policy, 0, `${what}: the policy refuses no join`);
  assert.equal(agreement.overloadMinutes.compiled, 0, `${what}: nor does its compilation`);
  assert.ok(
    agreement.belowMinutes <= 0.005 * agreement.minutes,
    `${what}: ${agreement.belowMinutes} minutes more than one host below the policy`,
  );
  assert.ok(
    agreement.hostHoursRatio >= 1 - 0.005 && agreement.hostHoursRatio <= 1.03,
    `${what}: host-hours ×${agreement.hostHoursRatio.toFixed(4)}`,
  );
}

test("golden: ours compiled for GCP decides what ours decides under GCP's autoscaler, on the spec's own demand", () => {
  const spec = gcp((f) => (f.autoscaling.policy = "ours"));
  const compiled = compileGcp(spec, "us-west1");
  assertAgrees(replayCompiled(spec, "us-west1", compiled, DAYS), "gcp");
  // A compile that loses its schedules is caught: the metric alone lags the forecast. Checked
  // without the per-host cut budget: at 35 the hosts that wait for their long calls hold the
  // pool above every floor here, so the floors would not show.
  const free = gcp(
    (f) => (f.autoscaling = { ...f.autoscaling, policy: "ours", maxCutPerHost: 100000 }),
  );
  const unbudgeted = compileGcp(free, "us-west1");
  assertAgrees(replayCompiled(free, "us-west1", unbudgeted, DAYS), "gcp without a budget");
  const dropped: GcpScaling = {
    ...unbudgeted,
    autoscalingPolicy: { ...unbudgeted.autoscalingPolicy, scalingSchedules: [] },
  };
  assert.throws(() => assertAgrees(replayCompiled(free, "us-west1", dropped, DAYS), "dropped"));
});

test("golden: ours compiled for AWS (schedules, predictive, warm pool) decides what ours decides", () => {
  const spec = aws((f) => (f.autoscaling.policy = "ours"));
  const compiled = compileAws(spec, "us-east-1");
  assertAgrees(replayCompiled(spec, "us-east-1", compiled, DAYS), "aws");
  // The test of the test, on a pool whose hosts never protect themselves from scale-in: with
  // the 35-call budget, the hosts it holds back keep more than the evening floors would, so on
  // this demand a compilation without schedules agrees as well (#28).
  const open = aws((f) => {
    f.autoscaling.policy = "ours";
    f.autoscaling.maxCutPerHost = 1e9;
  });
  const bare = compileAws(open, "us-east-1");
  assertAgrees(replayCompiled(open, "us-east-1", bare, DAYS), "aws, no protection");
  const mutants: Record<string, AwsScaling> = {
    "no schedules": { ...bare, schedules: [] },
    "no warm pool": { ...bare, warmPool: undefined },
    "no predictive scaling": { ...bare, predictive: undefined },
  };
  for (const [what, mutant] of Object.entries(mutants)) {
    assert.throws(
      () => assertAgrees(replayCompiled(open, "us-east-1", mutant, DAYS), what),
      `${what} must be caught`,
    );
  }
});

test("golden: cloud-native compiles to today's autoscaler and replays identically", () => {
  const spec = gcp((f) => (f.autoscaling.policy = "cloud-native"));
  const compiled = compileGcp(spec, "us-west1");
  assert.equal(compiled.autoscalingPolicy.scalingSchedules, undefined);
  const agreement = replayCompiled(spec, "us-west1", compiled, 7);
  assert.equal(agreement.belowMinutes + agreement.aboveMinutes, 0);
  assert.equal(agreement.hostHoursRatio, 1);
});

test("GCP schedules: half-hour floors in the region's zone, weekdays and weekends, within GCP's limits", () => {
  const spec = gcp((f) => (f.autoscaling.policy = "ours"));
  const schedules = compileGcp(spec, "us-west1").autoscalingPolicy.scalingSchedules!;
  assert.ok(schedules.length > 0 && schedules.length <= 128);
  for (const s of schedules) {
    assert.equal(s.timeZone, "America/Los_Angeles");
    assert.ok(s.durationSec >= 300 && s.durationSec % (WINDOW_MIN * 60) === 0);
    assert.ok(s.minRequiredReplicas > spec.minHosts && s.minRequiredReplicas <= spec.maxHosts);
    assert.match(s.name, /^(weekday|weekend)-\d{4}$/);
    assert.match(s.schedule, /^(0|30) \d{1,2} \* \* (1-5|0,6)$/);
  }
  // The busiest floor sits at the evening peak: 40,000 participants, 1,200 per host, +15 %.
  const top = schedules.reduce((a, b) => (b.minRequiredReplicas > a.minRequiredReplicas ? b : a));
  assert.equal(top.minRequiredReplicas, Math.ceil((40000 * 1.15) / 1200));
  assert.match(top.schedule, /^\d+ (19|20) \* \* 1-5$/);
  // Weekends are lower (85 % of a weekday).
  const peakOf = (kind: string) =>
    Math.max(...schedules.filter((s) => s.name.startsWith(kind)).map((s) => s.minRequiredReplicas));
  assert.ok(peakOf("weekend") < peakOf("weekday"));
  // Nights stay at the autoscaler's own minimum: no schedule there.
  const covered = new Set(schedules.flatMap((s) => cronStarts(s.schedule).map((m) => m % 1440)));
  assert.ok(!covered.has(4 * 60), "04:00 local needs no floor above minReplicas");
});

test("AWS: scheduled actions change only the minimum; warm pool stopped, not reused; predictive forecasts and scales", () => {
  const spec = aws((f) => (f.autoscaling.policy = "ours"));
  const compiled = compileAws(spec, "us-east-1");
  assert.ok(compiled.schedules.length > 0 && compiled.schedules.length <= 125);
  for (const a of compiled.schedules) {
    assert.equal(a.desiredCapacity, -1, "never the size target tracking owns");
    assert.equal(a.maxSize, -1);
    assert.equal(a.timeZone, "America/New_York");
    assert.ok(a.minSize >= spec.minHosts && a.minSize <= spec.maxHosts);
  }
  assert.deepEqual(compiled.warmPool?.instanceReusePolicy, { reuseOnScaleIn: false });
  assert.equal(compiled.warmPool?.poolState, "Stopped");
  // A fixed size: without maxGroupPreparedCapacity AWS keeps max − desired hosts warm.
  assert.equal(compiled.warmPool?.maxGroupPreparedCapacity, compiled.warmPool?.minSize);
  assert.ok(
    compiled.warmPool!.minSize >= 1 && compiled.warmPool!.minSize <= spec.maxHosts - spec.minHosts,
  );
  // Sized for the worst step (×2 in 60 s) at the declared peak: 50,000 participants, of which
  // the 60 % target's headroom (+67 %) covers all but a third, in hosts of the pool's capacity.
  const capacity = poolOf(spec).capacity;
  assert.equal(compiled.warmPool!.minSize, Math.ceil(((2 - 1 - (1 / 0.6 - 1)) * 50000) / capacity));
  assert.equal(compiled.predictive?.mode, "ForecastAndScale");
  const load = compiled.predictive!.metricSpecification.customizedLoadMetricSpecification;
  assert.deepEqual(
    load.metricDataQueries.map((q) => [q.id, q.returnData]),
    [
      ["per_host", false],
      ["hosts", false],
      ["load", true],
    ],
  );
  assert.equal(
    compileAws(
      aws((f) => (f.autoscaling.warmPool = false)),
      "us-east-1",
    ).warmPool,
    undefined,
  );
  const native = compileAws(
    aws((f) => (f.autoscaling.policy = "cloud-native")),
    "us-east-1",
  );
  assert.deepEqual(
    [native.schedules, native.predictive, native.warmPool],
    [[], undefined, undefined],
  );
});

test("a bad policy name or cut budget is refused with the file and key path", () => {
  assert.throws(
    () => gcp((f) => (f.autoscaling.policy = "predictive")),
    /test\.yaml: config\.avfleet:fleet\.autoscaling\.policy: is "predictive", expected cloud-native .* or ours/,
  );
  assert.throws(
    () => gcp((f) => (f.autoscaling = { ...f.autoscaling, maxCutPerHost: -1 })),
    /test\.yaml: config\.avfleet:fleet\.autoscaling\.maxCutPerHost: is -1, expected calls a host may still be expected to hold at the drain limit .*, ≥ 0/,
  );
});

test("GCP: hosts leave by the scale-in controller's pick, fewest calls at the limit, within the stack's per-host budget (default ours' 35), cordon included", () => {
  const spec = gcp();
  assert.equal(spec.autoscaling.maxCutPerHost, OURS_MAX_CUT_PER_HOST);
  assert.equal(OURS_MAX_CUT_PER_HOST, 35);
  assert.deepEqual(controlsOf(spec).removal, {
    kind: "drain",
    pick: "fewest-left-at-limit",
    limitMin: 30,
    maxLeftAtLimit: 35,
  });
  const strict = gcp((f) => (f.autoscaling = { ...f.autoscaling, maxCutPerHost: 5 }));
  assert.deepEqual(controlsOf(strict).removal, {
    kind: "drain",
    pick: "fewest-left-at-limit",
    limitMin: 30,
    maxLeftAtLimit: 5,
  });
  assert.equal(maxCutPerHostOf(strict), 5);
  assert.equal(maxCutPerHostOf(aws()), OURS_MAX_CUT_PER_HOST);
  // What the deployed config replays: a stricter budget waits longer for long calls, paying
  // host-hours for fewer calls cut at the limit.
  const replayOf = (s: GcpFleetSpec) => {
    const pool = poolOf(s);
    const { hourlyUsd, ...rest } = pool;
    const read = compiledPolicy(s, compileGcp(s, "us-west1"));
    return replay(
      {
        trace: curveTrace(curveOf(s, "us-west1"), 4),
        pool: rest,
        minHosts: s.minHosts,
        maxHosts: s.maxHosts,
        hourlyUsd,
        sizingPeak: s.demand.peakParticipants,
      },
      read.policy,
      { warmPool: read.warmPool },
    );
  };
  const [at35, at5] = [replayOf(spec), replayOf(strict)];
  assert.ok(at5.totals.callsCutAtLimit < at35.totals.callsCutAtLimit);
  assert.ok(at5.hostHours > at35.hostHours);
  assert.ok(at35.totals.callsCutAtLimit < 0.005 * at35.totals.calls, "under 0.5 % of calls");
});

test("#28: the stack's worst step sizes the AWS warm pool and the GCP standby pool; a bad one is refused", () => {
  // ×2 in 60 s unless declared: 50,000 participants at the peak, the 60 % target's headroom
  // (+67 %) covers all but a third of the step: 17,500 sessions short, 1,200 per host.
  assert.equal(compileAws(aws(), "us-east-1").warmPool!.minSize, 14);
  // ×3: 4/3 of the peak short, 56 hosts.
  const three = (f: any) => (f.autoscaling.worstStep = { factor: 3, withinSeconds: 30 });
  assert.deepEqual(aws(three).autoscaling.worstStep, { factor: 3, withinSeconds: 30 });
  assert.equal(compileAws(aws(three), "us-east-1").warmPool!.minSize, 56);
  assert.equal(compileAws(aws(three), "us-east-1").warmPool!.maxGroupPreparedCapacity, 56);
  // Never more than the group can add: maxHosts − minHosts.
  const huge = (f: any) => (f.autoscaling.worstStep = { factor: 10, withinSeconds: 60 });
  const bounded = aws(huge);
  assert.equal(
    compileAws(bounded, "us-east-1").warmPool!.minSize,
    bounded.maxHosts - bounded.minHosts,
  );

  // GCP ours (on by default since #28's refills take no join): a standby pool the MIG starts
  // first, stopped after the host's boot budget; the schedules then lead by a warm boot (one
  // minute) instead of a cold one: one schedule fewer.
  const on = (change?: (f: any) => void) => (f: any) => change?.(f);
  const standby = (change?: (f: any) => void) => compileGcp(gcp(change), "us-west1").standby;
  assert.deepEqual(standby(on()), {
    standbyPolicy: { mode: "SCALE_OUT_POOL", initialDelaySec: 420 },
    targetStoppedSize: 12,
  });
  assert.equal(standby(on(three))!.targetStoppedSize, 45);
  assert.equal(standby(on((f) => (f.autoscaling.policy = "cloud-native"))), undefined);
  assert.equal(compileGcp(gcp(on()), "us-west1").autoscalingPolicy.scalingSchedules!.length, 54);
  // Off when a stack says so.
  const off = compileGcp(
    gcp((f) => (f.autoscaling.standbyPool = false)),
    "us-west1",
  );
  assert.equal(off.standby, undefined);
  assert.equal(off.autoscalingPolicy.scalingSchedules!.length, 55);

  for (const [step, expected] of [
    [
      { factor: 1 },
      "worstStep.factor: is 1, expected the demand multiplier of the worst step, above 1 and at most 10, e.g. 2 (a regional failover doubles the pool's load), > 1",
    ],
    [
      { factor: 11 },
      "worstStep.factor: is 11, expected the demand multiplier of the worst step, above 1 and at most 10, e.g. 2 (a regional failover doubles the pool's load), ≤ 10",
    ],
    [
      { withinSeconds: 0 },
      "worstStep.withinSeconds: is 0, expected seconds in which the step arrives, 1–3600, e.g. 60, ≥ 1",
    ],
    [
      { factor: 2, seconds: 60 },
      "worstStep.seconds: is not a known key, expected one of factor, withinSeconds",
    ],
  ] as const) {
    assert.throws(
      () => aws((f) => (f.autoscaling.worstStep = step)),
      (err: Error) => err.message === `test.yaml: config.avfleet:fleet.autoscaling.${expected}`,
    );
  }
});
