/**
 * Issue #30: operating through the real Pulumi CLI on both kinds of backend. The rehearsal's
 * fake CLI (modules/rehearsal/world.ts) answers with the CLI's exit codes and each backend's own
 * words when another update holds the stack; the executor waits that out, writes a step's
 * weights in one `config set-all` with the step's marker, runs every `up` with the pack, and
 * never skips `up`'s preview.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runMigration, type Drivers } from "../../modules/migrate/executor";
import { planUnits } from "../../modules/runbook/plan";
import { setWeightsArgs, type WeightChange } from "../../modules/runbook/pulumi-args";
import { concurrentUpdate, CONFLICT_RETRY } from "../../modules/migrate/pulumi";
import type { Weights } from "../../modules/runbook/weights";
import { loadRunbook } from "../../modules/runbook/runbook";
import { foldJournal } from "../../modules/migration-state/state";
import { currentWeights, loadWorld } from "../../modules/rehearsal/world";
import { ROOT } from "../support/cli";
import {
  executorFor,
  FIXTURE_STACKS,
  journalOf,
  newRehearsal,
  SHORT_RUNBOOK,
  stacksAt,
  tempDir,
  US_WEST,
  unitOf,
  writeRunbook,
  type Rehearsal,
} from "./support";

const LOCK_TEXT = {
  diy: /^error: the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\.\n {2}s3:\/\/\S+\/\.pulumi\/locks\/organization\/avfleet\/traffic-us-west\/\S+\.json: created by teammate@ci-7 \(pid 4242\) at \S+Z$/,
  cloud:
    /^error: \[409\] Conflict: Another update is currently in progress\.\nTo learn more about possible reasons and resolution, visit https:\/\/www\.pulumi\.com\/docs\/support\/troubleshooting\/common-issues\/update-conflicts\/$/,
};

/** The `config set-all` of the traffic stack's weights (and a marker), as the executor writes it. */
const stage = (weights: Weights, change?: WeightChange) =>
  setWeightsArgs("traffic-us-west", ["metal-sjc", "gcp-us-west1"], weights, change);

/** Every pulumi call the rehearsal journaled, as argv without `pulumi`. */
const callsOf = (r: Rehearsal) =>
  journalOf(r).flatMap((e) => (e.type === "command" ? [e.argv.slice(1)] : []));

test("item 1: both backends' words for another update are a concurrent update, whatever the exit code; nothing else is", () => {
  const result = (exitCode: number, stderr: string) => ({ exitCode, stdout: "", stderr });
  const diy =
    "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.";
  const cloud = "error: [409] Conflict: Another update is currently in progress.";
  assert.equal(concurrentUpdate(result(1, diy)), "DIY backend");
  assert.equal(concurrentUpdate(result(255, diy)), "DIY backend", "a CLI before 3.227.0");
  assert.equal(concurrentUpdate(result(1, cloud)), "Pulumi Cloud");
  assert.equal(concurrentUpdate(result(255, cloud)), "Pulumi Cloud");
  assert.equal(concurrentUpdate(result(0, cloud)), undefined, "a success that mentions it");
  assert.equal(concurrentUpdate(result(1, "error: update failed")), undefined);
  assert.equal(
    concurrentUpdate(result(1, "error: [409] Conflict: over stack limit")),
    undefined,
    "another 409 (httpstate's stack limit) is no lock",
  );
});

for (const backend of ["diy", "cloud"] as const) {
  test(`item 1 + rehearsal (${backend}): a teammate's up at the 25 % step is waited out, journaled, never rolled back; the migration completes`, async () => {
    const r = newRehearsal(US_WEST, FIXTURE_STACKS, [`concurrent-up=${backend}@25`]);
    const outcome = await runMigration(executorFor(r).ctx);
    assert.equal(outcome.kind, "waiting-approval", outcome.reason);
    assert.equal(outcome.unit, unitOf(r, { kind: "approve" }));
    assert.deepEqual(currentWeights(loadWorld(r.worldFile)), {
      "metal-sjc": 0,
      "gcp-us-west1": 100,
    });
    const entries = journalOf(r);
    const unit = unitOf(r, { weight: 25 });
    const locked = entries.filter(
      (e) => e.type === "command" && e.unit === unit && e.exitCode !== 0,
    );
    // 90 s of the teammate's update: attempts at 0, 2, 6, 14, 30 and 62 s are kept out.
    assert.equal(locked.length, 6);
    for (const e of locked) {
      assert.ok(e.type === "command");
      assert.equal(e.exitCode, 1, "CLI ≥ 3.227.0: a lock is a plain error");
      assert.deepEqual(e.argv.slice(0, 2), ["pulumi", "up"]);
    }
    const words = backend === "diy" ? "DIY backend" : "Pulumi Cloud";
    const notes = entries.flatMap((e) => (e.type === "note" && e.unit === unit ? [e.message] : []));
    assert.deepEqual(
      notes,
      ["2s", "4s", "8s", "16s", "32s", "1 min"].map(
        (wait, i) =>
          `another update holds traffic-us-west (${words}); retry ${i + 1}/${CONFLICT_RETRY.retries} in ${wait}`,
      ),
    );
    assert.equal(entries.filter((e) => e.type === "rollback-intent").length, 0, "not rolled back");
    const world = loadWorld(r.worldFile);
    // The teammate deployed the stack file as it was before the run: the pack refused it.
    assert.match(
      world.concurrent!.outcome,
      /^refused by traffic-migration-order: the stack's config carries no migration step, but the stack last applied step \d+: /,
    );
    assert.ok(
      world.ups.every((u) => !u.change.includes("teammate")),
      "the stale checkout changed nothing",
    );
  });

  test(`item 1 (${backend}): the fake CLI's lock message is the backend's own, exit 1`, async () => {
    const r = newRehearsal(US_WEST, FIXTURE_STACKS, [`concurrent-up=${backend}@1`]);
    const { world } = executorFor(r);
    const set = await world.pulumi(stage({ "metal-sjc": 99, "gcp-us-west1": 1 }));
    assert.equal(set.exitCode, 0, "config writes the stack file: no lock");
    const up = await world.pulumi([
      "up",
      "--yes",
      "--policy-pack",
      "policy",
      "--stack",
      "traffic-us-west",
    ]);
    assert.equal(up.exitCode, 1);
    assert.match(up.stderr, LOCK_TEXT[backend]);
    assert.equal(concurrentUpdate(up), backend === "diy" ? "DIY backend" : "Pulumi Cloud");
  });
}

test("item 1: an update that holds the stack through every retry stops the run (not a rollback), leaves nothing staged, and the next run resumes the step", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const { ctx, world } = executorFor(r);
  let lockedUps = 0;
  // Another update holds the stack whenever the 25 % change is staged: longer than any retry.
  const staged = () => world.state.stacks["traffic-us-west"].staged;
  const drivers: Drivers = {
    ...world,
    pulumi: async (args, fence) => {
      if (args[0] !== "up" || staged()["avfleet:traffic.pools[1].weight"] !== 25)
        return world.pulumi(args, fence);
      lockedUps++;
      const stderr = "error: [409] Conflict: Another update is currently in progress.";
      return { exitCode: 1, stdout: "", stderr };
    },
  };
  const stopped = await runMigration({ ...ctx, drivers });
  assert.equal(stopped.kind, "tool-failed");
  assert.equal(stopped.unit, unitOf(r, { weight: 25 }));
  assert.match(
    stopped.reason,
    /^pulumi up traffic-us-west: error: \[409\] Conflict: .* \(Pulumi Cloud: another update held the stack through every retry; nothing was applied, run again\)$/,
  );
  assert.equal(lockedUps, CONFLICT_RETRY.retries + 1);
  const state = foldJournal(journalOf(r));
  assert.equal(state.pendingRollback, undefined);
  assert.equal(journalOf(r).filter((e) => e.type === "rollback-intent").length, 0);
  const after = loadWorld(r.worldFile);
  assert.deepEqual(currentWeights(after), { "metal-sjc": 95, "gcp-us-west1": 5 });
  assert.equal(
    after.stacks["traffic-us-west"].staged["avfleet:traffic.pools[1].weight"],
    5,
    "the stack file holds the deployed weights again",
  );
  const resumed = await runMigration(executorFor(r).ctx);
  assert.equal(resumed.kind, "waiting-approval", resumed.reason);
});

test("item 3: each weight change is one `config set-all` of every pool and the step's marker, whose seq only grows; the stack applies the marker with the weights", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  await runMigration(executorFor(r).ctx);
  const entries = journalOf(r);
  const markers: number[] = [];
  entries.forEach((e, i) => {
    if (e.type !== "weights-intent") return;
    const writes = entries
      .slice(i + 1)
      .filter((c) => c.type === "command" && c.unit === e.unit && c.argv[1] === "config");
    assert.ok(writes[0]?.type === "command");
    assert.deepEqual(writes[0].argv, [
      "pulumi",
      "config",
      "set-all",
      "--path",
      "--plaintext",
      `avfleet:traffic.pools[0].weight=${e.weights["metal-sjc"]}`,
      "--plaintext",
      `avfleet:traffic.pools[1].weight=${e.weights["gcp-us-west1"]}`,
      "--plaintext",
      `avfleet:traffic.migration.seq=${i + 1}`,
      "--plaintext",
      "avfleet:traffic.migration.rollback=false",
      "--stack",
      "traffic-us-west",
    ]);
    markers.push(i + 1);
  });
  assert.equal(markers.length, 6, "1, 5, 25, 50, 75, 100 % (the drain finds 100 % in place)");
  assert.ok(markers.every((m, i) => i === 0 || m > markers[i - 1]));
  assert.ok(
    callsOf(r).every((argv) => !(argv[1] === "set" && argv.includes("traffic-us-west"))),
    "no traffic weight is written on its own",
  );
  const traffic = loadWorld(r.worldFile).stacks["traffic-us-west"].outputs!;
  assert.deepEqual(traffic.migration, { seq: markers.at(-1), rollback: false });
});

test("item 6: every up runs the pack, and a rollback of 50 points (maxStepPct 25) passes it with the executor's rollback marker", async () => {
  const runbook = structuredClone(SHORT_RUNBOOK);
  runbook.steps[2].weights = [25, 50];
  runbook.steps[4].weights = [75, 100];
  const r = newRehearsal(writeRunbook(tempDir(), runbook), stacksAt(50, 50), ["target-loss=3@50"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "rolled-back", outcome.reason);
  assert.deepEqual(currentWeights(loadWorld(r.worldFile)), { "metal-sjc": 100, "gcp-us-west1": 0 });
  const ups = callsOf(r).filter((argv) => argv[0] === "up");
  assert.ok(ups.length > 0);
  for (const argv of ups)
    assert.deepEqual(argv.slice(0, 5), ["up", "--yes", "--refresh", "--policy-pack", "policy"]);
  const rollbackWrite = callsOf(r).find((argv) =>
    argv.includes("avfleet:traffic.migration.rollback=true"),
  );
  assert.ok(rollbackWrite, "the rollback's write carries the marker");
  assert.ok(rollbackWrite.includes("avfleet:traffic.pools[1].weight=0"));
});

test("item 6: the same 50-point move without the rollback marker is refused by the pack's step rule", async () => {
  const r = newRehearsal(US_WEST, stacksAt(50, 50));
  const { world } = executorFor(r);
  const write = (rollback: boolean, seq: number) =>
    world.pulumi(stage({ "metal-sjc": 100, "gcp-us-west1": 0 }, { seq, rollback }));
  const up = () =>
    world.pulumi([
      "up",
      "--yes",
      "--refresh",
      "--policy-pack",
      "policy",
      "--stack",
      "traffic-us-west",
    ]);
  await write(false, 3);
  const refused = await up();
  assert.equal(refused.exitCode, 1);
  assert.equal(
    refused.stderr,
    "error: preview failed: mandatory policy violation: traffic-weights: this change moves 50 points of traffic, more than maxStepPct 25",
  );
  await write(true, 3);
  assert.equal((await up()).exitCode, 0);
  assert.deepEqual(currentWeights(loadWorld(r.worldFile)), { "metal-sjc": 100, "gcp-us-west1": 0 });
});

test("item 8: no call the executor makes skips up's preview, in any runbook's plan or a whole rehearsal; the fake CLI refuses one that does", async () => {
  const skips = (argv: string[]) => argv.includes("--skip-preview") || argv.includes("-f");
  const dir = join(ROOT, "runbooks");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
    const units = planUnits(loadRunbook(join(dir, file), join(ROOT, "stacks")));
    const ups = units.flatMap((u) => u.commands).filter((argv) => argv[0] === "up");
    assert.ok(ups.length > 0, file);
    assert.ok(!units.flatMap((u) => u.commands).some(skips), file);
  }
  const r = newRehearsal(US_WEST, FIXTURE_STACKS, ["target-loss=3@50"]);
  await runMigration(executorFor(r).ctx);
  assert.ok(callsOf(r).some((argv) => argv[0] === "up"));
  assert.ok(!callsOf(r).some(skips));
  const { world } = executorFor(r);
  for (const flag of ["--skip-preview", "-f"]) {
    const result = await world.pulumi(["up", "--yes", flag, "--stack", "traffic-us-west"]);
    assert.equal(result.exitCode, 2);
    assert.equal(
      result.stderr,
      "error: up without its preview: the policy pack would judge nothing before the update",
    );
  }
});

test("item 9: the fake CLI exits as CLI ≥ 3.227.0 does: stack not found 6, a bad command 2, a failed update 1", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS, ["up-fail@1"]);
  const { world } = executorFor(r);
  const missing = await world.pulumi(["stack", "output", "--json", "--stack", "traffic-nowhere"]);
  assert.deepEqual(missing, {
    exitCode: 6,
    stdout: "",
    stderr: "error: no stack named 'traffic-nowhere' found",
  });
  const bad = await world.pulumi(["stack", "rename", "--stack", "traffic-us-west"]);
  assert.equal(bad.exitCode, 2);
  await world.pulumi(stage({ "metal-sjc": 99, "gcp-us-west1": 1 }));
  const failed = await world.pulumi(["up", "--yes", "--refresh", "--stack", "traffic-us-west"]);
  assert.equal(failed.exitCode, 1);
  assert.match(failed.stderr, /^error: update failed: .*Throttling/);
});
