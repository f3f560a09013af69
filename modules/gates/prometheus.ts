/**
 * Gates' metrics from Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`). Queries are
 * PromQL templates filled in per pool, region and window. Each request has a timeout; network
 * errors, timeouts and 5xx are retried a bounded number of times with backoff, a bad query
 * (4xx, `status: error`) is not. A query that still fails is a provider error — counted apart
 * from metric failures — and after `errorLimit` of them in a row the error says so
 * (`errorLimit: true`), which holds the migration for a human instead of baking on blind.
 */
import { COMPARISONS } from "./compare";
import {
  consecutiveErrors,
  ERROR_LIMIT,
  type Fetched,
  type Histogram,
  type HistogramSource,
  type MetricsProvider,
  type MinuteTotal,
} from "./metrics";
import { MATCHER_OPS, poolMatchers, SLO_NAMES, SLOS } from "./slo";

/** Every template's matchers: the pool (or a cohort of its hosts) in the runbook's region. */
const labels = '{{matchers}},region="{{region}}"';

/** `{{matchers}}` (slo.ts poolMatchers), `{{region}}`, `{{metric}}`, `{{window}}`, `{{step}}` are filled in per query. */
export const TEMPLATES = {
  /**
   * An absolute gate's series, one value per step: the mean figure of the pool's session-minutes
   * in the step, from the per-minute session histogram (`{{metric}}`: the SLO's
   * Comparison.sessionMetric) the host agents export. No host publishes the SLO's own name
   * (slo.ts `metric`): it names the gate in journals and is what a rehearsal world serves.
   */
  range: `sum(increase({{metric}}_sum{${labels}}[{{step}}])) / sum(increase({{metric}}_count{${labels}}[{{step}}]))`,
  /** A count the executor reads (healthy hosts, active sessions): the pool's total. */
  instant: `sum({{metric}}{${labels}})`,
  /** A relative gate's calls ended in the window, per bucket of their summary (`{{metric}}`). */
  buckets: `sum by (le) (increase({{metric}}_bucket{${labels}}[{{window}}]))`,
  sum: `sum(increase({{metric}}_sum{${labels}}[{{window}}]))`,
  /** The calls in progress at the window's end, per bucket of their figure so far (`{{metric}}`: a gauge histogram). */
  openBuckets: `sum by (le) ({{metric}}_bucket{${labels}})`,
  openSum: `sum({{metric}}_sum{${labels}})`,
  /** One step's session-minutes and their sum (query_range, steps of `{{step}}`): the clusters. */
  minuteCount: `sum(increase({{metric}}_count{${labels}}[{{step}}]))`,
  minuteSum: `sum(increase({{metric}}_sum{${labels}}[{{step}}]))`,
  /**
   * Series still scraped at the window's end. A range function reads samples up to the last
   * scrape that worked, so without this a target down since mid-bake would look like data.
   */
  fresh: `count({{metric}}_count{${labels}})`,
} as const;

/** Pure: a template with its `{{name}}`s filled in; an unknown name is a programming error. */
export function renderQuery(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (vars[name] === undefined) throw new Error(`query template needs {{${name}}}`);
    return vars[name];
  });
}

/** The gates' selector form (`metric{pool="p"}`, with a cohort's matchers: slo.ts) that templates replace. */
const SELECTOR = new RegExp(
  `^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{(pool="[^"]+"(?:,[a-z_]+(?:${MATCHER_OPS})"[^"\\\\]*")*)\\}$`,
);

export interface PrometheusOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  region: string;
  /**
   * query_range resolution: the scrape interval the fleet's gauges change at, and the length of
   * a relative gate's clusters (a minute: what the fleet's shared causes are measured in).
   */
  stepMs?: number;
  timeoutMs?: number;
  /** Attempts after the first, for network errors, timeouts and 5xx. */
  retries?: number;
  /** The first retry's wait; each further one doubles it. */
  backoffMs?: number;
  /** Failed queries in a row after which the provider asks for a hold. */
  errorLimit?: number;
}

export const PROMETHEUS_DEFAULTS = {
  stepMs: 60_000,
  timeoutMs: 10_000,
  retries: 2,
  backoffMs: 500,
  errorLimit: ERROR_LIMIT,
} as const;

export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Set once the consecutive-error limit is reached. */
    readonly errorLimit = false,
  ) {
    super(message);
    this.name = "PrometheusError";
  }
}

/** Prometheus writes infinities as `+Inf`/`-Inf`, which Number() reads as NaN. */
export function parseSample(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

type Vector = { metric: Record<string, string>; value: [number, string] }[];
type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

export type PrometheusProvider = MetricsProvider &
  HistogramSource & {
    /** Failed queries since the last that worked. */
    consecutiveErrors(): number;
  };

export function prometheusProvider(options: PrometheusOptions): PrometheusProvider {
  const o = { ...PROMETHEUS_DEFAULTS, ...options };
  const base = o.url.replace(/\/+$/, "");
  const errors = consecutiveErrors(o.errorLimit);

  async function attempt(path: string, params: Record<string, string>): Promise<unknown> {
    const url = `${base}${path}?${new URLSearchParams(params)}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs) });
    } catch (err) {
      const e = err as Error;
      const what = e.name === "TimeoutError" ? `timed out after ${o.timeoutMs} ms` : e.message;
      throw new PrometheusError(`${path}: ${what}`, true);
    }
    const text = await response.text();
    let body: { status?: string; data?: unknown; errorType?: string; error?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // a proxy's HTML error page: the status code says what happened
    }
    if (response.ok && body.status === "success") return body.data;
    const detail = body.error
      ? `${body.errorType}: ${body.error}`
      : text.slice(0, 200).trim() || response.statusText;
    const retryable = response.status >= 500 || response.status === 429;
    throw new PrometheusError(`${path}: HTTP ${response.status}: ${detail}`, retryable);
  }

  /** One query with bounded retries; the outcome moves the consecutive-error count. */
  async function api(path: string, params: Record<string, string>): Promise<unknown> {
    for (let i = 0; ; i++) {
      try {
        const data = await attempt(path, params);
        errors.succeeded();
        return data;
      } catch (err) {
        const e = err as PrometheusError;
        if (e.retryable && i < o.retries) {
          await new Promise((resolve) => setTimeout(resolve, o.backoffMs * 2 ** i));
          continue;
        }
        throw errors.failed(e, (message) => new PrometheusError(message, false, true));
      }
    }
  }

  const seconds = (ms: number) => (ms / 1000).toFixed(3);

  async function vector(query: string, at: number): Promise<Vector> {
    const data = (await api("/api/v1/query", { query, time: seconds(at) })) as {
      resultType: string;
      result: Vector;
    };
    if (data.resultType !== "vector") {
      throw new PrometheusError(`${query}: a ${data.resultType}, expected a vector`, false);
    }
    return data.result;
  }

  /** The single series' finite value, or undefined when there is none. */
  function single(query: string, result: Vector): number | undefined {
    if (result.length > 1) {
      throw new PrometheusError(`${query}: ${result.length} series, expected one`, false);
    }
    const value = result.length ? parseSample(result[0].value[1]) : NaN;
    return Number.isFinite(value) ? value : undefined;
  }

  /**
   * One value per step of (from, to], oldest first, a missing step as 0: the steps are aligned
   * across pools by their place in the window, so both pools get the same ones.
   */
  async function minutes(query: string, from: number, to: number): Promise<number[]> {
    const step = o.stepMs;
    const data = (await api("/api/v1/query_range", {
      query,
      start: seconds(from + step),
      end: seconds(to),
      step: seconds(step),
    })) as { resultType: string; result: Matrix };
    if (data.result.length > 1) {
      throw new PrometheusError(`${query}: ${data.result.length} series, expected one`, false);
    }
    const at = new Map(data.result[0]?.values.map(([t, v]) => [Math.round(t * 1000), v]) ?? []);
    const out: number[] = [];
    for (let t = from + step; t <= to; t += step) {
      const v = at.get(t);
      out.push(v === undefined ? 0 : parseSample(v));
    }
    return out;
  }

  /** A gates' selector turned into the template's query; any other query goes as written. */
  function templated(template: string, query: string, metric = (name: string) => name): string {
    const m = SELECTOR.exec(query);
    return m
      ? renderQuery(template, {
          metric: metric(m[1]),
          matchers: m[2],
          region: o.region,
          step: `${o.stepMs / 1000}s`,
        })
      : query;
  }

  /** An SLO's name (slo.ts `metric`) as the per-minute session histogram that measures it. */
  const sessionMetric = (name: string) => {
    const slo = SLO_NAMES.find((s) => SLOS[s].metric === name);
    if (!slo) throw new PrometheusError(`${name}: not an SLO's metric`, false);
    return COMPARISONS[slo].sessionMetric;
  };

  return {
    consecutiveErrors: errors.count,

    async range(query, from, to) {
      const promql = templated(TEMPLATES.range, query, sessionMetric);
      // (from, to]: the first step after the window opens
      const data = (await api("/api/v1/query_range", {
        query: promql,
        start: seconds(Math.min(from + o.stepMs, to)),
        end: seconds(to),
        step: seconds(o.stepMs),
      })) as { resultType: string; result: Matrix };
      if (data.result.length > 1) {
        throw new PrometheusError(`${promql}: ${data.result.length} series, expected one`, false);
      }
      const points = data.result[0]?.values ?? [];
      // A series that ends before the window does is a target that stopped reporting: its
      // earlier points must not pass for the whole window.
      const last = points.at(-1)?.[0];
      if (last === undefined || last * 1000 < to - 2 * o.stepMs) return [];
      // NaN (0/0 on a pool without sessions) is no sample, not a breach
      return points.map(([, v]) => parseSample(v)).filter(Number.isFinite);
    },

    async instant(query, at) {
      const promql = templated(TEMPLATES.instant, query);
      return single(promql, await vector(promql, at));
    },

    async histogram(metric, pool, from, to): Promise<Fetched> {
      const slo = SLO_NAMES.find((name) => COMPARISONS[name].summaryMetric === metric);
      if (!slo) throw new PrometheusError(`${metric}: not a per-session summary`, false);
      const { openMetric, sessionMetric } = COMPARISONS[slo];
      const window = `${Math.max(1, Math.round((to - from) / 1000))}s`;
      const vars = { metric, matchers: poolMatchers(pool), region: o.region, window };
      const query = renderQuery(TEMPLATES.buckets, vars);
      const fresh = renderQuery(TEMPLATES.fresh, vars);
      if (!single(fresh, await vector(fresh, to))) {
        return { query, missing: `no fresh ${metric} series at the window's end (${fresh})` };
      }
      const open = { ...vars, metric: openMetric ?? metric };
      const perMinute = { ...vars, metric: sessionMetric, step: `${o.stepMs / 1000}s` };
      const [buckets, sum, openBuckets, openSum, minuteCount, minuteSum] = await Promise.all([
        vector(query, to),
        vector(renderQuery(TEMPLATES.sum, vars), to),
        openMetric ? vector(renderQuery(TEMPLATES.openBuckets, open), to) : [],
        openMetric ? vector(renderQuery(TEMPLATES.openSum, open), to) : [],
        minutes(renderQuery(TEMPLATES.minuteCount, perMinute), from, to),
        minutes(renderQuery(TEMPLATES.minuteSum, perMinute), from, to),
      ]);
      if (!buckets.some((b) => parseSample(b.metric.le) === Infinity) || sum.length !== 1) {
        return { query, missing: `partial histogram: no +Inf bucket or no _sum (${query})` };
      }
      // a pool whose calls all ended has no open series: nothing in progress, not missing data
      const inProgress = new Map(
        openBuckets.map((b) => [parseSample(b.metric.le), parseSample(b.value[1])]),
      );
      const histogram: Histogram = {
        buckets: buckets.map((b) => {
          const le = parseSample(b.metric.le);
          return { le, count: parseSample(b.value[1]) + (inProgress.get(le) ?? 0) };
        }),
        sum: parseSample(sum[0].value[1]) + (openSum.length ? parseSample(openSum[0].value[1]) : 0),
      };
      const perMinuteTotals: MinuteTotal[] = minuteCount.map((count, i) => ({
        count,
        sum: minuteSum[i] ?? NaN,
      }));
      if (perMinuteTotals.some((m) => !Number.isFinite(m.count) || !Number.isFinite(m.sum))) {
        return { query, missing: `gaps in the per-minute ${sessionMetric} totals` };
      }
      return { query, histogram, minutes: perMinuteTotals };
    },
  };
}

/** An empty histogram over finite upper bounds (+Inf added), as the fleet's SFUs keep one. */
export function emptyHistogram(bounds: readonly number[]): Histogram {
  return { buckets: [...bounds, Infinity].map((le) => ({ le, count: 0 })), sum: 0 };
}

/** Counts one session's sample into every bucket it falls under. */
export function observe(h: Histogram, value: number): void {
  for (const b of h.buckets) if (value <= b.le) b.count++;
  h.sum += value;
}

function labelText(labels: Record<string, string>, le?: number): string {
  const all = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  if (le !== undefined) all.push(`le="${le === Infinity ? "+Inf" : le}"`);
  return `{${all.join(",")}}`;
}

/** Pure: one histogram family in the text exposition format (0.0.4), one series per label set. */
export function renderHistogram(
  name: string,
  help: string,
  series: { labels: Record<string, string>; histogram: Histogram }[],
): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const { labels, histogram } of series) {
    for (const b of histogram.buckets)
      lines.push(`${name}_bucket${labelText(labels, b.le)} ${b.count}`);
    const count = histogram.buckets.at(-1)?.count ?? 0;
    lines.push(
      `${name}_sum${labelText(labels)} ${histogram.sum}`,
      `${name}_count${labelText(labels)} ${count}`,
    );
  }
  return lines;
}
