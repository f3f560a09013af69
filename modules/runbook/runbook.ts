/**
 * Loads a runbook and refuses a bad one before anything runs: schema first, then what a
 * schema cannot say — stacks that exist, weights that only go up within the traffic stack's
 * step limit, gates on every shift, decommission only after a drain and an approval.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { durationMs, formatDuration } from "../inputs/duration";
import { DEFAULT_STACKS_DIR, listStacks, stackFileName } from "../stacks/stack";
import {
  assertNoFileProblems,
  assertNoProblems,
  type KeyPath,
  type Problem,
} from "../inputs/problems";
import { checkRunner, notRestated, refusedBy, schemaProblems } from "../inputs/validate";
import { readYaml, readYamlFile, type ReadLimits } from "../inputs/yaml-read";
import { trafficSchema, type TrafficSpec } from "../config/traffic";
import { weightProblems } from "../config/traffic";
import { weightsOf } from "../traffic/weights";
import { COMPARISONS } from "../gates/compare";
import { runbookSchema, type Runbook } from "./runbook.schema";
import { poolEconomics } from "./hosts-needed";
import { SLOS, type SloName } from "../gates/slo";

export { durationMs, formatDuration } from "../inputs/duration";

/** Most gate rounds one bake may take (maxBake / interval): a day at one a minute. */
export const MAX_ROUNDS_PER_BAKE = 1440;

/** A runbook file: a few kilobytes, a few dozen steps. */
const RUNBOOK_LIMITS: ReadLimits = {
  expected: "a runbook mapping {region, traffic, source, target, steps}",
  maxBytes: 256 * 1024,
  maxListItems: 1000,
};

export interface TrafficStack {
  file: string;
  /** The media region whose join record the split steers. */
  mediaRegion: string;
  /** Pool stacks in the file's order: a pool's index is its `pools[i]` config path. */
  pools: string[];
  /**
   * Each pool stack's `avfleet:fleet.pool`: the `pool` label its hosts put on every series they
   * export, so what gates and health checks query. A stack's name is not it (gcp-us-west1 runs
   * pool gcp-usw1).
   */
  poolLabels: Record<string, string>;
  weights: Record<string, number>;
  maxStepPct: number;
  ttlSeconds: number;
}

export interface LoadedRunbook {
  file: string;
  stacksDir: string;
  runbook: Runbook;
  /** The runbook as written, before schema defaults: what `plan` says the runbook set. */
  written: unknown;
  traffic: TrafficStack;
  /** sha256 of the validated runbook and the pool order it drives: a changed plan, a new hash. */
  hash: string;
}

/**
 * The traffic split of the runbook's traffic stack, checked with the traffic module's own
 * schema and weight rules (its pools' fleet stacks are `avfleet preview`'s to check, not
 * ours). A stack that is not a traffic stack is the runbook's mistake, reported at `traffic`.
 */
function readTrafficStack(
  runbook: Runbook,
  stacksDir: string,
): { traffic?: TrafficStack; problems: Problem[] } {
  const file = stackFileName(stacksDir, runbook.traffic);
  const document = readYamlFile(file, "a traffic stack file with config.avfleet:traffic");
  const config = (document as { config?: Record<string, unknown> }).config;
  const spec = config?.["avfleet:traffic"];
  if (spec === undefined) {
    return {
      problems: [
        {
          path: ["traffic"],
          message: `is "${runbook.traffic}", ${config?.["avfleet:fleet"] ? "a fleet stack" : "a stack without avfleet:traffic"}`,
          expected:
            "a traffic stack (one with config.avfleet:traffic) whose pools are the source and target",
        },
      ],
    };
  }
  const at = ["config", "avfleet:traffic"];
  assertNoProblems(file, schemaProblems(trafficSchema, spec, at));
  const split = spec as TrafficSpec;
  assertNoProblems(file, weightProblems(split, at));
  const pools = split.pools.map((p) => p.stack);
  const labels = poolLabels(runbook, pools, stacksDir);
  return {
    traffic: {
      file,
      mediaRegion: split.mediaRegion,
      pools,
      poolLabels: labels.labels,
      weights: weightsOf(split),
      maxStepPct: split.maxStepPct,
      ttlSeconds: split.dns.ttl,
    },
    problems: labels.problems,
  };
}

/** The `pool` of each pool stack's fleet; a pool stack without one is a split gates cannot read. */
function poolLabels(
  runbook: Runbook,
  pools: string[],
  stacksDir: string,
): { labels: Record<string, string>; problems: Problem[] } {
  const labels: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const stack of pools) {
    const file = stackFileName(stacksDir, stack);
    // A missing source or target stack is stackProblems' to report.
    if (!existsSync(file)) continue;
    const config = (readYamlFile(file, "a fleet stack file") as { config?: Record<string, any> })
      ?.config;
    const pool = config?.["avfleet:fleet"]?.pool;
    if (typeof pool === "string" && pool) labels[stack] = pool;
    else {
      const key = (["source", "target"] as const).find((k) => runbook[k] === stack);
      problems.push({
        path: [key ?? "traffic"],
        message: `${key ? `is "${stack}", ` : `steers pool stack ${stack}, `}a stack without avfleet:fleet.pool`,
        expected: "a fleet stack: its pool is the label the gates query its hosts' series by",
      });
    }
  }
  return { labels, problems };
}

/** One region at a time means the runbook's region is the one its traffic stack steers. */
function regionProblems(runbook: Runbook, traffic: TrafficStack): Problem[] {
  if (runbook.region === traffic.mediaRegion) return [];
  return [
    {
      path: ["region"],
      message: `is "${runbook.region}", but ${runbook.traffic} steers media region ${traffic.mediaRegion}`,
      expected: `the media region of its traffic stack: ${traffic.mediaRegion} (or the traffic stack of ${runbook.region})`,
    },
  ];
}

function stackProblems(runbook: Runbook, stacksDir: string): Problem[] {
  const available = existsSync(stacksDir) ? listStacks(stacksDir) : [];
  const problems: Problem[] = [];
  for (const key of ["traffic", "source", "target"] as const) {
    const name = runbook[key];
    if (!available.includes(name)) {
      problems.push({
        path: [key],
        message: `is "${name}", an unknown stack (no ${stackFileName(stacksDir, name)})`,
        expected: `one of the stacks in ${stacksDir}: ${available.join(", ") || "(none)"}`,
      });
    }
  }
  if (runbook.source === runbook.target) {
    problems.push({
      path: ["target"],
      message: `is "${runbook.target}", the same as source`,
      expected: "a target pool other than the source",
    });
  }
  return problems;
}

function poolProblems(runbook: Runbook, traffic: TrafficStack): Problem[] {
  return (["source", "target"] as const)
    .filter((key) => !traffic.pools.includes(runbook[key]))
    .map((key) => ({
      path: [key],
      message: `is "${runbook[key]}", not a pool of ${runbook.traffic}`,
      expected: `one of ${runbook.traffic}'s pools: ${traffic.pools.join(", ")}`,
    }));
}

/** Weights only go up, within the traffic stack's step limit. */
function scheduleProblems(runbook: Runbook, traffic: TrafficStack): Problem[] {
  const problems: Problem[] = [];
  const others = traffic.pools
    .filter((p) => p !== runbook.source && p !== runbook.target)
    .reduce((sum, p) => sum + traffic.weights[p], 0);
  const full = 100 - others;
  // The whole move from 0, not from the file's current weight: `pulumi config set` rewrites
  // the stack file as the migration goes, and the runbook must stay valid throughout.
  let previous = 0;
  const stepTo = (at: KeyPath, weight: number, what: string) => {
    if (weight - previous > traffic.maxStepPct) {
      problems.push({
        path: at,
        message: `${what} moves the target from ${previous} to ${weight}, ${weight - previous} points at once`,
        expected: `steps of at most ${traffic.maxStepPct} (maxStepPct of ${runbook.traffic})`,
      });
    }
    previous = weight;
  };
  runbook.steps.forEach((step, i) => {
    if (step?.kind === "drain") stepTo(["steps", i], full, "the drain (source weight 0)");
    if (step?.kind !== "shift" || !Array.isArray(step.weights)) return;
    step.weights.forEach((weight, j) => {
      // A weight the schema refused says nothing about the steps around it.
      if (typeof weight !== "number") return;
      const at: KeyPath = ["steps", i, "weights", j];
      if (weight <= previous) {
        problems.push({
          path: at,
          message: `is ${weight}, not above the previous weight ${previous}`,
          expected: "weights that increase from step to step",
        });
      } else if (weight > full) {
        problems.push({
          path: at,
          message: `is ${weight}, more than the ${full} the other pools of ${runbook.traffic} leave`,
          expected: `a weight ≤ ${full}`,
        });
      } else stepTo(at, weight, `is ${weight}, which`);
    });
  });
  return problems;
}

/**
 * A shift's bake, its limit and its gate interval agree, and the bake outlasts DNS caches
 * (only with the traffic stack known). `usable(key)`: whether the schema let the step's `key`
 * through; a check reading a refused one is skipped, as its figure would be noise.
 */
function bakeProblems(
  runbook: Runbook,
  i: number,
  usable: (key: string) => boolean,
  traffic: TrafficStack | undefined,
): Problem[] {
  const step = runbook.steps[i];
  if (step?.kind !== "shift") return [];
  const problems: Problem[] = [];
  const reads = (...keys: string[]) => keys.every(usable);
  const bake = reads("bake") ? durationMs(step.bake) : NaN;
  if (step.maxBake !== undefined && reads("bake", "maxBake") && durationMs(step.maxBake) < bake) {
    problems.push({
      path: ["steps", i, "maxBake"],
      message: `is ${step.maxBake}, shorter than bake ${step.bake}`,
      expected: "maxBake ≥ bake",
    });
  }
  if (reads("bake", "maxBake", "interval")) {
    const maxBake = step.maxBake !== undefined ? durationMs(step.maxBake) : 2 * bake;
    const rounds = Math.ceil(maxBake / durationMs(step.interval));
    if (rounds > MAX_ROUNDS_PER_BAKE) {
      problems.push({
        path: ["steps", i, "interval"],
        message: `is ${step.interval}: a bake of up to ${formatDuration(maxBake)} would take ${rounds} gate rounds`,
        expected: `at most ${MAX_ROUNDS_PER_BAKE} rounds per bake (a longer interval or a shorter maxBake)`,
      });
    }
  }
  if (reads("bake", "interval") && durationMs(step.interval) > bake) {
    problems.push({
      path: ["steps", i, "interval"],
      message: `is ${step.interval}, longer than bake ${step.bake}`,
      expected: "interval ≤ bake",
    });
  }
  if (traffic && reads("bake") && bake < traffic.ttlSeconds * 1000) {
    problems.push({
      path: ["steps", i, "bake"],
      message: `is ${step.bake}, shorter than the DNS TTL ${traffic.ttlSeconds}s of ${runbook.traffic}`,
      expected: "a bake of at least the TTL (only new joins move, after caches expire)",
    });
  }
  return problems;
}

/**
 * A drain's threshold is below what the source can carry: at or above its capacity the source
 * counts as drained at once, and the steps after it cut every call. A source that does not load
 * is `avfleet preview`'s to report.
 */
function drainProblems(runbook: Runbook, stacksDir: string): Problem[] {
  const source = poolEconomics(stacksDir, runbook.source);
  if (!source) return [];
  const capacity = Math.floor(
    source.economics.capacity.capacityStreams / source.fleet.demand.streamsPerParticipant,
  );
  return runbook.steps.flatMap((step, i) =>
    step?.kind === "drain" && step.belowSessions >= capacity
      ? [
          {
            path: ["steps", i, "belowSessions"],
            message: `is ${step.belowSessions}, not below the ${capacity} sessions ${runbook.source} can carry: it would count as drained at once`,
            expected: `fewer than ${capacity} (a few per host: the calls a drain may leave to its limit)`,
          },
        ]
      : [],
  );
}

/** Decommissioning retires the source's hosts: only after a finished drain and an approval. */
function orderProblems(runbook: Runbook): Problem[] {
  const problems: Problem[] = [];
  let drained = false;
  let approvedSinceDrain = false;
  runbook.steps.forEach((step, i) => {
    if (step?.kind === "drain") {
      drained = true;
      approvedSinceDrain = false;
    } else if (step?.kind === "approve") {
      approvedSinceDrain = drained;
    } else if (step?.kind === "decommission" && !(drained && approvedSinceDrain)) {
      problems.push({
        path: ["steps", i, "kind"],
        message: drained
          ? "is decommission with no approve step between the drain and it"
          : "is decommission before any drain",
        expected: "decommission after a drain step and then an approve step",
      });
    } else if (step?.kind === "shift" && drained) {
      problems.push({
        path: ["steps", i, "kind"],
        message: "is shift after the drain",
        expected: "every shift before the drain",
      });
    }
  });
  return problems;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Validates a parsed runbook document against the stacks in `stacksDir`: the schema and the
 * checks against its stacks in one pass, every problem at once.
 */
export function validateRunbook(
  file: string,
  document: unknown,
  stacksDir = DEFAULT_STACKS_DIR,
): LoadedRunbook {
  const written = structuredClone(document);
  const schema = schemaProblems(runbookSchema, document);
  const refused = refusedBy(schema);
  const runbook = document as Runbook;
  const semantic: Problem[] = [];
  let traffic: TrafficStack | undefined;
  const check = checkRunner(schema);
  check(() => {
    const stacks = stackProblems(runbook, stacksDir).filter((p) => !refused(p.path));
    semantic.push(...stacks);
    if (stacks.some((p) => p.path[0] === "traffic") || refused(["traffic"])) return;
    const read = readTrafficStack(runbook, stacksDir);
    semantic.push(...read.problems);
    traffic = read.traffic;
  });
  if (traffic) {
    const split = traffic;
    if (!refused(["region"])) check(() => semantic.push(...regionProblems(runbook, split)));
    // A source or target that is no stack at all is already said; "not a pool" would repeat it.
    const unknown = refusedBy([...schema, ...semantic]);
    check(() => semantic.push(...poolProblems(runbook, split).filter((p) => !unknown(p.path))));
    if (Array.isArray(runbook.steps))
      check(() => semantic.push(...scheduleProblems(runbook, split)));
  }
  // What reads only the steps runs whatever else the schema refused, each step on its own: a
  // file's problems all come in one pass, never one revealed by fixing another (#27 finding 9).
  if (Array.isArray(runbook?.steps)) {
    check(() => semantic.push(...orderProblems(runbook)));
    runbook.steps.forEach((_, i) => {
      const usable = (key: string) => !refused(["steps", i, key]);
      check(() => semantic.push(...bakeProblems(runbook, i, usable, traffic)));
    });
    check(() => semantic.push(...drainProblems(runbook, stacksDir)));
  }
  assertNoProblems(file, [...schema, ...notRestated(schema, semantic)]);
  const hash = createHash("sha256")
    .update(canonical({ runbook, pools: traffic!.pools }))
    .digest("hex");
  return { file, stacksDir, runbook, written, traffic: traffic!, hash };
}

export function loadRunbook(file: string, stacksDir = DEFAULT_STACKS_DIR): LoadedRunbook {
  const { value, problems } = readYaml(file, RUNBOOK_LIMITS);
  assertNoFileProblems(problems);
  return validateRunbook(file, value, stacksDir);
}

/** One setting a shift runs with, and whether the runbook set it or a default applies. */
export interface SettingInForce {
  /** Key path in the runbook, e.g. `steps[2].gates[0].threshold`. */
  key: string;
  /** What it is about, e.g. `packet-loss on target`. */
  about?: string;
  value: string;
  from: "runbook" | "default";
  /** Where a default comes from. */
  source?: string;
}

const RELATIVE = "relative gates (COMPARE_DEFAULTS)";

const SLO_UNIT = (slo: SloName, value: number) =>
  SLOS[slo].unit === "seconds" ? `${Number((value * 1000).toPrecision(4))} ms` : `${value}`;

/**
 * Every duration, threshold, floor and sample minimum a shift step runs with, each marked as
 * set by the runbook or a default (and which default), for `migrate plan`.
 */
export function settingsInForce(loaded: LoadedRunbook, stepIndex: number): SettingInForce[] {
  const step = loaded.runbook.steps[stepIndex];
  if (step.kind !== "shift") return [];
  const written = (loaded.written as { steps?: Record<string, unknown>[] }).steps?.[stepIndex] as
    { gates?: Record<string, unknown>[] } | undefined;
  const at = `steps[${stepIndex}]`;
  const setting = (
    key: string,
    value: string,
    given: unknown,
    source = "schema default",
  ): SettingInForce =>
    given === undefined ? { key, value, from: "default", source } : { key, value, from: "runbook" };
  const w = written as Record<string, unknown> | undefined;
  const settings = [
    setting(`${at}.bake`, step.bake, w?.bake),
    setting(
      `${at}.maxBake`,
      step.maxBake ?? formatDuration(2 * durationMs(step.bake)),
      w?.maxBake,
      "twice bake",
    ),
    setting(`${at}.interval`, step.interval, w?.interval),
  ];
  step.gates.forEach((gate, j) => {
    const g = written?.gates?.[j];
    const key = `${at}.gates[${j}]`;
    const about =
      gate.compare === "source" ? `${gate.slo} vs source` : `${gate.slo} on ${gate.pool}`;
    const first = settings.length;
    if (gate.compare === "source") {
      settings.push(
        setting(`${key}.confidence`, String(gate.confidence), g?.confidence, RELATIVE),
        setting(
          `${key}.effectFloor`,
          `${SLOS[gate.slo].bound === "below" ? "+" : "−"}${Number((100 * (gate.effectFloor ?? COMPARISONS[gate.slo].effectFloor)).toPrecision(4))} % of the source's mean`,
          g?.effectFloor,
          `the ${gate.slo} comparison`,
        ),
      );
    } else {
      const bound = SLOS[gate.slo].bound === "below" ? "<" : ">";
      settings.push(
        setting(
          `${key}.threshold`,
          `${bound} ${SLO_UNIT(gate.slo, gate.threshold ?? SLOS[gate.slo].threshold)}`,
          g?.threshold,
          `the ${gate.slo} SLO`,
        ),
      );
    }
    settings.push(
      setting(
        `${key}.minSamples`,
        String(gate.minSamples),
        g?.minSamples,
        gate.compare === "source" ? RELATIVE : "schema default",
      ),
      setting(`${key}.critical`, String(gate.critical), g?.critical),
    );
    for (const s of settings.slice(first)) s.about = about;
  });
  return settings;
}
