/**
 * Prometheus rules from the spec: per SLI a recording rule for each window's error ratio and a
 * page and a ticket alert over the burn-rate window pairs; then the host alerts. `scale` divides
 * every duration (a test or a live rehearsal runs an hour in a minute); thresholds never change.
 */
import { stringify } from "yaml";
import {
  BURN_ALERTS,
  burnAlertName,
  duration,
  effectiveFactor,
  hostAlerts,
  MAX_HOSTS,
  TRAFFIC_WEIGHT,
  PERIOD_S,
  ratioRecord,
  SLIS,
  WINDOWS,
  type BurnAlert,
  type Sli,
} from "./spec";

export interface RuleOptions {
  /** Durations are divided by this (1: real time). */
  scale?: number;
  /** Where the runbooks live; an alert links `<base>#<alert name, lower case>`. */
  runbookBase?: string;
  /** The SLIs to render (default: the spec's); tests pass a mutated copy. */
  slis?: Sli[];
  /** What the stacks declare of each pool, which no host knows (poolGroup). */
  pools?: PoolFacts[];
}

export interface PoolFacts {
  pool: string;
  region: string;
  /** An autoscaled pool's ceiling (its stack's maxHosts): the at-max alert compares with it. */
  maxHosts?: number;
  /** Its weight in its region's traffic split, as the traffic stack declares it. */
  weight?: number;
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: Rule[];
}

export const DEFAULT_RUNBOOK_BASE = "README.md";

/** Ratio thresholds as short decimals: 14.4 × 0.05 is 0.72, not 0.7200000000000001. */
export function num(x: number): string {
  return String(Number(x.toPrecision(6)));
}

export function scaled(seconds: number, scale = 1): string {
  return duration(Math.max(1, Math.round(seconds / scale)));
}

/** The burn condition of one alert: any window pair with both windows over the factor. */
export function burnExpr(sli: Sli, alert: BurnAlert, scale = 1): string {
  const sel = `{slo="${sli.name}"}`;
  return alert.windows
    .map((w) => {
      const threshold = num(effectiveFactor(sli, w.factor) * (1 - sli.objective));
      return `(${ratioRecord(scaled(w.long, scale))}${sel} > ${threshold} and ${ratioRecord(scaled(w.short, scale))}${sel} > ${threshold})`;
    })
    .join(" or ");
}

function runbook(base: string, alert: string): string {
  return `${base}#${alert.toLowerCase()}`;
}

export function burnAnnotations(sli: Sli, alert: BurnAlert, base: string) {
  const pct = num((1 - sli.objective) * 100);
  return {
    summary: `{{ $labels.pool }} in {{ $labels.region }} burns its ${sli.name} error budget (${alert.severity})`,
    description: `More than the allowed ${pct} % of events miss "${sli.summary}" at a burn that spends the 30-day budget too fast. Run: avfleet diagnose --pool {{ $labels.pool }}`,
    runbook_url: runbook(base, burnAlertName(sli, alert.severity)),
  };
}

/**
 * The period's ratio from hourly rates summed over every evaluation: a 30-day rate over raw
 * samples reads every sample in the month at each evaluation (promtool refuses past 10,000
 * samples), while both sums here carry the same evaluations, so their ratio stays weighted by
 * traffic.
 */
function periodRules(sli: Sli, scale: number): Rule[] {
  const hour = scaled(3600, scale);
  const sel = `{slo="${sli.name}"}`;
  const period = scaled(PERIOD_S, scale);
  return [
    {
      record: `avfleet:slo_bad_events:rate${hour}`,
      expr: sli.bad(hour),
      labels: { slo: sli.name },
    },
    { record: `avfleet:slo_events:rate${hour}`, expr: sli.total(hour), labels: { slo: sli.name } },
    {
      record: ratioRecord(period),
      expr: `sum_over_time(avfleet:slo_bad_events:rate${hour}${sel}[${period}]) / sum_over_time(avfleet:slo_events:rate${hour}${sel}[${period}])`,
      labels: { slo: sli.name },
    },
  ];
}

export function sloGroups(options: RuleOptions = {}): RuleGroup[] {
  const scale = options.scale ?? 1;
  const base = options.runbookBase ?? DEFAULT_RUNBOOK_BASE;
  return (options.slis ?? SLIS).map((sli) => ({
    name: `avfleet-slo-${sli.name}`,
    rules: [
      ...WINDOWS.filter((s) => s !== PERIOD_S).map((seconds) => {
        const w = scaled(seconds, scale);
        return {
          record: ratioRecord(w),
          expr: `${sli.bad(w)} / ${sli.total(w)}`,
          labels: { slo: sli.name },
        };
      }),
      ...periodRules(sli, scale),
      ...BURN_ALERTS.map((alert) => ({
        alert: burnAlertName(sli, alert.severity),
        expr: burnExpr(sli, alert, scale),
        for: scaled(alert.for, scale),
        labels: { severity: alert.severity, slo: sli.name },
        annotations: burnAnnotations(sli, alert, base),
      })),
    ],
  }));
}

export function hostGroup(options: RuleOptions = {}): RuleGroup {
  const scale = options.scale ?? 1;
  const base = options.runbookBase ?? DEFAULT_RUNBOOK_BASE;
  return {
    name: "avfleet-hosts",
    rules: hostAlerts(scaled(300, scale)).map((a) => ({
      alert: a.alert,
      expr: a.expr,
      for: scaled(a.for, scale),
      labels: { severity: a.severity, cause: a.cause },
      annotations: {
        summary: a.summary,
        description: a.description,
        runbook_url: runbook(base, a.alert),
      },
    })),
  };
}

/**
 * Each pool's ceiling and traffic weight as series: no host knows them (a change of either would
 * re-render every host), so the rules rendered from the stacks publish them, as of the render.
 */
export function poolGroup(pools: PoolFacts[]): RuleGroup {
  const record = (name: string, p: PoolFacts, value: number | undefined) =>
    value === undefined
      ? []
      : [{ record: name, expr: `vector(${value})`, labels: { pool: p.pool, region: p.region } }];
  return {
    name: "avfleet-pools",
    rules: pools.flatMap((p) => [
      ...record(MAX_HOSTS, p, p.maxHosts),
      ...record(TRAFFIC_WEIGHT, p, p.weight),
    ]),
  };
}

export function ruleGroups(options: RuleOptions = {}): RuleGroup[] {
  return [
    ...sloGroups(options),
    hostGroup(options),
    ...(options.pools?.length ? [poolGroup(options.pools)] : []),
  ];
}

/** The rules file Prometheus and promtool load. */
export function renderRules(options: RuleOptions = {}): string {
  return stringify({ groups: ruleGroups(options) }, { lineWidth: 0 });
}
