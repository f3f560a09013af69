/**
 * The observability spec: the media SLOs the migration gates use (modules/gates/slo.ts, the one
 * source of thresholds and objectives) as ratio SLIs over the fleet's per-session histograms,
 * with the windows and multi-window, multi-burn-rate alerts of the SRE workbook, plus the host
 * alerts that name a cause. Rules, their tests, dashboards and cloud alerts all render from it.
 */
import type { CounterTerm } from "../host/agent";
import { EXPORTER_METRICS } from "../host-series/exporter";
import { HOST_JOB } from "../host/scrape";
import { ICE_CONNECTIONS } from "../host-series/sessions";
import { COMPARISONS } from "../gates/compare";
import { HEALTHY_HOSTS, MAX_HOSTS, SLO_NAMES, SLOS, TRAFFIC_WEIGHT } from "../gates/slo";

/** A ratio SLI: the share of events that were bad, per region and pool, over a window. */
export interface Sli {
  name: string;
  /** The share of good events the SLO promises over the 30-day period. */
  objective: number;
  /** What a good event is, for humans. */
  summary: string;
  /** PromQL of bad events' rate over `[window]`, summed by `by` (default region and pool). */
  bad(window: string, match?: string, by?: string): string;
  /** PromQL of all events' rate over `[window]`, summed by `by` (default region and pool). */
  total(window: string, match?: string, by?: string): string;
  /** Counters a test feeds for `bad` bad events in `total`: [metric, extra labels, count]. */
  feed(bad: number, total: number): [string, Record<string, string>, number][];
  /**
   * The counters whose increase counts bad and all events: `bad` and `total` render them as
   * PromQL, the AWS hosts' agent sums them for CloudWatch (modules/alerting/cloud.ts).
   */
  events: { bad: CounterTerm[]; total: CounterTerm[] };
}

export const BY = "region, pool";
export const PERIOD_S = 30 * 86400;

const sumRate = (series: string, window: string, by = BY) =>
  `sum by (${by}) (rate(${series}[${window}]))`;

function braces(labels: string[]): string {
  const set = labels.filter(Boolean);
  return set.length ? `{${set.join(",")}}` : "";
}

/** The PromQL of terms' summed rates: one term alone, or the difference of two. */
function termsRate(terms: CounterTerm[], window: string, match = "", by = BY): string {
  const rate = (t: CounterTerm) => {
    const labels = Object.entries(t.match).map(([k, v]) => `${k}="${v}"`);
    return sumRate(`${t.family}${braces([...labels, match])}`, window, by);
  };
  if (terms.length === 1 && terms[0].sign === 1) return rate(terms[0]);
  if (terms.length === 2 && terms[0].sign === 1 && terms[1].sign === -1)
    return `(${rate(terms[0])} - ${rate(terms[1])})`;
  throw new Error(`no PromQL for terms ${JSON.stringify(terms)}`);
}

/** An SLI's bad and total as PromQL, from its counter terms. */
function ratesOf(events: Sli["events"]): Pick<Sli, "bad" | "total"> {
  return {
    bad: (w, m, by) => termsRate(events.bad, w, m, by),
    total: (w, m, by) => termsRate(events.total, w, m, by),
  };
}

/** Every gate SLO, as the share of per-session samples past its threshold (a histogram bucket). */
const histogramSlis: Sli[] = SLO_NAMES.map((name) => {
  const slo = SLOS[name];
  const metric = COMPARISONS[name].sessionMetric;
  // join-success: a failed join is a sample of 0, so the bad events are the le="0" bucket.
  const le = slo.bound === "below" ? slo.threshold : 0;
  const bucket: CounterTerm = { family: `${metric}_bucket`, match: { le: String(le) }, sign: 1 };
  const count: CounterTerm = { family: `${metric}_count`, match: {}, sign: 1 };
  const good = slo.bound === "below";
  const events = {
    bad: good ? [count, { ...bucket, sign: -1 as const }] : [bucket],
    total: [count],
  };
  return {
    name,
    objective: slo.objective,
    summary: slo.summary,
    ...ratesOf(events),
    events,
    feed: (bad, total) => [
      [`${metric}_bucket`, { le: String(le) }, good ? total - bad : bad],
      [`${metric}_count`, {}, total],
    ],
  };
});

/** ICE: the host agents count their SFU's join attempts by ICE outcome; the gates have no such SLO. */
export const ICE_METRIC = ICE_CONNECTIONS;
const iceEvents: Sli["events"] = {
  bad: [{ family: ICE_METRIC, match: { outcome: "failed" }, sign: 1 }],
  total: [{ family: ICE_METRIC, match: {}, sign: 1 }],
};
const iceSli: Sli = {
  name: "ice-success",
  objective: 0.99,
  summary: "ICE connects",
  ...ratesOf(iceEvents),
  events: iceEvents,
  feed: (bad, total) => [
    [ICE_METRIC, { outcome: "failed" }, bad],
    [ICE_METRIC, { outcome: "connected" }, total - bad],
  ],
};

export const SLIS: Sli[] = [...histogramSlis, iceSli];

export interface BurnWindow {
  long: number;
  short: number;
  /** Budget burn rate both windows must exceed: 1 spends the period's budget in the period. */
  factor: number;
}

export interface BurnAlert {
  severity: "page" | "ticket";
  windows: BurnWindow[];
  /** Seconds the condition must hold before firing. */
  for: number;
}

/**
 * The SRE workbook's four pairs: 2 % of the budget in 1 h or 5 % in 6 h pages; 10 % in 1 d or
 * 10 % in 3 d opens a ticket. The short window makes an alert stop soon after the burn does.
 * Plus an outage pair (10x over 5 m and 1 m): with budgets of 5-15 % a 14.4x burn is 72 % of
 * sessions bad or more, and a pool gone 95 % bad would reach it on the 1 h window only after
 * ~45 minutes; media users hang up long before (bench:observe measures it).
 */
export const BURN_ALERTS: BurnAlert[] = [
  {
    severity: "page",
    windows: [
      { long: 3600, short: 300, factor: 14.4 },
      { long: 6 * 3600, short: 1800, factor: 6 },
      { long: 300, short: 60, factor: 10 },
    ],
    for: 60,
  },
  {
    severity: "ticket",
    windows: [
      { long: 86400, short: 7200, factor: 3 },
      { long: 3 * 86400, short: 6 * 3600, factor: 1 },
    ],
    for: 600,
  },
];

/**
 * The burn a rule can test for: a loose objective cannot burn 14.4× (its budget × 14.4 > 100 %
 * of events), so the factor is capped at the burn of 95 % bad events. Without the cap such a
 * page could never fire.
 */
export function effectiveFactor(sli: Sli, factor: number): number {
  return Math.min(factor, 0.95 / (1 - sli.objective));
}

/** Every window a recording rule keeps: the alerts' and the period's (for budget left). */
export const WINDOWS: number[] = [
  ...new Set([
    ...BURN_ALERTS.flatMap((a) => a.windows.flatMap((w) => [w.short, w.long])),
    PERIOD_S,
  ]),
].sort((a, b) => a - b);

/** Prometheus duration text: the largest unit that divides the seconds (5m, 1h, 30d). */
export function duration(seconds: number): string {
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The host exporter's series (modules/host-series/exporter.ts). */
export const HOST_METRICS = EXPORTER_METRICS;

export { HOST_JOB };
export { HEALTHY_HOSTS, MAX_HOSTS, TRAFFIC_WEIGHT };

export const HOST_THRESHOLDS = {
  /** Kernel drops over received datagrams: 0.1 % loses audio frames users hear. */
  rcvbufDropRatio: 0.001,
  /** Any allowance drop is a cloud limit being hit: packets per second over the window. */
  allowancePerSecond: 0,
  /** CPU busy share (all modes but idle and iowait) past which a host is saturated. */
  cpuBusy: 0.9,
} as const;

export interface HostAlert {
  alert: string;
  expr: string;
  for: number;
  severity: "page" | "ticket";
  summary: string;
  description: string;
  /** The cause `avfleet diagnose` names when this fires. */
  cause: "kernel-buffer" | "cloud-allowance" | "tuning-drift" | "agent-down" | "at-max";
}

/**
 * Host and pool alerts; rates over `window`; `for` in seconds; `match` narrows every selector.
 * `maxHosts`: a cloud alert policy's one pool's ceiling, inlined (Cloud Monitoring has no
 * recording rules); a Prometheus reads each pool's from `avfleet_max_hosts` (poolGroup).
 */
export function hostAlerts(window: string, match = "", maxHosts?: number): HostAlert[] {
  const t = HOST_THRESHOLDS;
  // every series, narrowed by `match` (a cloud stack's pool) when one is given
  const m = Object.fromEntries(
    Object.entries(HOST_METRICS).map(([k, name]) => [k, `${name}${braces([match])}`]),
  ) as Record<keyof typeof HOST_METRICS, string>;
  return [
    {
      alert: "AvfleetHostUdpReceiveBufferDrops",
      expr: `sum by (region, pool, zone, host) (rate(${m.rcvbufErrors}[${window}])) / sum by (region, pool, zone, host) (rate(${m.inDatagrams}[${window}]) + rate(${m.rcvbufErrors}[${window}])) > ${t.rcvbufDropRatio}`,
      for: 120,
      severity: "page",
      summary: "Kernel drops UDP datagrams on {{ $labels.host }}: socket receive buffers overflow",
      description:
        "Datagrams dropped for full socket buffers (RcvbufErrors). Fixable by tuning: raise the UDP receive buffer (net.core.rmem_max/rmem_default, the media-udp profile) and run avfleet-tune apply.",
      cause: "kernel-buffer",
    },
    {
      alert: "AvfleetHostNicAllowanceExceeded",
      expr: `sum by (region, pool, zone, host, counter) (rate(${m.allowance}[${window}])) > ${t.allowancePerSecond}`,
      for: 120,
      severity: "page",
      summary: "The cloud drops packets on {{ $labels.host }}: {{ $labels.counter }}",
      description:
        "Packets over the instance's allowance. Not fixable by tuning: move the pool to a larger machine type or TIER_1 networking.",
      cause: "cloud-allowance",
    },
    {
      alert: "AvfleetHostTuningDrift",
      expr: `max by (region, pool, zone, host) (${m.tuningDrift}) > 0`,
      for: 900,
      severity: "ticket",
      summary: "{{ $labels.host }} does not hold its tuning profile",
      description:
        "avfleet-tune verify reports settings in drift; run avfleet-tune apply and check what reverts it.",
      cause: "tuning-drift",
    },
    {
      alert: "AvfleetHostAgentDown",
      expr: `up${braces([`job="${HOST_JOB}"`, match])} == 0`,
      for: 300,
      severity: "ticket",
      summary: "The host agent on {{ $labels.instance }} does not answer",
      description:
        "No scrape of the host agent: its drops, tuning state and drain go unseen on this host.",
      cause: "agent-down",
    },
    {
      alert: "AvfleetPoolAtMaxHosts",
      // each host says 1 while it serves: the pool's count is their sum
      expr:
        maxHosts === undefined
          ? `sum by (${BY}) (${HEALTHY_HOSTS}${braces([match])}) >= on (${BY}) max by (${BY}) (${MAX_HOSTS}${braces([match])})`
          : `sum by (${BY}) (${HEALTHY_HOSTS}${braces([match])}) >= ${maxHosts}`,
      for: 900,
      severity: "ticket",
      summary: "Pool {{ $labels.pool }} runs at its host ceiling",
      description:
        "The autoscaler cannot add hosts: demand beyond this is served degraded. Raise maxHosts or move weight to another pool.",
      cause: "at-max",
    },
  ];
}

/** Alert names of the SLO burn alerts. */
export function burnAlertName(sli: Sli, severity: BurnAlert["severity"]): string {
  const camel = sli.name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
  return `Avfleet${camel}Burn${severity === "page" ? "Page" : "Ticket"}`;
}

/** The recording rule of one window's error ratio. */
export function ratioRecord(window: string): string {
  return `avfleet:slo_error_ratio:rate${window}`;
}
