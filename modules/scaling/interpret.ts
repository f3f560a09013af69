/**
 * The compiled provider config read back as a Policy, with the providers' documented semantics,
 * so that a replay can check it decides what the policy it was compiled from decides.
 *
 * GCP: the recommendation is the highest of the active scaling schedules' minRequiredReplicas
 * and the metric's (load / target per host), then stabilization and scale-in control.
 * AWS: the group's minimum is the last scheduled action's minSize, raised by predictive
 * scaling's forecast capacity for the hour ahead (it never lowers it); target tracking moves the
 * desired capacity within [min, max]. Schedules are read in the zone's standard time, as the
 * replay's curve has no daylight saving.
 */
import { MINUTES_PER_WEEK } from "../world/demand";
import { zoneOffsetHours } from "../world/regions";
import type { Removal } from "../world/pool";
import { cronStarts, type AwsScaling, type FleetScaling, type GcpScaling } from "../fleets/scaling";
import { awsPredictive, cloudAutoscaler, type Observation, type Policy } from "./policies";
import { OPEN_LOOP, replay, type ReplayResult } from "./replay";
import type { AwsFleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { machineType } from "../machines/machine-types";
import { curveTrace } from "../world/demand";
import { cloudNativeFor, controlsOf, curveOf, oursFor, poolOf } from "./compile";
import { warmPoolOf } from "../config/fleet";

/** What the provider config leaves to the rest of the fleet: host size and how hosts leave. */
export interface FleetFacts {
  /** Streams one host forwards at full load (the metric targets are in streams). */
  streamsPerHost: number;
  /** Sessions one host carries at full load (the replay's unit). */
  sessionsPerHost: number;
  removal: Removal;
}

/** Local week minute of trace minute `t` (trace minute 0 is Monday 00:00 UTC). */
function localWeekMinute(t: number, timeZone: string): number {
  const offset = zoneOffsetHours(timeZone);
  if (offset === undefined)
    throw new Error(`time zone ${timeZone} has no offset in modules/world/regions.ts`);
  const local = t + Math.round(offset * 60);
  return ((local % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
}

/** GCP: the highest minRequiredReplicas among schedules running at each minute of the week. */
function gcpScheduleFloor(scaling: GcpScaling): (t: number) => number {
  const schedules = scaling.autoscalingPolicy.scalingSchedules ?? [];
  const week = new Int32Array(MINUTES_PER_WEEK);
  for (const s of schedules) {
    for (const start of cronStarts(s.schedule)) {
      for (let m = start; m < start + s.durationSec / 60; m++) {
        const i = m % MINUTES_PER_WEEK;
        week[i] = Math.max(week[i], s.minRequiredReplicas);
      }
    }
  }
  const zone = schedules[0]?.timeZone;
  return zone ? (t) => week[localWeekMinute(t, zone)] : () => 0;
}

/** AWS: the minSize the last scheduled action set, at each minute of the week. */
function awsScheduleFloor(scaling: AwsScaling): (t: number) => number {
  const fired = scaling.schedules
    .flatMap((a) => cronStarts(a.recurrence).map((start) => ({ start, minSize: a.minSize })))
    .sort((a, b) => a.start - b.start);
  if (fired.length === 0) return () => 0;
  const week = new Int32Array(MINUTES_PER_WEEK);
  // Before the week's first action the previous week's last one holds.
  let current = fired[fired.length - 1].minSize;
  let next = 0;
  for (let m = 0; m < MINUTES_PER_WEEK; m++) {
    while (next < fired.length && fired[next].start <= m) current = fired[next++].minSize;
    week[m] = current;
  }
  const zone = scaling.schedules[0].timeZone;
  return (t) => week[localWeekMinute(t, zone)];
}

function predictiveFloor(scaling: AwsScaling, facts: FleetFacts): () => (o: Observation) => number {
  const predictive = scaling.predictive;
  if (!predictive || predictive.mode !== "ForecastAndScale") return () => () => 0;
  const perHost =
    (predictive.metricSpecification.targetValue / facts.streamsPerHost) * facts.sessionsPerHost;
  return () => awsPredictive(perHost, Number(predictive.schedulingBufferTime) / 60);
}

/** The compiled config as a Policy, and whether its hosts boot from a warm pool. */
export function interpretScaling(
  scaling: FleetScaling,
  facts: FleetFacts,
): { policy: Policy; warmPool: boolean } {
  const name = `compiled-${scaling.policy}-${scaling.kind}`;
  if (scaling.kind === "gcp") {
    const p = scaling.autoscalingPolicy;
    const floor = gcpScheduleFloor(scaling);
    const controls = {
      cloud: "gcp" as const,
      targetUtilization: p.metrics[0].target / facts.streamsPerHost,
      scaleIn: {
        windowMin: p.scaleInControl.timeWindowSec / 60,
        maxHosts: p.scaleInControl.maxScaledInReplicas.fixed,
      },
      removal: facts.removal,
    };
    return {
      policy: {
        name,
        summary: `${scaling.policy} as GCP's autoscaler runs it`,
        start: () =>
          cloudAutoscaler(controls, { minHosts: p.minReplicas, maxHosts: p.maxReplicas }, (o) =>
            floor(o.now),
          ),
      },
      warmPool: (scaling.standby?.targetStoppedSize ?? 0) > 0,
    };
  }
  const controls = {
    cloud: "aws" as const,
    targetUtilization: scaling.targetTracking.targetValue / facts.streamsPerHost,
    removal: facts.removal,
  };
  return {
    policy: {
      name,
      summary: `${scaling.policy} as AWS's Auto Scaling runs it`,
      start: (bounds) => {
        const scheduled = awsScheduleFloor(scaling);
        const predicted = predictiveFloor(scaling, facts)();
        return cloudAutoscaler(controls, bounds, (o) => Math.max(scheduled(o.now), predicted(o)));
      },
    },
    warmPool: (scaling.warmPool?.minSize ?? 0) > 0,
  };
}

/**
 * How closely a compiled config's replay (`compiled`) follows its policy's (`policy`) on one
 * trace, minute by minute, in serving hosts.
 */
export interface Agreement {
  toleranceHosts: number;
  /** Minutes the compiled config serves with more than `toleranceHosts` fewer hosts. */
  belowMinutes: number;
  /** Minutes it serves with more than `toleranceHosts` more hosts. */
  aboveMinutes: number;
  minutes: number;
  /** Host-hours of the compiled config over the policy's. */
  hostHoursRatio: number;
  overloadMinutes: { policy: number; compiled: number };
  /** Calls cut at the drain limit, in % of calls started: what each one's scale-in costs. */
  cutAtLimitPct: { policy: number; compiled: number };
}

export function agreement(
  policy: ReplayResult,
  compiled: ReplayResult,
  sessionsPerHost: number,
  toleranceHosts: number,
): Agreement {
  const [want, got] = [policy.series!.capacity, compiled.series!.capacity];
  let below = 0;
  let above = 0;
  for (let m = 0; m < want.length; m++) {
    const diff = (got[m] - want[m]) / sessionsPerHost;
    if (diff < -toleranceHosts) below++;
    if (diff > toleranceHosts) above++;
  }
  return {
    toleranceHosts,
    belowMinutes: below,
    aboveMinutes: above,
    minutes: want.length,
    hostHoursRatio: compiled.hostHours / policy.hostHours,
    overloadMinutes: {
      policy: policy.totals.overloadMinutes,
      compiled: compiled.totals.overloadMinutes,
    },
    cutAtLimitPct: {
      policy: cutAtLimitPct(policy),
      compiled: cutAtLimitPct(compiled),
    },
  };
}

function cutAtLimitPct(r: ReplayResult): number {
  return (100 * r.totals.callsCutAtLimit) / Math.max(1, r.totals.calls);
}

/** The compiled config of a fleet spec as a Policy (named `compiled`): what the stack deploys. */
export function compiledPolicy(
  spec: GcpFleetSpec | AwsFleetSpec,
  scaling: FleetScaling,
): { policy: Policy; warmPool: boolean } {
  const type = machineType(spec.kind === "gcp" ? spec.machineType : spec.instanceType);
  const read = interpretScaling(scaling, {
    streamsPerHost: type.streamsPerHost,
    sessionsPerHost: poolOf(spec).capacity,
    removal: controlsOf(spec).removal,
  });
  return {
    policy: {
      ...read.policy,
      name: "compiled",
      summary: `what the stack deploys: ${read.policy.summary}`,
    },
    warmPool: read.warmPool,
  };
}

/**
 * The golden check: the policy a fleet spec names (oursFor) and its compiled config, read back
 * with the providers' semantics, replayed over the same days of the spec's demand curve.
 */
export function replayCompiled(
  spec: GcpFleetSpec | AwsFleetSpec,
  region: string,
  scaling: FleetScaling,
  days: number,
): Agreement {
  const pool = poolOf(spec);
  const trace = curveTrace(curveOf(spec, region), days);
  const target = {
    trace,
    pool,
    minHosts: spec.minHosts,
    maxHosts: spec.maxHosts,
    hourlyUsd: pool.hourlyUsd,
    sizingPeak: spec.demand.peakParticipants,
  };
  const read = compiledPolicy(spec, scaling);
  const policy = spec.autoscaling.policy === "ours" ? oursFor(spec, region) : cloudNativeFor(spec);
  // Open loop: both decide on the same joins, minute for minute; closed, each run's own cuts
  // would come back as joins and the two would no longer see the same demand.
  const options = { keepSeries: true, retry: OPEN_LOOP };
  return agreement(
    replay(target, policy, { ...options, warmPool: warmPoolOf(spec) }),
    replay(target, read.policy, { ...options, warmPool: read.warmPool }),
    pool.capacity,
    1,
  );
}
