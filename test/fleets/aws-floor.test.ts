/**
 * Issue #28 leftover 1: an AWS pool under `autoscaling.policy: ours` takes a migration's floor
 * at the up that carries it. Its group ignores minSize on an ordinary up (its scheduled actions
 * move the minimum); a config marker newer than the one the stack last applied, with its time,
 * makes that up set minSize to the floor the schedules hold at that time, minHosts at least.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import { loadStackFile } from "../../modules/stacks/stack";
import { groupIgnoreChanges, groupMinSize } from "../../modules/fleets/aws-args";
import { scheduledFloorAt } from "../../modules/fleets/scaling";
import { compileAws } from "../../modules/scaling/compile";
import { evaluateStack } from "../../modules/evaluation/evaluate";
import { floorChangeAt } from "../../policy/contract/migration";
import { stackCopyWith } from "../support/stack-copy";
import { resource } from "../support/plans";

const spec = loadStackFile("stacks/Pulumi.aws-us-east-1.yaml").fleet as AwsFleetSpec;
const raised = { ...spec, minHosts: 30 };
const schedules = compileAws(raised, "us-east-1").schedules;
const floorOf = (name: string) => schedules.find((s) => s.scheduledActionName === name)!.minSize;

test("the floor the schedules hold at an instant: the action that fired last in the pool's zone, daylight saving included", () => {
  // Tuesday 10 March 2026, 18:10 in New York (EDT since 8 March): weekday-1800 fired last.
  assert.equal(scheduledFloorAt(schedules, "2026-03-10T22:10:00.000Z"), floorOf("weekday-1800"));
  assert.equal(floorOf("weekday-1800"), 46);
  // The same UTC time in January is 17:10 EST: weekday-1700.
  assert.equal(scheduledFloorAt(schedules, "2026-01-13T22:10:00Z"), floorOf("weekday-1700"));
  // Saturday 03:10: the weekend's midnight action, Friday's evening ones long past.
  assert.equal(scheduledFloorAt(schedules, "2026-03-14T07:10:00Z"), floorOf("weekend-0000"));
  // Monday 00:10 after Sunday's evening: weekday-0000 fired at midnight.
  assert.equal(scheduledFloorAt(schedules, "2026-03-09T04:10:00Z"), floorOf("weekday-0000"));
  assert.throws(() => scheduledFloorAt(schedules, "yesterday"), /no scheduled floor at yesterday/);
});

test("ordinary up: minSize ignored and minHosts declared; an up carrying a newer marker: minSize set to the schedules' floor then", () => {
  assert.deepEqual(groupIgnoreChanges(true, "running"), [
    "initialLifecycleHooks",
    "minSize",
    "launchTemplate.version",
  ]);
  assert.equal(groupMinSize(raised, schedules), 30);
  const at = "2026-03-10T22:10:00.000Z";
  assert.deepEqual(groupIgnoreChanges(true, "running", at), [
    "initialLifecycleHooks",
    "launchTemplate.version",
  ]);
  // At the evening peak the schedules hold more than minHosts: the group keeps their 46.
  assert.equal(groupMinSize(raised, schedules, at), 46);
  // At 10:00 the last action (weekday-0400) holds the old minimum; the compiled one holds 30.
  assert.equal(groupMinSize(raised, schedules, "2026-03-10T14:00:00Z"), 30);
  // A release (minHosts back to 6 with a newer marker) never drops the group under the hour's
  // forecast: 46 at the evening peak, 6 only where the schedules hold 6.
  const released = compileAws(spec, "us-east-1").schedules;
  assert.equal(groupMinSize(spec, released, at), 46);
  assert.equal(groupMinSize(spec, released, "2026-03-10T14:00:00Z"), 6);
  // A pool without schedules never ignores minSize, marker or not.
  assert.deepEqual(groupIgnoreChanges(false, "release"), ["initialLifecycleHooks"]);
  assert.equal(groupMinSize(raised, [], at), 30);
});

test("which update carries a floor change: a newer marker with its time, never the same one again or one without a time", () => {
  const at = "2026-03-10T22:10:00.000Z";
  assert.equal(floorChangeAt({ seq: 5, rollback: false, at }, { seq: 4, rollback: false }), at);
  assert.equal(floorChangeAt({ seq: 5, rollback: true, at }, undefined), at);
  assert.equal(
    floorChangeAt({ seq: 5, rollback: false, at }, { seq: 5, rollback: false, at }),
    undefined,
  );
  assert.equal(floorChangeAt({ seq: 5, rollback: false }, { seq: 4, rollback: false }), undefined);
  assert.equal(floorChangeAt(undefined, { seq: 4, rollback: false }), undefined);
});

/** aws-us-east-1 with minHosts 30 and a migration marker, in a copy of the example stacks. */
const poolWith = (migration: Record<string, unknown>) =>
  stackCopyWith("aws-us-east-1", (config) => {
    config["avfleet:fleet"].minHosts = 30;
    config["avfleet:fleet"].migration = migration;
  });

test("the program: the group's minSize and ignoreChanges at the marker's up, at an ordinary up after it, and for a marker without a time", async () => {
  const at = "2026-03-10T22:10:00.000Z";
  const marker = { seq: 7, rollback: false, at };
  const carrying = await evaluateStack({
    ...poolWith(marker),
    applied: { migration: { seq: 6, rollback: false } },
  });
  const group = resource(carrying, "aws-use1-asg");
  assert.equal(group.inputs.minSize, 46);
  assert.ok(!group.ignoreChanges!.includes("minSize"), JSON.stringify(group.ignoreChanges));
  // Every scheduled action carries the raised floor, so the next one to fire keeps it.
  const actions = carrying.resources.filter((r) => r.type === "aws:autoscaling/schedule:Schedule");
  assert.equal(actions.length, schedules.length);
  assert.ok(actions.every((a) => (a.inputs as any).minSize >= 30));
  // An update would resend the start time AWS computed at creation, long past: each action is
  // deleted and put again instead.
  for (const a of actions) {
    assert.deepEqual([a.replaceOnChanges, a.deleteBeforeReplace], [["*"], true], a.name);
  }
  // The executor waits for the hosts; the provider's exact-count wait would fail the up.
  assert.equal(group.inputs.waitForCapacityTimeout, "0");
  assert.deepEqual(carrying.outputs.migration, marker);
  assert.equal(carrying.outputs.minHosts, 30);

  // The next ordinary up (the stack applied this marker): the schedules own the minimum again.
  const after = await evaluateStack({ ...poolWith(marker), applied: { migration: marker } });
  const ordinary = resource(after, "aws-use1-asg");
  assert.equal(ordinary.inputs.minSize, 30);
  assert.equal(ordinary.inputs.waitForCapacityTimeout, "1444s");
  assert.ok(ordinary.ignoreChanges!.includes("minSize"));

  // A marker an executor wrote before #28 carries no time: left to the schedules, as before.
  const old = await evaluateStack({
    ...poolWith({ seq: 7, rollback: false }),
    applied: { migration: { seq: 6, rollback: false } },
  });
  assert.ok(resource(old, "aws-use1-asg").ignoreChanges!.includes("minSize"));
});

test("a marker's time must be UTC as the executor writes it: anything else is refused with its key path", async () => {
  await assert.rejects(
    evaluateStack(poolWith({ seq: 7, rollback: false, at: "2026-03-10 18:10" })),
    (err: Error) => /avfleet:fleet\.migration\.at/.test(String((err as any).output ?? err.message)),
  );
});
