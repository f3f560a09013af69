/**
 * Issue #30, the program's side: on a DIY backend nothing forces `--policy-pack`, so a bare
 * `pulumi up` from a stale checkout would skip traffic-migration-order. The traffic program
 * reads its own stack's last outputs (a StackReference to itself: docs/real-path.md) and
 * throws before it declares a record when its config's marker is older than the one applied.
 * Judged purely, under Pulumi's mock runtime in this process, and as the CLI loads the program.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackFile } from "../../modules/stacks/stack";
import { evaluateStack, EvaluationError } from "../../modules/evaluation/evaluate";
import { behindApplied, markerOf } from "../../policy/contract/migration";
import { ROOT } from "../support/cli";
import { stackCopyWith } from "../support/stack-copy";

const STALE =
  "stack traffic-us-west: the stack's config carries migration step 12, but the stack last applied step 15: this checkout's weights are older than a running migration's; refused before any change. Deploy the stack file as the migration left it (pull its stack file commits), or let `avfleet migrate` finish or roll back";

test("the rule: older than applied is refused; the same step, a newer one, a staged rollback and a first deploy are not", async () => {
  const { staleRefusal } = await import("../../modules/traffic/stack-ref");
  const staleSplitRefusal = (stack: string, config: any, applied: unknown) =>
    staleRefusal(stack, config, applied, "weights are");
  const step = (seq: number, rollback = false) => ({ seq, rollback });
  assert.equal(staleSplitRefusal("traffic-us-west", step(12), step(15)), STALE);
  assert.match(
    staleSplitRefusal("traffic-us-west", undefined, step(3))!,
    /^stack traffic-us-west: the stack's config carries no migration step, but the stack last applied step 3:/,
  );
  assert.equal(staleSplitRefusal("traffic-us-west", step(15), step(15)), undefined, "an up again");
  assert.equal(staleSplitRefusal("traffic-us-west", step(16), step(15)), undefined);
  // The executor stages a rollback (and a journal begun afresh) above the deployed seq.
  assert.equal(staleSplitRefusal("traffic-us-west", step(16, true), step(15)), undefined);
  // A first deploy reads no outputs; a stack before any migration outputs `migration: null`.
  for (const applied of [undefined, null])
    assert.equal(staleSplitRefusal("traffic-us-west", step(1), applied), undefined);
  // Anything else is a marker the engine could not give back (a secret it failed to decrypt
  // reads as {}): refused, not passed.
  for (const applied of [{}, { seq: "15" }])
    assert.match(
      staleSplitRefusal("traffic-us-west", step(1), applied)!,
      /^stack traffic-us-west: its last update's migration output is unreadable \(/,
    );
  // The parts another marker (a fleet's floor) can reuse.
  assert.deepEqual(markerOf({ seq: 4, rollback: false }), { seq: 4, rollback: false });
  assert.equal(markerOf(null), undefined);
  assert.equal(behindApplied({ seq: 4 }, { seq: 5 }), true);
  assert.equal(behindApplied(undefined, { seq: 1 }), true);
  assert.equal(behindApplied({ seq: 5 }, { seq: 5 }), false);
  assert.equal(behindApplied(undefined, undefined), false);
});

test("under Pulumi's mock runtime: a stale config throws once its own stack is read, before any record or health check is declared", async () => {
  const declared: string[] = [];
  let applied: Record<string, unknown> = {};
  let secret = false;
  await pulumi.runtime.setMocks(
    {
      newResource({ type, name, inputs }) {
        declared.push(`${type} ${name}`);
        // The split's own stack reads what its last update left; a pool's stack its endpoint.
        const outputs =
          inputs.name === "organization/avfleet/traffic-us-west"
            ? applied
            : { endpoint: "sjc.example.net", signalingPort: 443 };
        const state =
          type === "pulumi:pulumi:StackReference"
            ? { ...inputs, outputs, secretOutputNames: secret ? ["migration"] : [] }
            : inputs;
        return { id: `${name}-id`, state };
      },
      call: ({ inputs }) => inputs,
    },
    "avfleet",
    "traffic-us-west",
    false,
    "organization",
  );
  const { TrafficSplit } = await import("../../modules/traffic/split");
  const spec = loadStackFile(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml")).traffic!;
  const marked = { ...spec, migration: { seq: 12, rollback: false } };

  applied = { weights: { "metal-sjc": 100 }, migration: { seq: 15, rollback: false } };
  await assert.rejects(TrafficSplit.declare("stale", { spec: marked }), { message: STALE });
  // The component and its read of the stack: nothing a provider would create or change.
  assert.deepEqual(declared, [
    "avfleet:traffic:TrafficSplit stale",
    "pulumi:pulumi:StackReference stale-ref-self",
  ]);

  // A stack whose traffic config is a secret outputs its marker as a secret: still judged.
  secret = true;
  await assert.rejects(TrafficSplit.declare("secret", { spec: marked }), { message: STALE });
  secret = false;

  declared.length = 0;
  applied = { weights: { "metal-sjc": 100 }, migration: { seq: 11, rollback: false } };
  const split = await TrafficSplit.declare("fresh", { spec: marked });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(declared, [
    "avfleet:traffic:TrafficSplit fresh",
    "pulumi:pulumi:StackReference fresh-ref-self",
    "pulumi:pulumi:StackReference fresh-ref-metal-sjc",
    "aws:route53/healthCheck:HealthCheck fresh-metal-sjc-health",
    "aws:route53/record:Record fresh-metal-sjc",
  ]);
  const previous = await new Promise((r) => split.previousWeights.apply(r));
  assert.deepEqual(previous, { "metal-sjc": 100 });
});

/** traffic-us-west with `migration` in its config, in a copy of the example stacks. */
const trafficAt = (migration: { seq: number; rollback: boolean }) =>
  stackCopyWith("traffic-us-west", (config) => (config["avfleet:traffic"].migration = migration));

test("as the Pulumi CLI loads the program (ts-node, index.ts): the update fails with the refusal; the same step runs", async () => {
  const stack = trafficAt({ seq: 12, rollback: false });
  const lastUp = (seq: number) => ({ migration: { seq, rollback: false } });
  await assert.rejects(
    evaluateStack({ ...stack, applied: lastUp(15) }, ROOT, "pulumi-cli"),
    (err: unknown) => err instanceof EvaluationError && err.output.includes(STALE),
  );
  const same = await evaluateStack({ ...stack, applied: lastUp(12) }, ROOT, "pulumi-cli");
  assert.deepEqual(same.outputs.migration, { seq: 12, rollback: false });
  assert.ok(same.resources.some((r) => r.type === "aws:route53/record:Record"));
});

test("the offline bundle (preview, policy, diff) runs the same guard; a stack never applied reads nothing and runs", async () => {
  const stack = trafficAt({ seq: 12, rollback: false });
  await assert.rejects(
    evaluateStack({ ...stack, applied: { migration: { seq: 13, rollback: true } } }),
    (err: unknown) =>
      err instanceof EvaluationError &&
      err.output.includes(
        "the stack's config carries migration step 12, but the stack last applied step 13",
      ),
  );
  const first = await evaluateStack(stack);
  const self = first.resources.find((r) => r.name === "traffic-us-west-ref-self")!;
  assert.deepEqual(self.inputs.outputs, {});
  assert.deepEqual(first.outputs.migration, { seq: 12, rollback: false });
});
