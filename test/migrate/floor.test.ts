/**
 * Issue #30 item 3 (a fleet's minHosts carries the migration's marker) and #28 (a weight change
 * raises the receiving pools' floor a boot before it moves joins), on rehearsals of the real
 * us-west stacks and on the fixture ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { runMigration } from "../../modules/migrate/executor";
import { planUnits } from "../../modules/runbook/plan";
import { renderPlan } from "../../modules/migrate/render";
import { setMinHostsArgs } from "../../modules/runbook/pulumi-args";
import { loadWorld, refusedJoins, saveWorld, worldDrivers } from "../../modules/rehearsal/world";
import {
  executorFor,
  FAILOVER_STEPS,
  FIXTURE_STACKS,
  journalOf,
  newRehearsal,
  SHORT_RUNBOOK,
  tempDir,
  writeRunbook,
} from "./support";
import { ROOT } from "../support/cli";

/** A planned failover of us-west onto gcp-us-west1 with no scale step, 25 points at a time. */
function failover(raiseFloor?: { enabled: boolean }): string {
  const dir = tempDir();
  for (const folder of ["stacks", "inventory"])
    cpSync(join(ROOT, folder), join(dir, folder), { recursive: true });
  return writeRunbook(join(dir, "stacks"), {
    region: "us-west",
    traffic: "traffic-us-west",
    source: "metal-sjc",
    target: "gcp-us-west1",
    ...(raiseFloor ? { raiseFloor } : {}),
    steps: FAILOVER_STEPS,
  });
}

const stacksOf = (file: string) => join(file, "..");

/** Every migration marker a `set-all` wrote, in the order the executor wrote them. */
function markers(r: ReturnType<typeof newRehearsal>): { stack: string; seq: number }[] {
  return journalOf(r).flatMap((e) => {
    if (e.type !== "command-intent" || e.argv[2] !== "set-all") return [];
    const seq = e.argv.find((a) => /migration\.seq=/.test(a));
    const stack = e.argv[e.argv.indexOf("--stack") + 1];
    return seq ? [{ stack, seq: Number(seq.split("=")[1]) }] : [];
  });
}

test("#28 the plan raises gcp-us-west1's floor to what each share of the region's peak needs", () => {
  const file = failover();
  const r = newRehearsal(file, stacksOf(file));
  const shifts = planUnits(r.loaded).filter((u) => u.kind === "shift");
  assert.deepEqual(
    shifts.map((u) => (u.kind === "shift" ? u.floors : [])),
    [
      [{ stack: "gcp-us-west1", weight: 25, minHosts: 17 }],
      [{ stack: "gcp-us-west1", weight: 50, minHosts: 33 }],
      [{ stack: "gcp-us-west1", weight: 75, minHosts: 50 }],
      // The whole region: what a scale step is held to (avfleet preview's 66 hosts needed).
      [{ stack: "gcp-us-west1", weight: 100, minHosts: 66 }],
    ],
  );
  // Each floor's calls come before the weights': set-all with the marker, up, read back.
  const first = shifts[0].commands.map((c) => c.slice(0, 2).join(" "));
  assert.deepEqual(first.slice(0, 5), [
    "stack output",
    "config set-all",
    "up --yes",
    "stack output",
    "stack output",
  ]);
  assert.ok(shifts[0].commands[1].includes("avfleet:fleet.minHosts=17"));
  assert.match(
    renderPlan(r.loaded, planUnits(r.loaded)),
    /floor first → gcp-us-west1 minHosts ≥ 17 \(weight 25\), healthy within 15 min/,
  );
  const off = newRehearsal(failover({ enabled: false }), stacksOf(file));
  assert.ok(planUnits(off.loaded).every((u) => u.kind !== "shift" || u.floors.length === 0));
});

test("#28 a failover raised a boot ahead refuses no join; the same failover without it refuses thousands", async () => {
  const file = failover();
  const raised = newRehearsal(file, stacksOf(file));
  const { ctx, world: drivers } = executorFor(raised);
  // --publish carries each raised floor's stack file, before the weights' file.
  const published: string[] = [];
  const publish = async (files: string[]) => (published.push(...files), "committed");
  assert.equal((await runMigration({ ...ctx, drivers: { ...drivers, publish } })).kind, "done");
  const pool = join(stacksOf(file), "Pulumi.gcp-us-west1.yaml");
  const traffic = join(stacksOf(file), "Pulumi.traffic-us-west.yaml");
  assert.deepEqual(published, [pool, traffic, pool, traffic, pool, traffic, pool, traffic]);
  const world = loadWorld(raised.worldFile);
  assert.deepEqual(refusedJoins(world), {});
  // minHosts goes up, the hosts boot (4 min in the world), and only then do weights move.
  const ups = world.ups.map((u) => ({ change: u.change, at: u.at - world.ups[0].at }));
  assert.deepEqual(
    ups.map((u) => u.change),
    [
      "minHosts 17",
      JSON.stringify({ "metal-sjc": 75, "gcp-us-west1": 25 }),
      "minHosts 33",
      JSON.stringify({ "metal-sjc": 50, "gcp-us-west1": 50 }),
      "minHosts 50",
      JSON.stringify({ "metal-sjc": 25, "gcp-us-west1": 75 }),
      "minHosts 66",
      JSON.stringify({ "metal-sjc": 0, "gcp-us-west1": 100 }),
    ],
  );
  for (let i = 1; i < ups.length; i += 2) {
    const after = ups[i].at - ups[i - 1].at;
    assert.ok(after >= 4 * 60_000, `${ups[i].change} moved ${after} ms after its floor`);
  }
  assert.ok(
    journalOf(raised).some(
      (e) =>
        e.type === "note" &&
        /floor: gcp-us-west1 has 17 healthy hosts \(minHosts 17 for weight 25\)/.test(e.message),
    ),
  );

  const off = newRehearsal(failover({ enabled: false }), stacksOf(file));
  await runMigration(executorFor(off).ctx);
  const refused = refusedJoins(loadWorld(off.worldFile))["gcp-us-west1"] ?? 0;
  assert.ok(refused > 1000, `${refused} joins refused on gcp-us-west1's 6 hosts`);
});

test("#30 the scale step writes minHosts with the fleet's marker; seqs only grow, through a resume", async () => {
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), FIXTURE_STACKS);
  const first = await runMigration({ ...executorFor(r).ctx }, { step: true });
  assert.equal(first.kind, "stepped");
  await runMigration(executorFor(r).ctx, { step: true });
  const world = loadWorld(r.worldFile);
  const scaled = world.stacks["gcp-us-west1"].outputs!;
  assert.equal(scaled.minHosts, 12);
  assert.equal(typeof scaled.migration.seq, "number");
  assert.equal(scaled.migration.rollback, false);
  // #28: the marker carries the executor's clock at the write (the world's), what an AWS ours
  // pool takes its schedules' floor at.
  const up = world.ups.find((u) => u.stack === "gcp-us-west1")!;
  assert.equal(scaled.migration.at, new Date(up.at).toISOString());
  // Resumed by a new executor, the weight changes carry seqs above the fleet's.
  await runMigration(executorFor(r).ctx);
  const written = markers(r);
  assert.equal(written[0].stack, "gcp-us-west1");
  assert.ok(written.length > 3);
  for (let i = 1; i < written.length; i++)
    assert.ok(written[i].seq > written[i - 1].seq, JSON.stringify(written));
});

test("#30 the rehearsal's pack refuses a stale deploy of the pool mid-migration; the migration's own minHosts passes", async () => {
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), FIXTURE_STACKS);
  await runMigration(executorFor(r).ctx, { step: true });
  await runMigration(executorFor(r).ctx, { step: true });
  const world = worldDrivers(r.worldFile, loadWorld(r.worldFile));
  const applied = world.state.stacks["gcp-us-west1"].outputs!.migration.seq;
  const up = ["up", "--yes", "--policy-pack", "policy", "--stack", "gcp-us-west1"];
  // A checkout from before the scale step: minHosts 6 and the marker of an older step.
  await world.pulumi(setMinHostsArgs("gcp-us-west1", 6, { seq: 1, rollback: false }));
  const stale = await world.pulumi(up);
  assert.equal(stale.exitCode, 1);
  assert.equal(
    stale.stderr,
    `error: preview failed: mandatory policy violation: fleet-migration-order: the stack's config carries migration step 1, but the stack last applied step ${applied}: this checkout's minHosts is older than a running migration's`,
  );
  // The migration's own config, written again with its own marker, goes through.
  await world.pulumi(setMinHostsArgs("gcp-us-west1", 12, { seq: applied, rollback: false }));
  assert.equal((await world.pulumi(up)).exitCode, 0);
  assert.equal(world.state.stacks["gcp-us-west1"].outputs!.minHosts, 12);
});

test("#30 a rollback keeps the seq growing: its weights' marker is above every step's", async () => {
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), FIXTURE_STACKS, [
    "target-loss=3@25",
  ]);
  assert.equal((await runMigration(executorFor(r).ctx)).kind, "rolled-back");
  const written = markers(r);
  const rollback = journalOf(r).filter(
    (e) =>
      e.type === "command-intent" && e.argv.includes("avfleet:traffic.migration.rollback=true"),
  );
  assert.equal(rollback.length, 1);
  for (let i = 1; i < written.length; i++)
    assert.ok(written[i].seq > written[i - 1].seq, JSON.stringify(written));
});

test("#30 a journal begun afresh goes on above the marker a pool last applied, not from 1", async () => {
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), FIXTURE_STACKS);
  // The pool last applied step 500 of the region's earlier journal; the state then moved (a
  // directory to PostgreSQL, say) and this journal starts empty.
  const world = loadWorld(r.worldFile);
  world.stacks["gcp-us-west1"].outputs!.migration = { seq: 500, rollback: false };
  saveWorld(r.worldFile, world);
  // Preflight, then the scale to 12: its write goes on above 500, where the journal is at 9.
  for (let i = 0; i < 2; i++) await runMigration(executorFor(r).ctx, { step: true });
  assert.deepEqual(markers(r), [{ stack: "gcp-us-west1", seq: 501 }]);
  const { at, ...marker } = loadWorld(r.worldFile).stacks["gcp-us-west1"].outputs!.migration;
  assert.deepEqual(marker, { seq: 501, rollback: false });
  assert.match(at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
});
