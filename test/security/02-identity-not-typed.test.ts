/**
 * Finding 2: `--by` is free text, so an approval (which guards `pulumi destroy`) could be given
 * in anyone's name. The journal now records who the state backend authenticated (`as`: the
 * OS user locally, PostgreSQL's session_user when shared) beside the claim (`by`), and a
 * runbook's `approvers` (a group, not the starter) is judged by the authenticated identity.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Entry } from "../../modules/migration-state/journal";
import { readJournal } from "../../modules/migration-state/journal";
import { postgresBackend } from "../../modules/migration-state/postgres";
import { prerequisite } from "../support/prerequisites";
import {
  freshDatabase,
  rehearsalCli,
  SHORT_RUNBOOK,
  tempDir,
  writeRunbook,
} from "../migrate/support";

const ME = userInfo().username;

/** A rehearsal of SHORT_RUNBOOK with `approvers`, in a checkout of its own. */
function rehearsal(approvers: object) {
  const runbook = writeRunbook(tempDir(), { ...SHORT_RUNBOOK, approvers });
  const checkout = tempDir();
  const journal = join(checkout, "us-west", "rehearsal", "journal.jsonl");
  return {
    journal: () => readJournal(journal),
    // The environment's claim is a claim too: none here, so --by is the only one.
    cli: (action: string, ...args: string[]) =>
      rehearsalCli(runbook, checkout, action, args, { AVFLEET_BY: "" }),
  };
}

const approvals = (entries: Entry[]) => entries.filter((e) => e.type === "approved");

test("locally, the starter cannot approve their own run by typing another name", () => {
  const r = rehearsal({ distinctFromStarter: true });
  const run = r.cli("run", "--by", "alice");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /waiting-approval/);
  const start = r.journal().find((e) => e.type === "start");
  assert.deepEqual(start?.type === "start" && [start.by, start.as], ["alice", ME]);

  const approve = r.cli("approve", "--by", "bob");
  assert.equal(approve.code, 2, approve.stdout);
  assert.match(
    approve.stderr,
    new RegExp(
      `approvers\\.distinctFromStarter: is ${ME} \\(as the state backend .* authenticated you; --by bob is not checked\\), who started this run, expected an approver other than the one who started it; nothing recorded`,
    ),
  );
  assert.deepEqual(approvals(r.journal()), [], "no approval recorded");
});

/** The name of this process's primary group, from group(5). */
function primaryGroup(): string {
  const gid = String(process.getgid!());
  const line = readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.split(":")[2] === gid);
  return line!.split(":")[0];
}

test("locally, an approver group is an OS group of the OS user, whatever --by says", () => {
  const outside = rehearsal({ group: "avfleet-no-such-group" });
  assert.equal(outside.cli("run", "--by", "alice").code, 0);
  const refused = outside.cli("approve", "--by", "root");
  assert.equal(refused.code, 2, refused.stdout);
  assert.match(
    refused.stderr,
    new RegExp(
      `approvers\\.group: is ${ME} .*, not a member of avfleet-no-such-group, expected a member of avfleet-no-such-group; nothing recorded`,
    ),
  );
  assert.deepEqual(approvals(outside.journal()), []);

  const inside = rehearsal({ group: primaryGroup() });
  assert.equal(inside.cli("run").code, 0);
  const approved = inside.cli("approve", "--by", "the-ceo");
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, new RegExp(`by the-ceo \\(authenticated as ${ME}\\)`));
  const [entry] = approvals(inside.journal());
  assert.deepEqual(entry?.type === "approved" && [entry.by, entry.as], ["the-ceo", ME]);
  const status = inside.cli("status", "--json");
  assert.deepEqual(
    JSON.parse(status.stdout).approvals.map((a: { by: string; as: string }) => [a.by, a.as]),
    [["the-ceo", ME]],
  );
});

test("shared state: the approver is PostgreSQL's session_user, checked with pg_has_role", async (t: TestContext) => {
  if (!prerequisite(t, process.env.AVFLEET_TEST_POSTGRES ? undefined : "AVFLEET_TEST_POSTGRES"))
    return;
  const url = await freshDatabase();
  const suffix = randomBytes(3).toString("hex");
  const [alice, bob, carol, group] = ["alice", "bob", "carol", "approvers"].map(
    (n) => `sec02_${n}_${suffix}`,
  );
  // The state's tables exist (made by the superuser) and every operator role may use them.
  const setup = postgresBackend(url);
  await setup.read("none");
  await setup.close();
  const admin = new pg.Client(url);
  await admin.connect();
  for (const role of [alice, bob, carol]) await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`CREATE ROLE ${group}`);
  await admin.query(`GRANT ${group} TO ${bob}`);
  const all = [alice, bob, carol].join(", ");
  await admin.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${all}`);
  await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${all}`);
  await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${all}`);
  await admin.end();
  const as = (role: string) => {
    const u = new URL(url);
    u.username = role;
    return u.toString();
  };
  const runbook = writeRunbook(tempDir(), {
    ...SHORT_RUNBOOK,
    approvers: { group, distinctFromStarter: true },
  });
  const checkout = tempDir();
  const cli = (role: string, action: string, by: string) =>
    rehearsalCli(runbook, checkout, action, ["--state", as(role), "--by", by]);
  // alice starts the run claiming to be bob, the approver.
  const run = cli(alice, "run", bob);
  assert.equal(run.code, 0, run.stderr);
  const own = cli(alice, "approve", bob);
  assert.equal(own.code, 2, own.stdout);
  assert.match(own.stderr, new RegExp(`approvers\\.distinctFromStarter: is ${alice} `));
  const outsider = cli(carol, "approve", bob);
  assert.equal(outsider.code, 2, outsider.stdout);
  assert.match(outsider.stderr, new RegExp(`is ${carol} .*, not a member of ${group}`));
  const approved = cli(bob, "approve", "mallory");
  assert.equal(approved.code, 0, approved.stderr);

  const reader = new pg.Client(url);
  await reader.connect();
  const rows = await reader.query(
    "SELECT entry FROM avfleet_journal WHERE key = 'us-west/rehearsal' ORDER BY seq",
  );
  await reader.end();
  const entries = rows.rows.map((r) => r.entry as Entry);
  const start = entries.find((e) => e.type === "start");
  assert.deepEqual(start?.type === "start" && [start.by, start.as], [bob, alice]);
  assert.deepEqual(
    approvals(entries).map((e) => e.type === "approved" && [e.by, e.as]),
    [["mallory", bob]],
  );
});
