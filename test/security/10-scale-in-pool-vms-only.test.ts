/**
 * Finding 10: the scale-in account listed every VM of the project, and marked hosts with
 * `compute.instances.setMetadata`, which sets any key (`startup-script`, `ssh-keys`): root at the
 * next boot of a pool VM for whoever acts as it. Now each of its VM permissions holds on the
 * pool's VMs alone, a pass reads each member by name, and a mark is an object under drain/ of
 * the pool's mark bucket, which no host runs. See docs/real-path.md, "Issue #26".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { poolInstances } from "../../modules/gcp-scale-in/pool";
import { drainMarks } from "../../modules/gcp-scale-in/controller";
import { gcpDrainBucket } from "../../modules/host/metrics";
import { evaluateExamples } from "../support/plans";
import { EUW4, EUW4_VM, euw4Pass } from "../support/scale-in";
import { missingCommands, prerequisite } from "../support/prerequisites";

test("the scale-in account holds no permission that writes a VM's metadata; its VM permissions hold only on the pool's VMs, its marks and cordons only under drain/ and cordon/ of the pool's bucket", async () => {
  const [plan] = await evaluateExamples("gcp-europe-west4");
  const roles = new Map(
    plan.resources
      .filter((r) => r.type === "gcp:projects/iAMCustomRole:IAMCustomRole")
      .map((r) => [r.name, r.inputs.permissions as string[]]),
  );
  const members = plan.resources.filter(
    (r) =>
      /^gcp:(projects\/iAMMember:IAMMember|storage\/bucketIAMMember:BucketIAMMember)$/.test(
        r.type,
      ) && /^serviceAccount:gcp-euw4-scalein@/.test(String(r.inputs.member)),
  );
  const byCondition = members.map((m) => ({
    permissions: roles.get(m.name.replace(/-member$/, ""))!,
    condition: (m.inputs.condition as { expression?: string } | undefined)?.expression,
    bucket: m.inputs.bucket as string | undefined,
  }));
  // No predefined role either: every grant of the account is one of its custom roles.
  assert.ok(byCondition.every((g) => g.permissions !== undefined));
  const all = byCondition.flatMap((g) => g.permissions);
  for (const writesMetadata of [
    "compute.instances.setMetadata",
    "compute.projects.setCommonInstanceMetadata",
  ])
    assert.ok(!all.includes(writesMetadata), writesMetadata);
  const unconditioned = byCondition.filter((g) => !g.condition).flatMap((g) => g.permissions);
  assert.deepEqual(unconditioned.sort(), [
    "compute.autoscalers.get",
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.list",
    "compute.instanceGroupManagers.update",
  ]);
  const onPoolVms = byCondition.filter((g) => g.condition && !g.bucket);
  assert.deepEqual(onPoolVms.flatMap((g) => g.permissions).sort(), [
    "compute.instances.delete",
    "compute.instances.get",
    "compute.instances.getGuestAttributes",
  ]);
  for (const g of onPoolVms) assert.equal(g.condition, poolInstances(EUW4));
  const bucket = gcpDrainBucket("media-prod-euw4", EUW4.pool);
  const onMarks = byCondition.filter((g) => g.bucket);
  assert.deepEqual(onMarks.flatMap((g) => g.permissions).sort(), [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
  ]);
  for (const g of onMarks) assert.equal(g.condition, drainMarks(bucket));
  // The hosts read marks under the same prefix, and nothing else of the bucket.
  const host = plan.resources.find((r) => r.name === "gcp-euw4-scale-in-host-mark-member")!;
  assert.match(String(host.inputs.member), /^serviceAccount:gcp-euw4-sfu@/);
  assert.equal((host.inputs.condition as { expression: string }).expression, drainMarks(bucket));
  assert.deepEqual(roles.get("gcp-euw4-scale-in-host-mark"), ["storage.objects.get"]);
});

test("a pass reads the MIG's members one by one, never the project's VM list", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const { calls, problems } = await euw4Pass(2, [
    { name: "gcp-euw4-c3d4", zone: "europe-west4-b", id: "6000000000000000001", load: 9 },
  ]);
  assert.deepEqual(problems, []);
  const actions = calls.filter((c) => c.service === "compute").map((c) => c.action);
  assert.deepEqual(actions.slice(0, 3), [
    "autoscalers.get",
    "instanceGroupManagers.get",
    "listManagedInstances",
  ]);
  // then each member on its own, several at once
  assert.deepEqual(actions.slice(3).sort(), [
    "getGuestAttributes",
    "getGuestAttributes",
    "instances.get",
    "instances.get",
  ]);
});

test("a pass marks a host by an object of the pool's bucket, and writes nothing to Compute", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  // three VMs, the agent's own without a load (counted as busy): one is surplus
  const { report, calls, problems } = await euw4Pass(1, [
    { name: "gcp-euw4-c3d4", zone: "europe-west4-b", id: "6000000000000000001", load: 9 },
    { name: "gcp-euw4-e5f6", zone: "europe-west4-c", id: "6000000000000000002", load: 4 },
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(report.marked, ["gcp-euw4-e5f6"]);
  assert.deepEqual(
    calls.filter((c) => c.action === "objects.insert").map((c) => c.body),
    [{ bucket: gcpDrainBucket(EUW4_VM.project, EUW4.pool), name: "drain/gcp-euw4-e5f6" }],
  );
  const reads = new Set([
    "autoscalers.get",
    "instanceGroupManagers.get",
    "listManagedInstances",
    "instances.get",
    "getGuestAttributes",
  ]);
  assert.deepEqual(
    calls.filter((c) => c.service === "compute" && !reads.has(c.action)),
    [],
  );
});
