/**
 * An AWS host's drain: how long it may last, from what a terminating lifecycle hook allows (each
 * wait lasts heartbeatTimeout, at most 7200 s, after the last heartbeat, and all of them at most
 * the hook's global timeout, min(48 h, 100 x heartbeatTimeout): modules/providers/aws.ts), and
 * when the host keeps the group from picking it for one.
 */
import { HOOK_MAX_HEARTBEAT_SEC, hookHoldsAtMost } from "../providers/aws";

/** What the drain hook adds to drainSeconds: the lifecycle action's own round trip. */
export const AWS_DRAIN_MARGIN_SEC = 120;

/** The drain hook's heartbeatTimeout: the whole drain and its margin, up to AWS's ceiling. */
export function awsDrainHeartbeatTimeout(drainSeconds: number): number {
  return Math.min(HOOK_MAX_HEARTBEAT_SEC, drainSeconds + AWS_DRAIN_MARGIN_SEC);
}

/**
 * The longest drainSeconds: the agent completes the hook at drainSeconds after IMDS read
 * Terminated (before the hook began to wait), so the hook's global timeout less the margin.
 */
export const AWS_MAX_DRAIN_SEC =
  hookHoldsAtMost({ heartbeatTimeout: HOOK_MAX_HEARTBEAT_SEC }) - AWS_DRAIN_MARGIN_SEC;

/**
 * Seconds between the agent's heartbeats of the drain hook: a quarter of its heartbeatTimeout,
 * at most 10 minutes, so that a failed heartbeat is retried at every agent tick (intervalSec,
 * at most 300 s) for most of a timeout before the hook would let go.
 */
export function awsDrainHeartbeatSec(drainSeconds: number): number {
  return Math.min(600, Math.floor(awsDrainHeartbeatTimeout(drainSeconds) / 4));
}

/**
 * The host protects itself from the group's scale-in while it expects more than `maxCutPerHost`
 * of its calls to be still running at the drain limit (the agent's `leftAtLimit` table, the
 * replay's session mix, as on GCP).
 */
export interface AwsScaleInProtection {
  maxCutPerHost: number;
}

/** What an AWS host's agent is told of its drain: the heartbeat's pace and the cut budget. */
export function agentDrainConfig(spec: {
  drainSeconds: number;
  autoscaling: { maxCutPerHost: number };
}): { drainHeartbeatSec: number; scaleInProtection: AwsScaleInProtection } {
  return {
    drainHeartbeatSec: awsDrainHeartbeatSec(spec.drainSeconds),
    scaleInProtection: { maxCutPerHost: spec.autoscaling.maxCutPerHost },
  };
}
