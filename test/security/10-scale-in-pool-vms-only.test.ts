/**
 * Finding 10 (in part): the scale-in account listed every VM of the project. Now each of its
 * VM permissions holds on the pool's VMs alone, and a pass reads each member by name. What is
 * left of the finding: `compute.instances.setMetadata` on those VMs can set any key (see
 * docs/real-path.md, "Issue #26").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { poolInstances } from "../../modules/fleets/gcp-args";
import { evaluateExamples } from "../support/plans";
import { EUW4, euw4Pass } from "../support/scale-in";
import { missingCommands, prerequisite } from "../support/prerequisites";

test("every VM permission of the scale-in account holds only on the pool's VMs", async () => {
  const [plan] = await evaluateExamples("gcp-europe-west4");
  const roles = new Map(
    plan.resources
      .filter((r) => r.type === "gcp:projects/iAMCustomRole:IAMCustomRole")
      .map((r) => [r.name, r.inputs.permissions as string[]]),
  );
  const members = plan.resources.filter(
    (r) =>
      r.type === "gcp:projects/iAMMember:IAMMember" &&
      /^serviceAccount:gcp-euw4-scalein@/.test(String(r.inputs.member)),
  );
  const byCondition = members.map((m) => ({
    permissions: roles.get(m.name.replace(/-member$/, ""))!,
    condition: (m.inputs.condition as { expression?: string } | undefined)?.expression,
  }));
  const unconditioned = byCondition.filter((g) => !g.condition).flatMap((g) => g.permissions);
  assert.deepEqual(unconditioned.sort(), [
    "compute.autoscalers.get",
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.list",
    "compute.instanceGroupManagers.update",
  ]);
  const onPoolVms = byCondition.filter((g) => g.condition).flatMap((g) => g.permissions);
  assert.deepEqual(onPoolVms.sort(), [
    "compute.instances.delete",
    "compute.instances.get",
    "compute.instances.getGuestAttributes",
    "compute.instances.setMetadata",
  ]);
  for (const g of byCondition.filter((g) => g.condition))
    assert.equal(g.condition, poolInstances(EUW4));
});

test("a pass reads the MIG's members one by one, never the project's VM list", async (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const { calls, problems } = await euw4Pass(2, [
    { name: "gcp-euw4-c3d4", zone: "europe-west4-b", id: "6000000000000000001", load: 9 },
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    calls.filter((c) => c.service === "compute").map((c) => c.action),
    [
      "autoscalers.get",
      "instanceGroupManagers.get",
      "listManagedInstances",
      "instances.get",
      "getGuestAttributes",
      "instances.get",
      "getGuestAttributes",
    ],
  );
});
