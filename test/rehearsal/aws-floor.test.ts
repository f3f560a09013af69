/**
 * Issue #28 leftover 1 in the rehearsal: a failover onto an AWS pool under `autoscaling.policy:
 * ours`. The world applies the provider's rules (modules/providers: ignoreChanges keeps the
 * state's minSize; a minimum sent above the group's size raises its desired capacity) to what
 * the program declares (modules/fleets/aws-args.ts), so the floor raised before each shift
 * reaches the group and the failover goes on; with markers that carry no time (an executor from
 * before #28) the group keeps its minimum and the executor halts with the weights unmoved.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { runMigration } from "../../modules/migrate/executor";
import { loadWorld, refusedJoins } from "../../modules/rehearsal/world";
import {
  executorFor,
  FAILOVER_STEPS,
  newRehearsal,
  tempDir,
  writeRunbook,
} from "../migrate/support";
import { ROOT } from "../support/cli";

/** us-west failed over from metal-sjc onto aws-us-east-1 (an `ours` pool), 25 points a step. */
function awsFailover(): { file: string; stacks: string } {
  const dir = tempDir();
  for (const folder of ["stacks", "inventory"])
    cpSync(join(ROOT, folder), join(dir, folder), { recursive: true });
  const stacks = join(dir, "stacks");
  const edit = (stack: string, change: (config: any) => void) => {
    const file = join(stacks, `Pulumi.${stack}.yaml`);
    const doc = YAML.parse(readFileSync(file, "utf8"));
    change(doc.config);
    writeFileSync(file, YAML.stringify(doc));
  };
  edit("aws-us-east-1", (config) => (config["avfleet:fleet"].mediaRegion = "us-west"));
  edit("traffic-us-west", (config) => {
    config["avfleet:traffic"].pools = [
      { stack: "metal-sjc", weight: 100 },
      { stack: "aws-us-east-1", weight: 0 },
    ];
  });
  const file = writeRunbook(stacks, {
    region: "us-west",
    traffic: "traffic-us-west",
    source: "metal-sjc",
    target: "aws-us-east-1",
    steps: FAILOVER_STEPS,
  });
  return { file, stacks };
}

test("#28 an AWS ours pool's raised floor reaches its group at the up: the failover goes through and refuses no join", async () => {
  const { file, stacks } = awsFailover();
  const r = newRehearsal(file, stacks);
  assert.deepEqual(loadWorld(r.worldFile).scheduledGroups, { "aws-us-east-1": { minSize: 6 } });
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "done", JSON.stringify(outcome));
  const world = loadWorld(r.worldFile);
  const floors = world.ups.filter((u) => u.stack === "aws-us-east-1").map((u) => u.change);
  assert.equal(floors.length, 4);
  // The group's live minimum is the last floor, and its hosts are all up.
  const last = Number(floors[3].split(" ")[1]);
  assert.deepEqual(world.scheduledGroups, { "aws-us-east-1": { minSize: last } });
  assert.equal(world.hosts["aws-us-east-1"].healthy, last);
  assert.deepEqual(refusedJoins(world), {});
});

test("#28 the same failover with markers that carry no time: the group keeps its minimum and the executor halts before any weight moves", async () => {
  const { file, stacks } = awsFailover();
  const r = newRehearsal(file, stacks);
  const { ctx, world: drivers } = executorFor(r);
  // An executor from before #28: the same set-all without the marker's time.
  const pulumi = (args: string[]) =>
    drivers.pulumi(
      args.filter((a, i) => !/migration\.at=/.test(a) && !/migration\.at=/.test(args[i + 1] ?? "")),
    );
  const outcome = await runMigration({ ...ctx, drivers: { ...drivers, pulumi } });
  assert.deepEqual(outcome, {
    kind: "check-failed",
    reason: "aws-us-east-1: 6 healthy hosts after 15 min, expected 21",
    unit: "2",
  });
  const world = loadWorld(r.worldFile);
  assert.deepEqual(world.scheduledGroups, { "aws-us-east-1": { minSize: 6 } });
  assert.equal(world.hosts["aws-us-east-1"].healthy, 6);
  // The stack's outputs say the floor was set; no weight ever moved.
  assert.ok(world.stacks["aws-us-east-1"].outputs!.minHosts > 6);
  assert.ok(world.ups.every((u) => u.stack !== "traffic-us-west"));
});
