/** avfleet scale replay — what each autoscaling policy would do on a pool's own demand. */
import { writeFileSync } from "node:fs";
import { DEFAULT_STACKS_DIR, loadStacks } from "../../modules/config/stack";
import { curveTrace, demandCurve, type DemandEvent, type Trace } from "../../modules/world/demand";
import { utcOffsetHours } from "../../modules/world/regions";
import { readTraceCsv } from "../../modules/world/trace-file";
import { POLICIES, policyNamed } from "../../modules/scaling/policies";
import { replay, type ReplayResult } from "../../modules/scaling/replay";
import { replaySvg } from "../../modules/scaling/plot";
import { poolOf } from "../../modules/scaling/compile";
import { EXIT, UsageError, parseCommandArgs, progress, progressDone, type Command } from "../cli";

const EVENT = /^(\d{1,2}):(\d{1,2}):(\d{1,4}):(\d+(?:\.\d+)?)$/;

function parseEvent(spec: string, days: number): DemandEvent {
  const m = EVENT.exec(spec);
  const event = m && { day: +m[1], hour: +m[2], durationMin: +m[3], factor: +m[4] };
  if (!event || event.day >= days || event.hour > 23 || event.factor < 1 || event.factor > 10) {
    throw new UsageError(
      `--event is "${spec}", expected DAY:HOUR:MINUTES:FACTOR (day < --days, hour 0–23, factor 1–10)`,
    );
  }
  return event;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function table(results: ReplayResult[]): string {
  const rows = [
    [
      "policy",
      "host-hours",
      "cost (USD)",
      "overload min",
      "refused joins",
      "cut early",
      "cut at limit",
      "scale-outs",
      "scale-ins",
    ],
    ...results.map((r) => [
      r.policy + (r.warmPool ? " (warm)" : ""),
      fmt(r.hostHours),
      fmt(r.costUsd),
      fmt(r.totals.overloadMinutes),
      fmt(r.totals.refusedJoins),
      fmt(r.totals.callsCut),
      fmt(r.totals.callsCutAtLimit),
      fmt(r.totals.scaleOuts),
      fmt(r.totals.scaleIns),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
    )
    .join("\n");
}

export const command: Command = {
  summary: "replay autoscaling policies on a pool's demand: host-hours, cost, overload, cut calls",
  help: `
Usage: avfleet scale replay STACK [--demand FILE.csv] [--days N] [--policy P,...]
                              [--event DAY:HOUR:MINUTES:FACTOR ...] [--warm-pool]
                              [--svg FILE] [--json] [--stacks-dir DIR]

Runs each policy over the same demand, through the same simulated pool (the stack's machine
type, its hosts' capacity in sessions, its drain limit, boot times with or without a warm
pool), and prints per policy: host-hours, cost at the machine type's hourly price, minutes
in which joins were refused, calls cut before the drain limit (deleted or hurried hosts),
calls still running at the drain limit, and scale actions.

Demand: --demand FILE.csv (header time,sessions; one row per minute of concurrent sessions,
e.g. exported from Prometheus), or a curve from the stack's demand (peakParticipants at 20:00
local time in the region's time zone, the daily shape from peakToAverage, weekends at 85 %)
plus --event for announced spikes (day of the trace, local hour, minutes, multiplier).

Policies: ${POLICIES.map((p) => p.name).join(", ")} (default: all)
${POLICIES.map((p) => `  ${p.name.padEnd(20)} ${p.summary}`).join("\n")}

Options:
  --days N         days of curve to replay (default 28; a CSV replays all its minutes)
  --warm-pool      hosts boot from a warm pool (1 min) instead of cold (3–7 min)
  --svg FILE       write demand vs capacity per policy as an SVG
  --json           {"stack","minutes","results":[{"policy","warmPool","hostHours","costUsd","totals"}]}

Examples:
  avfleet scale replay gcp-us-west1 --svg replay.svg
  avfleet scale replay aws-us-east-1 --policy ours,reactive --event 20:19:180:2.2`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      demand: { type: "string" },
      days: { type: "string" },
      policy: { type: "string" },
      event: { type: "string", multiple: true },
      "warm-pool": { type: "boolean" },
      svg: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    const [verb, stackName, ...extra] = positionals;
    if (verb !== "replay" || !stackName || extra.length) {
      throw new UsageError("expected avfleet scale replay STACK");
    }
    const days = values.days === undefined ? 28 : Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 56) {
      throw new UsageError(`--days is "${values.days}", expected a whole number of days in 1–56`);
    }
    const policies = (values.policy?.split(",") ?? POLICIES.map((p) => p.name)).map((name) => {
      const policy = policyNamed(name);
      if (!policy)
        throw new UsageError(
          `--policy ${name} is unknown, expected one of ${POLICIES.map((p) => p.name).join(", ")}`,
        );
      return policy;
    });
    const events = (values.event ?? []).map((e) => parseEvent(e, days));
    const [stack] = loadStacks(values["stacks-dir"] ?? DEFAULT_STACKS_DIR, [stackName]);
    const fleet = stack.fleet;
    if (!fleet || fleet.kind === "metal") {
      throw new UsageError(
        `${stackName} is not a cloud fleet stack; a replay needs an autoscaled pool (gcp or aws)`,
      );
    }
    const region =
      fleet.kind === "gcp"
        ? stack.document.config["gcp:region"]!
        : stack.document.config["aws:region"]!;
    const offset = utcOffsetHours(region);
    if (offset === undefined)
      throw new UsageError(`region ${region} has no time zone in modules/world/regions.ts`);
    const trace: Trace = values.demand
      ? readTraceCsv(values.demand, region, offset)
      : curveTrace(
          demandCurve(
            region,
            offset,
            fleet.demand.peakParticipants,
            fleet.demand.peakToAverage,
            events,
          ),
          days,
        );
    const { hourlyUsd, ...pool } = poolOf(fleet);
    const target = {
      trace,
      pool,
      minHosts: fleet.minHosts,
      maxHosts: fleet.maxHosts,
      hourlyUsd,
      sizingPeak: fleet.demand.peakParticipants,
    };
    const results = policies.map((policy, i) => {
      progress(`replaying ${i + 1}/${policies.length}: ${policy.name}`);
      return replay(target, policy, { warmPool: values["warm-pool"] ?? false, keepSeries: true });
    });
    progressDone();
    if (values.svg) {
      writeFileSync(
        values.svg,
        replaySvg(
          trace,
          results,
          `${stackName}: ${Math.round(trace.sessions.length / 1440)} days of demand, each policy's capacity`,
        ),
      );
    }
    const minutes = trace.sessions.length;
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ stack: stackName, minutes, results: results.map(({ series: _, ...r }) => r) }, null, 2)}\n`
        : `${stackName}: ${fmt(minutes / 1440)} days, ${fmt(target.pool.capacity)} sessions per host, drain limit ${target.pool.drainLimitMin} min, ${values["warm-pool"] ? "warm pool" : "cold boot"}\n\n${table(results)}\n${values.svg ? `\nplot: ${values.svg}\n` : ""}`,
    );
    return EXIT.ok;
  },
};
