/**
 * Names across the seams: what a query reads (series names, the pool and job it selects) and
 * what a fleet's hosts publish, so a reader can be checked against its publisher. The host
 * agent's series come from its config, rendered by the references test/host holds line-equal to
 * the agent; `up` of the host job comes from whatever scrapes it (a site's Prometheus, a GCP
 * host's Ops Agent). test/alerting/seams.test.ts and bench:observe (alerts_with_source) use it.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { GROUP_METRICS } from "../fleets/aws-args";
import { agentConfig, type CloudWatchCounters } from "../host/agent";
import { groupMetric, type AlarmMetric } from "./cloud";
import { HOST_JOB } from "../host/scrape";
import { emptyCounts, renderSessionMetrics } from "../host-series/sessions";

/** The labels a host agent puts on its series (host-agent: Agent.host_labels). */
export const HOST_LABELS = ["pool", "region", "host", "zone", "release"];

/** PromQL words that are not series. */
const KEYWORDS = new Set(["by", "on", "and", "or", "unless", "bool", "without", "ignoring"]);

/**
 * The series a PromQL expression reads, and its label matchers. Label matchers, strings, range
 * selectors and `by (…)` lists are cut first; what is left that is not a function call, a
 * keyword or a number is a series name. Enough for the expressions avfleet renders.
 */
export function promqlReads(expr: string): {
  names: string[];
  matchers: [label: string, op: string, value: string][];
} {
  const matchers = [...expr.matchAll(/([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
    (m) => [m[1], m[2], m[3]] as [string, string, string],
  );
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|on|without|ignoring)\s*\([^)]*\)/g, "");
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)]
    .filter((m) => !m[2] && !KEYWORDS.has(m[1]) && !/^(e|Inf|NaN)$/.test(m[1]))
    .map((m) => m[1]);
  return { names, matchers };
}

/** Every series name a fleet's hosts serve on /metrics, as their agent's config has it. */
export function servedSeries(spec: FleetSpec): Set<string> {
  const config = agentConfig(spec);
  const names = new Set<string>([
    config.metric.prometheus as string,
    ...Object.values(config.hostMetrics.families).map((f) => f.name),
    ...Object.values(config.serving),
  ]);
  if (config.sessions) {
    // one call in progress, so the gauge histogram's lines are there too
    const open = [
      { id: "s", durationSeconds: 60, lossRatio: 0, jitterP95Seconds: 0, rttP95Seconds: 0 },
    ];
    const text = renderSessionMetrics(config.sessions, {}, emptyCounts(config.sessions), open);
    for (const line of text.split("\n"))
      if (line && !line.startsWith("#")) names.add(/^[^{ ]+/.exec(line)![0]);
  }
  return names;
}

/**
 * What a query reads that nothing publishes: series no publisher serves, pools (`pool="…"`)
 * not among `pools`, a job other than the host agents'. Empty when every read has a source.
 */
export function unpublished(expr: string, published: Set<string>, pools: Set<string>): string[] {
  const { names, matchers } = promqlReads(expr);
  return [
    ...names.filter((n) => !published.has(n) && n !== "up").map((n) => `series ${n}`),
    ...matchers
      .filter(([label, op, value]) => label === "pool" && op === "=" && !pools.has(value))
      .map(([, , value]) => `pool ${value}`),
    ...matchers
      .filter(([label, , value]) => label === "job" && value !== HOST_JOB)
      .map(([, , value]) => `job ${value}`),
  ].map((what) => `${what} (in ${expr})`);
}

/**
 * What an AWS pool's alarms read that its hosts and group do not publish: a metric outside the
 * agent's CloudWatch table and the group's metrics, or a table metric summed from a family the
 * agent does not serve.
 */
export function unpublishedAlarmMetrics(
  spec: FleetSpec,
  table: CloudWatchCounters,
  reads: AlarmMetric[],
): string[] {
  const served = servedSeries(spec);
  const sourced = new Map(
    table.metrics.map((m) => [
      JSON.stringify([table.namespace, m.name, m.dimensions]),
      m.terms.filter((t) => !served.has(t.family)).map((t) => t.family),
    ]),
  );
  const key = (m: AlarmMetric) => JSON.stringify([m.namespace, m.metricName, m.dimensions]);
  const group = new Set(GROUP_METRICS.map((name) => key(groupMetric(spec.pool, name))));
  return reads.flatMap((m) => {
    if (group.has(key(m))) return [];
    const missing = sourced.get(key(m));
    if (!missing) return [`metric ${key(m)}: not in the hosts' table`];
    return missing.map((family) => `metric ${key(m)}: its family ${family} is not served`);
  });
}
