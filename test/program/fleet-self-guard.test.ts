/**
 * Issue #30 for a pool's floor: a migration's scale step and floor raise write `minHosts` with a
 * marker, and on a DIY backend nothing makes a bare `pulumi up` load the pack. The fleet program
 * reads its own stack's last outputs and refuses a config whose marker is older, as the traffic
 * program does for weights (test/traffic/self-guard.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateStack, EvaluationError } from "../../modules/evaluation/evaluate";
import { stackCopyWith } from "../support/stack-copy";

/** gcp-us-west1 with `migration` in its fleet config, in a copy of the example stacks. */
const poolAt = (migration: { seq: number; rollback: boolean }) =>
  stackCopyWith("gcp-us-west1", (config) => (config["avfleet:fleet"].migration = migration));

test("a pool whose minHosts is older than its stack last applied is refused by the program; the same step runs", async () => {
  const stack = poolAt({ seq: 12, rollback: false });
  await assert.rejects(
    evaluateStack({ ...stack, applied: { migration: { seq: 15, rollback: false } } }),
    (err: unknown) =>
      err instanceof EvaluationError &&
      err.output.includes(
        "stack gcp-us-west1: the stack's config carries migration step 12, but the stack last applied step 15: this checkout's minHosts is older than a running migration's; refused before any change",
      ),
  );
  const same = await evaluateStack({
    ...stack,
    applied: { migration: { seq: 12, rollback: false } },
  });
  assert.deepEqual(same.outputs.migration, { seq: 12, rollback: false });
  assert.ok(
    same.resources.some((r) => r.type.startsWith("gcp:compute/regionInstanceGroupManager")),
  );
  // A pool no migration has touched, whose stack was never applied: nothing to compare.
  const fresh = await evaluateStack(poolAt({ seq: 1, rollback: false }));
  assert.deepEqual(fresh.outputs.migration, { seq: 1, rollback: false });
});
