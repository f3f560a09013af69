import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs, { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localBackend, statePaths, thisHolder } from "../../modules/migration-state/backend";
import { readJournal, type Entry } from "../../modules/migration-state/journal";
import { acquireLock, LockedError } from "../../modules/migration-state/lock";
import { foldJournal, nextUnit, validApproval } from "../../modules/migration-state/state";
import { ROOT } from "../support/cli";
import { tempDir } from "../migrate/support";

const units = ["1", "2", "3"].map((id) => ({ id }));
const e = (entry: Record<string, unknown>, at = 0) => ({ at, ...entry }) as Entry;

test("a torn last line (a kill mid-write) is ignored on read and cut before the next append", async () => {
  const dir = tempDir();
  const file = statePaths(dir).journal;
  const backend = localBackend(dir);
  const first = await backend.acquire(".", thisHolder("t"));
  await backend.append(first, 0, e({ type: "step-start", unit: "1", title: "one" }));
  await first.release();
  appendFileSync(file, '{"type":"step-end","unit":"1","summ');
  assert.deepEqual(
    readJournal(file).map((x) => x.type),
    ["step-start"],
  );
  const again = await backend.acquire(".", thisHolder("t"));
  await backend.append(again, 1, e({ type: "step-end", unit: "1", summary: "done" }));
  await again.release();
  assert.deepEqual(
    readJournal(file).map((x) => x.type),
    ["step-start", "step-end"],
  );
  assert.ok(readFileSync(file, "utf8").endsWith("}\n"));
});

test("a broken line before the last is an error, not silently skipped", () => {
  const file = join(tempDir(), "journal.jsonl");
  writeFileSync(file, 'garbage\n{"type":"note","message":"x","at":0}\n');
  assert.throws(() => readJournal(file), /line 1 is not JSON/);
});

test("resume goes on after the last completed unit; a restart starts the units over", () => {
  const entries = [
    e({ type: "start", hash: "a", pid: 1, restart: false, mode: "rehearse" }),
    e({ type: "baseline", weights: { m: 100, c: 0 } }),
    e({ type: "step-end", unit: "1", summary: "ok" }),
    e({ type: "step-start", unit: "2", title: "two" }, 5),
    e({ type: "weights-intent", unit: "2", weights: { m: 90, c: 10 } }),
  ];
  const state = foldJournal(entries);
  assert.equal(nextUnit(units, state)?.id, "2");
  assert.equal(state.started.get("2"), 5);
  assert.deepEqual(state.lastGood, { m: 100, c: 0 });
  const restarted = foldJournal([
    ...entries,
    e({ type: "start", hash: "b", pid: 2, restart: true, mode: "rehearse" }),
  ]);
  assert.equal(nextUnit(units, restarted)?.id, "1");
  assert.equal(restarted.hash, "b");
  assert.deepEqual(restarted.lastGood, { m: 100, c: 0 }, "the last good weights survive a restart");
});

test("approvals record who and when, and expire", () => {
  const state = foldJournal([
    e({ type: "start", hash: "a", pid: 1, restart: false, mode: "rehearse" }),
    e({ type: "approval-requested", unit: "2", reason: "go?", hold: false }, 10),
    e({ type: "approved", unit: "2", by: "alice", expiresAt: 1000 }, 20),
  ]);
  assert.equal(state.pendingApproval, undefined);
  assert.deepEqual(validApproval(state, "2", 999), {
    unit: "2",
    by: "alice",
    at: 20,
    expiresAt: 1000,
  });
  assert.equal(validApproval(state, "2", 1001), undefined);
});

test("an abort withdraws a pending approval request", () => {
  const state = foldJournal([
    e({ type: "start", hash: "a", pid: 1, restart: false, mode: "rehearse" }),
    e({ type: "approval-requested", unit: "2", reason: "go?", hold: false }),
    e({ type: "abort", by: "bob", reason: "stop" }),
  ]);
  assert.equal(state.pendingApproval, undefined);
  assert.equal(state.lastAbort?.by, "bob");
});

test("the lock keeps a second executor out and is taken over from a dead one", () => {
  const file = join(tempDir(), "lock");
  const holder = (pid: number) => ({ pid, since: 0, token: pid });
  const first = acquireLock(file, holder(100), () => true);
  assert.throws(() => acquireLock(file, holder(200), () => true), LockedError);
  const second = acquireLock(file, holder(200), (pid) => pid !== 100);
  assert.equal(second.takenFrom?.pid, 100);
  first.release(); // no longer the holder: leaves the lock alone
  assert.throws(
    () => acquireLock(file, holder(300), (pid) => pid === 200),
    /held by executor pid 200/,
  );
  second.release();
  acquireLock(file, holder(300), () => true).release();
});

test("executors racing for one lock: exactly one gets it, the others are told who holds it", async () => {
  const dir = tempDir();
  const file = join(dir, "lock");
  // Barriers by files, not by time (a loaded machine starts tsx in seconds): every contender
  // says it is ready, all try at once when "start" appears, each reports, and the holder holds
  // on until every other has reported, as an executor holds its lock for the run.
  const signals = tempDir();
  const contender = `
    const { acquireLock } = require(${JSON.stringify(join(ROOT, "modules/migration-state/lock.ts"))});
    const { existsSync } = require("node:fs");
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const waitFor = (f) => { while (!existsSync(f)) Atomics.wait(nap, 0, 0, 1); };
    process.stdout.write("ready\\n");
    waitFor(${JSON.stringify(join(signals, "start"))});
    let outcome, lock;
    try {
      lock = acquireLock(${JSON.stringify(file)}, { pid: process.pid, since: Date.now() });
      outcome = lock.takenFrom ? "took-over" : "holds";
    } catch (err) {
      outcome = /held by executor pid \\d+/.test(err.message) ? "refused" : "error: " + err.message;
    }
    process.stdout.write(outcome + "\\n");
    if (lock) {
      waitFor(${JSON.stringify(join(signals, "done"))});
      lock.release();
    }
  `;
  const said = (out: string) => out.split("\n").filter(Boolean);
  const until = async (what: string, test: () => boolean) => {
    for (const deadline = Date.now() + 120_000; !test();) {
      if (Date.now() > deadline) throw new Error(`contenders never ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  for (let round = 0; round < 3; round++) {
    for (const f of ["start", "done"]) fs.rmSync(join(signals, f), { force: true });
    const contenders = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", "-e", contender]);
      const c = { out: "", exited: new Promise((done) => child.on("exit", done)) };
      child.stdout.on("data", (d) => (c.out += d));
      return c;
    });
    await until("got ready", () => contenders.every((c) => said(c.out).length >= 1));
    writeFileSync(join(signals, "start"), "");
    await until("reported", () => contenders.every((c) => said(c.out).length >= 2));
    writeFileSync(join(signals, "done"), "");
    await Promise.all(contenders.map((c) => c.exited));
    const outcomes = contenders.map((c) => said(c.out)[1]);
    assert.deepEqual(
      outcomes.sort(),
      ["holds", "refused", "refused", "refused", "refused", "refused"],
      `round ${round}`,
    );
    assert.deepEqual(readdirSync(dir), [], "the lock is released and nothing else is left");
  }
});

test("a lock file names its holder from the moment it exists", (t) => {
  const file = join(tempDir(), "lock");
  // Whenever the lock is written to, another executor looking at it must already see a holder
  // it can read, or see no lock at all: never one it would take for a dead executor's.
  const seen: (string | undefined)[] = [];
  const write = fs.writeSync;
  t.mock.method(fs, "writeSync", (...args: Parameters<typeof fs.writeSync>) => {
    seen.push(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined);
    return write(...args);
  });
  acquireLock(file, { pid: process.pid, since: 0, token: 7 }, () => true).release();
  assert.ok(seen.length > 0);
  assert.deepEqual(
    seen,
    seen.map(() => undefined),
  );
});
