/**
 * The media SLOs in one place: the absolute thresholds a traffic shift must hold and that
 * alerting can reuse. A metric name here is the Prometheus series the fleet exports (and the
 * rehearsal world serves), so a gate's query and an alert rule name the same thing.
 */
import { SERVING_SERIES } from "../host-series/exporter";

/**
 * `objective`: the share of session-minutes (of joins, for join-success) that must keep the
 * threshold over 30 days — what alerting burns its error budget against. Per-session tails are
 * wide (a healthy pool has ~11 % of session-minutes above 30 ms p95 jitter, ~3 % above 1 % loss),
 * so objectives sit above what a healthy pool does and below what a degraded one does.
 */
export const SLOS = {
  "packet-loss": {
    metric: "avfleet_packet_loss_ratio",
    /** A sample must stay below the threshold. */
    bound: "below",
    threshold: 0.01,
    unit: "ratio",
    summary: "packet loss < 1 %",
    objective: 0.95,
  },
  "jitter-p95": {
    metric: "avfleet_jitter_p95_seconds",
    bound: "below",
    threshold: 0.03,
    unit: "seconds",
    summary: "jitter p95 < 30 ms",
    objective: 0.85,
  },
  "join-success": {
    metric: "avfleet_join_success_ratio",
    bound: "above",
    threshold: 0.995,
    unit: "ratio",
    summary: "join success > 99.5 %",
    objective: 0.995,
  },
  "rtt-p95": {
    metric: "avfleet_rtt_p95_seconds",
    bound: "below",
    // Past ~250 ms round trip, conversation turns start to collide (ITU-T G.114's 150 ms
    // one-way budget, with margin for the last mile the SFU does not control).
    threshold: 0.25,
    unit: "seconds",
    summary: "RTT p95 < 250 ms",
    objective: 0.95,
  },
} as const;

export type SloName = keyof typeof SLOS;
export type Slo = (typeof SLOS)[SloName];
export const SLO_NAMES = Object.keys(SLOS) as SloName[];

/** Series the executor reads besides the SLOs: the host agent's (modules/host-series/exporter.ts). */
export const ACTIVE_SESSIONS = SERVING_SERIES.activeSessions;
export const HEALTHY_HOSTS = SERVING_SERIES.healthyHosts;
/** The pool's host ceiling (its stack's maxHosts): alerting compares healthy hosts to it. */
export const MAX_HOSTS = "avfleet_max_hosts";
/** A pool's weight in its traffic split, 0-100: the dashboards plot it, a rehearsal world serves it. */
export const TRAFFIC_WEIGHT = "avfleet_traffic_weight";

/** A label matcher a cohort adds to its pool's: `release=r-1a2b…`, `host=~a|b`, `release!~a|b`. */
/** PromQL's label matcher operators, as a regex alternation: every reader of a cohort uses it. */
export const MATCHER_OPS = "=~|!~|!=|=";
const COHORT_MATCHER = new RegExp(`^([a-z_]+)(${MATCHER_OPS})([^"\\\\]*)$`);

/**
 * A pool's PromQL matchers. A gate's "pool" may also be a cohort of a pool's hosts,
 * `pool/label=value` (a release's canary, `pool/release=r-…`, against the rest of the pool,
 * `pool/release!=r-…`): the label is one the hosts' agent puts on every series it exports.
 */
export function poolMatchers(pool: string): string {
  const [name, ...cohort] = pool.split("/");
  return [
    `pool="${name}"`,
    ...cohort.map((m) => {
      const parts = COHORT_MATCHER.exec(m);
      if (!parts) throw new Error(`not a cohort matcher: ${m} (in ${pool})`);
      return `${parts[1]}${parts[2]}"${parts[3]}"`;
    }),
  ].join(",");
}

/** The PromQL selector of one metric on one pool (or cohort): what a gate queries and journals. */
export function selector(metric: string, pool: string): string {
  return `${metric}{${poolMatchers(pool)}}`;
}

/** Whether a value keeps the SLO, with the threshold the runbook may have overridden. */
export function keeps(slo: Slo, value: number, threshold: number = slo.threshold): boolean {
  return slo.bound === "below" ? value < threshold : value > threshold;
}
