/**
 * Issue #30 items 3 and 6, the pack's side: a traffic stack's config carries the migration's
 * marker (avfleet:traffic.migration), the stack outputs what it applied, and the pack refuses
 * weights older than the stack last applied and never holds a staged rollback to maxStepPct.
 * Evaluated as the program declares it, from a stack file the executor's `set-all` wrote.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadStacks } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { STACK_FACTS_TYPE } from "../../policy/contract/facts";
import { stagedRollback, staleWeights } from "../../policy/contract/migration";
import { POLICIES } from "../../policy/policies";
import { stackCopyWith } from "../support/stack-copy";

/** `stack` from a copy of the stacks with its config edited, evaluated as the program runs it. */
async function evaluatedWith(stack: string, edit: (config: any) => void): Promise<Plan> {
  const { dir } = stackCopyWith(stack, edit);
  const [plan] = await evaluateStacks(loadStacks(dir, [stack]));
  return plan;
}

/** traffic-eu-west at 50/50 with `migration` in its config (a weight change's set-all). */
function trafficAt(migration: { seq: number; rollback: boolean }): Promise<Plan> {
  return evaluatedWith("traffic-eu-west", (config) => {
    const traffic = config["avfleet:traffic"];
    traffic.pools = [
      { stack: "metal-ams", weight: 50 },
      { stack: "gcp-europe-west4", weight: 50 },
    ];
    traffic.migration = migration;
  });
}

/** The plan's update as the pack judges it when the stack last applied `deployed`. */
function verdicts(plan: Plan, deployed: Record<string, unknown>): string[] {
  const judged = structuredClone(plan);
  const self = judged.resources.find((r) => r.name === "traffic-eu-west-ref-self")!;
  self.inputs.outputs = deployed;
  const policies = POLICIES.filter((p) =>
    ["traffic-weights", "traffic-migration-order"].includes(p.name),
  );
  return evaluatePolicies(judged, policies).violations.map((v) => `${v.policy}: ${v.message}`);
}

const BEFORE = { "metal-ams": 95, "gcp-europe-west4": 5 };

test("the program carries the config's marker to its facts and its outputs", async () => {
  const plan = await trafficAt({ seq: 12, rollback: true });
  assert.deepEqual(plan.outputs.migration, { seq: 12, rollback: true });
  const facts = plan.resources.find((r) => r.type === STACK_FACTS_TYPE)!;
  assert.deepEqual((facts.inputs as any).traffic.migration, { seq: 12, rollback: true });
});

test("item 6: a rollback the executor staged moves 45 points past maxStepPct 25 unheld; the same move as a step is refused", async () => {
  const rollback = await trafficAt({ seq: 12, rollback: true });
  assert.deepEqual(
    verdicts(rollback, { weights: BEFORE, migration: { seq: 11, rollback: false } }),
    [],
  );
  const step = await trafficAt({ seq: 12, rollback: false });
  assert.deepEqual(verdicts(step, { weights: BEFORE, migration: { seq: 11, rollback: false } }), [
    "traffic-weights: this change moves 45 points of traffic, more than maxStepPct 25",
  ]);
  // The marker of a rollback already applied exempts nothing: a later edit keeping it is a step.
  assert.deepEqual(
    verdicts(rollback, { weights: BEFORE, migration: { seq: 12, rollback: true } }),
    ["traffic-weights: this change moves 45 points of traffic, more than maxStepPct 25"],
  );
});

test("item 3: weights older than the step the stack last applied (a stale checkout) are refused", async () => {
  const plan = await trafficAt({ seq: 12, rollback: false });
  const at = (seq: number) => ({
    weights: { "metal-ams": 50, "gcp-europe-west4": 50 },
    migration: { seq, rollback: false },
  });
  assert.deepEqual(verdicts(plan, at(12)), [], "the same step: an up run again");
  assert.deepEqual(verdicts(plan, at(7)), [], "a newer step");
  assert.deepEqual(verdicts(plan, at(15)), [
    "traffic-migration-order: the stack's config carries migration step 12, but the stack last applied step 15: this checkout's weights are older than a running migration's",
  ]);
});

test("the rules behind it: no marker deployed judges nothing; no marker in config is older than any", () => {
  assert.equal(staleWeights(undefined, undefined), undefined);
  assert.equal(staleWeights({ seq: 1, rollback: false }, undefined), undefined);
  assert.match(
    staleWeights(undefined, { seq: 3, rollback: false })!,
    /carries no migration step, but the stack last applied step 3/,
  );
  assert.equal(stagedRollback({ seq: 4, rollback: true }, undefined), true);
  assert.equal(stagedRollback({ seq: 4, rollback: false }, undefined), false);
  assert.equal(stagedRollback({ seq: 4, rollback: true }, { seq: 4, rollback: true }), false);
});

/** gcp-us-west1 with `migration` in its config (a scale step's set-all), or none. */
function fleetAt(migration: { seq: number; rollback: boolean } | undefined): Promise<Plan> {
  return evaluatedWith("gcp-us-west1", (config) => {
    if (migration) config["avfleet:fleet"].migration = migration;
  });
}

/** fleet-migration-order's verdicts on the plan when the stack last applied `deployed`. */
function fleetVerdicts(plan: Plan, deployed: Record<string, unknown>): string[] {
  const judged = structuredClone(plan);
  const self = judged.resources.find((r) => r.name === "gcp-usw1-ref-self")!;
  self.inputs.outputs = deployed;
  const policies = POLICIES.filter((p) => p.name === "fleet-migration-order");
  return evaluatePolicies(judged, policies).violations.map((v) => `${v.policy}: ${v.message}`);
}

test("#30: a fleet's minHosts older than the migration step the pool last applied (a stale deploy mid-migration) is refused", async () => {
  const stale = await fleetAt(undefined);
  assert.equal(stale.outputs.migration, null);
  const midMigration = { minHosts: 66, migration: { seq: 4, rollback: false } };
  assert.deepEqual(fleetVerdicts(stale, midMigration), [
    "fleet-migration-order: the stack's config carries no migration step, but the stack last applied step 4: this checkout's minHosts is older than a running migration's",
  ]);
  assert.deepEqual(fleetVerdicts(stale, { minHosts: 6 }), [], "no migration ever applied one");
  const published = await fleetAt({ seq: 4, rollback: false });
  assert.deepEqual(published.outputs.migration, { seq: 4, rollback: false });
  const facts = published.resources.find((r) => r.type === STACK_FACTS_TYPE)!;
  assert.deepEqual((facts.inputs as any).fleet.migration, { seq: 4, rollback: false });
  assert.deepEqual(fleetVerdicts(published, midMigration), [], "the migration's own file");
  assert.deepEqual(
    fleetVerdicts(published, { minHosts: 66, migration: { seq: 9, rollback: false } }),
    [
      "fleet-migration-order: the stack's config carries migration step 4, but the stack last applied step 9: this checkout's minHosts is older than a running migration's",
    ],
  );
});
