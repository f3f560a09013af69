/** avfleet scale replay — what each autoscaling policy would do on a pool's own demand. */
import { writeFileSync } from "node:fs";
import { DEFAULT_STACKS_DIR, loadStacks } from "../../modules/stacks/stack";
import {
  curveTrace,
  demandCurve,
  MINUTES_PER_DAY,
  type DemandEvent,
  type Trace,
} from "../../modules/world/demand";
import { utcOffsetHours } from "../../modules/world/regions";
import { readTraceCsv } from "../../modules/world/trace-file";
import {
  OURS_HEADROOM,
  oursWith,
  POLICIES,
  policyNamed,
  type Policy,
} from "../../modules/scaling/policies";
import { fileCalendar, RETRY_MODEL, replay, type ReplayResult } from "../../modules/scaling/replay";
import { frontierSvg, replaySvg } from "../../modules/scaling/plot";
import { frontier, type FrontierPoint } from "../../modules/scaling/frontier";
import {
  DEFAULT_WORST_STEP,
  localMinute,
  spikePlan,
  withSteps,
  worstStepOf,
  type WorstStep,
} from "../../modules/scaling/spikes";
import { unannouncedResidual } from "../../modules/scaling/residual";
import { awsFleetSchema, gcpFleetSchema, worstStepSchema } from "../../modules/config/fleet.schema";
import {
  cloudNativeFor,
  compileScaling,
  maxCutPerHostOf,
  poolOf,
} from "../../modules/scaling/compile";
import { compiledPolicy } from "../../modules/scaling/interpret";
import { EXIT, UsageError, parseCommandArgs, progress, progressDone, type Command } from "../cli";

const EVENT = /^(\d{1,2}):(\d{1,2}):(\d{1,4}):(\d+(?:\.\d+)?)$/;
const STEP = /^(\d+(?:\.\d+)?)x(\d{1,4})s$/;
const FAILOVER = /^(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/;
/** Rows this command adds to POLICIES from the stack itself. */
const STACK_POLICIES: Record<string, string> = {
  "cloud-native": "the cloud's own autoscaler on the stack's target, nothing ahead of demand",
  compiled: "what the stack deploys: its autoscaling compiled, read back with the provider's rules",
};
const NAMES = [...POLICIES.map((p) => p.name), ...Object.keys(STACK_POLICIES)];

function parseEvent(spec: string, days: number): DemandEvent {
  const m = EVENT.exec(spec);
  const event = m && { day: +m[1], hour: +m[2], durationMin: +m[3], factor: +m[4] };
  if (!event || event.day >= days || event.hour > 23 || event.factor < 1 || event.factor > 10) {
    throw new UsageError(
      `--event is "${spec}", expected DAY:HOUR:MINUTES:FACTOR (day < the days replayed, hour 0–23, factor 1–10)`,
    );
  }
  return event;
}

/** A failover's local day and hour (DAY:HOUR, the hour may have decimals: 19.5 is 19:30). */
function parseFailover(spec: string, days: number): { day: number; hour: number } {
  const m = FAILOVER.exec(spec);
  if (!m || +m[1] >= days || +m[2] >= 24)
    throw new UsageError(
      `--failover is "${spec}", expected DAY:HOUR (day < the days replayed, hour 0–23.99, e.g. 10:19.5)`,
    );
  return { day: +m[1], hour: +m[2] };
}

/** --worst-step FACTORxSECONDS instead of the stack's `autoscaling.worstStep`, within the schema's bounds. */
function parseStep(spec: string, stack: WorstStep): WorstStep {
  const { factor, withinSeconds } = worstStepSchema.properties;
  const m = STEP.exec(spec);
  if (
    !m ||
    +m[1] <= factor.exclusiveMinimum ||
    +m[1] > factor.maximum ||
    +m[2] < withinSeconds.minimum ||
    +m[2] > withinSeconds.maximum
  )
    throw new UsageError(
      `--worst-step is "${spec}", expected FACTORxSECONDS with a factor above ${factor.exclusiveMinimum} and at most ${factor.maximum}, seconds ${withinSeconds.minimum}–${withinSeconds.maximum}, e.g. 2x60s`,
    );
  return { ...stack, factor: +m[1], withinSec: +m[2] };
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
      "gave up",
      "calls",
      "served %",
      "cut early",
      "cut at limit",
      "at limit %",
      "scale-outs",
      "scale-ins",
    ],
    ...results.map((r) => [
      r.policy + (r.warmPool ? " (warm)" : ""),
      fmt(r.hostHours),
      fmt(r.costUsd),
      fmt(r.totals.overloadMinutes),
      fmt(r.totals.refusedJoins),
      fmt(r.totals.gaveUp),
      fmt(r.totals.calls),
      r.servedPct.toFixed(3),
      fmt(r.totals.callsCut),
      fmt(r.totals.callsCutAtLimit),
      ((100 * r.totals.callsCutAtLimit) / Math.max(1, r.totals.calls)).toFixed(3),
      fmt(r.totals.scaleOuts),
      fmt(r.totals.scaleIns),
    ]),
  ];
  return aligned(rows);
}

/** Rows as columns: the first left-aligned, the figures right-aligned. */
function aligned(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
    )
    .join("\n");
}

/** The frontier's points as the SVG plots them, `*` on the one the stack runs at. */
function frontierTable(points: FrontierPoint[]): string {
  return aligned([
    ["cut budget per host", "drain limit", "host-hours", "cut at limit %", "cut early %"],
    ...points.map((p) => [
      `${Number.isFinite(p.maxCutPerHost) ? `≤ ${p.maxCutPerHost}` : "any"}${p.chosen ? " *" : ""}`,
      `${fmt(p.drainLimitMin)} min`,
      fmt(p.hostHours),
      p.cutAtLimitPct.toFixed(3),
      p.cutEarlyPct.toFixed(3),
    ]),
  ]);
}

export const command: Command = {
  summary: "replay autoscaling policies on a pool's demand: host-hours, served demand, cut calls",
  help: `
Usage: avfleet scale replay STACK [--demand FILE.csv] [--days N] [--policy P,...]
                              [--event DAY:HOUR:MINUTES:FACTOR ...] [--warm-pool]
                              [--worst-step FACTORxSECONDS] [--failover DAY:HOUR ...]
                              [--unannounced] [--svg FILE] [--frontier FILE] [--json]
                              [--stacks-dir DIR]

Runs each policy over the same demand, through the same simulated pool (the stack's machine
type, its hosts' capacity in sessions, its drain limit, boot times with or without a warm
pool), closed loop: ${RETRY_MODEL.retryShare * 100} % of refused joins try again ${RETRY_MODEL.retryDelayMin} min later (and again if
refused), ${RETRY_MODEL.rejoinShare * 100} % of a cut call's participants rejoin ${RETRY_MODEL.rejoinDelayMin} min later and carry on. Prints per policy:
host-hours, cost at the machine type's hourly price, minutes in which joins were refused,
refused joins, joins that gave up, calls started, demand served (session-minutes), calls cut
before the drain limit (deleted or hurried hosts), calls still running at the drain limit
(and as % of calls), scale actions. Static is sized from the stack's demand.peakParticipants
(+30 %, plus one) within maxHosts; draining hosts count against maxHosts.

Demand: --demand FILE.csv (header time,sessions; one row per minute of concurrent sessions,
e.g. exported from Prometheus; times with a zone, decimal counts, gaps of at most 5 minutes),
or a curve from the stack's demand (peakParticipants at 20:00 local time in the region's time
zone, the daily shape from peakToAverage, weekends at 85 %). --event puts an announced spike on
the calendar (day of the trace, local hour, minutes, multiplier): on a curve it also shapes the
demand; with --demand the file is the demand and DAY counts from its first row's local date.

Policies: ${NAMES.join(", ")} (default: all)
${POLICIES.map((p) => `  ${p.name.padEnd(20)} ${p.summary}`).join("\n")}
${Object.entries(STACK_POLICIES)
  .map(([name, summary]) => `  ${name.padEnd(20)} ${summary}`)
  .join("\n")}
On a GCP stack ours runs at its autoscaling.maxCutPerHost, and cloud-native and compiled drain
as its scale-in controller does: fewest calls at the limit first, none above that budget, the
hosts beyond the load's need cordoned.

Options:
  --days N          days to replay (default 28 on a curve; with --demand the file's first N days,
                    default all of it)
  --warm-pool       hosts boot from a warm pool (1 min) instead of cold (3–7 min)
  --worst-step FxS  the step to plan for instead of the stack's autoscaling.worstStep (default
                    ${DEFAULT_WORST_STEP.factor}x${DEFAULT_WORST_STEP.withinSec}s, a regional failover): prints the split's notice, the warm hosts
                    it needs, and what it still refuses unannounced at the peak with what the
                    stack deploys (compiled: its warm or standby pool included)
  --failover D:H    the worst step lands on local day D at hour H (19.5 = 19:30) for its
                    duration (3 h); the traffic split raises the pool's floor a boot ahead of
                    shifting the joins, or not with --unannounced
  --svg FILE        write demand vs capacity per policy as an SVG
  --frontier FILE   write ours' host-hours against calls cut at the drain limit as an SVG, and
                    print its points: per-host cut budgets at the stack's drain limit, then no
                    budget at the longer limits the platform takes
  --json            {"stack","minutes","demand","spike":{"step","source","noticeMin","warmHosts",
                    "residual","unannounced":{"warmPool","at","overloadMinutes","refusedJoins",
                    "gaveUp"},"failovers","announced"},"results":[{"policy","warmPool","hostHours",
                    "costUsd","servedPct","worstMinuteServedPct","drainLimitMin","totals"}],
                    "frontier" (with --frontier):[{"maxCutPerHost" (null: any),"drainLimitMin",
                    "hostHours","cutAtLimitPct","cutEarlyPct","chosen"}]}

Examples:
  avfleet scale replay gcp-us-west1 --svg replay.svg
  avfleet scale replay aws-us-east-1 --policy ours,compiled --event 20:19:180:2.2
  avfleet scale replay gcp-us-west1 --demand export.csv --days 14 --event 3:19:120:2
  avfleet scale replay gcp-us-west1 --policy ours,compiled --failover 24:19.5 --unannounced`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      demand: { type: "string" },
      days: { type: "string" },
      policy: { type: "string" },
      event: { type: "string", multiple: true },
      "warm-pool": { type: "boolean" },
      "worst-step": { type: "string" },
      failover: { type: "string", multiple: true },
      unannounced: { type: "boolean" },
      svg: { type: "string" },
      frontier: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    const [verb, stackName, ...extra] = positionals;
    if (verb !== "replay" || !stackName || extra.length) {
      throw new UsageError("expected avfleet scale replay STACK");
    }
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 56)) {
      throw new UsageError(`--days is "${values.days}", expected a whole number of days in 1–56`);
    }
    const names = values.policy?.split(",") ?? NAMES;
    for (const name of names)
      if (!NAMES.includes(name))
        throw new UsageError(`--policy ${name} is unknown, expected one of ${NAMES.join(", ")}`);
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
    const flag = values["worst-step"];
    const step = flag === undefined ? worstStepOf(fleet) : parseStep(flag, worstStepOf(fleet));
    let trace: Trace;
    let demand: { source: string; filledMinutes: number };
    // Where the worst step lands: trace minutes of each --failover.
    let steps: number[];
    if (values.demand) {
      const file = readTraceCsv(values.demand, region, offset);
      const minutes = (days ?? Infinity) * MINUTES_PER_DAY;
      if (minutes !== Infinity && minutes > file.sessions.length)
        throw new UsageError(
          `--days is ${days}, but ${values.demand} has ${(file.sessions.length / MINUTES_PER_DAY).toFixed(1)} days`,
        );
      const fileDays = Math.floor(Math.min(minutes, file.sessions.length) / MINUTES_PER_DAY);
      const events = (values.event ?? []).map((e) => parseEvent(e, Math.max(1, fileDays)));
      steps = (values.failover ?? []).map((f) => {
        const { day, hour } = parseFailover(f, Math.max(1, fileDays));
        return fileCalendar([{ day, hour, durationMin: 0, factor: 1 }], file.firstMinute, offset)[0]
          .start;
      });
      trace = {
        ...file,
        sessions: file.sessions.subarray(0, Math.min(minutes, file.sessions.length)),
        joins: file.joins.subarray(0, Math.min(minutes, file.sessions.length)),
        events: fileCalendar(events, file.firstMinute, offset),
      };
      demand = { source: values.demand, filledMinutes: file.filledMinutes };
    } else {
      const curveDays = days ?? 28;
      const events = (values.event ?? []).map((e) => parseEvent(e, curveDays));
      steps = (values.failover ?? []).map((f) => {
        const { day, hour } = parseFailover(f, curveDays);
        return localMinute({ utcOffsetHours: offset }, day, hour);
      });
      trace = curveTrace(
        demandCurve(
          region,
          offset,
          fleet.demand.peakParticipants,
          fleet.demand.peakToAverage,
          events,
        ),
        curveDays,
      );
      demand = { source: "curve", filledMinutes: 0 };
    }
    const { hourlyUsd, ...pool } = poolOf(fleet);
    const warmPool = values["warm-pool"] ?? false;
    const plan = spikePlan(step, pool, {
      headroom: OURS_HEADROOM,
      peakSessions: fleet.demand.peakParticipants,
      warmPool,
    });
    steps.forEach((start, i) => {
      if (start < 0 || start + step.durationMin > trace.sessions.length)
        throw new UsageError(
          `--failover ${values.failover![i]} lands at trace minute ${start}, its ${step.durationMin} minutes do not fit in the ${trace.sessions.length} replayed`,
        );
    });
    if (steps.length) trace = withSteps(trace, step, steps);
    const target = {
      trace,
      pool,
      minHosts: fleet.minHosts,
      maxHosts: fleet.maxHosts,
      hourlyUsd,
      sizingPeak: fleet.demand.peakParticipants,
      // The split raises this pool's floor a boot ahead, unless the failover comes unannounced.
      failovers: values.unannounced
        ? []
        : steps.map((start) => ({
            start,
            end: start + step.durationMin + Math.ceil(step.withinSec / 60),
            factor: step.factor,
            noticeMin: plan.noticeMin,
            headroom: OURS_HEADROOM,
          })),
    };
    const rows: { policy: Policy; warmPool: boolean }[] = names.map((name) => {
      if (name === "cloud-native") return { policy: { ...cloudNativeFor(fleet), name }, warmPool };
      if (name === "compiled") {
        const read = compiledPolicy(fleet, compileScaling(fleet, region)!);
        return { policy: read.policy, warmPool: warmPool || read.warmPool };
      }
      // Ours at the stack's own per-host cut budget, as its controller runs it.
      if (name === "ours") return { policy: oursWith(maxCutPerHostOf(fleet)), warmPool };
      return { policy: policyNamed(name)!, warmPool };
    });
    const results = rows.map((row, i) => {
      progress(`replaying ${i + 1}/${rows.length}: ${row.policy.name}`);
      return replay(target, row.policy, { warmPool: row.warmPool, keepSeries: true });
    });
    const longestMin =
      { gcp: gcpFleetSchema, aws: awsFleetSchema }[fleet.kind].properties.drainSeconds.maximum / 60;
    const points = values.frontier
      ? frontier(target, warmPool, longestMin, maxCutPerHostOf(fleet))
      : undefined;
    progress("replaying the worst step unannounced on what the stack deploys");
    const unannounced = unannouncedResidual(fleet, region, step);
    progressDone();
    const replayedDays = trace.sessions.length / MINUTES_PER_DAY;
    if (values.svg) {
      writeFileSync(
        values.svg,
        replaySvg(
          trace,
          results,
          `${stackName}: ${fmt(replayedDays)} days of demand, each policy's capacity`,
        ),
      );
    }
    if (values.frontier && points) {
      writeFileSync(
        values.frontier,
        frontierSvg(
          [{ name: stackName, points }],
          `${stackName}: ours' host-hours against calls cut at the drain limit, ${fmt(replayedDays)} days`,
        ),
      );
    }
    const minutes = trace.sessions.length;
    const announced = !values.unannounced;
    const source = flag === undefined ? "stack" : "--worst-step";
    const spike = { step, source, ...plan, unannounced, failovers: steps, announced };
    const failoverNote = steps.length
      ? `, ${steps.length} failover${steps.length > 1 ? "s" : ""} ×${step.factor} ${announced ? `announced ${plan.noticeMin} min ahead` : "unannounced"}`
      : "";
    const stepLine = `worst step ×${step.factor} in ${step.withinSec} s (${source === "stack" ? "the stack's autoscaling.worstStep" : "--worst-step"}): the split raises this pool's floor ${plan.noticeMin} min before it shifts joins; a warm pool of ${plan.warmHosts} hosts serves it after one boot; unannounced at the peak, joins are refused for ~${plan.residual.overloadMin} min (${fmt(plan.residual.sessionsShort)} sessions short)
residual risk, unannounced at day ${unannounced.at.day} ${unannounced.at.hour}:00 local with what the stack deploys (${unannounced.warmPool ? "stopped hosts boot in 1 min" : "cold boot"}): ${fmt(unannounced.overloadMinutes)} minutes with refused joins, ${fmt(unannounced.refusedJoins)} refused joins, ${fmt(unannounced.gaveUp)} gave up`;
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ stack: stackName, minutes, demand, spike, results: results.map(({ series: _, ...r }) => r), ...(points ? { frontier: points } : {}) }, null, 2)}\n`
        : `${stackName}: ${fmt(replayedDays)} days (${demand.source === "curve" ? "the stack's demand curve" : `${demand.source}, ${demand.filledMinutes} missing minutes held`}), ${fmt(target.pool.capacity)} sessions per host, drain limit ${target.pool.drainLimitMin} min, ${warmPool ? "warm pool" : "cold boot"}${failoverNote}\n\n${table(results)}\n\n${stepLine}\n${values.svg ? `\nplot: ${values.svg}\n` : ""}${points ? `\nours' frontier (* the stack's point), plotted in ${values.frontier}:\n${frontierTable(points)}\n` : ""}`,
    );
    return EXIT.ok;
  },
};
