/**
 * Per-session quality, as the host agents are to publish it. The gates
 * (modules/gates/compare.ts COMPARISONS) and the SLO rules (modules/observe/spec.ts) read these
 * families; they are named here, below both, because the agent's config is rendered here and a
 * domain reads only the ones below it.
 */
/**
 * The series of each SLO's per-session figure, keyed by the gates' SLO names: `summaryMetric`
 * observed once per session when its call ends, `openMetric` the calls in progress by their
 * figure so far, `sessionMetric` once per session per minute (joins: once per attempt, 1 joined,
 * 0 failed). Buckets are fine where the SLO's threshold is (modules/gates/slo.ts).
 */
export const SESSION_SERIES = {
  "packet-loss": {
    summaryMetric: "avfleet_session_summary_packet_loss_ratio",
    openMetric: "avfleet_session_open_packet_loss_ratio",
    sessionMetric: "avfleet_session_packet_loss_ratio",
    buckets: [0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1],
  },
  "jitter-p95": {
    summaryMetric: "avfleet_session_summary_jitter_p95_seconds",
    openMetric: "avfleet_session_open_jitter_p95_seconds",
    sessionMetric: "avfleet_session_jitter_p95_seconds",
    buckets: [0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2],
  },
  "join-success": {
    summaryMetric: "avfleet_session_join_success",
    sessionMetric: "avfleet_session_join_success",
    buckets: [0, 1],
  },
  "rtt-p95": {
    summaryMetric: "avfleet_session_summary_rtt_p95_seconds",
    openMetric: "avfleet_session_open_rtt_p95_seconds",
    sessionMetric: "avfleet_session_rtt_p95_seconds",
    buckets: [0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1],
  },
} as const;

/** ICE connection attempts by `outcome` (connected | failed): the ICE SLI's counter. */
export const ICE_CONNECTIONS = "avfleet_ice_connections_total";
