/**
 * Autoscaling policies, each a function of what it can observe minute by minute (load, hosts,
 * its own history, the team's calendar of events) to a desired host count and a way of taking
 * hosts out. The cloud-native ones follow what GCP's and AWS's autoscalers document; the
 * reactive one follows Jitsi's autoscaler; ours combines a forecast with a reactive floor and
 * drains least-loaded hosts first.
 */
import { MINUTES_PER_DAY, MINUTES_PER_WEEK, type Trace } from "../world/demand";
import type { Removal } from "../world/pool";

export interface Observation {
  now: number;
  /** Concurrent sessions on the pool in the last minute. */
  load: number;
  serving: number;
  booting: number;
  /** Sessions each draining host still holds (part of `load`): no joins, still a MIG slot. */
  drainingSessions: readonly number[];
  /** Sessions per host at full load. */
  capacity: number;
  /** Load of every past minute (index < now). */
  history: Float64Array;
  /** The team's calendar: known events, in trace minutes. */
  events: Trace["events"];
  /** Minutes a new host takes to serve. */
  bootMin: number;
}

export interface PolicyRun {
  desired(o: Observation): number;
  removal: Removal;
  /**
   * Serving hosts to keep out of rotation (Pool.cordon), given the hosts it now has (`draining`
   * among them) and the hosts `desired` this minute.
   */
  cordon?(o: Observation & { draining: number }, desired: number): number;
  /** The cordon runs as deployed on GCP (Pool.cordon's `deployed`). */
  deployedCordon?: boolean;
}

export interface Policy {
  name: string;
  summary: string;
  /** A fixed fleet: it starts at its own count and no split raises it. */
  fixed?: boolean;
  start(initial: { minHosts: number; maxHosts: number; staticHosts: number }): PolicyRun;
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));
const hostsFor = (sessions: number, perHost: number) => Math.ceil(sessions / perHost);

/**
 * Today's bare metal: a fixed count sized for the busiest minute of the weeks before, +30 %,
 * N+1, within maxHosts.
 */
export const staticPolicy: Policy = {
  name: "static",
  summary: "fixed hosts for the previous weeks' peak +30 %, plus one, at most maxHosts",
  fixed: true,
  start: ({ staticHosts }) => ({
    desired: () => staticHosts,
    removal: { kind: "drain", pick: "least-loaded" },
  }),
};

/**
 * Slow scale-in, as GCP's stabilization and scale-in control do it: scale in only to the
 * highest recommendation of the last `windowMin` minutes, and by at most `maxShare` of the
 * group (at least one host) per 10 minutes. Scale-out passes at once.
 */
function slowScaleIn(windowMin: number, maxShare: number) {
  const recent: number[] = [];
  const removed: number[] = [];
  return (now: number, recommendation: number, current: number): number => {
    recent.push(recommendation);
    if (recent.length > windowMin) recent.shift();
    let want = Math.max(...recent);
    if (want < current) {
      while (removed.length && removed[0] <= now - 10) removed.shift();
      const allowed = Math.max(1, Math.floor(maxShare * current)) - removed.length;
      want = Math.max(want, current - Math.max(0, allowed));
      for (let i = want; i < current; i++) removed.push(now);
    }
    return want;
  };
}

/**
 * GCP's autoscaler on a per-host metric: target 70 % of capacity, scale-out at once, scale-in
 * only to the highest recommendation of the last 10 minutes (stabilization) and by at most
 * 10 % of the group per 10 minutes (scaleInControl). The MIG deletes instances it chooses
 * without knowing their calls (modelled: the newest) and gives them graceful shutdown, at most
 * one hour, so calls are cut at min(drain limit, 60 min).
 */
export const gcpAutoscaler: Policy = {
  name: "gcp-autoscaler",
  summary: "GCP: 70 % target, 10-min stabilization, scale-in control, MIG picks victims",
  start: ({ minHosts, maxHosts }) => {
    const scaleIn = slowScaleIn(10, 0.1);
    return {
      removal: { kind: "drain", pick: "newest", limitMin: 60 },
      desired(o) {
        const rec = hostsFor(o.load, 0.7 * o.capacity);
        return clamp(scaleIn(o.now, rec, o.serving + o.booting), minHosts, maxHosts);
      },
    };
  },
};

/**
 * AWS target tracking: 70 % target; the scale-out alarm needs 3 breaching minutes, the
 * scale-in alarm 15 minutes below 90 % of the target; hosts still warming up (5 min) do not
 * count in the metric. The default termination policy takes the oldest hosts; a lifecycle
 * hook holds each for the drain limit.
 */
export const awsTargetTracking: Policy = {
  name: "aws-target-tracking",
  summary: "AWS: 70 % target, 3-min scale-out / 15-min scale-in alarms, lifecycle-hook drain",
  start: ({ minHosts, maxHosts }) => {
    const track = targetTracker(0.7);
    return {
      removal: { kind: "drain", pick: "oldest" },
      desired: (o) => track(o, minHosts, maxHosts),
    };
  },
};

/**
 * AWS target tracking's desired capacity: the scale-out alarm needs 3 minutes above the target,
 * the scale-in alarm 15 minutes below 90 % of it; the desired count stays within [min, max],
 * and a higher min (a scheduled action, a predictive forecast) raises it at once while a lower
 * one leaves it to the scale-in alarm.
 */
export function targetTracker(target: number) {
  let high = 0;
  let low = 0;
  let desired = -1;
  return (o: Observation, min: number, max: number): number => {
    const current = o.serving + o.booting;
    if (desired < 0) desired = current;
    const utilization = o.load / Math.max(1, o.serving * o.capacity);
    high = utilization > target ? high + 1 : 0;
    low = utilization < 0.9 * target ? low + 1 : 0;
    const rec = hostsFor(o.load, target * o.capacity);
    if (high >= 3 && rec > desired) desired = rec;
    if (low >= 15 && rec < desired) {
      desired = rec;
      low = 0;
    }
    return (desired = clamp(desired, min, max));
  };
}

/**
 * GCP's scale-in as documented: the recommendation is the highest of the last
 * `stabilizationMin` minutes (stabilization) and never below the peak recommendation of the
 * last `windowMin` minutes minus `maxScaledIn` hosts (scaleInControl). Scale-out passes at once.
 */
export function gcpScaleIn(stabilizationMin: number, windowMin: number, maxScaledIn: number) {
  const recent: number[] = [];
  return (recommendation: number): number => {
    recent.push(recommendation);
    if (recent.length > Math.max(stabilizationMin, windowMin)) recent.shift();
    const stabilized = Math.max(...recent.slice(-stabilizationMin));
    return Math.max(stabilized, Math.max(...recent.slice(-windowMin)) - maxScaledIn);
  };
}

/**
 * Jitsi's autoscaler (scaleUpThreshold / scaleDownThreshold on the bridges' stress, counted
 * over scalePeriod-long periods, then scaleUpQuantity / scaleDownQuantity), configured as a
 * team would for a large group: stress above 0.8 for 2 one-minute periods adds 10 % of the
 * group (at least one), below 0.3 for 10 periods drains 10 %; after any action a protection
 * period of 8 minutes passes before the next.
 */
export const reactivePolicy: Policy = {
  name: "reactive",
  summary: "Jitsi-style: stress > 0.8 for 2 min → +10 %, < 0.3 for 10 min → −10 %, 8-min grace",
  start: ({ minHosts, maxHosts }) => {
    let high = 0;
    let low = 0;
    let graceUntil = 0;
    let desired = -1;
    return {
      removal: { kind: "drain", pick: "least-loaded" },
      desired(o) {
        const current = o.serving + o.booting;
        if (desired < 0) desired = current;
        const stress = o.load / Math.max(1, o.serving * o.capacity);
        high = stress > 0.8 ? high + 1 : 0;
        low = stress < 0.3 ? low + 1 : 0;
        if (o.now >= graceUntil) {
          const step = Math.max(1, Math.ceil(0.1 * current));
          if (high >= 2) {
            desired = current + step;
            graceUntil = o.now + 8;
          } else if (low >= 10) {
            desired = current - step;
            graceUntil = o.now + 8;
          }
        }
        return (desired = clamp(desired, minHosts, maxHosts));
      },
    };
  },
};

/**
 * Scheduled: each hour of the week gets last week's busiest minute of that hour, +30 %; the
 * first week runs static. Changes land on hour boundaries, all at once — the cliffs Jitsi's
 * scheduled periods are known for.
 */
export const scheduledPolicy: Policy = {
  name: "scheduled",
  summary: "per hour of week: last week's peak of that hour +30 %",
  start: ({ minHosts, maxHosts, staticHosts }) => ({
    removal: { kind: "drain", pick: "least-loaded" },
    desired(o) {
      const hourStart = o.now - (o.now % 60);
      const lastWeek = hourStart - MINUTES_PER_WEEK;
      if (lastWeek < 0) return staticHosts;
      let peak = 0;
      for (let m = lastWeek; m < lastWeek + 60; m++) peak = Math.max(peak, o.history[m]);
      return clamp(hostsFor(peak * 1.3, o.capacity), minHosts, maxHosts);
    },
  }),
};

/**
 * What the previous weeks say the load will be: the mean of the same minute of the week over
 * up to two past weeks, scaled by how the last day compares with the same day a week earlier
 * (growth). The day sums move by one minute per call, so a forecast costs O(horizon).
 */
export class Forecaster {
  private recent = 0;
  private before = 0;
  private upTo = MINUTES_PER_WEEK;

  /** Growth of the last day over the same day a week earlier, within [0.8, 1.25]. */
  private growth(history: Float64Array, now: number): number {
    for (; this.upTo < now; this.upTo++) {
      this.recent += history[this.upTo];
      this.before += history[this.upTo - MINUTES_PER_WEEK];
      const leaving = this.upTo - 1440;
      if (leaving >= MINUTES_PER_WEEK) {
        this.recent -= history[leaving];
        this.before -= history[leaving - MINUTES_PER_WEEK];
      }
    }
    return this.before > 0 ? clamp(this.recent / this.before, 0.8, 1.25) : 1;
  }

  /** The busiest forecast minute in [from, to); undefined without a week of history. */
  peak(history: Float64Array, now: number, from: number, to: number): number | undefined {
    const growth = this.growth(history, now);
    let peak: number | undefined;
    for (let m = from; m < to; m++) {
      let sum = 0;
      let weeks = 0;
      for (const w of [1, 2]) {
        const past = m - w * MINUTES_PER_WEEK;
        if (past >= 0 && past < now) {
          sum += history[past];
          weeks++;
        }
      }
      if (weeks > 0) peak = Math.max(peak ?? 0, (sum / weeks) * growth);
    }
    return peak;
  }
}

/**
 * Predictive: the busiest forecast minute over the next boot time + 10 minutes, +15 %; with
 * no week of history yet it holds the current load +30 %. Scales in too (AWS's own
 * predictive scaling never does).
 */
export const predictivePolicy: Policy = {
  name: "predictive",
  summary: "forecast from past weeks (same minute of week, growth-scaled) +15 %",
  start: ({ minHosts, maxHosts }) => {
    const forecaster = new Forecaster();
    return {
      removal: { kind: "drain", pick: "least-loaded" },
      desired(o) {
        const peak = forecaster.peak(o.history, o.now, o.now, o.now + o.bootMin + 10);
        const want = peak === undefined ? o.load * 1.3 : peak * 1.15;
        return clamp(hostsFor(want, o.capacity), minHosts, maxHosts);
      },
    };
  },
};

/** Demand multiplier the calendar announces between `from` and `to`. */
function eventFactorAhead(events: Trace["events"], from: number, to: number): number {
  let factor = 1;
  // Events ramp for 30 minutes before their start (modules/world/demand.ts).
  for (const e of events)
    if (e.start - 30 < to && e.end + 30 > from) factor = Math.max(factor, e.factor);
  return factor;
}

/**
 * Hosts the forecast asks for over the next boot time + 15 minutes, +`margin`, raised by
 * announced events ahead of their ramp: what ours schedules ahead of demand.
 */
export function forecastFloor(margin: number) {
  const forecaster = new Forecaster();
  return (o: Observation): number => {
    const horizon = o.now + o.bootMin + FORECAST_LEAD_MIN;
    const peak = forecaster.peak(o.history, o.now, o.now, horizon);
    const event = eventFactorAhead(o.events, o.now, horizon + 30);
    // An event the forecast has not seen before scales today's load, not last week's.
    const forecast = Math.max(
      (peak ?? 0) * (1 + margin),
      event > 1 ? o.load * event * (1 + margin) : 0,
    );
    return hostsFor(forecast, o.capacity);
  };
}

/** Minutes beyond a boot time the forecast looks ahead. */
export const FORECAST_LEAD_MIN = 15;

/**
 * Calls ours lets a scale-in cut per host at the drain limit: the point it takes on the frontier
 * of host-hours against calls cut (bench/autoscale.bench.ts draws it per pool). Lower waits
 * longer for a host's long calls to end.
 */
export const OURS_MAX_CUT_PER_HOST = 35;

/**
 * Ours' reactive floor above the current load: organic surprise over a cold boot. A declared
 * worst step (a failover) is the split's notice's and the warm pool's to cover (spikes.ts);
 * the bench reports what it leaves unannounced.
 */
export const OURS_HEADROOM = 0.25;

/**
 * Ours: the forecast over the next boot time + 15 minutes (+15 %), raised by announced events
 * ahead of their ramp, never below a reactive floor of the current load +25 % (the forecast
 * can be wrong; the floor covers a boot time's worth of surprise). Scale-in waits until the
 * recommendation has stayed lower for 15 minutes and takes at most 5 % of the hosts per 10
 * minutes. It keeps in rotation only the hosts the load needs; the rest (those whose calls end
 * soonest, by their calls' ages) take only the joins nobody else has room for, so their calls
 * thin out; a host is drained only once it is expected to hold at most `maxCutPerHost` calls at
 * the drain limit — a host with long calls is not chosen, it waits.
 */
export function oursWith(maxCutPerHost: number, name = "ours"): Policy {
  return {
    name,
    summary: `forecast + calendar, floor load +${OURS_HEADROOM * 100} %, cordon, drain at ≤ ${maxCutPerHost} calls left at limit`,
    start: ({ minHosts, maxHosts }) => {
      const scaleIn = slowScaleIn(15, 0.05);
      const floor = forecastFloor(0.15);
      return {
        removal: { kind: "drain", pick: "fewest-left-at-limit", maxLeftAtLimit: maxCutPerHost },
        desired(o) {
          const rec = Math.max(floor(o), hostsFor(o.load * (1 + OURS_HEADROOM), o.capacity));
          return clamp(scaleIn(o.now, rec, o.serving + o.booting), minHosts, maxHosts);
        },
        cordon: (o) => Math.max(0, o.serving - hostsFor(o.load, o.capacity)),
      };
    },
  };
}

export const oursPolicy = oursWith(OURS_MAX_CUT_PER_HOST);

/** What a cloud's autoscaler offers a policy: its metric target, scale-in and removal. */
export type CloudControls =
  | {
      cloud: "gcp";
      /** Share of a host's capacity the metric target holds. */
      targetUtilization: number;
      scaleIn: { windowMin: number; maxHosts: number };
      removal: Removal;
    }
  | { cloud: "aws"; targetUtilization: number; removal: Removal };

/** GCP's autoscaler stabilizes scale-in over 10 minutes (not configurable in the GA API). */
export const GCP_STABILIZATION_MIN = 10;

/**
 * controller.py's CORDON_TARGET_SHARE and CORDON_MIN_IN_ROTATION: a cordon acts some two
 * minutes after the load it answers, and with no host in rotation passing its check the
 * balancer sends new connections to every backend (docs/reference/autoscaling.md).
 */
export const CORDON_TARGET_SHARE = 0.8;
export const CORDON_MIN_IN_ROTATION = 2;

/**
 * A cloud's autoscaler with a floor that moves minute by minute: on GCP the floor joins the
 * metric's recommendation and both pass through stabilization and scale-in control (as a
 * scaling schedule's minimum does); on AWS the floor is the group's minimum (as scheduled
 * actions and predictive scaling set it) under target tracking.
 */
export function cloudAutoscaler(
  controls: CloudControls,
  bounds: { minHosts: number; maxHosts: number },
  floor: (o: Observation) => number,
): PolicyRun {
  const { minHosts, maxHosts } = bounds;
  if (controls.cloud === "aws") {
    const track = targetTracker(controls.targetUtilization);
    // A host in Terminating:Wait publishes no load (aws.py publish): the group's average is
    // the serving hosts'.
    const serving = (o: Observation) => ({
      ...o,
      load: o.drainingSessions.reduce((left, s) => left - s, o.load),
    });
    return {
      removal: controls.removal,
      desired: (o) => track(serving(o), clamp(floor(o), minHosts, maxHosts), maxHosts),
    };
  }
  const scaleIn = gcpScaleIn(
    GCP_STABILIZATION_MIN,
    controls.scaleIn.windowMin,
    controls.scaleIn.maxHosts,
  );
  const perHost = (o: Observation) => controls.targetUtilization * o.capacity;
  // The MIG's recommendation on the per-instance gauge: a draining host's agent publishes at
  // least the target (gcp.py publish), so it counts as one full host, never as spare room.
  const atTarget = (o: Observation) =>
    hostsFor(
      o.drainingSessions.reduce((sum, s) => sum + Math.max(0, perHost(o) - s), o.load),
      perHost(o),
    );
  // The MIG's recommendation this minute: the schedule's floor and minNumReplicas bound the MIG,
  // draining hosts included.
  let recommended = 0;
  return {
    removal: controls.removal,
    // The replay's desired counts the hosts that take joins. The autoscaler grows the MIG,
    // draining hosts in it, to the recommendation; the scale-in controller drains serving hosts
    // only beyond the recommendation itself (controller.py decide: size less the recommendation
    // less the draining), so a schedule's floor is never met by hosts that take no joins.
    desired(o) {
      recommended = clamp(scaleIn(Math.max(floor(o), atTarget(o))), minHosts, maxHosts);
      const hosts = o.serving + o.booting;
      if (hosts + o.drainingSessions.length < recommended)
        return recommended - o.drainingSessions.length;
      return Math.min(hosts, recommended);
    },
    // The scale-in controller's cordon (controller.py in_rotation, to_cordon): the serving hosts
    // beyond the load at CORDON_TARGET_SHARE of the target plus one, at least
    // CORDON_MIN_IN_ROTATION, at least the recommendation less the hosts draining.
    cordon(o) {
      const atShare = hostsFor(o.load, CORDON_TARGET_SHARE * perHost(o));
      const keep = Math.max(atShare + 1, CORDON_MIN_IN_ROTATION, recommended - o.draining);
      return Math.max(0, o.serving - keep);
    },
    deployedCordon: true,
  };
}

/**
 * AWS predictive scaling in ForecastAndScale mode, as documented: no forecast before 24 hours of
 * data; an hourly forecast of the load (modelled: the hour's mean a week earlier, else a day
 * earlier) divided by the target per host; instances launch `bufferMin` ahead of the hour. It
 * only raises the group's minimum, never scales in.
 */
export function awsPredictive(sessionsPerHostAtTarget: number, bufferMin: number) {
  const hourly = new Map<number, number>();
  return (o: Observation): number => {
    if (o.now < MINUTES_PER_DAY) return 0;
    const hour = Math.floor((o.now + bufferMin) / 60) * 60;
    if (!hourly.has(hour)) {
      const back = hour - MINUTES_PER_WEEK >= 0 ? MINUTES_PER_WEEK : MINUTES_PER_DAY;
      let sum = 0;
      for (let m = hour - back; m < hour - back + 60; m++) sum += o.history[m];
      hourly.set(hour, Math.ceil(sum / 60 / sessionsPerHostAtTarget));
    }
    return hourly.get(hour)!;
  };
}

/**
 * Ours as a cloud's own autoscaler can run it: a forecast floor (hosts per minute) under the
 * cloud's metric target, scale-in and removal. What `autoscaling.policy: ours` compiles from.
 */
export function oursOn(
  controls: CloudControls,
  floor: () => (o: Observation) => number,
  name = "ours",
): Policy {
  return {
    name: `${name}-on-${controls.cloud}`,
    summary: `${name} under ${controls.cloud}'s autoscaler, metric target ${controls.targetUtilization}`,
    start: (bounds) => cloudAutoscaler(controls, bounds, floor()),
  };
}

export const POLICIES: Policy[] = [
  staticPolicy,
  gcpAutoscaler,
  awsTargetTracking,
  reactivePolicy,
  scheduledPolicy,
  predictivePolicy,
  oursPolicy,
];

export function policyNamed(name: string): Policy | undefined {
  return POLICIES.find((p) => p.name === name);
}
