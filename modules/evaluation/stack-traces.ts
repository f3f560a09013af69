/**
 * The Pulumi SDK captures `new Error().stack` for every resource and every internal promise.
 * Under tsx each capture is also mapped back through source maps; together that was about
 * 60 % of a 5,000-host site's evaluation. Offline evaluation needs neither, so traces are
 * off unless AVFLEET_TRACES=1 (to debug a program that throws).
 */
export const TRACES_HINT = "set AVFLEET_TRACES=1 for stack traces";

export function quietStackTraces(): void {
  if (process.env.AVFLEET_TRACES === "1") return;
  process.setSourceMapsEnabled(false);
  Error.stackTraceLimit = 0;
}
