/**
 * Per-session quality, as the host agent publishes it: it reads the media server's session
 * records (the workload contract's `sessionsPath`, modules/config/sessions.schema.ts), counts
 * them into histograms and serves them on /metrics with the host's labels. The gates
 * (modules/gates/compare.ts COMPARISONS) and the SLO rules (modules/observe/spec.ts) read these
 * families; they are named here, below both, because the agent's config is rendered here and a
 * domain reads only the ones below it.
 *
 * Pure, and the reference: the agent (modules/host-agent, sessions.py; no Node on a host) counts and renders
 * the same lines, held equal by test/host/sessions.test.ts.
 */
import type { FigureField, OpenSession, SessionsAnswer } from "../config/sessions.schema";
import { labelText } from "./exporter";

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

/** Which field of a session record holds each figure, and what it is, for HELP. */
const FIGURES = [
  ["packet-loss", "lossRatio", "packet loss ratio (lost ÷ sent packets)"],
  ["jitter-p95", "jitterP95Seconds", "jitter p95, seconds"],
  ["rtt-p95", "rttP95Seconds", "RTT p95, seconds"],
] as const satisfies readonly (readonly [keyof typeof SESSION_SERIES, FigureField, string])[];

interface Family {
  name: string;
  help: string;
}

/** What the agent's config carries (`sessions`): every family it serves, named and explained. */
export interface SessionFamilies {
  quality: {
    field: FigureField;
    buckets: number[];
    summary: Family;
    /** A gauge histogram: served as three untyped families, `_bucket`, `_sum`, `_count`. */
    open: Family;
    minute: Family;
  }[];
  join: Family & { buckets: number[] };
  ice: Family;
}

export const SESSION_FAMILIES: SessionFamilies = {
  quality: FIGURES.map(([slo, field, what]) => {
    const series = SESSION_SERIES[slo];
    return {
      field,
      buckets: [...series.buckets],
      summary: {
        name: series.summaryMetric,
        help: `Per-session ${what} over the whole call, observed when the call ends.`,
      },
      open: {
        name: series.openMetric,
        help: `Calls in progress by their ${what} so far: a gauge histogram.`,
      },
      minute: {
        name: series.sessionMetric,
        help: `Per-session ${what}, observed once per session per minute.`,
      },
    };
  }),
  join: {
    name: SESSION_SERIES["join-success"].summaryMetric,
    help: "Join attempts, observed at the attempt: 1 joined, 0 failed.",
    buckets: [...SESSION_SERIES["join-success"].buckets],
  },
  ice: { name: ICE_CONNECTIONS, help: "ICE connection attempts by outcome." },
};

/**
 * What the agent has counted: per histogram (by its name), the cumulative count of each bound,
 * then +Inf, then the sum; per ICE outcome (connected, failed) its count; and the cursor after
 * the last record counted. The agent keeps it all in one file under its state directory,
 * written before a scrape can see it, so a restart neither counts a record again nor resets a
 * counter.
 */
export interface SessionCounts {
  cursor?: string;
  series: Record<string, number[]>;
}

const zeros = (buckets: readonly number[]) => new Array<number>(buckets.length + 2).fill(0);

export function emptyCounts(f: SessionFamilies): SessionCounts {
  const histograms: [string, number[]][] = [
    ...f.quality.flatMap((q) =>
      [q.summary, q.minute].map((h) => [h.name, zeros(q.buckets)] as [string, number[]]),
    ),
    [f.join.name, zeros(f.join.buckets)],
  ];
  return { series: { ...Object.fromEntries(histograms), [f.ice.name]: [0, 0] } };
}

function observe(h: number[], buckets: readonly number[], value: unknown): void {
  // The schema bounds every figure; a server that sends NaN or a string is not counted.
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return;
  [...buckets, Infinity].forEach((le, i) => (h[i] += value <= le ? 1 : 0));
  h[h.length - 1] += value;
}

/** Pure: the counts after one answer of the sessions endpoint. */
export function countRecords(
  f: SessionFamilies,
  before: SessionCounts,
  answer: SessionsAnswer,
): SessionCounts {
  const after: SessionCounts = structuredClone(before);
  const { series } = after;
  for (const record of answer.records) {
    if (record.kind === "join") {
      observe(series[f.join.name], f.join.buckets, record.joined === true ? 1 : 0);
      if (record.ice === "connected" || record.ice === "failed")
        series[f.ice.name][record.ice === "failed" ? 1 : 0]++;
    } else {
      for (const q of f.quality) {
        const h = record.kind === "end" ? q.summary : q.minute;
        observe(series[h.name], q.buckets, record[q.field]);
      }
    }
  }
  after.cursor = answer.cursor;
  return after;
}

/**
 * A number as the agent (Python) writes it: an integer without a point; otherwise the shortest
 * digits that read back the same (as JavaScript's), in exponent form below 1e-4 and from 1e16
 * with at least two exponent digits (5e-05, where JavaScript writes 0.00005).
 */
export function agentNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const [mantissa, e] = x.toExponential().split("e");
  const exp = Number(e);
  if (exp >= -4 && exp < 16) return String(x);
  return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** One histogram's sample lines under `name`, by suffix: a line per bound, the sum, the count. */
function histogramLines(
  name: string,
  labels: Record<string, string>,
  buckets: readonly number[],
  h: readonly number[],
): [suffix: string, lines: string[]][] {
  const bounds = [...buckets.map(agentNumber), "+Inf"];
  return [
    ["_bucket", bounds.map((le, i) => `${name}_bucket${labelText({ ...labels, le })} ${h[i]}`)],
    ["_sum", [`${name}_sum${labelText(labels)} ${agentNumber(h[h.length - 1])}`]],
    ["_count", [`${name}_count${labelText(labels)} ${h[h.length - 2]}`]],
  ];
}

/**
 * Pure: the session families as exposition text (format 0.0.4), one HELP/TYPE per family. The
 * calls in progress are a gauge histogram, which 0.0.4 has no type for: three families typed
 * `untyped` (promtool refuses `_bucket`, `_sum`, `_count` and `le` on a gauge, and `histogram`
 * would tell every reader they only grow).
 */
export function renderSessionMetrics(
  f: SessionFamilies,
  labels: Record<string, string>,
  counts: SessionCounts,
  open: readonly OpenSession[],
): string {
  const lines: string[] = [];
  const family = (name: string, help: string, type: string, samples: string[]) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  const histogram = (h: Family, buckets: readonly number[]) =>
    family(
      h.name,
      h.help,
      "histogram",
      histogramLines(h.name, labels, buckets, counts.series[h.name]).flatMap(([, l]) => l),
    );
  for (const q of f.quality) {
    histogram(q.summary, q.buckets);
    const now = zeros(q.buckets);
    for (const session of open) observe(now, q.buckets, session[q.field]);
    for (const [suffix, samples] of histogramLines(q.open.name, labels, q.buckets, now))
      family(`${q.open.name}${suffix}`, q.open.help, "untyped", samples);
    histogram(q.minute, q.buckets);
  }
  histogram(f.join, f.join.buckets);
  const ice = f.ice.name;
  family(
    ice,
    f.ice.help,
    "counter",
    (["connected", "failed"] as const).map(
      (outcome, i) => `${ice}${labelText({ ...labels, outcome })} ${counts.series[ice][i]}`,
    ),
  );
  return `${lines.join("\n")}\n`;
}
