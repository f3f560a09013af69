/**
 * The shared state backend against a real PostgreSQL server (.ci/postgres-start), executors as
 * separate processes the way a team runs them: a race on one runbook, two regions, a holder
 * killed with SIGKILL mid-step, the server stopped and started mid-bake, and a stale executor
 * (stopped with SIGSTOP until its lease expired and was taken) whose next write is refused.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import type { Entry } from "../../modules/migration-state/journal";
import { foldJournal } from "../../modules/migration-state/state";
import { loadWorld } from "../../modules/rehearsal/world";
import { ROOT } from "../support/cli";
import { prerequisite } from "../support/prerequisites";
import {
  FIXTURE_STACKS,
  freshDatabase,
  SHORT_RUNBOOK,
  tempDir,
  US_WEST,
  writeRunbook,
} from "../migrate/support";

const SERVER = process.env.AVFLEET_TEST_POSTGRES;
const CTL = process.env.AVFLEET_TEST_PGCTL;
const EU_WEST = join(ROOT, "runbooks", "eu-west.yaml");

function ready(t: TestContext): boolean {
  return prerequisite(
    t,
    SERVER && CTL
      ? undefined
      : "AVFLEET_TEST_POSTGRES and AVFLEET_TEST_PGCTL (eval $(bash .ci/postgres-start))",
  );
}

/** Rows of `sql`; none while the executor has not yet created the tables. */
async function query<T = any>(url: string, sql: string): Promise<T[]> {
  const u = new URL(url);
  u.searchParams.delete("lease");
  const client = new pg.Client(u.toString());
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === "42P01") return [];
    throw err;
  } finally {
    await client.end();
  }
}

const journalRows = (url: string, key = "us-west/rehearsal") =>
  query<{ seq: number; entry: Entry; token: string }>(
    url,
    `SELECT seq, entry, token FROM avfleet_journal WHERE key = '${key}' ORDER BY seq`,
  );

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `avfleet migrate` as its own process; `exit` resolves when it ends. */
function executor(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { pid: number; exit: Promise<Exit> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "scripts/avfleet.ts"), "migrate", ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exit = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { pid: child.pid!, exit };
}

/** A short us-west runbook: a rehearsal of it is a few seconds of executor time. */
const RUNBOOK = writeRunbook(tempDir(), SHORT_RUNBOOK);

/** A rehearsal of us-west on the shared backend, from `checkout` (a new one by default). */
function rehearse(url: string, by: string, env: NodeJS.ProcessEnv = {}, checkout = tempDir()) {
  const args = ["run", RUNBOOK, "--rehearse", "--stacks-dir", FIXTURE_STACKS];
  return {
    checkout,
    ...executor([...args, "--state-dir", checkout, "--state", url, "--by", by], env),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  for (const start = Date.now(); !(await check()); await sleep(100)) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
  }
}

const worldUps = (checkout: string) =>
  loadWorld(join(checkout, "us-west", "rehearsal", "world.json")).ups;

test("two executors race on one runbook: exactly one proceeds, the other exits 3 naming the holder", async (t) => {
  if (!ready(t)) return;
  const url = await freshDatabase("10s");
  const slow = { AVFLEET_TEST_REHEARSAL_SLEEP_MS: "20" };
  const [a, b] = [rehearse(url, "alice", slow), rehearse(url, "bob", slow)];
  const results = await Promise.all([a.exit, b.exit]);
  const codes = results.map((r) => r.code).sort();
  assert.deepEqual(codes, [0, 3], results.map((r) => r.stderr).join("\n"));
  const loser = results.find((r) => r.code === 3)!;
  const winner = loser === results[0] ? "bob" : "alice";
  const winnerPid = loser === results[0] ? b.pid : a.pid;
  assert.match(
    loser.stderr,
    new RegExp(`^error: .* us-west/rehearsal: held by ${winner} \\(executor pid ${winnerPid} on `),
  );
  const rows = await journalRows(url);
  assert.deepEqual(
    rows.map((r) => r.seq),
    rows.map((_, i) => i + 1),
  );
  assert.equal(new Set(rows.map((r) => r.token)).size, 1, "one writer, one fencing token");
  assert.equal(rows.filter((r) => r.entry.type === "start").length, 1);
  assert.equal(foldJournal(rows.map((r) => r.entry)).halt?.kind, "waiting-approval");
});

test("two regions on one shared backend, from two checkouts: the second is refused until the first is abandoned", async (t) => {
  if (!ready(t)) return;
  const url = await freshDatabase("10s");
  const real = (runbook: string, ...more: string[]) =>
    executor(
      [
        ...more.slice(0, 1),
        runbook,
        "--stacks-dir",
        FIXTURE_STACKS,
        "--state-dir",
        tempDir(),
        "--state",
        url,
        ...more.slice(1),
      ],
      { PULUMI: "/nonexistent/pulumi", AVFLEET_BY: "carol" },
    ).exit;
  const first = await real(US_WEST, "run");
  assert.equal(first.code, 3, "its first call fails: no pulumi");
  const second = await real(EU_WEST, "run");
  assert.equal(second.code, 2);
  assert.match(
    second.stderr,
    /region: is eu-west while us-west's migration is in progress \(tool-failed\), expected one region at a time/,
  );
  assert.equal((await real(US_WEST, "abandon", "--reason", "no pulumi")).code, 0);
  const again = await real(EU_WEST, "run");
  assert.equal(again.code, 3, again.stderr);
  assert.doesNotMatch(again.stderr, /one region at a time/);
  const [claim] = await query(url, "SELECT region FROM avfleet_region");
  assert.equal(claim.region, "eu-west");
});

test("the holder killed mid-step: refused while its lease lives, resumed after it expires, no weight change applied twice", async (t) => {
  if (!ready(t)) return;
  const clean = rehearse(await freshDatabase("4s"), "alice");
  assert.equal((await clean.exit).code, 0);

  const url = await freshDatabase("4s");
  const checkout = tempDir();
  const again = (env: NodeJS.ProcessEnv = {}) => rehearse(url, "alice", env, checkout);
  for (const after of ["weights-intent", "step-end"]) {
    const killed = await again({ AVFLEET_TEST_SIGKILL_AFTER: after }).exit;
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    const [lease] = await query(url, "SELECT holder FROM avfleet_lease");
    const refused = await again().exit;
    if (refused.code === 3) {
      assert.match(refused.stderr, new RegExp(`held by alice \\(executor pid ${lease.holder.pid}`));
    } else {
      // Startup outlasted the lease: the takeover below is then already done.
      assert.equal(refused.code, 0, refused.stderr);
      break;
    }
    await until("the lease to expire", async () => {
      const live = await query(url, "SELECT 1 FROM avfleet_lease WHERE expires_at > now()");
      return live.length === 0;
    });
  }
  const last = await again().exit;
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual(worldUps(checkout), worldUps(clean.checkout), "the same changes, none twice");
  const entries = (await journalRows(url)).map((r) => r.entry);
  assert.ok(entries.some((e) => e.type === "note" && /took over the lease/.test(e.message)));
  assert.equal(foldJournal(entries).halt?.kind, "waiting-approval");
});

test("the server stopped and started mid-bake: the executor holds, then continues under its lease", async (t) => {
  if (!ready(t)) return;
  const url = await freshDatabase("3s");
  const run = rehearse(url, "alice", { AVFLEET_TEST_REHEARSAL_SLEEP_MS: "100" });
  await until("a bake's first gate round", async () =>
    (await journalRows(url)).some((r) => r.entry.type === "gates"),
  );
  execFileSync(CTL!, ["stop"]);
  await sleep(2_000);
  execFileSync(CTL!, ["start"]);
  const done = await run.exit;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /state backend .* unreachable .*; holding, retry in \d+ ms/);
  const rows = await journalRows(url);
  assert.deepEqual(
    rows.map((r) => r.seq),
    rows.map((_, i) => i + 1),
    "no gap, nothing twice",
  );
  assert.equal(new Set(rows.map((r) => r.token)).size, 1, "every write under the one lease");
  const rounds = rows.flatMap((r) =>
    r.entry.type === "gates" ? [`${r.entry.unit}#${r.entry.round}`] : [],
  );
  assert.equal(new Set(rounds).size, rounds.length, "no gate round recorded twice");
  assert.equal(foldJournal(rows.map((r) => r.entry)).halt?.kind, "waiting-approval");
});

test("fencing: an executor paused past its lease finds it taken, and its next write is refused", async (t) => {
  if (!ready(t)) return;
  const url = await freshDatabase("2s");
  const stale = rehearse(url, "alice", { AVFLEET_TEST_REHEARSAL_SLEEP_MS: "200" });
  await until("a bake's first gate round", async () =>
    (await journalRows(url)).some((r) => r.entry.type === "gates"),
  );
  process.kill(stale.pid, "SIGSTOP");
  try {
    await until("the paused lease to expire", async () => {
      const live = await query(url, "SELECT 1 FROM avfleet_lease WHERE expires_at > now()");
      return live.length === 0;
    });
    const next = rehearse(url, "bob", {}, stale.checkout);
    const took = await next.exit;
    assert.equal(took.code, 0, took.stderr);
  } finally {
    process.kill(stale.pid, "SIGCONT");
  }
  const refused = await stale.exit;
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(
    refused.stderr,
    /^error: .* us-west\/rehearsal: this executor's lease \(token \d+\) is gone, now released; it stops here/m,
  );
  const rows = await journalRows(url);
  const bobStart = rows.findIndex((r) => r.entry.type === "start" && r.entry.by === "bob");
  assert.ok(bobStart > 0);
  const staleToken = rows[0].token;
  assert.ok(
    rows.slice(bobStart).every((r) => r.token !== staleToken),
    "nothing written with the stale token once the lease was taken",
  );
  assert.ok(
    rows.some((r) => r.entry.type === "note" && /took over the lease/.test(r.entry.message)),
  );
});
