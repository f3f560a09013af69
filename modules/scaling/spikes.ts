/**
 * Spikes nobody forecasts: a declared worst step (e.g. a regional failover, ×2 within 60 s)
 * against the pool's own boot times and headroom. What the traffic split must give as notice,
 * what a warm pool must hold, and what is left when the step comes unannounced.
 */
import { worstStepSchema, type AwsFleetSpec, type GcpFleetSpec } from "../config/fleet.schema";
import { joinsFor, MINUTES_PER_DAY, type Trace } from "../world/demand";
import type { PoolSpec } from "../world/pool";

/** Demand × `factor` within `withinSec`, held for `durationMin`. */
export interface WorstStep {
  factor: number;
  withinSec: number;
  durationMin: number;
}

/** How long a failover's load stays on the pool: the replay holds the step this long. */
const STEP_HOLD_MIN = 180;

/**
 * The step a stack plans for unless it declares another (`autoscaling.worstStep`'s defaults):
 * a regional failover, ×2 in 60 s.
 */
export const DEFAULT_WORST_STEP: WorstStep = {
  factor: worstStepSchema.properties.factor.default,
  withinSec: worstStepSchema.properties.withinSeconds.default,
  durationMin: STEP_HOLD_MIN,
};

/** The worst step a cloud fleet's stack declares (its schema fills in the defaults). */
export function worstStepOf(spec: GcpFleetSpec | AwsFleetSpec): WorstStep {
  const { factor, withinSeconds } = spec.autoscaling.worstStep;
  return { factor, withinSec: withinSeconds, durationMin: STEP_HOLD_MIN };
}

export interface SpikePlan {
  /**
   * Minutes the split must raise this pool's floor before it shifts joins: the slowest boot
   * (from the warm pool when it has one), so the step meets serving hosts.
   */
  noticeMin: number;
  /** Hosts a warm pool holds so that an unannounced step at the peak is served after one boot. */
  warmHosts: number;
  /** An unannounced step at the peak: minutes joins are refused, and sessions short meanwhile. */
  residual: { overloadMin: number; sessionsShort: number };
}

/**
 * The plan for a step at the pool's peak load. Unannounced, the autoscaler sees the step a
 * minute after it lands (one-minute metrics) and its hosts serve a boot later; until then the
 * headroom is all there is.
 */
export function spikePlan(
  step: WorstStep,
  pool: Pick<PoolSpec, "capacity" | "coldBootMin" | "warmBootMin">,
  options: { headroom: number; peakSessions: number; warmPool: boolean },
): SpikePlan {
  const bootMin = options.warmPool ? pool.warmBootMin : pool.coldBootMin[1];
  const short = Math.max(0, (step.factor - 1 - options.headroom) * options.peakSessions);
  return {
    noticeMin: bootMin,
    warmHosts: Math.ceil(short / pool.capacity),
    residual: {
      overloadMin: short > 0 ? Math.ceil(step.withinSec / 60) + bootMin : 0,
      sessionsShort: short,
    },
  };
}

/**
 * A trace with the step landed at each of `at` (trace minutes): the demand ramps to × factor
 * within the step's seconds (at least one minute here), holds, and falls back as fast.
 */
export function withSteps(trace: Trace, step: WorstStep, at: number[]): Trace {
  const sessions = Float64Array.from(trace.sessions);
  const rampMin = Math.max(1, Math.ceil(step.withinSec / 60));
  for (let m = 0; m < sessions.length; m++) {
    let factor = 1;
    for (const start of at) {
      const into = m - start;
      if (into < 0 || into >= step.durationMin + rampMin) continue;
      const up = Math.min(1, (into + 1) / rampMin);
      const down = Math.min(1, (step.durationMin + rampMin - into) / rampMin);
      factor = Math.max(factor, 1 + (step.factor - 1) * Math.min(up, down));
    }
    sessions[m] *= factor;
  }
  return { ...trace, sessions, joins: joinsFor(sessions) };
}

/** Trace minute of a local day and hour (minute 0 is Monday 00:00 UTC). */
export function localMinute(trace: Pick<Trace, "utcOffsetHours">, day: number, hour: number) {
  return day * MINUTES_PER_DAY + Math.round((hour - trace.utcOffsetHours) * 60);
}
