/**
 * Compile: a pool's scaling policy and the demand curve its fleet spec implies → the provider
 * settings its autoscaler runs. Pure; the fleets declare what this returns.
 *
 * `cloud-native`: target tracking on the per-host media load, nothing ahead of demand.
 * `ours`: the same target tracking as the reactive floor, plus the forecast as floors on a
 * weekly schedule (one per local half hour that changes, weekdays and weekends apart, in the region's
 * time zone); on AWS also predictive scaling (it follows growth the compiled curve cannot know)
 * and a warm pool of stopped hosts.
 */
import type { AwsFleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { warmPoolOf } from "../config/fleet";
import { machineType } from "../machines/machine-types";
import { autohealingInitialDelaySec, autoscalingPolicy } from "../fleets/gcp-args";
import { drainHook, groupName, mediaMetric, targetStreamsPerHost } from "../fleets/aws-args";
import { hookReleasesAt } from "../providers/aws";
import type {
  AwsMetricDataQuery,
  AwsScaling,
  AwsScheduledAction,
  FleetScaling,
  GcpScaling,
  GcpScalingSchedule,
  GcpStandbyPool,
} from "../fleets/scaling";
import {
  curveBase,
  demandCurve,
  diurnalShare,
  MINUTES_PER_DAY,
  type CurveSpec,
} from "../world/demand";
import { timeZoneOf, utcOffsetHours } from "../world/regions";
import { spikePlan, worstStepOf } from "./spikes";
import type { PoolSpec, Removal } from "../world/pool";
import {
  awsPredictive,
  FORECAST_LEAD_MIN,
  OURS_MAX_CUT_PER_HOST,
  oursOn,
  type CloudControls,
  type Observation,
  type Policy,
} from "./policies";

// The clouds' limits, as the pack judges them.
import { AWS_MAX_SCHEDULED_ACTIONS, GCP_MAX_SCHEDULES } from "../../policy/contract/rules";

/** Boot minutes without a warm pool (uniform) and from one: what the replay's pool assumes. */
export const COLD_BOOT_MIN: [number, number] = [3, 7];
export const WARM_BOOT_MIN = 1;

type CloudSpec = GcpFleetSpec | AwsFleetSpec;

/** The simulated pool a fleet spec implies: sessions per host, drain limit, boot times. */
export function poolOf(spec: CloudSpec): Omit<PoolSpec, "warmPool"> & { hourlyUsd: number } {
  const type = machineType(spec.kind === "gcp" ? spec.machineType : spec.instanceType);
  return {
    capacity: Math.floor(type.streamsPerHost / spec.demand.streamsPerParticipant),
    drainLimitMin: Math.round(spec.drainSeconds / 60),
    coldBootMin: COLD_BOOT_MIN,
    warmBootMin: WARM_BOOT_MIN,
    seed: 1,
    hourlyUsd: type.hourlyUsd,
  };
}

/** The demand curve of a pool's region, from its fleet spec (no calendar: the spec has none). */
export function curveOf(spec: CloudSpec, region: string): CurveSpec {
  const offset = utcOffsetHours(region);
  if (offset === undefined)
    throw new Error(`region ${region} has no time zone in modules/world/regions.ts`);
  return demandCurve(region, offset, spec.demand.peakParticipants, spec.demand.peakToAverage, []);
}

/**
 * How long an AWS host drains before it goes, as the provider model has it: its agent completes
 * the drain hook at zero calls or at drainSeconds, heartbeating the hook meanwhile, and the hook
 * lets go of a host anyway at its global timeout (min(48 h, 100 x heartbeat)).
 */
export function awsDrainLimitSec(spec: AwsFleetSpec): number {
  return Math.min(spec.drainSeconds, hookReleasesAt(drainHook(spec), 0, spec.drainSeconds));
}

/**
 * Hosts kept stopped for a scale-out: the largest rise between two windows' floors (what one
 * schedule change asks for at once), or the hosts the stack's worst step at the peak leaves
 * short of the target's headroom, if more; never more than the group can add.
 */
function standbyHosts(spec: CloudSpec, floors: Record<DayKind, number[]>): number {
  const all = [...floors.weekday, ...floors.weekend];
  const rise = Math.max(1, ...all.slice(1).map((n, i) => n - all[i]));
  const step = spikePlan(worstStepOf(spec), poolOf(spec), {
    headroom: 1 / spec.autoscaling.targetUtilization - 1,
    peakSessions: spec.demand.peakParticipants,
    warmPool: true,
  });
  return Math.min(Math.max(rise, step.warmHosts), spec.maxHosts - spec.minHosts);
}

/** Boot minutes the schedules lead by: from stopped hosts when the pool keeps them. */
function leadBootMin(spec: CloudSpec): number {
  return warmPoolOf(spec) ? WARM_BOOT_MIN : Math.round((COLD_BOOT_MIN[0] + COLD_BOOT_MIN[1]) / 2);
}

/** The cloud autoscaler's controls a fleet spec sets: what both the policy and its compilation run under. */
export function controlsOf(spec: CloudSpec): CloudControls {
  const { targetUtilization } = spec.autoscaling;
  if (spec.kind === "aws") {
    return {
      cloud: "aws",
      targetUtilization,
      // The pool's termination policy (modules/aws-scale-in/termination.py) takes the hosts
      // expected to hold the fewest calls at the limit, none over maxCutPerHost (those also
      // protect themselves); with none to take the group waits (modules/providers/aws.ts
      // CUSTOM_TERMINATION, SCALE_IN_PROTECTION).
      removal: {
        kind: "drain",
        pick: "fewest-left-at-limit",
        limitMin: awsDrainLimitSec(spec) / 60,
        maxLeftAtLimit: spec.autoscaling.maxCutPerHost,
      },
    };
  }
  const policy = autoscalingPolicy(spec);
  return {
    cloud: "gcp",
    targetUtilization,
    scaleIn: {
      windowMin: policy.scaleInControl.timeWindowSec / 60,
      maxHosts: policy.scaleInControl.maxScaledInReplicas.fixed,
    },
    removal: gcpRemoval(spec.drainSeconds, spec.autoscaling.maxCutPerHost),
  };
}

/**
 * How GCP hosts leave: always through the scale-in controller (modules/gcp-scale-in/controller.py),
 * never a MIG deletion. At the autoscaler's recommendation, already throttled by scale-in
 * control, it marks the hosts expected to hold the fewest calls at the drain limit (their agents
 * tell from their calls' ages), none above `maxCutPerHost` (it waits); each drains up to the
 * pool's limit, and the controller deletes it once its drain is done or the limit has passed.
 * Its cordon is cloudAutoscaler's.
 */
export function gcpRemoval(drainSeconds: number, maxCutPerHost: number): Removal {
  return {
    kind: "drain",
    pick: "fewest-left-at-limit",
    limitMin: drainSeconds / 60,
    maxLeftAtLimit: maxCutPerHost,
  };
}

/** The per-host cut budget ours runs with on a stack: its own key on GCP, ours' default elsewhere. */
export function maxCutPerHostOf(spec: CloudSpec): number {
  return spec.kind === "gcp" ? spec.autoscaling.maxCutPerHost : OURS_MAX_CUT_PER_HOST;
}

export type DayKind = "weekday" | "weekend";
const DAYS_OF_WEEK: Record<DayKind, string> = { weekday: "1-5", weekend: "0,6" };

/**
 * Minutes of each scheduled floor: half an hour follows the evening ramp closely enough while
 * both days' schedules stay within GCP's 128 and AWS's 125.
 */
export const WINDOW_MIN = 30;
const WINDOWS_PER_DAY = MINUTES_PER_DAY / WINDOW_MIN;

/**
 * The forecast floor of each half hour of the local day, weekdays and weekends: hosts for the
 * busiest minute of the window and of the lookahead after it (boot time + 15 minutes, as ours
 * looks ahead), plus the margin, within [min, max]. The lookahead past midnight counts as a
 * weekday (the busier kind).
 */
export function windowFloors(
  curve: CurveSpec,
  sessionsPerHost: number,
  bounds: { minHosts: number; maxHosts: number; margin: number; bootMin: number },
): Record<DayKind, number[]> {
  const lookahead = bounds.bootMin + FORECAST_LEAD_MIN;
  const floorsOf = (kind: DayKind) =>
    Array.from({ length: WINDOWS_PER_DAY }, (_, w) => {
      let peak = 0;
      for (let m = w * WINDOW_MIN; m < (w + 1) * WINDOW_MIN + lookahead; m++) {
        const factor = kind === "weekend" && m < MINUTES_PER_DAY ? curve.weekendFactor : 1;
        const hour = (m % MINUTES_PER_DAY) / 60;
        peak = Math.max(peak, curve.peakSessions * factor * diurnalShare(hour, curve));
      }
      const hosts = Math.ceil((peak * (1 + bounds.margin)) / sessionsPerHost);
      return Math.max(bounds.minHosts, Math.min(bounds.maxHosts, hosts));
    });
  return { weekday: floorsOf("weekday"), weekend: floorsOf("weekend") };
}

/** A window's local start as cron fields and as HHMM. */
function startOf(window: number): { minute: number; hour: number; hhmm: string } {
  const minute = (window * WINDOW_MIN) % 60;
  const hour = Math.floor((window * WINDOW_MIN) / 60);
  return {
    minute,
    hour,
    hhmm: `${String(hour).padStart(2, "0")}${String(minute).padStart(2, "0")}`,
  };
}

/**
 * Ours' forecast floor minute by minute from the spec's curve: hosts for the busiest minute of
 * the next boot time + 15 minutes, plus the margin. The replayed policy compile is checked
 * against; the compiled schedules hold it in half-hour steps.
 */
export function curveFloor(curve: CurveSpec, sessionsPerHost: number, margin: number) {
  return (o: Observation): number => {
    let peak = 0;
    for (let t = o.now; t < o.now + o.bootMin + FORECAST_LEAD_MIN; t++)
      peak = Math.max(peak, curveBase(curve, t));
    return Math.ceil((peak * (1 + margin)) / sessionsPerHost);
  };
}

/** The policy a fleet spec's `ours` stands for, as its cloud runs it, before compilation. */
export function oursFor(spec: CloudSpec, region: string): Policy {
  const { capacity } = poolOf(spec);
  const { forecastMargin } = spec.autoscaling;
  const forecast = () => curveFloor(curveOf(spec, region), capacity, forecastMargin);
  if (spec.kind === "gcp") return oursOn(controlsOf(spec), forecast);
  // On AWS predictive scaling follows growth the compiled curve cannot know.
  const atTarget = targetStreamsPerHost(spec) / spec.demand.streamsPerParticipant;
  return oursOn(controlsOf(spec), () => {
    const [curve, predicted] = [
      forecast(),
      awsPredictive(atTarget, spec.autoscaling.warmupSec / 60),
    ];
    return (o) => Math.max(curve(o), predicted(o));
  });
}

/** The cloud's autoscaler with nothing ahead of demand: what `cloud-native` stands for. */
export function cloudNativeFor(spec: CloudSpec): Policy {
  return oursOn(controlsOf(spec), () => () => 0, "cloud-native");
}

/** One GCP schedule per run of equal window floors above the minimum. */
function gcpSchedules(
  floors: Record<DayKind, number[]>,
  timeZone: string,
  minHosts: number,
): GcpScalingSchedule[] {
  const schedules: GcpScalingSchedule[] = [];
  for (const kind of ["weekday", "weekend"] as const) {
    const windows = floors[kind];
    for (let first = 0; first < WINDOWS_PER_DAY;) {
      let end = first + 1;
      while (end < WINDOWS_PER_DAY && windows[end] === windows[first]) end++;
      if (windows[first] > minHosts) {
        const { minute, hour, hhmm } = startOf(first);
        schedules.push({
          name: `${kind}-${hhmm}`,
          description: `forecast floor of ${kind}s from ${hhmm} local, ${(end - first) * WINDOW_MIN} min`,
          schedule: `${minute} ${hour} * * ${DAYS_OF_WEEK[kind]}`,
          timeZone,
          durationSec: (end - first) * WINDOW_MIN * 60,
          minRequiredReplicas: windows[first],
        });
      }
      first = end;
    }
  }
  return schedules;
}

/** One AWS scheduled action wherever the window floor changes (and at each day's start). */
function awsSchedules(floors: Record<DayKind, number[]>, timeZone: string): AwsScheduledAction[] {
  const actions: AwsScheduledAction[] = [];
  for (const kind of ["weekday", "weekend"] as const) {
    floors[kind].forEach((minSize, w) => {
      if (w > 0 && floors[kind][w - 1] === minSize) return;
      const { minute, hour, hhmm } = startOf(w);
      actions.push({
        scheduledActionName: `${kind}-${hhmm}`,
        recurrence: `${minute} ${hour} * * ${DAYS_OF_WEEK[kind]}`,
        timeZone,
        minSize,
        maxSize: -1,
        desiredCapacity: -1,
      });
    });
  }
  return actions;
}

/** The load of the whole group (average per host × hosts in service) and the per-host scaling metric. */
function predictiveMetrics(
  group: string,
  metric: ReturnType<typeof mediaMetric>,
): {
  load: AwsMetricDataQuery[];
  scaling: AwsMetricDataQuery[];
} {
  const streams = (id: string, returnData: boolean): AwsMetricDataQuery => ({
    id,
    metricStat: {
      metric: {
        namespace: metric.namespace,
        metricName: metric.name,
        dimensions: [{ name: "AutoScalingGroupName", value: group }],
      },
      stat: "Average",
    },
    returnData,
  });
  return {
    // A gauge's Sum would count every report of the period; average × hosts is the group's load.
    load: [
      streams("per_host", false),
      {
        id: "hosts",
        metricStat: {
          metric: {
            namespace: "AWS/AutoScaling",
            metricName: "GroupInServiceInstances",
            dimensions: [{ name: "AutoScalingGroupName", value: group }],
          },
          stat: "Average",
        },
        returnData: false,
      },
      { id: "load", expression: "per_host * hosts", returnData: true },
    ],
    scaling: [streams("per_host", true)],
  };
}

export function compileGcp(spec: GcpFleetSpec, region: string): GcpScaling {
  const base = autoscalingPolicy(spec);
  const { policy } = spec.autoscaling;
  if (policy === "cloud-native") return { kind: "gcp", policy, autoscalingPolicy: base };
  const pool = poolOf(spec);
  const floors = windowFloors(curveOf(spec, region), pool.capacity, {
    minHosts: spec.minHosts,
    maxHosts: spec.maxHosts,
    margin: spec.autoscaling.forecastMargin,
    bootMin: leadBootMin(spec),
  });
  const scalingSchedules = gcpSchedules(floors, timeZoneOf(region)!, spec.minHosts);
  if (scalingSchedules.length > GCP_MAX_SCHEDULES) {
    throw new Error(
      `${scalingSchedules.length} scaling schedules, GCP allows ${GCP_MAX_SCHEDULES}`,
    );
  }
  return {
    kind: "gcp",
    policy,
    autoscalingPolicy: { ...base, scalingSchedules },
    ...(warmPoolOf(spec) ? { standby: standbyPool(spec, floors) } : {}),
  };
}

/**
 * SCALE_OUT_POOL: a scale-out starts these stopped VMs first and the MIG refills the pool with
 * new ones (RegionInstanceGroupManager standbyPolicy, @pulumi/gcp 9.37.0). A new VM is stopped
 * only after its boot budget, as the autohealer waits for it: stopped mid-boot, it would start
 * half initialized.
 */
function standbyPool(spec: GcpFleetSpec, floors: Record<DayKind, number[]>): GcpStandbyPool {
  return {
    standbyPolicy: { mode: "SCALE_OUT_POOL", initialDelaySec: autohealingInitialDelaySec(spec) },
    targetStoppedSize: standbyHosts(spec, floors),
  };
}

export function compileAws(spec: AwsFleetSpec, region: string): AwsScaling {
  const targetValue = targetStreamsPerHost(spec);
  const targetTracking = { targetValue, estimatedInstanceWarmup: spec.autoscaling.warmupSec };
  const { policy } = spec.autoscaling;
  if (policy === "cloud-native") return { kind: "aws", policy, targetTracking, schedules: [] };
  const pool = poolOf(spec);
  const floors = windowFloors(curveOf(spec, region), pool.capacity, {
    minHosts: spec.minHosts,
    maxHosts: spec.maxHosts,
    margin: spec.autoscaling.forecastMargin,
    bootMin: leadBootMin(spec),
  });
  const schedules = awsSchedules(floors, timeZoneOf(region)!);
  if (schedules.length > AWS_MAX_SCHEDULED_ACTIONS) {
    throw new Error(
      `${schedules.length} scheduled actions, AWS allows ${AWS_MAX_SCHEDULED_ACTIONS}`,
    );
  }
  const metrics = predictiveMetrics(groupName(spec), mediaMetric(spec.pool));
  const warmHosts = standbyHosts(spec, floors);
  return {
    kind: "aws",
    policy,
    targetTracking,
    predictive: {
      mode: "ForecastAndScale",
      schedulingBufferTime: String(spec.autoscaling.warmupSec),
      maxCapacityBreachBehavior: "HonorMaxCapacity",
      metricSpecification: {
        targetValue,
        customizedLoadMetricSpecification: { metricDataQueries: metrics.load },
        customizedScalingMetricSpecification: { metricDataQueries: metrics.scaling },
      },
    },
    schedules,
    ...(warmPoolOf(spec)
      ? {
          warmPool: {
            poolState: "Stopped" as const,
            minSize: warmHosts,
            maxGroupPreparedCapacity: warmHosts,
            instanceReusePolicy: { reuseOnScaleIn: false as const },
          },
        }
      : {}),
  };
}

/** The compiled autoscaling of a cloud fleet stack; undefined for metal and traffic stacks. */
export function compileScaling(
  spec: CloudSpec | { kind: "metal" } | undefined,
  region: string | undefined,
): FleetScaling | undefined {
  if (!spec || !region) return undefined;
  if (spec.kind === "gcp") return compileGcp(spec, region);
  if (spec.kind === "aws") return compileAws(spec, region);
  return undefined;
}
