import { test } from "node:test";
import assert from "node:assert/strict";
import { InputError } from "../../modules/inputs/problems";
import {
  abortMigration,
  approveMigration,
  rollbackMigration,
  runMigration,
} from "../../modules/migrate/executor";
import { acquireLock } from "../../modules/migration-state/lock";
import { hostname } from "node:os";
import { localBackend, statePaths } from "../../modules/migration-state/backend";
import { foldJournal } from "../../modules/migration-state/state";
import { currentWeights, loadWorld } from "../../modules/rehearsal/world";
import {
  executorFor,
  FIXTURE_STACKS,
  journalOf,
  newRehearsal,
  SHORT_RUNBOOK,
  stacksAt,
  tempDir,
  tempStacks,
  US_WEST,
  writeRunbook,
  unitOf,
  type Rehearsal,
} from "./support";

const weightsOf = (r: Rehearsal) => currentWeights(loadWorld(r.worldFile));

test("rehearsal without faults: cloud at 100, metal drained, stopped at the decommission approval", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "waiting-approval");
  assert.equal(outcome.unit, unitOf(r, { kind: "approve" }));
  assert.deepEqual(weightsOf(r), { "metal-sjc": 0, "gcp-us-west1": 100 });
  const world = loadWorld(r.worldFile);
  assert.ok(
    world.minutes.at(-1)!.sessions["metal-sjc"] < 50,
    "metal-sjc drained below 50 sessions",
  );
  assert.deepEqual(
    world.ups.map((u) => u.change),
    [
      "minHosts 66",
      ...[1, 5, 25, 50, 75, 100].map((w) =>
        JSON.stringify({ "metal-sjc": 100 - w, "gcp-us-west1": w }),
      ),
    ],
  );
  const state = foldJournal(journalOf(r));
  assert.equal(state.pendingApproval?.unit, unitOf(r, { kind: "approve" }));
  // every weight bakes until its sequential gates decide: at least 10 min, at most 90, and
  // 1 % (few new calls on the target) needs more rounds than 25 %
  const rounds = (weight: number) => state.rounds.filter((g) => g.unit === unitOf(r, { weight }));
  for (const weight of [1, 5, 25, 50, 75, 100]) {
    const bake = rounds(weight);
    assert.equal(bake.at(-1)?.verdict, "pass", `weight ${weight} promoted on a pass`);
    assert.ok(bake.length >= 2 && bake.length < 18, `weight ${weight}: ${bake.length} rounds`);
  }
  assert.ok(rounds(1).length > rounds(25).length, "1 % bakes longer than 25 %");

  // approve, and the run retires metal-sjc and ends
  const approval = await approveMigration(executorFor(r, { by: "alice" }).ctx);
  assert.equal(approval.by, "alice");
  assert.equal(approval.expiresAt - approval.at, 2 * 3_600_000);
  const end = await runMigration(executorFor(r).ctx);
  assert.equal(end.kind, "done");
  assert.equal(loadWorld(r.worldFile).stacks["metal-sjc"].outputs, null);
  assert.equal((await runMigration(executorFor(r).ctx)).reason, "already complete");
});

test("target-loss=3@25: the critical packet-loss gate rolls back to the last good weights", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS, ["target-loss=3@25"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "rolled-back");
  assert.equal(outcome.unit, unitOf(r, { weight: 25 }));
  // both the threshold and the relative gate see it
  assert.match(
    outcome.reason,
    /^packet-loss on gcp-usw1 failed at weight 25: mean 0\.03\d* over \d+ samples, not < 0\.01; packet-loss vs source on gcp-usw1 failed at weight 25: target worse: /,
  );
  assert.deepEqual(weightsOf(r), { "metal-sjc": 95, "gcp-us-west1": 5 });
  const state = foldJournal(journalOf(r));
  assert.equal(state.halt?.kind, "rolled-back");
  assert.deepEqual(state.lastRollback?.from, { "metal-sjc": 75, "gcp-us-west1": 25 });
  // run again: refuses to go on without --restart, writes nothing
  const before = journalOf(r).length;
  const again = await runMigration(executorFor(r).ctx);
  assert.equal(again.kind, "rolled-back");
  assert.match(again.reason, /fix the cause, then run with --restart/);
  assert.equal(journalOf(r).length, before);
});

test("metrics-outage: the rehearsal holds after 5 failed queries in a row, as a real run's Prometheus provider does", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS, ["metrics-outage@25"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "held");
  assert.equal(outcome.unit, unitOf(r, { weight: 25 }));
  assert.match(
    outcome.reason,
    /^metrics provider failing: .*: query failed: 5 failed queries in a row \(limit 5\); last: metrics backend unavailable: 503/,
  );
  const state = foldJournal(journalOf(r));
  const rounds = state.rounds.filter((g) => g.unit === unitOf(r, { weight: 25 }));
  // four absolute gates and two relative ones (a query per pool) a round: the limit falls in
  // the first round
  assert.equal(rounds.length, 1, "held at the first round, not after an extended bake");
  assert.equal(state.queryErrors, 6, "query errors are counted, apart from failures");
  assert.deepEqual(
    weightsOf(r),
    { "metal-sjc": 75, "gcp-us-west1": 25 },
    "a hold keeps the weights",
  );
  // a human accepts the weight; the next weight is inconclusive again
  await approveMigration(executorFor(r, { by: "carol" }).ctx);
  const next = await runMigration(executorFor(r).ctx);
  assert.equal(next.kind, "held");
  assert.equal(next.unit, unitOf(r, { weight: 50 }));
  assert.match(
    foldJournal(journalOf(r)).completed.get(unitOf(r, { weight: 25 }))!.summary,
    /accepted by carol/,
  );
  // and an operator rollback goes back to the last good weights, skipping gates
  const back = await rollbackMigration(executorFor(r, { by: "dave" }).ctx);
  assert.equal(back.kind, "rolled-back");
  assert.deepEqual(weightsOf(r), { "metal-sjc": 75, "gcp-us-west1": 25 });
});

test("up-fail: pulumi's error lands in the journal and the dirty config is rolled back", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS, ["up-fail@25"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "rolled-back");
  assert.match(
    outcome.reason,
    /^weight change failed: pulumi up traffic-us-west: error: update failed: .*Throttling/,
  );
  const failed = journalOf(r).find((e) => e.type === "command" && e.exitCode !== 0);
  assert.deepEqual(failed?.type === "command" && failed.argv, [
    "pulumi",
    "up",
    "--yes",
    "--refresh",
    "--policy-pack",
    "policy",
    "--stack",
    "traffic-us-west",
  ]);
  assert.deepEqual(weightsOf(r), { "metal-sjc": 95, "gcp-us-west1": 5 });
  assert.deepEqual(
    loadWorld(r.worldFile).stacks["traffic-us-west"].staged,
    {},
    "no weight change left staged",
  );
});

test("abort while waiting for an approval withdraws it; the next run asks again", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  await runMigration(executorFor(r).ctx);
  const aborted = await abortMigration(executorFor(r, { by: "erin" }).ctx, "wrong window");
  assert.equal(aborted.kind, "aborted");
  assert.equal(aborted.reason, "aborted by erin: wrong window");
  await assert.rejects(approveMigration(executorFor(r, { by: "alice" }).ctx), InputError);
  const again = await runMigration(executorFor(r).ctx);
  assert.equal(again.kind, "waiting-approval");
  assert.equal(again.unit, unitOf(r, { kind: "approve" }));
});

test("abort during a bake stops at the next check; run resumes the same bake", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const { ctx } = executorFor(r);
  ctx.onEntry = (entry) => {
    if (entry.type === "gates" && entry.unit === unitOf(r, { weight: 1 }) && entry.round === 2)
      void ctx.backend.requestAbort(ctx.key, { by: "frank", reason: "pager" });
  };
  const outcome = await runMigration(ctx);
  assert.equal(outcome.kind, "aborted");
  assert.equal(outcome.unit, unitOf(r, { weight: 1 }));
  const resumed = await runMigration(executorFor(r).ctx);
  assert.equal(resumed.kind, "waiting-approval");
  const rounds = foldJournal(journalOf(r)).rounds.filter(
    (g) => g.unit === unitOf(r, { weight: 1 }),
  );
  assert.ok(rounds.length > 2, "the abort came mid-bake");
  assert.deepEqual(
    rounds.map((g) => g.round),
    rounds.map((_, i) => i + 1),
    "the bake went on where it stopped",
  );
});

test("a changed runbook does not resume without --restart; a restart never moves weights back", async () => {
  const stacks = tempStacks();
  const dir = tempDir();
  const file = writeRunbook(dir, SHORT_RUNBOOK);
  const r = newRehearsal(file, stacks, ["target-loss=3@75"]);
  assert.equal((await runMigration(executorFor(r).ctx)).kind, "rolled-back");
  assert.deepEqual(weightsOf(r), { "metal-sjc": 50, "gcp-us-west1": 50 });
  const changed = structuredClone(SHORT_RUNBOOK);
  changed.steps[4].gates = [{ slo: "packet-loss", threshold: 0.05 } as any];
  writeRunbook(dir, changed);
  const edited: Rehearsal = { ...r, loaded: newRehearsal(file, stacks).loaded };
  await assert.rejects(
    runMigration(executorFor(edited).ctx),
    /has changed since its journal's run .* run with --restart/,
  );
  const upsBefore = loadWorld(r.worldFile).ups.length;
  const outcome = await runMigration(executorFor(edited).ctx, { restart: true });
  assert.equal(outcome.kind, "waiting-approval");
  const state = foldJournal(journalOf(r));
  assert.match(state.completed.get("3")!.summary, /^skipped: gcp-us-west1 is already at 50/);
  assert.deepEqual(
    loadWorld(r.worldFile)
      .ups.slice(upsBefore)
      .map((u) => JSON.parse(u.change)["gcp-us-west1"]),
    [75, 100],
    "the restart applied only the weights above where traffic was",
  );
});

test("a second executor on the same runbook is refused while the first holds the lock", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  const { ctx } = executorFor(r, { pid: 7 });
  const held = acquireLock(statePaths(r.stateDir).lock, { pid: 8, since: 0, by: "bob" });
  await assert.rejects(
    runMigration({ ...ctx, backend: localBackend(r.stateDir, { pid: 7, alive: () => true }) }),
    new RegExp(`held by bob \\(executor pid 8 on ${hostname()}\\)`),
  );
  held.release();
});

test("approvals expire: a stale approval is noted and asked for again", async () => {
  const r = newRehearsal(US_WEST, FIXTURE_STACKS);
  await runMigration(executorFor(r).ctx);
  await approveMigration(executorFor(r, { by: "alice" }).ctx);
  const later = executorFor(r);
  await later.world.clock.sleep(3 * 3_600_000);
  const outcome = await runMigration(later.ctx);
  assert.equal(outcome.kind, "waiting-approval");
  assert.ok(
    journalOf(r).some((e) => e.type === "note" && /approval by alice expired/.test(e.message)),
  );
});

test("the example runbook stays loadable once the migration rewrote the traffic stack's weights", () => {
  const stacks = stacksAt(50, 50);
  assert.equal(newRehearsal(US_WEST, stacks).loaded.runbook.region, "us-west");
});

test("target-loss at the weight traffic already has: active at once, and the rollback never returns to that weight", async () => {
  const stacks = stacksAt(90, 10);
  const runbook = structuredClone(SHORT_RUNBOOK);
  runbook.steps[2].weights = [10, 25];
  const r = newRehearsal(writeRunbook(tempDir(), runbook), stacks, ["target-loss=3@10"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "rolled-back");
  assert.match(outcome.reason, /^packet-loss on gcp-usw1 failed at weight 10: mean 0\.03/);
  const state = foldJournal(journalOf(r));
  const world = loadWorld(r.worldFile);
  assert.equal(world.triggered["target-loss=3@10"], world.minutes[0].t, "active from the start");
  assert.deepEqual(state.lastRollback?.from, { "metal-sjc": 90, "gcp-us-west1": 10 });
  assert.deepEqual(state.lastRollback?.to, { "metal-sjc": 100, "gcp-us-west1": 0 });
  assert.deepEqual(weightsOf(r), { "metal-sjc": 100, "gcp-us-west1": 0 });
  assert.ok(
    world.ups.every((u) => !u.change.includes('"gcp-us-west1":25')),
    "25 was never applied",
  );
});

test("a drain that runs out with calls left holds with the figure; only an approval of it goes on to decommission", async () => {
  const stacks = tempStacks();
  const dir = tempDir();
  const runbook = structuredClone(SHORT_RUNBOOK);
  // metal-sjc cannot get below 10 sessions within 10 minutes: calls last longer than that
  runbook.steps[5] = { kind: "drain", belowSessions: 10, maxWait: "10m", interval: "5m" };
  const r = newRehearsal(writeRunbook(dir, runbook), stacks);
  const held = await runMigration(executorFor(r).ctx);
  assert.equal(held.kind, "held");
  assert.equal(held.unit, unitOf(r, { kind: "drain" }));
  assert.match(
    held.reason,
    /^drain ran out after 10 min with \d+ sessions still on metal-sjc \(drained means fewer than 10\); approve to go on \(the steps after it retire metal-sjc and end those calls\), or roll back$/,
  );
  const left = Number(/with (\d+) sessions/.exec(held.reason)![1]);
  assert.ok(left >= 10, `${left} sessions left`);
  const state = foldJournal(journalOf(r));
  assert.equal(state.completed.has(unitOf(r, { kind: "drain" })), false, "the drain is not done");
  assert.equal(
    loadWorld(r.worldFile).stacks["metal-sjc"].outputs !== null,
    true,
    "metal-sjc stands",
  );
  // a run without a decision holds again, and never reaches the decommission
  assert.equal((await runMigration(executorFor(r).ctx)).kind, "held");
  await approveMigration(executorFor(r, { by: "alice" }).ctx);
  const next = await runMigration(executorFor(r).ctx);
  assert.equal(next.kind, "waiting-approval");
  assert.equal(next.unit, unitOf(r, { kind: "approve" }));
  const drain = foldJournal(journalOf(r)).completed.get(unitOf(r, { kind: "drain" }))!;
  assert.match(drain.summary, /ran out with sessions left on metal-sjc .*accepted by alice/);
});
