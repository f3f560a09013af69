/**
 * The AWS host's alarm metrics in the host rehearsal: the agent publishes, to the CloudWatch
 * stand-in, the counters its pool's alarms read (modules/alerting/cloud.ts). The rehearsal drives
 * an SFU's textfile counters through known values (a restart among them), and compares what
 * arrived with what the rendered alarms read and what the counters moved.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { awsLeftAtLimitMetric, awsMediaMetric } from "../../modules/host/metrics";
import { TEXTFILE_DIR } from "../../modules/host/units";
import { alarmMetrics, awsAlarms, cloudwatchCounters } from "../../modules/alerting/cloud";
import { SLIS } from "../../modules/observe/spec";
import type { PublishedDatum, StandIns } from "./stand-ins";

/** The counters a rehearsal host publishes: the pool's table, at the rehearsal's pace. */
export function rehearsalCounters(spec: FleetSpec) {
  return cloudwatchCounters(spec.pool, spec.agent.intervalSec);
}

const key = (namespace: string, name: string, dimensions: Record<string, string>) =>
  `${namespace} ${name} ${JSON.stringify(dimensions)}`;

/**
 * Every metric the pool's rendered alarms read that its hosts publish, as namespace, name and
 * dimensions; not AWS's own (`AWS/*`: the group's hosts in service, which the group publishes).
 */
export function alarmedMetrics(spec: FleetSpec): string[] {
  const { alarms } = awsAlarms({ pool: spec.pool, mediaRegion: spec.mediaRegion });
  return [
    ...new Set(
      alarms
        .flatMap(({ args }) => alarmMetrics(args))
        .filter((m) => !m.namespace!.startsWith("AWS/"))
        .map((m) => key(m.namespace!, m.metricName!, m.dimensions!)),
    ),
  ].sort();
}

/**
 * Values an SFU's counters go through: a quarter of its packet-loss sessions bad, some ICE
 * attempts failed, then a restart (every counter lower) and more sessions.
 */
const STATES = [
  { count: 100, good: 90, failed: 3, connected: 50 },
  { count: 130, good: 112, failed: 5, connected: 70 },
  { count: 12, good: 10, failed: 1, connected: 9 },
  { count: 20, good: 15, failed: 1, connected: 19 },
];

const LOSS = SLIS.find((s) => s.name === "packet-loss")!;
const ICE = SLIS.find((s) => s.name === "ice-success")!;

function textfile(pool: string, s: (typeof STATES)[number]): string {
  const [count, bucket] = [LOSS.events.total[0], LOSS.events.bad[1]];
  const ice = ICE.events.total[0].family;
  const le = Object.entries(bucket.match).map(([k, v]) => `${k}="${v}"`);
  const labels = `pool="${pool}",release="v1"`;
  return [
    `${count.family}{${labels}} ${s.count}`,
    `${bucket.family}{${labels},${le}} ${s.good}`,
    `${ice}{${labels},outcome="failed"} ${s.failed}`,
    `${ice}{${labels},outcome="connected"} ${s.connected}`,
    "",
  ].join("\n");
}

/** A counter's increase over the values it went through, as Prometheus's increase counts it. */
function increase(values: number[]): number {
  return values.slice(1).reduce((n, v, i) => n + (v >= values[i] ? v - values[i] : v), 0);
}

export interface CountersResult {
  /** What the rendered alarms read. */
  alarmed: string[];
  /** What arrived at CloudWatch other than the load gauge and its per-host companion, distinct. */
  arrived: string[];
  /** The calls expected at the drain limit the agent published beside its load, distinct series. */
  leftAtLimit: string[];
  /** Calls IAM refused (the role may write only its namespace). */
  denied: number;
  /** Per SLI metric, what the host published in total, and what its counters moved. */
  sums: Record<string, { published: number; moved: number }>;
}

/**
 * Drives the textfile through STATES, each read by the agent (two more calls after each), and
 * reports what arrived. The textfile's series appear with the first state: a baseline.
 */
export async function countersArrive(
  root: string,
  spec: FleetSpec,
  standIns: StandIns,
  published: () => PublishedDatum[],
  waitFor: (what: string, ms: number, ok: () => boolean) => Promise<unknown>,
  sfu: { quiet(on: boolean): void; sessions(): Promise<number | undefined> },
): Promise<CountersResult> {
  const table = rehearsalCounters(spec);
  const dir = join(root, TEXTFILE_DIR);
  mkdirSync(dir, { recursive: true });
  const calls = () =>
    published().filter((d) => table.metrics.some((m) => m.name === d.name)).length /
    table.metrics.length;
  // The agent counts its SFU's sessions into the same families: with joins stopped and every call
  // ended, two publishes later its own counters stand still, and what arrives from then on is the
  // textfile's moves alone.
  sfu.quiet(true);
  let open: number | undefined;
  await waitFor("the SFU's calls ended", 20_000, () => {
    void sfu.sessions().then((n) => (open = n));
    return open === 0;
  });
  const settled = calls();
  await waitFor("two counter publishes", 20_000, () => calls() >= settled + 2);
  const mark = published().length;
  for (const state of STATES) {
    // Renamed into place: the agent never reads half a file.
    writeFileSync(join(dir, "sfu.prom.tmp"), textfile(spec.pool, state));
    renameSync(join(dir, "sfu.prom.tmp"), join(dir, "sfu.prom"));
    const after = calls();
    await waitFor("two counter publishes", 20_000, () => calls() >= after + 2);
  }
  sfu.quiet(false);
  // The load's call carries the load and the host's calls expected at the drain limit.
  const perHost = [awsMediaMetric(spec.pool).name, awsLeftAtLimitMetric(spec.pool).name];
  const counted = published()
    .slice(mark)
    .filter((d) => !perHost.includes(d.name));
  const distinct = (data: PublishedDatum[]) =>
    [...new Set(data.map((d) => key(d.namespace, d.name, d.dimensions)))].sort();
  const sum = (name: string, slo: string) =>
    counted
      .filter((d) => d.name === name && d.dimensions.Slo === slo)
      .reduce((n, d) => n + d.value, 0);
  const moved = (f: (s: (typeof STATES)[number]) => number) => increase(STATES.map(f));
  return {
    alarmed: alarmedMetrics(spec),
    arrived: distinct(counted),
    leftAtLimit: distinct(published().filter((d) => d.name === perHost[1])),
    denied: standIns.count("monitoring", "PutMetricData:denied"),
    sums: {
      "packet-loss SessionEvents": {
        published: sum("SessionEvents", "packet-loss"),
        moved: moved((s) => s.count),
      },
      "packet-loss SessionBadEvents": {
        published: sum("SessionBadEvents", "packet-loss"),
        moved: moved((s) => s.count) - moved((s) => s.good),
      },
      "ice-success SessionEvents": {
        published: sum("SessionEvents", "ice-success"),
        moved: moved((s) => s.failed) + moved((s) => s.connected),
      },
      "ice-success SessionBadEvents": {
        published: sum("SessionBadEvents", "ice-success"),
        moved: moved((s) => s.failed),
      },
    },
  };
}
