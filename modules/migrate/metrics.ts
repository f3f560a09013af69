import type { HistogramSource } from "./compare";

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
