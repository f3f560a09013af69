/** Durations as inputs write them (`250ms`, `30s`, `10m`, `2h`), and their ranges. */

export const DURATION_PATTERN = "^[0-9]{1,9}(ms|s|m|h)$";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `30s`, `10m`, `2h` → milliseconds (the schema has checked the shape). */
export function durationMs(text: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text) ?? [];
  if (!unit) throw new Error(`not a duration: ${text}`);
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

/** Milliseconds as the runbook would write them: `250ms`, `45s`, `30 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** The `durationRange` keyword of our schemas: a duration between min and max, inclusive. */
export interface DurationRange {
  min: string;
  max: string;
}

export function inDurationRange(range: DurationRange, text: string): boolean {
  if (!new RegExp(DURATION_PATTERN).test(text)) return true; // the pattern reports it
  const ms = durationMs(text);
  return ms >= durationMs(range.min) && ms <= durationMs(range.max);
}
