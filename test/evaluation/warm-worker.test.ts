/**
 * Warm workers: one worker evaluating stacks of every kind one after another gives the Plans
 * (and the used files) that one fresh worker per stack gives; and what each stack used is
 * its own module graph, data files beside modules included.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { constants, getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { EvaluationError, evaluateStacksWithReads } from "../../modules/evaluation/evaluate";
import { ROOT } from "../support/cli";

// Every kind, the metal site first so that later stacks run in a worker it has used.
const STACKS = ["metal-sjc", "aws-us-east-1", "traffic-us-west", "gcp-us-west1"].map((name) => ({
  name,
  file: join(ROOT, "stacks", `Pulumi.${name}.yaml`),
}));

test("a warm worker gives the Plans and used files of one worker per stack", async () => {
  const warm = await evaluateStacksWithReads(STACKS, { concurrency: 1 });
  const fresh = await Promise.all(STACKS.map((stack) => evaluateStacksWithReads([stack])));
  STACKS.forEach((stack, i) => {
    assert.equal(warm[i].plan.name, stack.name);
    assert.ok(warm[i].plan.resources.length > 0);
    assert.deepEqual(warm[i].plan, fresh[i][0].plan, `${stack.name}: the same Plan`);
    assert.deepEqual(warm[i].reads, fresh[i][0].reads, `${stack.name}: the same files used`);
  });
  assert.equal(new Set(warm.map((e) => e.stats.startSeconds)).size, 1, "one worker started");

  const used = (name: string) =>
    warm.find((e) => e.plan.name === name)!.reads.map((file) => file.slice(ROOT.length + 1));
  const gcp = used("gcp-us-west1");
  assert.ok(gcp.includes("modules/fleets/gcp.ts"));
  assert.ok(!gcp.includes("modules/fleets/aws.ts"), "a GCP stack never runs the AWS fleet");
  assert.ok(!gcp.includes("modules/fleets/metal.ts"));
  // A JSON import and a file read beside its module (__dirname) are used files too.
  assert.ok(gcp.includes("modules/machines/machine-type-table.json"));
  assert.ok(gcp.includes("modules/tuning/avfleet-tune.lib.sh"));
  assert.ok(used("aws-us-east-1").includes("modules/fleets/aws.ts"));
  assert.ok(used("metal-sjc").includes("inventory/metal-sjc.yaml"));
  // A traffic split reads the stack files of its pools.
  assert.ok(used("traffic-us-west").includes("stacks/Pulumi.metal-sjc.yaml"));
  assert.ok(used("traffic-us-west").includes("stacks/Pulumi.gcp-us-west1.yaml"));
  // A fleet's traffic share comes from the splits in its directory, not from the other stack
  // files read to find them.
  assert.ok(gcp.includes("stacks/(traffic splits)"));
  assert.ok(gcp.includes("stacks/Pulumi.gcp-us-west1.yaml"));
  assert.ok(!gcp.includes("stacks/Pulumi.aws-us-east-1.yaml"));
  assert.ok(!gcp.includes("stacks/Pulumi.traffic-us-west.yaml"));
});

test("the heaviest stack's worker keeps its priority; the workers of the others yield to it", async () => {
  const evaluated = await evaluateStacksWithReads(STACKS, { concurrency: 2 });
  const priority = Object.fromEntries(evaluated.map((e) => [e.plan.name, e.stats.priority]));
  // The site's stack file and inventory are the most bytes: it is the heaviest.
  assert.deepEqual(priority, {
    "metal-sjc": getPriority(),
    "aws-us-east-1": constants.priority.PRIORITY_BELOW_NORMAL,
    "traffic-us-west": constants.priority.PRIORITY_BELOW_NORMAL,
    "gcp-us-west1": constants.priority.PRIORITY_BELOW_NORMAL,
  });
});

test("a stack that fails stops the evaluation: its error, no further stacks", async () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-warm-test-"));
  try {
    // The largest file, so it is evaluated first.
    writeFileSync(join(dir, "Pulumi.gcp-bad.yaml"), `# ${"x".repeat(20000)}\nconfig: {}\n`);
    copyFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), join(dir, "Pulumi.gcp-ok.yaml"));
    const evaluated: string[] = [];
    await assert.rejects(
      evaluateStacksWithReads(
        ["gcp-ok", "gcp-bad"].map((name) => ({ name, file: join(dir, `Pulumi.${name}.yaml`) })),
        { concurrency: 1, onPlan: (plan) => evaluated.push(plan.name) },
      ),
      (err: unknown) =>
        err instanceof EvaluationError &&
        err.stackName === "gcp-bad" &&
        /has neither avfleet:fleet nor avfleet:traffic/.test(err.message),
    );
    assert.deepEqual(evaluated, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
