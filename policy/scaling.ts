/**
 * Compiled autoscaling that would silently do something else than asked: provider defaults that
 * write sizes (an aws.autoscaling.Schedule's minSize, maxSize and desiredCapacity default to 0),
 * predictive scaling left in its default ForecastOnly mode, limits the clouds refuse.
 */
import type { StackPolicy } from "./policy";
import { byType } from "./policy";
import { AWS_MAX_SCHEDULED_ACTIONS, GCP_MAX_SCHEDULES } from "./contract/rules";

export const compiledScalingSafe: StackPolicy = {
  name: "compiled-scaling-safe",
  description:
    "Scheduled actions leave desired capacity and max size alone (-1, not the provider's default 0), predictive scaling scales (ForecastAndScale), warm pools fit the group, schedules stay within the clouds' limits.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set avfleet:fleet.autoscaling (and minHosts/maxHosts) in the stack file and let the program declare what modules/scaling/compile.ts returns unchanged: Schedule desiredCapacity and maxSize -1, predictive mode ForecastAndScale, warmPool.minSize = maxGroupPreparedCapacity ≤ maxSize − minSize, at most 128 GCP schedules and 125 AWS actions.",
  validateStack: (args, reportViolation) => {
    const groups = byType(args.resources, "aws:autoscaling/group:Group");
    const schedules = byType(args.resources, "aws:autoscaling/schedule:Schedule");
    const scalers = byType(args.resources, "gcp:compute/regionAutoscaler:RegionAutoscaler");
    const predictive = byType(args.resources, "aws:autoscaling/policy:Policy").filter(
      (p) => p.props.policyType === "PredictiveScaling",
    );
    if (!groups.length && !scalers.length) return args.notApplicable("no autoscaled group");
    for (const s of schedules) {
      for (const key of ["desiredCapacity", "maxSize"]) {
        if (s.props[key] !== -1)
          reportViolation(
            `${key} is ${s.props[key] ?? "unset (the provider's default 0)"}: the action would set the group's ${key} at its time, not only its floor`,
            s.urn,
          );
      }
    }
    for (const p of predictive) {
      const mode = p.props.predictiveScalingConfiguration?.mode;
      if (mode !== "ForecastAndScale")
        reportViolation(
          `predictive scaling mode is ${mode ?? "unset (ForecastOnly)"}: it forecasts and never scales`,
          p.urn,
        );
    }
    for (const g of groups) {
      const mine = schedules.filter((s) => s.props.autoscalingGroupName === g.props.name);
      if (mine.length > AWS_MAX_SCHEDULED_ACTIONS)
        reportViolation(
          `${mine.length} scheduled actions, AWS allows ${AWS_MAX_SCHEDULED_ACTIONS} per group`,
          g.urn,
        );
      if (g.props.warmPool && g.props.warmPool.maxGroupPreparedCapacity === undefined)
        reportViolation(
          "warm pool has no maxGroupPreparedCapacity: AWS keeps max size − desired capacity hosts in it",
          g.urn,
        );
      const warm = g.props.warmPool?.minSize ?? 0;
      if (warm > g.props.maxSize - g.props.minSize)
        reportViolation(
          `warm pool of ${warm} exceeds the ${g.props.maxSize - g.props.minSize} hosts the group can ever add`,
          g.urn,
        );
    }
    for (const scaler of scalers) {
      const list = scaler.props.autoscalingPolicy?.scalingSchedules ?? [];
      if (list.length > GCP_MAX_SCHEDULES)
        reportViolation(
          `${list.length} scaling schedules, GCP allows ${GCP_MAX_SCHEDULES}`,
          scaler.urn,
        );
      for (const s of list.filter((s: { durationSec: number }) => s.durationSec < 300))
        reportViolation(`schedule ${s.name} lasts ${s.durationSec} s, GCP needs ≥ 300`, scaler.urn);
    }
  },
};
