/** Relative gates in runbooks: loaded with their defaults, run by the executor, shown by status. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { COMPARE_DEFAULTS, MIN_MINUTES } from "../../modules/gates/compare";
import { runMigration } from "../../modules/migrate/executor";
import { prometheusProvider } from "../../modules/gates/prometheus";
import { renderStatus, statusOf } from "../../modules/migrate/render";
import { loadRunbook } from "../../modules/runbook/runbook";
import { foldJournal } from "../../modules/migration-state/state";
import { avfleet } from "../support/cli";
import {
  executorFor,
  journalOf,
  FIXTURE_STACKS,
  newRehearsal,
  SHORT_RUNBOOK,
  tempDir,
  US_WEST,
  writeRunbook,
} from "../migrate/support";

/**
 * SHORT_RUNBOOK with a relative packet-loss gate beside each shift's absolute ones, and room
 * for the sequential test to gather its evidence.
 */
function comparing(gate: Record<string, unknown> = {}): string {
  const steps = SHORT_RUNBOOK.steps.map((s) =>
    s.kind === "shift"
      ? {
          ...s,
          maxBake: "60m",
          gates: [...s.gates!, { slo: "packet-loss", compare: "source", ...gate }],
        }
      : s,
  );
  return writeRunbook(tempDir(), { ...SHORT_RUNBOOK, steps });
}

test("a relative gate loads with its own defaults; a bad one is refused with the key path", () => {
  const loaded = loadRunbook(comparing(), FIXTURE_STACKS);
  const shift = loaded.runbook.steps.find((s) => s.kind === "shift")!;
  assert.ok(shift.kind === "shift");
  assert.deepEqual(shift.gates.at(-1), {
    slo: "packet-loss",
    compare: "source",
    pool: "target",
    critical: true,
    ...COMPARE_DEFAULTS,
  });
  // absolute gates keep theirs
  assert.equal(shift.gates[0].minSamples, 3);
  assert.throws(
    () => loadRunbook(comparing({ compare: "target", confidence: 1 }), FIXTURE_STACKS),
    (err: Error) =>
      /steps\[2\]\.gates\[2\]\.compare: is "target", expected source/.test(err.message) &&
      /steps\[2\]\.gates\[2\]\.confidence: is 1, expected/.test(err.message),
  );
});

test("a loss the thresholds let through (0.8 %) rolls back on the relative gate, at its first round with five minutes of evidence", async () => {
  const r = newRehearsal(comparing(), FIXTURE_STACKS, ["target-loss=0.8@25"]);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "rolled-back");
  assert.match(
    outcome.reason,
    /^packet-loss vs source on gcp-usw1 failed at weight 25: target worse: mean 0\.00\d+ vs 0\.00\d+, \+\d+(\.\d+)? % \(99 % sequence \+\d+(\.\d+)? % to \+\d+(\.\d+)? %\) above floor \+50 %, p [\d.e-]+, \d+ vs \d+ sessions, over \d+ minutes \(shared per-minute causes [\d.]+ % of the variance\)$/,
  );
  const state = foldJournal(journalOf(r));
  const rounds = state.rounds.filter((g) => g.unit === outcome.unit);
  // gates every minute: the first four rounds have too few minutes to tell a shared bad minute
  // from an effect, the fifth decides
  assert.equal(rounds.length, MIN_MINUTES, "rolled back at the first round it could");
  for (const round of rounds.slice(0, -1)) {
    assert.match(
      round.evaluations.at(-1)!.reason,
      /minute\(s\) with calls on both pools, fewer than the 5/,
    );
  }
  const last = rounds.at(-1)!;
  assert.equal(last.verdict, "critical-fail");
  // the absolute packet-loss gate did not fail: 0.8 % is under its 1 %
  assert.notEqual(last.evaluations[0].verdict, "fail");
  const relative = last.evaluations.at(-1)!;
  assert.equal(relative.verdict, "fail");
  // 0.8 % against about 0.2 %: the target's loss is several times the source's
  assert.ok(relative.pValue! < 0.01 && relative.effect! > 2 && relative.interval![0] > 0.5);
  assert.ok(relative.sourceSamples! > 100 && relative.targetSamples! > 100);
  // status shows the test's figures from the journal
  const text = renderStatus(statusOf(r.loaded, executorFor(r).ctx.units, state, {}));
  assert.match(text, /FAIL {9}packet-loss vs source on gcp-usw1 \(critical\): target worse/);
  assert.match(
    text,
    /samples \d+ vs \d+; effect [\d.]+ in \[[\d.]+, [\d.]+\] \(floor 0\.5\); p [\d.e-]+ \(alpha 0\.01\)/,
  );
});

test("a healthy target passes the relative gates all the way", async () => {
  const r = newRehearsal(comparing(), FIXTURE_STACKS);
  const outcome = await runMigration(executorFor(r).ctx);
  assert.equal(outcome.kind, "waiting-approval", outcome.reason);
  const state = foldJournal(journalOf(r));
  const relative = state.rounds.flatMap((g) => g.evaluations.filter((e) => e.sourceQuery));
  assert.ok(relative.length > 0);
  assert.ok(relative.every((e) => e.verdict !== "fail"));
});

test("the provider's consecutive-error limit holds at once, not at maxBake", async () => {
  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
  const port = (dead.address() as AddressInfo).port;
  await new Promise((resolve) => dead.close(resolve));
  // nothing listens there now: every gate query is refused
  const failing = prometheusProvider({
    url: `http://127.0.0.1:${port}`,
    region: "us-west",
    retries: 0,
    errorLimit: 3,
  });
  const r = newRehearsal(comparing(), FIXTURE_STACKS);
  const { ctx, world } = executorFor(r);
  const metrics = { ...world.metrics, range: failing.range, histogram: failing.histogram };
  const outcome = await runMigration({ ...ctx, drivers: { ...world, metrics } });
  assert.equal(outcome.kind, "held");
  assert.match(outcome.reason, /^metrics provider failing: .*failed queries in a row \(limit 3\)/);
  const state = foldJournal(journalOf(r));
  assert.equal(state.rounds.length, 1, "held at the first round");
  assert.equal(state.rounds[0].verdict, "inconclusive", "never a pass, never a failure");
});

test("--prometheus takes an http(s) URL, for real runs only", () => {
  const state = tempDir();
  const bad = avfleet([
    "migrate",
    "run",
    US_WEST,
    "--state-dir",
    state,
    "--prometheus",
    "localhost",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--prometheus localhost is not an http\(s\) URL/);
  const rehearsal = avfleet([
    "migrate",
    "run",
    US_WEST,
    "--state-dir",
    state,
    "--rehearse",
    "--prometheus",
    "http://127.0.0.1:9090",
  ]);
  assert.equal(rehearsal.code, 2);
  assert.match(rehearsal.stderr, /--prometheus is for real runs/);
});
