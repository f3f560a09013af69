/**
 * bench:autoscale — every scaling policy replayed on the same 28 days of demand in six media
 * regions across time zones (diurnal and weekly shape in local time, growth, announced game
 * launches, noise; sessions with a multi-hour tail), with and without warm pools.
 */
import { curveTrace, type CurveSpec } from "../modules/world/demand";
import { POLICIES, policyNamed } from "../modules/scaling/policies";
import { replay, sumResults, type ReplayPool } from "../modules/scaling/replay";
import { loadStacks } from "../modules/config/stack";
import { compileScaling } from "../modules/scaling/compile";
import { replayCompiled } from "../modules/scaling/interpret";

const DAYS = 28;
const REGIONS: Omit<
  CurveSpec,
  "seed" | "noise" | "troughShare" | "weekendFactor" | "weeklyGrowth"
>[] = [
  {
    region: "us-west",
    utcOffsetHours: -8,
    peakSessions: 40000,
    peakHour: 20,
    events: [{ day: 18, hour: 19, durationMin: 180, factor: 2.2 }],
  },
  { region: "us-east", utcOffsetHours: -5, peakSessions: 50000, peakHour: 20, events: [] },
  { region: "sa-east", utcOffsetHours: -3, peakSessions: 20000, peakHour: 21, events: [] },
  {
    region: "eu-west",
    utcOffsetHours: 1,
    peakSessions: 30000,
    peakHour: 19,
    events: [{ day: 22, hour: 20, durationMin: 120, factor: 1.8 }],
  },
  { region: "ap-south", utcOffsetHours: 5.5, peakSessions: 25000, peakHour: 21, events: [] },
  { region: "ap-northeast", utcOffsetHours: 9, peakSessions: 30000, peakHour: 21, events: [] },
];

const started = performance.now();
const pools: ReplayPool[] = REGIONS.map((r, i) => ({
  trace: curveTrace(
    {
      ...r,
      troughShare: 0.12,
      weekendFactor: 0.85,
      weeklyGrowth: 0.015,
      noise: 0.04,
      seed: 11 + i,
    },
    DAYS,
  ),
  pool: { capacity: 1200, drainLimitMin: 30, coldBootMin: [3, 7], warmBootMin: 1, seed: 101 + i },
  minHosts: 3,
  maxHosts: 500,
  hourlyUsd: 1.16,
}));

const rows = [
  ...POLICIES.map((p) => ({ policy: p, warmPool: false })),
  { policy: policyNamed("ours")!, warmPool: true },
  { policy: policyNamed("gcp-autoscaler")!, warmPool: true },
];
const results = rows.map(({ policy, warmPool }) =>
  sumResults(pools.map((pool) => replay(pool, policy, { warmPool }))),
);
const seconds = (performance.now() - started) / 1000;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(
  `policy                  warm  host-hours   cost-usd  overload-min  refused  cut<limit  cut@limit  scale-outs  scale-ins`,
);
for (const r of results) {
  console.log(
    `${r.policy.padEnd(22)}  ${(r.warmPool ? "yes" : "no").padEnd(4)}  ${fmt(r.hostHours).padStart(10)}  ${fmt(r.costUsd).padStart(9)}  ${fmt(r.totals.overloadMinutes).padStart(12)}  ${fmt(r.totals.refusedJoins).padStart(7)}  ${fmt(r.totals.callsCut).padStart(9)}  ${fmt(r.totals.callsCutAtLimit).padStart(9)}  ${fmt(r.totals.scaleOuts).padStart(10)}  ${fmt(r.totals.scaleIns).padStart(9)}`,
  );
}
const get = (name: string, warm = false) =>
  results.find((r) => r.policy === name && r.warmPool === warm)!;
const st = get("static");
const ours = get("ours");
const reactive = get("reactive");
const cloud = get("gcp-autoscaler");
const saving = (1 - ours.hostHours / st.hostHours) * 100;
console.log(
  `ratios: ours/static host-hours=${(ours.hostHours / st.hostHours).toFixed(3)} ours/reactive host-hours=${(ours.hostHours / reactive.hostHours).toFixed(3)} overload reduction vs reactive=${reactive.totals.overloadMinutes ? ((1 - ours.totals.overloadMinutes / reactive.totals.overloadMinutes) * 100).toFixed(1) : "n/a"}%`,
);
// The example stacks' policy (ours) against its compiled provider config, same 28 days.
for (const stack of loadStacks("stacks", ["gcp-us-west1", "aws-us-east-1"])) {
  const fleet = stack.fleet as Parameters<typeof replayCompiled>[0];
  const region = (stack.document.config["gcp:region"] ?? stack.document.config["aws:region"])!;
  const a = replayCompiled(fleet, region, compileScaling(fleet, region)!, DAYS);
  console.log(
    `compiled ${stack.name}: policy=${fleet.autoscaling.policy} host_hours_ratio=${a.hostHoursRatio.toFixed(4)} minutes_below_by_2+=${a.belowMinutes}/${a.minutes} minutes_above_by_2+=${a.aboveMinutes} overload_min=${a.overloadMinutes.policy}/${a.overloadMinutes.compiled}`,
  );
}
console.log(
  `autoscale: days=${DAYS} regions=${pools.length} static_host_hours=${Math.round(st.hostHours)} ours_host_hours=${Math.round(ours.hostHours)} saving_pct=${saving.toFixed(1)} ours_overload_min=${ours.totals.overloadMinutes} ours_calls_cut=${Math.round(ours.totals.callsCut)} reactive_overload_min=${reactive.totals.overloadMinutes} reactive_host_hours=${Math.round(reactive.hostHours)} cloud_native_overload_min=${cloud.totals.overloadMinutes} seconds=${seconds.toFixed(2)}`,
);
