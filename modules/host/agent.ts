/**
 * The host agent's configuration, per platform: what it publishes, where, and how it drains.
 * The agent itself is avfleet-agent.py (Python 3 standard library), carried verbatim.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FleetSpec } from "../config/fleet.schema";
import { SCRIPT_PATH } from "../tuning/settings";
import {
  AWS_DRAIN_HOOK,
  AWS_LAUNCH_HOOK,
  AWS_MEDIA_METRIC,
  GCP_MEDIA_LOAD_METRIC,
  GCP_MIN_POINT_SPACING_SEC,
  LIVENESS_PATH,
  PROMETHEUS_MEDIA_METRIC,
} from "./metrics";
import { HOST_METRIC_FAMILIES, SERVING_SERIES } from "./exporter";
import { SESSION_FAMILIES, type SessionFamilies } from "./sessions";
import { containerImage, type ContainerImage } from "./image";
import { launchSeconds, STATE_DIR, TEXTFILE_DIR } from "./units";

/**
 * A Python file as a host gets it: without its comment-only lines past the first two (shebang,
 * "rendered by") and without its docstrings: they are a fifth of its bytes, and a host needs
 * neither (AWS hosts fetch the agent within their boot payload, modules/host/boot-stub.ts). A docstring is a line opening with `"""` right after a line
 * ending in `:` (a def or class), up to the line that closes it. A comment line inside a
 * multi-line string would change the program: a test holds the compacted file's syntax tree
 * equal to the original's less its docstrings.
 */
export function compactPython(source: string): string {
  const kept: string[] = [];
  let inDocstring = false;
  for (const [i, line] of source.split("\n").entries()) {
    const text = line.trim();
    if (inDocstring) {
      inDocstring = !text.endsWith('"""');
    } else if (text.startsWith('"""') && kept.at(-1)?.trimEnd().endsWith(":")) {
      inDocstring = text.length < 6 || !text.endsWith('"""');
    } else if (i < 2 || !text.startsWith("#")) {
      kept.push(line);
    }
  }
  return kept.join("\n");
}

const AGENT_FILE_SOURCE = readFileSync(join(__dirname, "avfleet-agent.py"), "utf8");

/**
 * The source without the `# --- platform: NAME ---` blocks not named in `keep`: a block runs to
 * the next `# --- ` line. Each platform's API code is a quarter of the agent, and a host runs one.
 */
export function platformSource(source: string, keep: ReadonlySet<string>): string {
  let dropping = false;
  return source
    .split("\n")
    .filter((line) => {
      if (line.startsWith("# --- ")) {
        const block = /^# --- platform: (\w+) ---$/.exec(line)?.[1];
        dropping = block !== undefined && !keep.has(block);
      }
      return !dropping;
    })
    .join("\n");
}

/**
 * The agent a pool's hosts get: its own platform's code (and GCP's where its image is pulled with
 * a Google token), without comment lines and docstrings.
 */
export function agentSource(spec: FleetSpec): string {
  const keep = new Set<string>([spec.kind]);
  if (containerImage(spec)?.auth === "google") keep.add("gcp");
  return compactPython(platformSource(AGENT_FILE_SOURCE, keep));
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
  },
  aws: {
    imds: "http://169.254.169.254",
    monitoring: "https://monitoring.{region}.amazonaws.com/",
    autoscaling: "https://autoscaling.{region}.amazonaws.com/",
  },
  metal: {},
};

export interface AgentConfig {
  platform: FleetSpec["kind"];
  pool: string;
  intervalSec: number;
  publishEverySec: number;
  verifyEverySec: number;
  drainSeconds: number;
  /**
   * The health port: `path` answers readiness (the load balancer's: 503 while draining,
   * untuned or unhealthy), `livenessPath` liveness (the autohealer's: 200 while the media server
   * answers, draining or not).
   */
  health: { port: number; path: string; livenessPath: string };
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
  tuneVerify: string[];
  stateDir: string;
  textfileDir: string;
  metric: Record<string, string>;
  lifecycleHook?: string;
  /**
   * AWS: the launching hook the agent completes at every boot once the host serves, and
   * heartbeats every heartbeatSec while it comes up, for at most limitSec after the boot.
   */
  launch?: { hook: string; heartbeatSec: number; limitSec: number };
  endpoints: Record<string, string>;
  /**
   * The host counters the agent serves on /metrics. Labels pool and region come from here, host
   * and zone from the platform; ethtool reads `interfaces` (absent: the default route's).
   */
  hostMetrics: {
    labels: { pool: string; region: string };
    interfaces?: string[];
    families: typeof HOST_METRIC_FAMILIES;
  };
  /** The names of the gauges the agent serves of the host as a server (sessions, readiness). */
  serving: typeof SERVING_SERIES;
  /** The per-session quality families the agent counts from the media server's records. */
  sessions: SessionFamilies;
}

function metric(spec: FleetSpec): Record<string, string> {
  const prometheus = { prometheus: PROMETHEUS_MEDIA_METRIC };
  if (spec.kind === "gcp") return { ...prometheus, type: GCP_MEDIA_LOAD_METRIC };
  if (spec.kind === "aws")
    return {
      ...prometheus,
      ...AWS_MEDIA_METRIC,
      autoScalingGroup: autoScalingGroupName(spec.pool),
    };
  return prometheus;
}

/** `interfaces`: the tuning's host facts' media NICs, when they name them. */
export function agentConfig(spec: FleetSpec, interfaces?: readonly string[]): AgentConfig {
  const intervalSec = spec.agent.intervalSec;
  const { workload } = spec;
  const image = containerImage(spec);
  return {
    platform: spec.kind,
    pool: spec.pool,
    intervalSec,
    publishEverySec:
      spec.kind === "gcp" ? Math.max(intervalSec, 2 * GCP_MIN_POINT_SPACING_SEC) : intervalSec,
    verifyEverySec: 300,
    drainSeconds: spec.drainSeconds,
    health: {
      port: spec.ports.health.port,
      path: spec.ports.health.path,
      livenessPath: LIVENESS_PATH,
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
    stateDir: STATE_DIR,
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
        }
      : {}),
    endpoints: ENDPOINTS[spec.kind],
    hostMetrics: {
      labels: { pool: spec.pool, region: spec.mediaRegion },
      ...(interfaces ? { interfaces: [...interfaces] } : {}),
      families: HOST_METRIC_FAMILIES,
    },
    serving: SERVING_SERIES,
    sessions: SESSION_FAMILIES,
  };
}
