/** avfleet migrate as an operator runs it: the rehearsals the issue asks for, status, dry run. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { readJournal } from "../../modules/migration-state/journal";
import { foldJournal } from "../../modules/migration-state/state";
import { avfleet, ROOT } from "../support/cli";
import { FIXTURE_STACKS, tempDir, US_WEST } from "./support";

const journalAt = (state: string, key = join("us-west", "rehearsal")) =>
  readJournal(join(state, key, "journal.jsonl"));

const migrateArgs = (action: string, state: string, more: string[]) => [
  "migrate",
  action,
  US_WEST,
  "--stacks-dir",
  FIXTURE_STACKS,
  "--state-dir",
  state,
  ...more,
];

const migrate = (action: string, state: string, ...more: string[]) =>
  avfleet(migrateArgs(action, state, more));

/** The same, with variables added to the environment. */
const migrateEnv = (env: NodeJS.ProcessEnv, action: string, state: string, ...more: string[]) =>
  avfleet(migrateArgs(action, state, more), { env });

/** The same as a child process that runs alongside the test. */
const spawnMigrate = (action: string, state: string, ...more: string[]) =>
  spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "scripts/avfleet.ts"), ...migrateArgs(action, state, more)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );

test("rehearsal: no fault ends at the decommission approval; target-loss rolls back and status says why", () => {
  const state = tempDir();
  const clean = migrate("run", state, "--rehearse");
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /weights applied: metal-sjc 0, gcp-us-west1 100\n/);
  assert.match(clean.stdout, /done: drained: \d+ sessions left on metal-sjc\n/);
  assert.match(
    clean.stdout,
    /\nwaiting-approval: step 10 needs an approval: retire the metal-sjc hosts/,
  );
  assert.match(
    clean.stdout,
    /next: avfleet migrate approve .*us-west\.yaml --rehearse --by <name>\n$/,
  );

  const refused = migrate("run", state, "--rehearse", "--fault", "target-loss=3@25");
  assert.equal(refused.code, 2, "a rehearsal with other faults needs --restart");

  const faulty = migrate("run", state, "--rehearse", "--fault", "target-loss=3@25", "--restart");
  assert.equal(faulty.code, 1, faulty.stderr);
  assert.match(
    faulty.stdout,
    /ROLLBACK to metal-sjc 95, gcp-us-west1 5: packet-loss on gcp-usw1 failed at weight 25/,
  );
  assert.match(
    faulty.stdout,
    /\nrolled-back: packet-loss on gcp-usw1 failed at weight 25: mean 0\.03\d* over \d+ samples, not < 0\.01; packet-loss vs source on gcp-usw1 failed at weight 25: target worse: .*\n$/,
  );

  const status = migrate("status", state, "--rehearse");
  assert.equal(status.code, 0, status.stderr);
  assert.match(
    status.stdout,
    /state: {5}rolled-back — packet-loss on gcp-usw1 failed at weight 25/,
  );
  assert.match(status.stdout, /weights: {3}metal-sjc 95, gcp-us-west1 5\n/);
  assert.match(status.stdout, /→ {2}5\. shift gcp-us-west1 to 25 %/);
  assert.match(status.stdout, /FAIL {9}packet-loss on gcp-usw1 \(critical\): mean 0\.03/);
  assert.match(
    status.stdout,
    /pending approval: none\nnext: fix the cause, then run with --restart/,
  );
  const json = JSON.parse(migrate("status", state, "--rehearse", "--json").stdout);
  assert.equal(json.state, "rolled-back");
  assert.equal(json.gates.evaluations[0].verdict, "fail");
  assert.equal(json.gates.evaluations[0].query, 'avfleet_packet_loss_ratio{pool="gcp-usw1"}');
});

test("approve, abort and status through the CLI", () => {
  const state = tempDir();
  assert.equal(migrate("run", state, "--rehearse").code, 0);
  // An identity that would forge a status line is refused; so is one the OS cannot name.
  const forged = migrate("approve", state, "--rehearse", "--by", "mallory\nstate:     done");
  assert.equal(forged.code, 2);
  assert.equal(
    forged.stderr,
    "--by: contains a newline or control character, expected a login or email: letters, digits and . _ @ + - (at most 64)\n",
  );
  const bell = migrateEnv({ AVFLEET_BY: "eve\u0007" }, "approve", state, "--rehearse");
  assert.equal(bell.code, 2);
  assert.match(bell.stderr, /^AVFLEET_BY: contains a newline or control character/);
  assert.equal(foldJournal(journalAt(state)).approvals.size, 0, "nothing recorded");
  const aborted = migrate(
    "abort",
    state,
    "--rehearse",
    "--by",
    "erin",
    "--reason",
    "change freeze",
  );
  assert.equal(aborted.code, 1);
  assert.equal(aborted.stdout, "aborted: aborted by erin: change freeze\n");
  const nothing = migrate("approve", state, "--rehearse", "--by", "alice");
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /has no pending approval/);
  assert.equal(migrate("run", state, "--rehearse").code, 0, "asks for the approval again");
  const approved = migrate("approve", state, "--rehearse", "--by", "alice");
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(
    approved.stdout,
    new RegExp(
      `^approved step 10 by alice \\(authenticated as ${userInfo().username}\\) at .*, valid until .*; run again to go on\n$`,
    ),
  );
  const status = migrate("status", state, "--rehearse");
  assert.match(status.stdout, /approved: step 10 by alice \(authenticated as .+\) at /);
  const done = migrate("run", state, "--rehearse");
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /\$ pulumi destroy --yes --stack metal-sjc → exit 0/);
  assert.match(done.stdout, /\ndone: every step is complete\n$/);
});

test("--dry-run previews every change against copies of the config and records nothing", () => {
  const state = tempDir();
  const r = migrate("run", state, "--dry-run", "--rehearse");
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /\$ pulumi config set-all --path --plaintext 'avfleet:traffic\.pools\[0\]\.weight=75' --plaintext 'avfleet:traffic\.pools\[1\]\.weight=25' --stack traffic-us-west --config-file \S+Pulumi\.traffic-us-west\.yaml → exit 0/,
  );
  assert.match(
    r.stdout,
    /\$ pulumi preview --refresh --diff --stack traffic-us-west --config-file \S+ → exit 0/,
  );
  assert.match(r.stdout, /\$ pulumi destroy --preview-only --stack metal-sjc → exit 0/);
  assert.doesNotMatch(r.stdout, /pulumi up /);
  assert.equal(existsSync(join(state, "us-west", "rehearsal", "journal.jsonl")), false);
});

test("usage mistakes are exit 2 with a clear message", () => {
  const state = tempDir();
  const cases: [string[], RegExp][] = [
    [
      ["migrate", "launch", US_WEST],
      /expected an action, one of plan, run, status, approve, abort, rollback, abandon; got launch/,
    ],
    [["migrate", "run"], /expected exactly one runbook file/],
    [["migrate", "status", US_WEST, "--fault", "up-fail@5"], /--fault only go with run/],
    [["migrate", "run", US_WEST, "--fault", "up-fail@5"], /--fault needs --rehearse/],
    [
      ["migrate", "run", US_WEST, "--rehearse", "--fault", "loss=3"],
      /--fault loss=3 is not target-loss=<pct>@<weight>/,
    ],
    [["migrate", "status", US_WEST, "--rehearse"], /no rehearsal in /],
  ];
  for (const [args, message] of cases) {
    const r = avfleet([...args, "--stacks-dir", FIXTURE_STACKS, "--state-dir", state]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
});

test("a second executor is kept off the runbook while the first is alive (exit 3, who holds it)", () => {
  const state = tempDir();
  assert.equal(migrate("run", state, "--rehearse", "--step").code, 0);
  // this test process stands in for a live executor
  writeFileSync(
    join(state, "us-west", "rehearsal", "lock"),
    JSON.stringify({ pid: process.pid, since: 0 }),
  );
  const r = migrate("run", state, "--rehearse");
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    new RegExp(
      `^error: .*lock: held by executor pid ${process.pid} since 1970-01-01T00:00:00.000Z; abort it first`,
    ),
  );
  const status = migrate("status", state, "--rehearse");
  assert.match(
    status.stdout,
    new RegExp(
      `state: {5}running \\(by executor pid ${process.pid} since 1970-01-01T00:00:00.000Z\\)`,
    ),
  );
});

test("--metrics-port serves the rehearsal world's metrics, during the run and after it until interrupted", async () => {
  const state = tempDir();
  const child = spawnMigrate("run", state, "--rehearse", "--metrics-port", "0");
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running = false;
      resolve(code);
    }),
  );
  while (!output.includes("until interrupted")) {
    assert.ok(running, `the run ended before serving: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output)![1];
  const text = await (await fetch(url)).text();
  assert.match(text, /^avfleet_traffic_weight\{pool="gcp-usw1",region="us-west"\} 100$/m);
  child.kill("SIGINT");
  assert.equal(await exited, 0);
});

test("regions go one at a time: a real run refuses while another region's migration is unfinished", () => {
  const state = tempDir();
  mkdirSync(join(state, "eu-west"));
  const start = { type: "start", hash: "h", pid: 1, restart: false, mode: "migrate", at: 0 };
  const halt = { type: "halt", kind: "rolled-back", reason: "packet loss", at: 1 };
  writeFileSync(
    join(state, "eu-west", "journal.jsonl"),
    `${JSON.stringify(start)}\n${JSON.stringify(halt)}\n`,
  );
  const r = migrate("run", state);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /region: is us-west while eu-west's migration is in progress \(rolled-back\), expected one region at a time/,
  );
  assert.equal(existsSync(join(state, "us-west")), false, "nothing run");
  assert.equal(
    migrate("run", state, "--rehearse", "--step").code,
    0,
    "rehearsals are not held back",
  );
  const done = { type: "halt", kind: "done", reason: "every step is complete", at: 2 };
  writeFileSync(
    join(state, "eu-west", "journal.jsonl"),
    `${JSON.stringify(start)}\n${JSON.stringify(done)}\n`,
  );
  // a Pulumi that fails at once, in case this machine has a real one
  const next = avfleet(
    ["migrate", "run", US_WEST, "--stacks-dir", FIXTURE_STACKS, "--state-dir", state],
    {
      env: { PULUMI: "false" },
    },
  );
  assert.equal(next.code, 3);
  assert.doesNotMatch(next.stderr + next.stdout, /one region at a time/);
});

test('abort without --by records the operator\'s OS user, never "unknown"', () => {
  const state = tempDir();
  assert.equal(migrate("run", state, "--rehearse").code, 0);
  const aborted = migrateEnv({ AVFLEET_BY: "" }, "abort", state, "--rehearse");
  assert.equal(aborted.code, 1, aborted.stderr);
  const abort = journalAt(state)
    .filter((e) => e.type === "abort")
    .at(-1);
  assert.ok(abort?.type === "abort");
  assert.equal(abort.by, userInfo().username);
  assert.notEqual(abort.by, "unknown");
});

test("two rehearsals started together with --restart: one runs, the other exits 3 naming it; the journal stays whole", async () => {
  const state = tempDir();
  assert.equal(migrate("run", state, "--rehearse", "--step").code, 0);
  for (let trial = 0; trial < 3; trial++) {
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawnMigrate("run", state, "--rehearse", "--restart");
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
    const results = await Promise.all([run(), run()]);
    const codes = results.map((r) => r.code).sort();
    const refused = results.find((r) => r.code === 3);
    // Both may finish one after the other; never a crash, never both at once.
    assert.ok(
      codes.join() === "0,0" || codes.join() === "0,3",
      `trial ${trial}: exit codes ${codes}: ${results.map((r) => r.stderr).join("\n")}`,
    );
    if (refused) assert.match(refused.stderr, /^error: .*lock: held by \S+ \(executor pid \d+ on /);
    const journal = journalAt(state);
    const s = foldJournal(journal);
    assert.equal(s.halt?.kind, "waiting-approval", `trial ${trial}: the journal says where it is`);
    const starts = journal.filter((e) => e.type === "start");
    assert.equal(starts.at(-1)?.type === "start" && starts.at(-1)!.type, "start");
    const status = JSON.parse(migrate("status", state, "--rehearse", "--json").stdout);
    assert.notEqual(status.state, "not started");
    assert.deepEqual(status.weights, { "metal-sjc": 0, "gcp-us-west1": 100 });
  }
});

test("a real run whose first call fails blocks other regions until abandoned; one that changed something cannot be", () => {
  const state = tempDir();
  const eu = join(ROOT, "runbooks", "eu-west.yaml");
  const real = (runbook: string, ...more: string[]) =>
    avfleet(
      [
        "migrate",
        ...more.slice(0, 1),
        runbook,
        "--stacks-dir",
        FIXTURE_STACKS,
        "--state-dir",
        state,
        ...more.slice(1),
      ],
      { env: { PULUMI: "/nonexistent/pulumi" } },
    );
  const first = real(US_WEST, "run");
  assert.equal(first.code, 3, first.stderr);
  const blocked = real(eu, "run");
  assert.equal(blocked.code, 2);
  assert.match(
    blocked.stderr,
    /region: is eu-west while us-west's migration is in progress \(tool-failed\)/,
  );
  const forged = real(US_WEST, "abandon", "--by", "x\ny");
  assert.equal(forged.code, 2, "an abandon is an approval: its identity is validated");
  const abandoned = real(US_WEST, "abandon", "--by", "alice", "--reason", "no pulumi on PATH");
  assert.equal(abandoned.code, 0, abandoned.stderr);
  assert.equal(abandoned.stdout, "abandoned: abandoned by alice: no pulumi on PATH\n");
  const entry = journalAt(state, "us-west").at(-1);
  assert.deepEqual(entry?.type === "abandoned" && [entry.by, entry.reason], [
    "alice",
    "no pulumi on PATH",
  ]);
  const free = real(eu, "run");
  assert.equal(free.code, 3, "eu-west is no longer blocked; it fails on the missing pulumi itself");
  assert.doesNotMatch(free.stderr, /one region at a time/);

  // A migration that changed something is not abandoned.
  assert.equal(migrate("run", state, "--rehearse", "--step").code, 0);
  assert.equal(migrate("run", state, "--rehearse", "--step").code, 0);
  const refused = migrate("abandon", state, "--rehearse", "--by", "alice");
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    /\(journal\): step 2 ran pulumi config set-all, expected a migration that changed nothing/,
  );
});
