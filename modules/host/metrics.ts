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

/** Bare metal: the gauge on the agent's /metrics, which Prometheus scrapes. */
export const PROMETHEUS_MEDIA_METRIC = "avfleet_media_streams";

/** The ASG lifecycle hook that gives a terminating host time to drain its calls. */
export const AWS_DRAIN_HOOK = "media-drain";

/**
 * The ASG lifecycle hook that holds a launching host (into the warm pool, out of it, or straight
 * into service) until its agent says it serves: bootstrap done, tuning verified, media healthy.
 */
export const AWS_LAUNCH_HOOK = "media-launch";

/** The instance metadata key a GCP host drains on (set by scale-in or an operator). */
export const GCP_DRAIN_ATTRIBUTE = "avfleet-drain";

/** When the drain mark was set (RFC 3339): the scale-in controller's rate limit counts it. */
export const GCP_DRAIN_AT_ATTRIBUTE = "avfleet-drain-at";

/**
 * Beside the mark when a release's rollout drains the host (its value: the release id): the
 * scale-in controller then leaves the drained VM to the rollout, which recreates it.
 */
export const GCP_DRAIN_FOR_ATTRIBUTE = "avfleet-drain-for";

/** Cloud Monitoring takes at most one point per time series every 5 s. */
export const GCP_MIN_POINT_SPACING_SEC = 5;

/**
 * The agent's liveness path on the health port: 200 while the media server answers, draining
 * or not. The MIG's autohealer probes it; the load balancer probes readiness
 * (`ports.health.path`), which fails while draining. An autohealer on readiness would recreate
 * every draining host.
 */
export const LIVENESS_PATH = "/livez";
