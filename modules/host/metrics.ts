import { createHash } from "node:crypto";
import type { AwsFleetSpec, GcpFleetSpec } from "../config/fleet.schema";
import { machineType } from "../machines/machine-types";

/**
 * The per-host media load gauge, named once: the autoscalers in modules/fleets read these
 * names and the host agent publishes under them.
 */

/** GCP: a custom metric on the instance's `gce_instance` resource (the MIG autoscaler's `metrics[].name`). */
export const GCP_MEDIA_LOAD_METRIC = "custom.googleapis.com/avfleet/media_streams";

/**
 * AWS: namespace AVFleet/Media/<pool>, name MediaStreams (concurrent forwarded streams, unit
 * Count), dimension AutoScalingGroupName = the ASG's name. Its Average over the group is the
 * load per host that target tracking holds at the target. The namespace is the pool's own: the
 * host role may write only there (`cloudwatch:namespace`), so no host can put points into the
 * metric another pool scales and alarms on, whatever dimensions it names.
 */
export function awsMediaMetric(pool: string) {
  return { namespace: `AVFleet/Media/${pool}`, name: "MediaStreams", unit: "Count" };
}

/**
 * AWS: the calls a host expects to still hold at the drain limit, which the pool's custom
 * termination policy orders scale-in by (modules/aws-scale-in/termination.py). Beside the load,
 * in the pool's namespace (the one the host role may write), with the dimensions
 * AutoScalingGroupName and InstanceId: one series per host, as GCP's guest attribute avfleet/load
 * carries it per VM.
 */
export function awsLeftAtLimitMetric(pool: string) {
  return { namespace: awsMediaMetric(pool).namespace, name: "CallsLeftAtLimit", unit: "Count" };
}

/**
 * Streams per host the cloud's autoscaler holds each host at, capacity × target utilization: the
 * MIG autoscaler's utilizationTarget, target tracking's TargetValue. A draining host's agent
 * publishes at least this (its config's metric.target): one full host, not spare room.
 */
export function autoscalerTarget(spec: GcpFleetSpec | AwsFleetSpec): number {
  const machine = spec.kind === "gcp" ? spec.machineType : spec.instanceType;
  return Math.floor(machineType(machine).streamsPerHost * spec.autoscaling.targetUtilization);
}

/** Bare metal: the gauge on the agent's /metrics, which Prometheus scrapes. */
export const PROMETHEUS_MEDIA_METRIC = "avfleet_media_streams";

/** The ASG lifecycle hook that gives a terminating host time to drain its calls. */
export const AWS_DRAIN_HOOK = "media-drain";

/**
 * The ASG lifecycle hook that holds a launching host (into the warm pool, out of it, or straight
 * into service) until its agent says it serves: bootstrap done, tuning verified, media healthy.
 */
export const AWS_LAUNCH_HOOK = "media-launch";

/**
 * The instance metadata key a GCP host drains on, set by an operator or a release's rollout
 * (both hold compute.instances.setMetadata anyway). The scale-in controller marks by object
 * instead (gcpDrainObject): setMetadata sets any key, `startup-script` included.
 */
export const GCP_DRAIN_ATTRIBUTE = "avfleet-drain";

/** When the drain mark was set (RFC 3339): the scale-in controller's rate limit counts it. */
export const GCP_DRAIN_AT_ATTRIBUTE = "avfleet-drain-at";

/**
 * Beside the mark when a release's rollout drains the host (its value: the release id): the
 * scale-in controller then leaves the drained VM to the rollout, which recreates it.
 */
export const GCP_DRAIN_FOR_ATTRIBUTE = "avfleet-drain-for";

/**
 * The scale-in controller's drain marks: an object `drain/<VM name>` in the pool's mark bucket.
 * An object's content cannot run on a host, unlike instance metadata, and IAM can hold a grant
 * to the prefix (https://cloud.google.com/storage/docs/samples/storage-add-bucket-conditional-iam-binding).
 */
export const GCP_DRAIN_PREFIX = "drain/";

/** ...and its cordons, `cordon/<VM name>`: no new joins while one exists (controller.py). */
export const GCP_CORDON_PREFIX = "cordon/";

/**
 * ...and, in a pool with a standby pool, its admissions, `admit/<VM name>.<instance id>`: a VM's
 * first boot takes no join before its own exists (controller.py, the agent's standbyHold).
 */
export const GCP_ADMIT_PREFIX = "admit/";

export function gcpDrainObject(vm: string): string {
  return `${GCP_DRAIN_PREFIX}${vm}`;
}

/**
 * The pool's mark bucket: bucket names are global, so the pool's own name and a hash of its
 * project and pool. A name someone else already holds fails the `up` (no mark channel at all),
 * never points hosts at another's bucket. 3–63 characters of [a-z0-9_-]. The agent derives the
 * same name (drain_bucket, host-agent gcp.py): its project is known only on the host.
 */
export function gcpDrainBucket(project: string, pool: string): string {
  const hash = createHash("sha256").update(`${project}/${pool}`).digest("hex").slice(0, 12);
  return `${pool.slice(0, 40).replace(/[-_]+$/, "")}-drain-${hash}`;
}

/** Cloud Monitoring takes at most one point per time series every 5 s. */
export const GCP_MIN_POINT_SPACING_SEC = 5;

/**
 * The agent's liveness path on the health port: 200 while the media server answers, draining
 * or not. The MIG's autohealer probes it; the load balancer probes readiness
 * (`ports.health.path`), which fails while draining. An autohealer on readiness would recreate
 * every draining host.
 */
export const LIVENESS_PATH = "/livez";
