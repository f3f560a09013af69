/**
 * Loads a runbook and refuses a bad one before anything runs: schema first, then what a
 * schema cannot say — stacks that exist, weights that only go up within the traffic stack's
 * step limit, gates on every shift, decommission only after a drain and an approval.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { DEFAULT_STACKS_DIR, listStacks, stackFileName } from "../config/stack";
import {
  assertNoProblems,
  readYamlFile,
  schemaProblems,
  type KeyPath,
  type Problem,
} from "../config/validate";
import { trafficSchema, type TrafficSpec } from "../config/traffic.schema";
import { weightProblems, weightsOf } from "../traffic/weights";
import { runbookSchema, type Runbook } from "./runbook.schema";

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

export interface TrafficStack {
  file: string;
  /** Pool stacks in the file's order: a pool's index is its `pools[i]` config path. */
  pools: string[];
  weights: Record<string, number>;
  maxStepPct: number;
  ttlSeconds: number;
}

export interface LoadedRunbook {
  file: string;
  stacksDir: string;
  runbook: Runbook;
  traffic: TrafficStack;
  /** sha256 of the validated runbook and the pool order it drives: a changed plan, a new hash. */
  hash: string;
}

/**
 * The traffic split of a traffic stack file, checked with the traffic module's own schema
 * and weight rules (its pools' fleet stacks are `avfleet preview`'s to check, not ours).
 */
function readTrafficStack(file: string): TrafficStack {
  const document = readYamlFile(file, "a traffic stack file with config.avfleet:traffic");
  const at = ["config", "avfleet:traffic"];
  const spec = (document as { config?: Record<string, unknown> }).config?.["avfleet:traffic"];
  assertNoProblems(file, schemaProblems(trafficSchema, spec ?? null, at));
  const split = spec as TrafficSpec;
  assertNoProblems(file, weightProblems(split, at));
  return {
    file,
    pools: split.pools.map((p) => p.stack),
    weights: weightsOf(split),
    maxStepPct: split.maxStepPct,
    ttlSeconds: split.dns.ttl,
  };
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

/** Weights only go up, within the traffic stack's step limit; bakes outlast DNS caches. */
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
    if (step.kind === "drain") stepTo(["steps", i], full, "the drain (source weight 0)");
    if (step.kind !== "shift") return;
    step.weights.forEach((weight, j) => {
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
    const bake = durationMs(step.bake);
    if (step.maxBake !== undefined && durationMs(step.maxBake) < bake) {
      problems.push({
        path: ["steps", i, "maxBake"],
        message: `is ${step.maxBake}, shorter than bake ${step.bake}`,
        expected: "maxBake ≥ bake",
      });
    }
    if (durationMs(step.interval) > bake) {
      problems.push({
        path: ["steps", i, "interval"],
        message: `is ${step.interval}, longer than bake ${step.bake}`,
        expected: "interval ≤ bake",
      });
    }
    if (bake < traffic.ttlSeconds * 1000) {
      problems.push({
        path: ["steps", i, "bake"],
        message: `is ${step.bake}, shorter than the DNS TTL ${traffic.ttlSeconds}s of ${runbook.traffic}`,
        expected: "a bake of at least the TTL (only new joins move, after caches expire)",
      });
    }
  });
  return problems;
}

/** Decommissioning retires the source's hosts: only after a finished drain and an approval. */
function orderProblems(runbook: Runbook): Problem[] {
  const problems: Problem[] = [];
  let drained = false;
  let approvedSinceDrain = false;
  runbook.steps.forEach((step, i) => {
    if (step.kind === "drain") {
      drained = true;
      approvedSinceDrain = false;
    } else if (step.kind === "approve") {
      approvedSinceDrain = drained;
    } else if (step.kind === "decommission" && !(drained && approvedSinceDrain)) {
      problems.push({
        path: ["steps", i, "kind"],
        message: drained
          ? "is decommission with no approve step between the drain and it"
          : "is decommission before any drain",
        expected: "decommission after a drain step and then an approve step",
      });
    } else if (step.kind === "shift" && drained) {
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

/** Validates a parsed runbook document against the stacks in `stacksDir`. */
export function validateRunbook(
  file: string,
  document: unknown,
  stacksDir = DEFAULT_STACKS_DIR,
): LoadedRunbook {
  assertNoProblems(file, schemaProblems(runbookSchema, document));
  const runbook = document as Runbook;
  const problems = stackProblems(runbook, stacksDir);
  assertNoProblems(file, problems);
  const traffic = readTrafficStack(stackFileName(stacksDir, runbook.traffic));
  assertNoProblems(file, poolProblems(runbook, traffic));
  assertNoProblems(file, [...scheduleProblems(runbook, traffic), ...orderProblems(runbook)]);
  const hash = createHash("sha256")
    .update(canonical({ runbook, pools: traffic.pools }))
    .digest("hex");
  return { file, stacksDir, runbook, traffic, hash };
}

export function loadRunbook(file: string, stacksDir = DEFAULT_STACKS_DIR): LoadedRunbook {
  const document = readYamlFile(file, "a runbook mapping {region, traffic, source, target, steps}");
  return validateRunbook(file, document, stacksDir);
}
