/** Evaluates example stacks to Plans once per test file, and finds resources in them. */
import { join } from "node:path";
import assert from "node:assert/strict";
import { loadStacks } from "../../modules/config/stack";
import { evaluateStacks } from "../../modules/plan/evaluate";
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
