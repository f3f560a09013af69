/**
 * What a worst step still costs when it comes unannounced (#28), measured rather than
 * estimated: what the stack deploys (its autoscaling compiled and read back with the provider's
 * rules, warm or standby pool included) replayed, closed loop, over two days of its demand
 * curve with the step landing at the second day's peak, and again without it. The difference
 * is the residual risk the split's notice exists to remove.
 */
import type { AwsFleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { curveTrace } from "../world/demand";
import { compileAws, compileGcp, curveOf, poolOf } from "./compile";
import { compiledPolicy } from "./interpret";
import { replay } from "./replay";
import { localMinute, withSteps, type WorstStep } from "./spikes";

/** The demand curve peaks at 20:00 local; the step lands then, on the second day. */
const STEP_AT = { day: 1, hour: 20 };
/**
 * A day before the step, for the pool to settle into the curve, and room after it for the
 * step's hold in any region: trace minutes are UTC, so 20:00 local of day 1 falls as late as
 * day 2 (UTC−12).
 */
const DAYS = 3;

export interface StepResidual {
  /** The pool boots from stopped hosts (an AWS warm pool, a GCP standby pool). */
  warmPool: boolean;
  /** Where the step landed: local day of the replay and hour. */
  at: { day: number; hour: number };
  /** Minutes with refused joins, refused join attempts and joins given up, over the same days without the step. */
  overloadMinutes: number;
  refusedJoins: number;
  gaveUp: number;
}

export function unannouncedResidual(
  spec: GcpFleetSpec | AwsFleetSpec,
  region: string,
  step: WorstStep,
): StepResidual {
  const { hourlyUsd, ...pool } = poolOf(spec);
  const quiet = curveTrace(curveOf(spec, region), DAYS);
  const read = compiledPolicy(
    spec,
    spec.kind === "gcp" ? compileGcp(spec, region) : compileAws(spec, region),
  );
  const run = (trace: typeof quiet) =>
    replay(
      {
        trace,
        pool,
        minHosts: spec.minHosts,
        maxHosts: spec.maxHosts,
        hourlyUsd,
        sizingPeak: spec.demand.peakParticipants,
      },
      read.policy,
      { warmPool: read.warmPool },
    ).totals;
  const at = localMinute(quiet, STEP_AT.day, STEP_AT.hour);
  if (at + step.durationMin + Math.ceil(step.withinSec / 60) > quiet.sessions.length)
    throw new Error(`the worst step at trace minute ${at} does not fit in ${DAYS} days`);
  const before = run(quiet);
  const after = run(withSteps(quiet, step, [at]));
  return {
    warmPool: read.warmPool,
    at: STEP_AT,
    overloadMinutes: after.overloadMinutes - before.overloadMinutes,
    refusedJoins: after.refusedJoins - before.refusedJoins,
    gaveUp: after.gaveUp - before.gaveUp,
  };
}
