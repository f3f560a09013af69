/**
 * What a fleet's autoscaling declares, in the providers' own field names. modules/scaling
 * compiles a scaling policy into these shapes (it reads the demand curve, which sits above the
 * fleets); the components declare them as given.
 */

/** One entry of a GCP autoscaler's `autoscalingPolicy.scalingSchedules`. */
export interface GcpScalingSchedule {
  /** Unique in the autoscaler; lowercase letters, digits and hyphens. */
  name: string;
  description: string;
  /** Extended cron: when each interval starts, in `timeZone`. */
  schedule: string;
  /** An IANA time zone name. */
  timeZone: string;
  /** At least 300. */
  durationSec: number;
  minRequiredReplicas: number;
}

/** A GCP autoscaler's `autoscalingPolicy`. */
export interface GcpAutoscalingPolicy {
  mode: "ON" | "ONLY_SCALE_OUT";
  minReplicas: number;
  maxReplicas: number;
  cooldownPeriod: number;
  metrics: { name: string; target: number; type: "GAUGE" }[];
  scaleInControl: { maxScaledInReplicas: { fixed: number }; timeWindowSec: number };
  scalingSchedules?: GcpScalingSchedule[];
}

/** One `aws.autoscaling.Schedule`: a recurring change of the group's minimum, nothing else. */
export interface AwsScheduledAction {
  scheduledActionName: string;
  /** Unix cron, in `timeZone`. */
  recurrence: string;
  /** An IANA time zone name. */
  timeZone: string;
  minSize: number;
  /** -1: unchanged. The provider's default (0) would set it. */
  maxSize: -1;
  /** -1: unchanged, so a schedule never writes the size target tracking owns. */
  desiredCapacity: -1;
}

/** One CloudWatch query of a predictive scaling metric specification. */
export interface AwsMetricDataQuery {
  id: string;
  expression?: string;
  metricStat?: {
    metric: {
      namespace: string;
      metricName: string;
      dimensions: { name: string; value: string }[];
    };
    stat: string;
  };
  returnData: boolean;
}

/** An `aws.autoscaling.Policy`'s `predictiveScalingConfiguration`. */
export interface AwsPredictiveScaling {
  mode: "ForecastAndScale" | "ForecastOnly";
  /** Seconds ahead of each forecast hour that instances launch. */
  schedulingBufferTime: string;
  maxCapacityBreachBehavior: "HonorMaxCapacity";
  metricSpecification: {
    /** Per-host load the forecast capacity holds: forecast load / this = hosts. */
    targetValue: number;
    customizedLoadMetricSpecification: { metricDataQueries: AwsMetricDataQuery[] };
    customizedScalingMetricSpecification: { metricDataQueries: AwsMetricDataQuery[] };
  };
}

/** An `aws.autoscaling.Group`'s `warmPool`. */
export interface AwsWarmPool {
  poolState: "Stopped";
  minSize: number;
  /** Equal to minSize: otherwise the pool holds max size − desired capacity hosts. */
  maxGroupPreparedCapacity: number;
  instanceReusePolicy: { reuseOnScaleIn: false };
}

/** A GCP MIG's standby pool: stopped VMs a scale-out starts before it creates new ones. */
export interface GcpStandbyPool {
  standbyPolicy: { mode: "SCALE_OUT_POOL"; initialDelaySec: number };
  targetStoppedSize: number;
}

export interface GcpScaling {
  kind: "gcp";
  policy: string;
  autoscalingPolicy: GcpAutoscalingPolicy;
  standby?: GcpStandbyPool;
}

export interface AwsScaling {
  kind: "aws";
  policy: string;
  targetTracking: { targetValue: number; estimatedInstanceWarmup: number };
  predictive?: AwsPredictiveScaling;
  schedules: AwsScheduledAction[];
  warmPool?: AwsWarmPool;
}

export type FleetScaling = GcpScaling | AwsScaling;

/** What preview prints of a pool's compiled autoscaling. */
export function scalingSummary(scaling: FleetScaling): string {
  if (scaling.kind === "gcp") {
    const p = scaling.autoscalingPolicy;
    const control = p.scaleInControl;
    return [
      `${scaling.policy}: GCP autoscaler ${p.mode}, target ${p.metrics[0].target} streams/host`,
      floors(p.scalingSchedules?.map((s) => s.minRequiredReplicas) ?? []),
      `scale-in ≤ ${control.maxScaledInReplicas.fixed} hosts per ${control.timeWindowSec} s`,
      `standby pool ${scaling.standby ? `${scaling.standby.targetStoppedSize} stopped` : "none"}`,
    ].join(" · ");
  }
  return [
    `${scaling.policy}: AWS target tracking ${scaling.targetTracking.targetValue} streams/host`,
    floors(scaling.schedules.map((s) => s.minSize)),
    `predictive ${scaling.predictive ? scaling.predictive.mode : "off"}`,
    `warm pool ${scaling.warmPool ? `${scaling.warmPool.minSize} ${scaling.warmPool.poolState.toLowerCase()}` : "none"}`,
  ].join(" · ");
}

function floors(mins: number[]): string {
  if (mins.length === 0) return "no schedules";
  return `${mins.length} schedules, floors ${Math.min(...mins)}–${Math.max(...mins)} hosts`;
}

const DAY_MIN = 24 * 60;
const WEEK_MIN = 7 * DAY_MIN;

/** A cron `M H * * DOW` (what compile emits): the minutes of a local week (0 = Monday 00:00) it fires. */
export function cronStarts(cron: string): number[] {
  const [minute, hour, dom, month, dow, ...rest] = cron.split(" ");
  if (dom !== "*" || month !== "*" || rest.length || !/^\d+$/.test(minute) || !/^\d+$/.test(hour))
    throw new Error(`cron "${cron}" is not of the form M H * * DOW`);
  const days = new Set<number>();
  for (const part of dow === "*" ? ["0-6"] : dow.split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    for (let d = from; d <= to; d++) days.add(d % 7);
  }
  // Cron counts days from Sunday (0); the local week here starts on Monday.
  return [...days].map((d) => ((d + 6) % 7) * DAY_MIN + +hour * 60 + +minute);
}

/** Minutes into the local week (Monday 00:00 = 0) of `at` in the IANA zone `timeZone`, DST included. */
function weekMinute(at: Date, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(parts.weekday);
  return day * DAY_MIN + Number(parts.hour) * 60 + Number(parts.minute);
}

/**
 * The minimum the scheduled actions hold at `at` (ISO 8601): the one that fired last before it
 * in its own time zone, as Auto Scaling runs a recurrence (modules/providers/aws.ts
 * SCHEDULED_MIN). Only the `M H * * D` recurrences modules/scaling compiles are read.
 */
export function scheduledFloorAt(schedules: AwsScheduledAction[], at: string): number {
  const instant = new Date(at);
  if (schedules.length === 0 || Number.isNaN(instant.getTime()))
    throw new Error(`no scheduled floor at ${at}: ${schedules.length} scheduled actions`);
  let best: { since: number; minSize: number } | undefined;
  for (const action of schedules) {
    const now = weekMinute(instant, action.timeZone);
    for (const fires of cronStarts(action.recurrence)) {
      const since = (now - fires + WEEK_MIN) % WEEK_MIN;
      if (!best || since < best.since) best = { since, minSize: action.minSize };
    }
  }
  return best!.minSize;
}
