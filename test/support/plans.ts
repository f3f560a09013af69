/** Evaluates example stacks (or variants of them) to Plans once per test file, and finds resources in them. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import YAML from "yaml";
import { DEFAULT_STACKS_DIR, loadStacks, stackFileName } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan, PlanResource } from "../../modules/plan/plan";
import { ROOT } from "./cli";

export function evaluateExamples(...names: string[]): Promise<Plan[]> {
  return evaluateStacks(loadStacks(join(ROOT, "stacks"), names));
}

export function resource(plan: Plan, name: string): PlanResource & { inputs: Record<string, any> } {
  const found = plan.resources.find((r) => r.name === name);
  assert.ok(found, `${plan.name} has no resource ${name}`);
  return found;
}

/**
 * Example stacks with their config changed (a rollout, a new media server), each under a name
 * of its own, evaluated from a temporary stacks folder as `avfleet preview` evaluates them.
 */
export async function evaluateVariants(
  variants: Record<string, { stack: string; change: (config: Record<string, any>) => void }>,
): Promise<Record<string, Plan>> {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-variants-"));
  try {
    mkdirSync(join(dir, DEFAULT_STACKS_DIR));
    for (const [name, { stack, change }] of Object.entries(variants)) {
      const doc = YAML.parse(readFileSync(stackFileName(join(ROOT, "stacks"), stack), "utf8"));
      change(doc.config);
      writeFileSync(stackFileName(join(dir, DEFAULT_STACKS_DIR), name), YAML.stringify(doc));
    }
    const names = Object.keys(variants);
    const plans = await evaluateStacks(loadStacks(join(dir, DEFAULT_STACKS_DIR), names));
    return Object.fromEntries(names.map((name, i) => [name, plans[i]]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
