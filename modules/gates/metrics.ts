/**
 * A histogram over the window: cumulative session counts per upper bound (ascending, the last
 * +Inf) and the sum of the observed values.
 */
export interface Histogram {
  buckets: { le: number; count: number }[];
  sum: number;
}

/** One minute of a pool: its session-minutes and the sum of their values. */
export interface MinuteTotal {
  count: number;
  sum: number;
}

/**
 * One pool's per-session samples over the window: raw values, or the histogram of one summary
 * per session (ended in the window, or in progress at its end). `minutes`, one per minute of the
 * window, oldest first and aligned across pools, carries the shared minute-level causes.
 */
export type Samples = ({ values: number[] } | { histogram: Histogram }) & {
  minutes?: MinuteTotal[];
};

/** What a pool's samples came from (journaled) and the samples, or why there are none. */
export type Fetched = { query: string } & (Samples | { missing: string });

/**
 * Where per-session summaries come from: Prometheus, or the rehearsal world. `metric` is a
 * Comparison's `summaryMetric`; the source finds the rest of the comparison's series from it.
 */
export interface HistogramSource {
  histogram(metric: string, pool: string, from: number, to: number): Promise<Fetched>;
}

/**
 * Where gates get their numbers. A query is a PromQL selector (see slo.ts); a provider answers
 * with samples over a window or the latest value, and throws on a query error so errors are
 * counted apart from metric failures. The rehearsal world is one provider; Prometheus is next.
 */
export interface MetricsProvider extends Partial<HistogramSource> {
  /** One value per scrape interval in (from, to], oldest first; [] is no data. */
  range(query: string, from: number, to: number): Promise<number[]>;
  /** The latest value at `at`, or undefined when there is none. */
  instant(query: string, at: number): Promise<number | undefined>;
}

/** What a real run uses until a metrics backend is configured: every query is an error. */
export const noMetrics: MetricsProvider = {
  range: async () => {
    throw new Error("no metrics provider configured");
  },
  instant: async () => {
    throw new Error("no metrics provider configured");
  },
};

/**
 * Whether a provider error says its consecutive-error limit is reached (`errorLimit: true`):
 * the gate then holds for a human at once instead of baking on blind.
 */
export function reachedErrorLimit(err: unknown): boolean {
  return (err as { errorLimit?: unknown }).errorLimit === true;
}

/** Failed queries in a row after which a provider asks for a hold: real runs and rehearsals alike. */
export const ERROR_LIMIT = 5;

/**
 * Counts a provider's failed queries in a row. `failed` returns the error to throw: the
 * query's own until the limit, then one marked `errorLimit` that says how many failed.
 */
export function consecutiveErrors(limit: number = ERROR_LIMIT) {
  let count = 0;
  return {
    count: () => count,
    succeeded(): void {
      count = 0;
    },
    failed<E extends Error>(err: E, limited: (message: string) => E): E {
      count++;
      if (count < limit) return err;
      return limited(`${count} failed queries in a row (limit ${limit}); last: ${err.message}`);
    },
  };
}
