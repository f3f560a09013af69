/**
 * What EC2 Auto Scaling, EC2 and Network Load Balancers do to a host, as AWS documents them.
 * Inputs are the fields the program sends the provider (the Plan's).
 */
import type { ProviderRule } from "./rule";

export const TERMINATION: ProviderRule = {
  id: "aws.asg.termination",
  says:
    "An instance the group terminates (scale-in, rebalancing, refresh, a failed health check) is " +
    "first deregistered from its target groups and waits out the deregistration delay; only then " +
    "does it enter Terminating:Wait, where a terminating lifecycle hook holds it until " +
    "CompleteLifecycleAction or the hook's timeout, then EC2 shuts it down",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html",
};

export const NO_ACTIVE_ACTION: ProviderRule = {
  id: "aws.asg.no-active-action",
  says:
    "CompleteLifecycleAction and RecordLifecycleActionHeartbeat for an instance not (yet) in a " +
    "hook's wait state fail with HTTP 400 ValidationError 'No active Lifecycle Action found'",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html; " +
    "github.com/convox/rack/issues/2432",
};

export const HOOK_TIMEOUT: ProviderRule = {
  id: "aws.asg.hook-timeout",
  says:
    "A lifecycle hook waits heartbeatTimeout seconds (30-7200) after the last heartbeat, at most " +
    "min(48 h, 100 x heartbeatTimeout) in all, then applies its defaultResult",
  source: "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html",
};

/** The longest heartbeatTimeout a lifecycle hook takes (PutLifecycleHook: 30-7200). */
export const HOOK_MAX_HEARTBEAT_SEC = 7200;

/** The most a hook holds an instance, heartbeats or not: its global timeout. */
export function hookHoldsAtMost(hook: { heartbeatTimeout: number }): number {
  return Math.min(48 * 3600, 100 * hook.heartbeatTimeout);
}

/** When a hook entered at `enteredAt` lets the instance go, its last heartbeat at `lastBeat`. */
export function hookReleasesAt(
  hook: { heartbeatTimeout: number },
  enteredAt: number,
  lastBeat: number,
): number {
  const global = enteredAt + hookHoldsAtMost(hook);
  return Math.min(global, Math.max(enteredAt, lastBeat) + hook.heartbeatTimeout);
}

export const HOOK_HEARTBEAT: ProviderRule = {
  id: "aws.asg.hook-heartbeat",
  says:
    "RecordLifecycleActionHeartbeat on an instance in a hook's wait state restarts the hook's " +
    "heartbeatTimeout; it cannot extend the wait past the global timeout, after which the hook's " +
    "defaultResult applies (CONTINUE or ABANDON: on a terminating hook both let the instance go)",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html " +
    '("Keep instances in a wait state": heartbeat, global timeout)',
};

export const SCALE_IN_PROTECTION: ProviderRule = {
  id: "aws.asg.scale-in-protection",
  says:
    "A scale-in terminates only instances not protected from scale-in, picked by the " +
    "termination policies; with every instance protected the desired capacity is still " +
    "decremented and nothing is terminated until a protection is removed. It does not hold " +
    "against health check replacement or TerminateInstanceInAutoScalingGroup; an instance " +
    "refresh waits an hour for it, then fails (ScaleInProtectedInstances Wait, the default); " +
    "SetInstanceProtection refuses warm pool instances",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetInstanceProtection.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html",
};

export const CUSTOM_TERMINATION: ProviderRule = {
  id: "aws.asg.custom-termination-policy",
  says:
    "With a Lambda function's ARN first in terminationPolicies (one function at most, and only " +
    "first), a scale-in invokes it with the unprotected instances it may terminate (only those of " +
    "the fullest zone while zones are uneven) and the capacity to terminate per zone, and " +
    "terminates the instances it returns; when it returns more than needed the next termination " +
    "policies choose among them; when it returns none, errs or runs past 2 s, the group invokes it " +
    "again a short time later for as long as its desired capacity is below its current one. The " +
    "invoker is the group's service-linked role, which the function's resource policy must allow " +
    "lambda:InvokeFunction",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lambda-custom-termination-policy.html " +
    '("Input data", "Response data", "Considerations", "Limitations")',
};

/** Whether the group's scale-in asks a Lambda function which instances to terminate. */
export function customTermination(group: { terminationPolicies?: string[] }): boolean {
  return (group.terminationPolicies?.[0] ?? "").startsWith("arn:aws:lambda:");
}

export const HEALTH_CHECK_TYPE: ProviderRule = {
  id: "aws.asg.health-check-type",
  says:
    "With healthCheckType EC2 the group replaces an instance only for its EC2 status checks; " +
    "with ELB it also replaces one its target groups report unhealthy, after the grace period",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html",
};

/** Whether the group replaces an instance its load balancer calls unhealthy. */
export function replacesOnTargetHealth(group: { healthCheckType?: string }): boolean {
  return group.healthCheckType === "ELB";
}

export const AZ_REBALANCE: ProviderRule = {
  id: "aws.asg.az-rebalance",
  says:
    "AZRebalance launches instances in the emptier zones and then terminates instances in the " +
    "fuller ones (through the terminating hooks) until zones are even; it does not run while the " +
    "AZRebalance process is suspended, and scale-in then still terminates from the fullest zone",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html",
};

export function rebalances(group: { suspendedProcesses?: string[] }): boolean {
  return !(group.suspendedProcesses ?? []).includes("AZRebalance");
}

export const INSTANCE_REFRESH: ProviderRule = {
  id: "aws.asg.instance-refresh",
  says:
    "With instanceRefresh set, an update that changes the group's launchTemplate (or " +
    "mixedInstancesPolicy, launchConfiguration, a listed trigger) makes the provider start a " +
    "refresh that replaces every instance not on it, keeping minHealthyPercentage in service; " +
    "replaced instances leave through the terminating hooks. Without instanceRefresh the " +
    "provider starts none: the change only says what new instances launch from",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh.html; " +
    "hashicorp/terraform-provider-aws internal/service/autoscaling/group.go (resourceGroupUpdate: " +
    "shouldRefreshInstances on a launch_template change, startInstanceRefresh only when " +
    "instance_refresh is set); @pulumi/aws 7.48.0 types/input.d.ts GroupInstanceRefresh.triggers",
};

/** Whether an update that changes these top-level inputs makes the provider start a refresh. */
export function startsInstanceRefresh(
  group: { instanceRefresh?: { triggers?: readonly string[]; [setting: string]: unknown } },
  changed: readonly string[],
): boolean {
  if (!group.instanceRefresh) return false;
  const triggers = [
    "launchTemplate",
    "mixedInstancesPolicy",
    "launchConfiguration",
    ...(group.instanceRefresh.triggers ?? []),
  ];
  return changed.some((key) => triggers.includes(key));
}

export const NLB_UNHEALTHY: ProviderRule = {
  id: "aws.nlb.unhealthy-connection-termination",
  says:
    "A Network Load Balancer closes established connections to a target that turns unhealthy " +
    "(target_health_state.unhealthy.connection_termination.enabled, default true); disabled, " +
    "they stay open (draining_interval_seconds only delays the state's change to unhealthy)",
  source:
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#target-health-state",
};

/** Whether the balancer closes the established connections of a target that turns unhealthy. */
export function nlbCutsUnhealthy(targetGroup: {
  targetHealthStates?: { enableUnhealthyConnectionTermination?: boolean }[];
}): boolean {
  return targetGroup.targetHealthStates?.[0]?.enableUnhealthyConnectionTermination !== false;
}

export const NLB_DEREGISTRATION: ProviderRule = {
  id: "aws.nlb.deregistration",
  says:
    "A deregistered target gets no new connections; its established ones stay open through the " +
    "deregistration delay (default 300 s) and after it unless connection termination on " +
    "deregistration is enabled (default false)",
  source:
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#deregistration-delay",
};

export function deregistrationDelaySec(targetGroup: { deregistrationDelay?: string | number }) {
  return targetGroup.deregistrationDelay === undefined
    ? 300
    : Number(targetGroup.deregistrationDelay);
}

export const EC2_STATUS: ProviderRule = {
  id: "aws.ec2.status-check",
  says:
    "An instance that fails its EC2 status checks (a crashed or hung OS) is marked unhealthy and " +
    "replaced by its group; a stopped-and-started one is not an instance that crashed",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html",
};

export const TERMINATE_INSTANCE: ProviderRule = {
  id: "aws.asg.terminate-instance",
  says:
    "TerminateInstanceInAutoScalingGroup without decrementing the desired capacity: the instance " +
    "leaves as any the group terminates (deregistered from its target groups, then held in " +
    "Terminating:Wait by the terminating hooks until CompleteLifecycleAction or their timeout), " +
    "and the group at once starts launching a replacement from its launch template version, " +
    "in the zone its balancing picks; it cannot be called on an instance of the warm pool",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-healthchecks.html (terminating " +
    "manually: hooks and deregistration complete first); " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html " +
    '("immediately starts launching new instances to replace the instances that you terminated")',
};

export const LAUNCH_TEMPLATE_VERSION: ProviderRule = {
  id: "aws.asg.launch-template-version",
  says:
    "A group launches every new instance (scale-out, a replacement, the warm pool) from the " +
    "launch template version it names: a number is that version for good, $Latest and " +
    "$Default follow the template (a new version reaches the next launch); changing the group's " +
    "version changes no running instance",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateSpecification.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/create-asg-launch-template.html",
};

/** Whether a new version of the template reaches the group's next launch without a change to it. */
export function followsTemplate(version: string | undefined): boolean {
  // The API's default, when the group names no version, is $Default.
  return version === undefined || version === "$Latest" || version === "$Default";
}

export const WARM_POOL_VERSION: ProviderRule = {
  id: "aws.asg.warm-pool-version",
  says:
    "Warm pool instances keep the launch template version they were launched with: a new " +
    "version reaches them only when they are replaced; terminated (EC2 TerminateInstances: the " +
    "group's own terminate call refuses warm pool instances), they are relaunched at once from " +
    "the group's version",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html",
};

export const LIFECYCLE_STATE: ProviderRule = {
  id: "aws.asg.lifecycle-state",
  says:
    "DescribeAutoScalingInstances and DescribeAutoScalingGroups report each instance's " +
    "LifecycleState (InService; Terminating, Terminating:Wait while a terminating hook holds " +
    "it, Terminating:Proceed, Terminated; Warmed:* in the warm pool) and LaunchTemplate.Version; " +
    "an instance id the group no longer knows is left out, with no error",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingInstanceDetails.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingInstances.html",
};

/** Where a terminated instance's drain stands, from its LifecycleState (undefined: left the group). */
export function drainStage(lifecycleState: string | undefined): "serving" | "draining" | "gone" {
  if (lifecycleState === undefined || lifecycleState === "Terminated") return "gone";
  return lifecycleState.startsWith("Terminating") ? "draining" : "serving";
}

export const REFRESH_GATES: ProviderRule = {
  id: "aws.asg.refresh-checkpoints",
  says:
    "An instance refresh pauses at each of its CheckpointPercentages for CheckpointDelay and " +
    "then goes on by itself; AutoRollback replaces what it deployed when the refresh fails or an " +
    "alarm of its AlarmSpecification goes to ALARM, and needs a numbered launch template " +
    "version (not $Latest/$Default); the instances it replaces leave through the terminating " +
    "hooks; it picks the instances and batches itself (MinHealthyPercentage)",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html#lifecycle-hooks-availability",
};

export const MIN_SIZE_RAISES_DESIRED: ProviderRule = {
  id: "aws.asg.min-size-raises-desired",
  says:
    "UpdateAutoScalingGroup with a new MinSize and no DesiredCapacity: when the new MinSize is " +
    "larger than the group's current size, the group's DesiredCapacity becomes the new MinSize " +
    "(the group launches the difference, from its warm pool first); a lower MinSize changes no " +
    "capacity (target tracking scales in later, down to it)",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html " +
    '("Note the following about changing DesiredCapacity, MaxSize, or MinSize")',
};

/** The group's desired capacity after UpdateAutoScalingGroup sets `minSize` and no desired. */
export function desiredAfterMinSize(group: { desired: number }, minSize: number): number {
  return Math.max(group.desired, minSize);
}

export const PROVIDER_MIN_SIZE_UPDATE: ProviderRule = {
  id: "aws.provider.min-size-update",
  says:
    "The provider's group update sends MinSize only when min_size differs from the state (after " +
    "`up --refresh`, the live value), with no DesiredCapacity when the program sets none; then, " +
    "with wait_for_capacity_timeout > 0, it waits until the group has exactly max(min_size, " +
    "desired_capacity as in the state) healthy InService instances, or fails the update at the " +
    "timeout; a change ignoreChanges covers never reaches it",
  source:
    "hashicorp/terraform-provider-aws internal/service/autoscaling/group.go (resourceGroupUpdate: " +
    'd.HasChange("min_size") sets input.MinSize and shouldWaitForCapacity; waitGroupCapacitySatisfied ' +
    '"want exactly %d healthy instance(s)"); https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/',
};

export const SCHEDULED_MIN: ProviderRule = {
  id: "aws.asg.scheduled-min",
  says:
    "A recurring scheduled action sets the group's MinSize (and MaxSize/DesiredCapacity when " +
    "given; -1 in the provider leaves them) each time its cron recurrence fires in its TimeZone, " +
    "daylight saving included; between firings the group keeps the last value set, by an action " +
    "or by UpdateAutoScalingGroup. Changing an action (PutScheduledUpdateGroupAction) changes " +
    "nothing until it next fires",
  source:
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scheduled-scaling.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScheduledUpdateGroupAction.html",
};

export const AWS_RULES = [
  TERMINATION,
  NO_ACTIVE_ACTION,
  HOOK_TIMEOUT,
  HOOK_HEARTBEAT,
  SCALE_IN_PROTECTION,
  CUSTOM_TERMINATION,
  HEALTH_CHECK_TYPE,
  AZ_REBALANCE,
  INSTANCE_REFRESH,
  NLB_UNHEALTHY,
  NLB_DEREGISTRATION,
  EC2_STATUS,
  TERMINATE_INSTANCE,
  LAUNCH_TEMPLATE_VERSION,
  WARM_POOL_VERSION,
  LIFECYCLE_STATE,
  REFRESH_GATES,
  MIN_SIZE_RAISES_DESIRED,
  PROVIDER_MIN_SIZE_UPDATE,
  SCHEDULED_MIN,
];
