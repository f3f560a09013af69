/**
 * Finding 9: a PostgreSQL password in the state URL (userinfo or `?password=`) must never be
 * printed: not by `migrate status` (text or --json), not in a lease refusal, a stale write or
 * the wait for an unreachable server.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { redactLocation, thisHolder } from "../../modules/migration-state/backend";
import { postgresBackend } from "../../modules/migration-state/postgres";
import { prerequisite } from "../support/prerequisites";
import {
  freshDatabase,
  rehearsalCli,
  SHORT_RUNBOOK,
  tempDir,
  writeRunbook,
} from "../migrate/support";

const SECRET = "Sup3rSecretPw";
const SERVER = process.env.AVFLEET_TEST_POSTGRES;

test("redactLocation hides a password given as userinfo or as a query parameter", () => {
  assert.equal(
    redactLocation(`postgres://alice:${SECRET}@db.internal:5432/avfleet?lease=30s`),
    "postgres://alice:***@db.internal:5432/avfleet?lease=30s",
  );
  assert.equal(
    redactLocation(`postgresql://alice@db/avfleet?lease=30s&password=${SECRET}&sslmode=require`),
    "postgresql://alice@db/avfleet?lease=30s&password=***&sslmode=require",
  );
  assert.equal(
    redactLocation(`postgres://db/avfleet?PASSWORD=${SECRET}&sslpassword=${SECRET}`),
    "postgres://db/avfleet?PASSWORD=***&sslpassword=***",
  );
  // Not a URL at all (a typo): still nothing of the password.
  assert.equal(redactLocation(`postgres://a:${SECRET}@[bad/db`), "postgres://a:***@[bad/db");
  assert.equal(redactLocation("/var/lib/avfleet/state"), "/var/lib/avfleet/state");
});

test("an unparseable state URL is refused without echoing its password", () => {
  assert.throws(
    () => postgresBackend(`postgres://a:${SECRET}@[bad/db`),
    (err: Error & { lines?: string[] }) => {
      assert.deepEqual(err.lines, [
        "--state: is postgres://a:***@[bad/db, expected a postgres://user@host:port/db URL",
      ]);
      return true;
    },
  );
});

test("waiting for an unreachable server, and giving up on it, prints no password", async () => {
  const waits: string[] = [];
  const backend = postgresBackend(
    `postgres://alice:${SECRET}@127.0.0.1:1/avfleet?password=${SECRET}`,
    { holdMs: 300, onWait: (m) => waits.push(m) },
  );
  try {
    await assert.rejects(backend.read("us-west"), (err: Error) => {
      assert.doesNotMatch(`${err.message}\n${err.stack}`, new RegExp(SECRET));
      return true;
    });
    assert.ok(waits.length > 0, "it held before giving up");
    for (const line of waits) {
      assert.doesNotMatch(line, new RegExp(SECRET));
      assert.match(
        line,
        /^state backend postgres:\/\/alice:\*\*\*@127\.0\.0\.1:1\/avfleet\?password=\*\*\* unreachable/,
      );
    }
  } finally {
    await backend.close();
  }
});

function ready(t: TestContext): boolean {
  return prerequisite(
    t,
    SERVER ? undefined : "AVFLEET_TEST_POSTGRES (eval $(bash .ci/postgres-start))",
  );
}

test("migrate status, a refused lease and a stale write print the state URL without its password", async (t) => {
  if (!ready(t)) return;
  const base = new URL(await freshDatabase());
  // The test server trusts its roles, so the password is accepted and never checked: what
  // matters is that it is never printed.
  const inQuery = new URL(base);
  inQuery.searchParams.set("password", SECRET);
  const inUserinfo = new URL(base);
  inUserinfo.password = SECRET;
  const runbook = writeRunbook(tempDir(), SHORT_RUNBOOK);
  const checkout = tempDir();
  const cli = (url: URL, action: string, ...args: string[]) =>
    rehearsalCli(runbook, checkout, action, [...args, "--state", url.toString()]);
  const ran = cli(inQuery, "run", "--step");
  assert.equal(ran.code, 0, ran.stderr);
  for (const url of [inQuery, inUserinfo]) {
    for (const json of [[], ["--json"]]) {
      const status = cli(url, "status", ...json);
      assert.equal(status.code, 0, status.stderr);
      assert.doesNotMatch(status.stdout + status.stderr, new RegExp(SECRET));
    }
  }

  const holder = postgresBackend(inUserinfo.toString());
  const lease = await holder.acquire("us-west/rehearsal", thisHolder("alice"));
  try {
    const refused = cli(inQuery, "approve");
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /password=\*\*\* us-west\/rehearsal: held by alice/);
    assert.doesNotMatch(refused.stdout + refused.stderr, new RegExp(SECRET));

    const other = postgresBackend(`${inQuery}&lease=1s`);
    try {
      // A stale lease: the token is not the key's, so the append is refused, naming the URL.
      await assert.rejects(
        other.append({ ...lease, token: lease.token + 1 }, 0, {
          type: "note",
          message: "stale",
          at: 0,
        }),
        (err: Error) => {
          assert.equal(err.name, "StaleWriteError");
          assert.match(err.message, /password=\*\*\*/);
          assert.doesNotMatch(err.message, new RegExp(SECRET));
          return true;
        },
      );
    } finally {
      await other.close();
    }
  } finally {
    await lease.release();
    await holder.close();
  }
});
