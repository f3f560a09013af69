/**
 * The host agent's configuration, per platform: what it publishes, where, and how it drains;
 * and the agent's files as a host gets them. The agent itself is the Python package in
 * modules/host-agent (standard library only).
 */
import { posix } from "node:path";
import { AGENT_PACKAGE, agentLauncher, agentModules } from "../host-agent/package";
import type { FleetSpec } from "../config/fleet.schema";
import * as awsDrain from "../config/aws-drain";
import { SCRIPT_PATH } from "../tuning/settings";
import {
  AWS_DRAIN_HOOK,
  AWS_LAUNCH_HOOK,
  awsLeftAtLimitMetric,
  autoscalerTarget,
  awsMediaMetric,
  GCP_MEDIA_LOAD_METRIC,
  GCP_MIN_POINT_SPACING_SEC,
  LIVENESS_PATH,
  PROMETHEUS_MEDIA_METRIC,
  GCP_ADMIT_PREFIX,
  GCP_CORDON_PREFIX,
  GCP_DRAIN_PREFIX,
} from "./metrics";
import { warmPoolOf } from "../config/fleet";
import { HOST_METRIC_FAMILIES, SERVING_SERIES } from "../host-series/exporter";
import { SESSION_FAMILIES, type SessionFamilies } from "../host-series/sessions";
import { containerImage, type ContainerImage } from "./image";
import { MEDIA_SESSIONS, survivalTable, type SurvivalTable } from "../world/demand";
import {
  AGENT_LIB_DIR,
  AGENT_PATH,
  AGENT_RUN_DIR,
  AGENT_STATE_DIR,
  agentSources,
  autohealingInitialDelaySec,
  launchSeconds,
  STATE_DIR,
  TEXTFILE_DIR,
  TUNE_CHECK_EVERY_SEC,
  TUNE_VERDICT_PATH,
} from "./units";

/**
 * How long past the standby policy's initialDelaySec a refill may still run before its stop:
 * Google documents the delay, not how soon after it the MIG stops the VM (real-path.md, "GCP
 * standby pool made safe"). A host still up by then fails open.
 */
export const STANDBY_STOP_MARGIN_SEC = 120;

/**
 * The agent a pool's hosts get, as files: its package with its own platform's adapter (and GCP's
 * where its image is pulled with a Google token), then the launcher the units run. The launcher
 * comes last: the bootstrap puts the files one by one, and on a first boot a unit started
 * meanwhile (the tuning check's timer) finds no launcher until its package is whole. On an
 * upgrade such a run may meet old and new modules and fail once; the agent keeps the verdict
 * before it, and the bootstrap restarts the agent once every file is in place.
 */
export function agentFiles(spec: FleetSpec): { path: string; mode: string; content: string }[] {
  const platforms = new Set<string>([spec.kind]);
  if (containerImage(spec)?.auth === "google") platforms.add("gcp");
  return [
    ...agentModules(platforms).map(({ name, content }) => ({
      path: `${AGENT_LIB_DIR}/${AGENT_PACKAGE}/${name}`,
      mode: "0644",
      content,
    })),
    {
      path: AGENT_PATH,
      mode: "0755",
      content: agentLauncher(posix.relative(posix.dirname(AGENT_PATH), AGENT_LIB_DIR)),
    },
  ];
}

/** The ASG a fleet declares: the agent names it in its metric dimension and lifecycle calls. */
export function autoScalingGroupName(pool: string): string {
  return `${pool}-media`;
}

/** The real endpoints; `{region}` is the instance's, read from IMDS. */
const ENDPOINTS = {
  gcp: {
    metadata: "http://metadata.google.internal",
    monitoring: "https://monitoring.googleapis.com",
    storage: "https://storage.googleapis.com",
  },
  aws: {
    imds: "http://169.254.169.254",
    monitoring: "https://monitoring.{region}.amazonaws.com/",
    autoscaling: "https://autoscaling.{region}.amazonaws.com/",
  },
  metal: {},
};

/** Samples of `family` whose labels include `match`, added (`sign` 1) or taken away (-1). */
export interface CounterTerm {
  family: string;
  match: Record<string, string>;
  sign: 1 | -1;
}

/**
 * What an AWS host publishes to CloudWatch besides its load: per metric, the increase of its
 * counter terms over each `periodSec`, summed over the host's series, with `dimensions` as the
 * alarms read them. Built by modules/observe (cloudwatchCounters) from the spec the alarms
 * render from, and handed down by index.ts: modules/host sits below the observe domain.
 */
export interface CloudWatchCounters {
  namespace: string;
  periodSec: number;
  metrics: {
    name: string;
    unit: "Count";
    dimensions: Record<string, string>;
    terms: CounterTerm[];
  }[];
}

export interface AgentConfig {
  platform: FleetSpec["kind"];
  pool: string;
  intervalSec: number;
  publishEverySec: number;
  drainSeconds: number;
  /**
   * The health port: `path` answers readiness (the load balancer's: 503 while draining,
   * untuned or unhealthy), `livenessPath` liveness (the autohealer's: 200 while the media server
   * answers, draining or not).
   */
  health: {
    port: number;
    path: string;
    livenessPath: string;
    /**
     * Bare metal, where no cloud firewall stands in front of the host: the IPv4 networks that
     * reach the port (the site's admin and monitoring CIDRs). The agent listens only on the
     * private address the host routes them from, and on loopback. Absent: every address.
     */
    via?: string[];
  };
  workload: {
    adminPort: number;
    healthPath: string;
    statsPath: string;
    drainPath: string;
    /** The session records (modules/config/sessions.schema.ts) the agent counts. */
    sessionsPath: string;
    /** A container workload's image, which `avfleet-agent --pull` puts on the host. */
    image?: Pick<ContainerImage, "ref" | "registry" | "auth">;
  };
  /** Run by root's tuning check (`--verify-tuning`), never by the agent's service. */
  tuneVerify: string[];
  /** Where that check leaves its verdict ({status, stdout, stderr}) for the agent. */
  tuneVerdict: string;
  /** Older than this, the verdict counts as none: root's check stopped running. */
  tuneVerdictMaxAgeSec: number;
  /** The agent's own writable state. */
  stateDir: string;
  /** This boot's marks of the agent's own. */
  runDir: string;
  /** Root's: the host's release and (bare metal) a drain request, which the agent only reads. */
  hostDir: string;
  textfileDir: string;
  /** The load gauge: its Prometheus name, and where the pool's autoscaler reads it. */
  /** `target` (clouds): the streams per host the autoscaler holds, which a draining host shows. */
  metric: { [key: string]: string | number | Record<string, string> };
  lifecycleHook?: string;
  /**
   * GCP: the scale-in controller's mark (cordon) of this host, `<prefix><VM name>` (`<cordonPrefix>…`)
   * in the pool's mark bucket, named (gcpDrainBucket) from its project, from the metadata server.
   */
  drainMarks?: { prefix: string; cordonPrefix: string; admitPrefix?: string };
  /**
   * GCP, a pool with a standby pool: on the VM's first boot the host stays out of rotation until
   * the scale-in controller admits it (`<admitPrefix><VM name>.<instance id>`, written only for a
   * member the MIG drives to RUNNING), or failOpenSec after the boot: a refill the MIG stops
   * initialDelaySec after its creation is stopped by then, so a VM still up is not one.
   */
  standbyHold?: { failOpenSec: number };
  /**
   * Clouds: the session mix's survival, for the calls it expects at the drain limit (GCP: published
   * to the scale-in controller; AWS: against its scale-in protection's budget).
   */
  leftAtLimit?: SurvivalTable;
  /**
   * AWS: the launching hook the agent completes at every boot once the host serves, and
   * heartbeats every heartbeatSec while it comes up, for at most limitSec after the boot.
   */
  launch?: { hook: string; heartbeatSec: number; limitSec: number };
  /** AWS: seconds between heartbeats of the drain hook while calls remain. */
  drainHeartbeatSec?: number;
  /** AWS: when the host keeps the group's scale-in off itself. */
  scaleInProtection?: awsDrain.AwsScaleInProtection;
  endpoints: Record<string, string>;
  /**
   * The host counters the agent serves on /metrics. Labels pool and region come from here, host
   * and zone from the platform; ethtool reads `interfaces` (absent: the default route's).
   */
  hostMetrics: {
    labels: { pool: string; region: string };
    interfaces?: string[];
    families: typeof HOST_METRIC_FAMILIES;
    /** Seconds the counters read (ethtool -S, /proc) serve every scrape before a new read. */
    refreshSec: number;
  };
  /** The names of the gauges the agent serves of the host as a server (sessions, readiness). */
  serving: typeof SERVING_SERIES;
  /** The per-session quality families the agent counts from the media server's records. */
  sessions: SessionFamilies;
  /** AWS: the counters the agent publishes to CloudWatch for the pool's alarms. */
  cloudwatch?: CloudWatchCounters;
}

function metric(spec: FleetSpec): AgentConfig["metric"] {
  const prometheus = { prometheus: PROMETHEUS_MEDIA_METRIC };
  if (spec.kind === "gcp")
    return { ...prometheus, type: GCP_MEDIA_LOAD_METRIC, target: autoscalerTarget(spec) };
  if (spec.kind === "aws")
    return {
      ...prometheus,
      ...awsMediaMetric(spec.pool),
      target: autoscalerTarget(spec),
      autoScalingGroup: autoScalingGroupName(spec.pool),
      dimensions: { AutoScalingGroupName: autoScalingGroupName(spec.pool) },
      // Published per instance beside the load (aws.py publish), read by the termination policy.
      callsLeftAtLimit: {
        name: awsLeftAtLimitMetric(spec.pool).name,
        unit: awsLeftAtLimitMetric(spec.pool).unit,
      },
    };
  return prometheus;
}

/**
 * How long one read of the host's counters serves scrapes: Prometheus scrapes every 15 s or
 * more, so every scrape still gets a new read, and a flood of them forks one ethtool per NIC
 * every 5 s at most.
 */
export const HOST_READINGS_REFRESH_SEC = 5;

/**
 * `interfaces`: the tuning's host facts' media NICs, when they name them; `cloudwatch`: what an
 * AWS host publishes for its pool's alarms.
 */
export function agentConfig(
  spec: FleetSpec,
  interfaces?: readonly string[],
  cloudwatch?: CloudWatchCounters,
): AgentConfig {
  const intervalSec = spec.agent.intervalSec;
  const { workload } = spec;
  const image = containerImage(spec);
  return {
    platform: spec.kind,
    pool: spec.pool,
    intervalSec,
    publishEverySec:
      spec.kind === "gcp" ? Math.max(intervalSec, 2 * GCP_MIN_POINT_SPACING_SEC) : intervalSec,
    drainSeconds: spec.drainSeconds,
    health: {
      port: spec.ports.health.port,
      path: spec.ports.health.path,
      livenessPath: LIVENESS_PATH,
      ...(spec.kind === "metal" ? { via: agentSources(spec).filter((c) => !c.includes(":")) } : {}),
    },
    workload: {
      adminPort: workload.adminPort,
      healthPath: workload.healthPath,
      statsPath: workload.statsPath,
      drainPath: workload.drainPath,
      sessionsPath: workload.sessionsPath,
      ...(image ? { image: { ref: image.ref, registry: image.registry, auth: image.auth } } : {}),
    },
    tuneVerify: [SCRIPT_PATH, "verify"],
    tuneVerdict: TUNE_VERDICT_PATH,
    tuneVerdictMaxAgeSec: 3 * TUNE_CHECK_EVERY_SEC,
    stateDir: AGENT_STATE_DIR,
    runDir: AGENT_RUN_DIR,
    hostDir: STATE_DIR,
    textfileDir: TEXTFILE_DIR,
    metric: metric(spec),
    ...(spec.kind === "aws"
      ? {
          lifecycleHook: AWS_DRAIN_HOOK,
          launch: {
            hook: AWS_LAUNCH_HOOK,
            heartbeatSec: Math.floor(launchSeconds(spec) / 3),
            limitSec: launchSeconds(spec),
          },
          ...awsDrain.agentDrainConfig(spec),
        }
      : {}),
    ...(spec.kind === "gcp"
      ? {
          drainMarks: {
            prefix: GCP_DRAIN_PREFIX,
            cordonPrefix: GCP_CORDON_PREFIX,
            ...(warmPoolOf(spec) ? { admitPrefix: GCP_ADMIT_PREFIX } : {}),
          },
          ...(warmPoolOf(spec)
            ? {
                standbyHold: {
                  failOpenSec: autohealingInitialDelaySec(spec) + STANDBY_STOP_MARGIN_SEC,
                },
              }
            : {}),
        }
      : {}),
    ...(spec.kind !== "metal"
      ? { leftAtLimit: survivalTable(MEDIA_SESSIONS, spec.drainSeconds / 60) }
      : {}),
    endpoints: ENDPOINTS[spec.kind],
    hostMetrics: {
      labels: { pool: spec.pool, region: spec.mediaRegion },
      ...(interfaces ? { interfaces: [...interfaces] } : {}),
      families: HOST_METRIC_FAMILIES,
      refreshSec: HOST_READINGS_REFRESH_SEC,
    },
    serving: SERVING_SERIES,
    sessions: SESSION_FAMILIES,
    ...(cloudwatch ? { cloudwatch } : {}),
  };
}
