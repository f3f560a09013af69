import { test } from "node:test";
import assert from "node:assert/strict";
import { nextUpChanges } from "../../modules/plan/next-up";
import { evaluateExamples, resource } from "../support/plans";

const plans = evaluateExamples("gcp-us-west1", "aws-us-east-1");

/** Sizes the autoscalers own: a second up after they scaled must not write these back. */
const SIZE_KEYS = ["targetSize", "desiredCapacity", "minSize", "maxSize"];

test("no size fight on GCP: after the autoscaler grew the MIG to 41, the next up sends no size", async () => {
  const [gcp] = await plans;
  const mig = resource(gcp, "gcp-usw1-mig");
  const scaled = { ...mig.inputs, targetSize: 41 };
  assert.deepEqual(nextUpChanges(mig, scaled, SIZE_KEYS), []);
  // The check sees a fight when there is one: a program that pinned the size would reset it.
  assert.deepEqual(
    nextUpChanges({ ...mig, inputs: { ...mig.inputs, targetSize: 6 } }, scaled, SIZE_KEYS),
    ["targetSize"],
  );
});

test("no size fight on AWS: after target tracking and a scheduled action moved the group, the next up changes neither", async () => {
  const [, aws] = await plans;
  const group = resource(aws, "aws-use1-asg");
  assert.equal(group.inputs.desiredCapacity, undefined, "target tracking owns the size");
  // After a refresh the state holds what the cloud did: 41 hosts wanted, a schedule's minimum of 23.
  const scaled = { ...group.inputs, desiredCapacity: 41, minSize: 23 };
  assert.deepEqual(group.ignoreChanges, [
    "initialLifecycleHooks",
    "minSize",
    "launchTemplate.version",
  ]);
  assert.deepEqual(nextUpChanges(group, scaled, SIZE_KEYS), []);
  assert.deepEqual(
    nextUpChanges({ ...group, ignoreChanges: ["initialLifecycleHooks"] }, scaled, SIZE_KEYS),
    ["minSize"],
    "without ignoreChanges the next up would set the minimum back under the schedule",
  );
  // Scheduled actions say -1 for what they leave alone: the provider's default 0 would set it.
  const schedules = aws.resources.filter((r) => r.type === "aws:autoscaling/schedule:Schedule");
  assert.ok(schedules.length > 0);
  for (const s of schedules) {
    assert.equal(s.inputs.desiredCapacity, -1);
    assert.equal(s.inputs.maxSize, -1);
  }
});
