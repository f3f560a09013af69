/**
 * bench:autoscale — every scaling policy replayed, closed loop (refused joins retry, cut calls'
 * participants rejoin), on the same 28 days of demand in six media regions across time zones
 * (diurnal and weekly shape in local time, growth, announced game launches, noise; sessions
 * with a multi-hour tail), plus a seventh pool hit by a ×2-in-60-s regional failover twice
 * (mid-morning and at the evening peak), with and without warm pools. Static is sized from the
 * four weeks before and bounded by maxHosts. Writes ours' frontier (host-hours against calls
 * cut at the drain limit) per pool to docs/frontier-autoscale.svg.
 */
import { writeFileSync } from "node:fs";
import { curveTrace, type CurveSpec } from "../modules/world/demand";
import { OURS_HEADROOM, POLICIES, policyNamed } from "../modules/scaling/policies";
import { peakOf, replay, sumResults, type ReplayPool } from "../modules/scaling/replay";
import { loadStacks } from "../modules/stacks/stack";
import { compileScaling } from "../modules/scaling/compile";
import { replayCompiled } from "../modules/scaling/interpret";
import {
  DEFAULT_WORST_STEP,
  localMinute,
  spikePlan,
  withSteps,
  worstStepOf,
} from "../modules/scaling/spikes";
import { unannouncedResidual } from "../modules/scaling/residual";
import { frontier } from "../modules/scaling/frontier";
import { DRAIN_CEILING_SEC } from "../modules/config/drain-ceiling";
import { frontierSvg } from "../modules/scaling/plot";

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
const POOL = {
  capacity: 1200,
  drainLimitMin: 30,
  coldBootMin: [3, 7] as [number, number],
  warmBootMin: 1,
};
const pools: ReplayPool[] = REGIONS.map((r, i) => {
  const curve = { ...r, troughShare: 0.12, weekendFactor: 0.85, weeklyGrowth: 0.015, noise: 0.04 };
  // The four weeks before, without their events: what the static fleet was sized from.
  const before = curveTrace(
    { ...curve, events: [], peakSessions: r.peakSessions / 1.015 ** 4, seed: 51 + i },
    DAYS,
  );
  return {
    trace: curveTrace({ ...curve, seed: 11 + i }, DAYS),
    sizingPeak: peakOf(before.sessions),
    pool: { ...POOL, seed: 101 + i },
    minHosts: 3,
    maxHosts: 500,
    hourlyUsd: 1.16,
  };
});

// The failover pool: us-west's demand (no launch) and the declared worst step twice, which the
// traffic split announces a boot time ahead by raising this pool's floor.
const step = DEFAULT_WORST_STEP;
const base = pools[0];
const quiet = curveTrace(
  {
    ...REGIONS[0],
    events: [],
    troughShare: 0.12,
    weekendFactor: 0.85,
    weeklyGrowth: 0.015,
    noise: 0.04,
    seed: 17,
  },
  DAYS,
);
const stepsAt = [localMinute(quiet, 10, 10.5), localMinute(quiet, 24, 19.5)];
const plan = spikePlan(step, POOL, {
  headroom: OURS_HEADROOM,
  peakSessions: base.sizingPeak,
  warmPool: false,
});
const failoverTrace = { ...withSteps(quiet, step, stepsAt), region: "us-west-failover" };
const failoverPool: ReplayPool = {
  ...base,
  trace: failoverTrace,
  pool: { ...POOL, seed: 107 },
  failovers: stepsAt.map((start) => ({
    start,
    end: start + step.durationMin + 1,
    factor: step.factor,
    noticeMin: plan.noticeMin,
    headroom: OURS_HEADROOM,
  })),
};
const allPools = [...pools, failoverPool];

const rows = [
  ...POLICIES.map((p) => ({ policy: p, warmPool: false })),
  { policy: policyNamed("ours")!, warmPool: true },
  { policy: policyNamed("gcp-autoscaler")!, warmPool: true },
];
const results = rows.map(({ policy, warmPool }) =>
  sumResults(allPools.map((pool) => replay(pool, policy, { warmPool }))),
);
const ours = policyNamed("ours")!;
const spike = replay(failoverPool, ours, { warmPool: false });
// The same steps with no notice: what the headroom alone leaves (the residual risk).
const unannounced = replay({ ...failoverPool, failovers: [] }, ours, { warmPool: false });
const unannouncedWarm = replay({ ...failoverPool, failovers: [] }, ours, { warmPool: true });
const frontiers = allPools.map((pool) => ({
  name: pool.trace.region,
  // Up to the longest drain GCP takes: the platform that drains first (#28).
  points: frontier(pool, false, DRAIN_CEILING_SEC / 60),
}));
writeFileSync(
  "docs/frontier-autoscale.svg",
  frontierSvg(
    frontiers,
    `ours: host-hours against calls cut at the drain limit, ${DAYS} days per pool`,
  ),
);
const seconds = (performance.now() - started) / 1000;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const pct = (part: number, whole: number) => (100 * part) / Math.max(1, whole);
console.log(
  `policy                  warm  host-hours   cost-usd  overload-min  refused    gave-up  cut<limit  cut@limit        calls  served%  worst-min%`,
);
for (const r of results) {
  console.log(
    `${r.policy.padEnd(22)}  ${(r.warmPool ? "yes" : "no").padEnd(4)}  ${fmt(r.hostHours).padStart(10)}  ${fmt(r.costUsd).padStart(9)}  ${fmt(r.totals.overloadMinutes).padStart(12)}  ${fmt(r.totals.refusedJoins).padStart(9)}  ${fmt(r.totals.gaveUp).padStart(7)}  ${fmt(r.totals.callsCut).padStart(9)}  ${fmt(r.totals.callsCutAtLimit).padStart(9)}  ${fmt(r.totals.calls).padStart(11)}  ${r.servedPct.toFixed(3).padStart(7)}  ${r.worstMinuteServedPct.toFixed(1).padStart(10)}`,
  );
}
for (const f of frontiers) {
  console.log(
    `frontier ${f.name}: ${f.points.map((p) => `${Number.isFinite(p.maxCutPerHost) ? `<=${p.maxCutPerHost}` : "any"}@${p.drainLimitMin}m ${fmt(p.hostHours)}h ${p.cutAtLimitPct.toFixed(3)}%${p.chosen ? "*" : ""}`).join(" | ")}`,
  );
}
console.log(
  `spike: step x${step.factor} in ${step.withinSec}s for ${step.durationMin} min at ${stepsAt.join(",")} (trace min); split notice ${plan.noticeMin} min: overload_min=${spike.totals.overloadMinutes}; unannounced: overload_min=${unannounced.totals.overloadMinutes} refused=${fmt(unannounced.totals.refusedJoins)} gave_up=${fmt(unannounced.totals.gaveUp)} (warm pool: overload_min=${unannouncedWarm.totals.overloadMinutes}); plan: warm_hosts=${plan.warmHosts} residual_overload_min=${plan.residual.overloadMin} sessions_short=${fmt(plan.residual.sessionsShort)}`,
);
const get = (name: string, warm = false) =>
  results.find((r) => r.policy === name && r.warmPool === warm)!;
const st = get("static");
const o = get("ours");
const reactive = get("reactive");
const cloud = get("gcp-autoscaler");
const saving = (1 - o.hostHours / st.hostHours) * 100;
console.log(
  `ratios: ours/static host-hours=${(o.hostHours / st.hostHours).toFixed(3)} ours/reactive host-hours=${(o.hostHours / reactive.hostHours).toFixed(3)} overload reduction vs reactive=${reactive.totals.overloadMinutes ? ((1 - o.totals.overloadMinutes / reactive.totals.overloadMinutes) * 100).toFixed(1) : "n/a"}%`,
);
// The example stacks' policy (ours) against its compiled provider config, same 28 days.
for (const stack of loadStacks("stacks", ["gcp-us-west1", "aws-us-east-1"])) {
  const fleet = stack.fleet as Parameters<typeof replayCompiled>[0];
  const region = (stack.document.config["gcp:region"] ?? stack.document.config["aws:region"])!;
  const a = replayCompiled(fleet, region, compileScaling(fleet, region)!, DAYS);
  console.log(
    `compiled ${stack.name}: policy=${fleet.autoscaling.policy} host_hours_ratio=${a.hostHoursRatio.toFixed(4)} minutes_below_by_2+=${a.belowMinutes}/${a.minutes} minutes_above_by_2+=${a.aboveMinutes} overload_min=${a.overloadMinutes.policy}/${a.overloadMinutes.compiled} cut_at_limit_pct=${a.cutAtLimitPct.policy.toFixed(3)}/${a.cutAtLimitPct.compiled.toFixed(3)}`,
  );
}
// The residual risk of each example cloud stack's own worst step, unannounced (#28).
for (const stack of loadStacks("stacks", [
  "gcp-us-west1",
  "gcp-europe-west4",
  "aws-us-east-1",
  "aws-eu-central-1",
])) {
  const fleet = stack.fleet as Parameters<typeof replayCompiled>[0];
  const region = (stack.document.config["gcp:region"] ?? stack.document.config["aws:region"])!;
  const declared = worstStepOf(fleet);
  const r = unannouncedResidual(fleet, region, declared);
  console.log(
    `worst step ${stack.name}: policy=${fleet.autoscaling.policy} factor=${declared.factor} within_s=${declared.withinSec} warm=${r.warmPool ? 1 : 0} residual_overload_min=${r.overloadMinutes} residual_refused_joins=${Math.round(r.refusedJoins)} residual_gave_up=${Math.round(r.gaveUp)}`,
  );
}
console.log(
  `autoscale: days=${DAYS} regions=${pools.length} failover_pools=1 static_host_hours=${Math.round(st.hostHours)} ours_host_hours=${Math.round(o.hostHours)} saving_pct=${saving.toFixed(1)} ours_overload_min=${o.totals.overloadMinutes} ours_calls_cut=${Math.round(o.totals.callsCut)} reactive_overload_min=${reactive.totals.overloadMinutes} reactive_host_hours=${Math.round(reactive.hostHours)} cloud_native_overload_min=${cloud.totals.overloadMinutes} seconds=${seconds.toFixed(2)} closed_loop=1 served_pct=${o.servedPct.toFixed(3)} calls_cut_at_limit_pct=${pct(o.totals.callsCutAtLimit, o.totals.calls).toFixed(3)} spike_overload_min=${spike.totals.overloadMinutes}`,
);
