/**
 * The real Pulumi driver, against a stand-in `pulumi` executable: our machines have no
 * Pulumi CLI (and no cloud), so the stand-in records its arguments and answers like the CLI
 * would (config set / set-all stage, up applies, stack output prints JSON; errors exit 1, as
 * since CLI 3.227.0, pkg/cmd/pulumi/cmd/exit_codes.go). What it proves is the exact command
 * lines avfleet runs, through zx, for a shift step and for a rollback, and what it does when
 * another update holds the stack on either kind of backend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { readJournal } from "../../modules/migration-state/journal";
import { planUnits } from "../../modules/runbook/plan";
import { commandLine } from "../../modules/runbook/pulumi-args";
import { loadRunbook } from "../../modules/runbook/runbook";
import { avfleet } from "../support/cli";
import { tempDir, tempStacks, writeRunbook } from "./support";

const STAND_IN = `#!/usr/bin/env node
const fs = require("fs");
const all = process.argv.slice(2);
fs.appendFileSync(process.env.STANDIN_LOG, JSON.stringify(all) + "\\n");
// As the CLI parses them: global flags first; without them the call depends on the caller.
if (all[0] !== "--cwd" || all[1] !== process.env.STANDIN_ROOT || all[2] !== "--non-interactive") {
  process.stderr.write("stand-in pulumi: expected --cwd " + process.env.STANDIN_ROOT + " --non-interactive\\n");
  process.exit(2);
}
const args = all.slice(3);
const state = JSON.parse(fs.readFileSync(process.env.STANDIN_STATE, "utf8"));
// On Pulumi Cloud (STANDIN_ORG) a stack is ORG/PROJECT/NAME; a bare name would resolve in the
// caller's default organization, which here holds no such stack (exit 6 since CLI 3.227).
const named = args[args.indexOf("--stack") + 1];
if (process.env.STANDIN_ORG && named !== process.env.STANDIN_ORG + "/avfleet/" + named.split("/").pop()) {
  process.stderr.write("error: no stack named '" + named + "' found\\n");
  process.exit(6);
}
const stack = named.split("/").pop();
const save = () => fs.writeFileSync(process.env.STANDIN_STATE, JSON.stringify(state));
if (args[0] === "stack" && args[1] === "output") {
  process.stdout.write(JSON.stringify(state.outputs[stack] || {}));
} else if (args[0] === "config" && args[1] === "set-all") {
  // set-all --path: "75" is stored as 75, "true" as true (config/object.go coerce).
  args.forEach((a, i) => {
    if (a !== "--plaintext") return;
    const [key, value] = args[i + 1].split("=");
    (state.staged[stack] ||= {})[key] = value === "true" || value === "false" ? value === "true" : Number(value);
  });
  save();
} else if (args[0] === "up" && state.conflicts > 0) {
  state.conflicts--;
  save();
  // Each backend's words (httpstate/backend.go:1825 + backenderr.go:106; diy/lock.go:87).
  process.stderr.write(process.env.STANDIN_BACKEND === "cloud"
    ? "error: [409] Conflict: Another update is currently in progress.\\nTo learn more about possible reasons and resolution, visit https://www.pulumi.com/docs/support/troubleshooting/common-issues/update-conflicts/\\n"
    : "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.\\n  file:///srv/pulumi/.pulumi/locks/organization/avfleet/" + stack + "/0d5c.json: created by bob@laptop (pid 881) at 2026-03-10T09:00:00Z\\n");
  process.exit(1);
} else if (args[0] === "up") {
  const staged = state.staged[stack] || {};
  const weights = { ...state.outputs[stack].weights };
  state.pools.forEach((p, i) => {
    const w = staged["avfleet:traffic.pools[" + i + "].weight"];
    if (w !== undefined) weights[p] = w;
  });
  if (weights["gcp-us-west1"] >= Number(process.env.STANDIN_FAIL_UP_AT || 101) || state.ups >= Number(process.env.STANDIN_UPS_BEFORE_FAILING || Infinity)) {
    process.stderr.write("error: update failed\\n  aws:route53:Record (gcp-us-west1): InvalidChangeBatch: stand-in refusal\\n");
    process.exit(1);
  }
  state.outputs[stack].weights = weights;
  state.staged[stack] = {};
  state.ups = (state.ups || 0) + 1;
  save();
  // The operator aborts during the bake: the test needs no real 30 s wait.
  fs.writeFileSync(process.env.STANDIN_ABORT, JSON.stringify({ by: "test", reason: "bake not needed here" }));
  process.stdout.write("Resources:\\n    ~ 2 updated\\n");
} else {
  process.stderr.write("stand-in pulumi: unexpected call\\n");
  process.exit(2);
}
`;

function setUp(env: Record<string, string> = {}, conflicts = 0) {
  const dir = tempDir();
  const stacks = tempStacks();
  const root = dirname(stacks);
  writeFileSync(
    join(root, "Pulumi.yaml"),
    "name: avfleet\nruntime: nodejs\nstackConfigDir: stacks\n",
  );
  const runbook = writeRunbook(dir, {
    region: "us-west",
    traffic: "traffic-us-west",
    source: "metal-sjc",
    target: "gcp-us-west1",
    steps: [
      {
        kind: "shift",
        weights: [25],
        bake: "30s",
        interval: "10s",
        gates: [{ slo: "packet-loss" }],
      },
    ],
  });
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "pulumi"), STAND_IN);
  chmodSync(join(bin, "pulumi"), 0o755);
  const log = join(dir, "calls.jsonl");
  const state = join(dir, "pulumi-state.json");
  writeFileSync(
    state,
    JSON.stringify({
      pools: ["metal-sjc", "gcp-us-west1"],
      staged: {},
      conflicts,
      ups: 0,
      outputs: { "traffic-us-west": { weights: { "metal-sjc": 100, "gcp-us-west1": 0 } } },
    }),
  );
  const cliEnv = {
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    PULUMI: "",
    STANDIN_LOG: log,
    STANDIN_ABORT: join(dir, "state", "us-west", "abort-requested"),
    STANDIN_STATE: state,
    STANDIN_ROOT: root,
    ...env,
  };
  const run = (...args: string[]) =>
    avfleet(
      ["migrate", ...args, runbook, "--stacks-dir", stacks, "--state-dir", join(dir, "state")],
      { env: cliEnv },
    );
  const calls = () =>
    readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => {
        const argv: string[] = JSON.parse(line);
        assert.deepEqual(argv.slice(0, 3), ["--cwd", root, "--non-interactive"], line);
        return ["pulumi", ...argv.slice(3)].join(" ");
      });
  const pulumiState = () => JSON.parse(readFileSync(state, "utf8"));
  const journal = () => readJournal(join(dir, "state", "us-west", "journal.jsonl"));
  return { run, calls, journal, pulumiState, runbook, stacks, bin, stateFile: state };
}

/** A call as the plan shows it: the marker's sequence is known only once journaled. */
const planned = (call: string) => call.replace(/migration\.seq=\d+/, "migration.seq=<seq>");

test("a shift step runs exactly the planned pulumi calls; a rollback the fast path back", () => {
  const { run, calls, runbook, stacks, journal } = setUp();
  const shift = run("run");
  assert.equal(shift.code, 1, shift.stderr);
  assert.match(shift.stdout, /\naborted: aborted by test: bake not needed here\n$/);
  const plan = planUnits(loadRunbook(runbook, stacks))[0].commands.map((args) => commandLine(args));
  assert.deepEqual(calls().map(planned), [
    "pulumi stack output --json --stack traffic-us-west",
    ...plan.map((c) => c.replace(/'/g, "")),
  ]);
  const intent = journal().findIndex((e) => e.type === "weights-intent");
  assert.deepEqual(calls(), [
    "pulumi stack output --json --stack traffic-us-west",
    "pulumi stack output --json --stack traffic-us-west",
    `pulumi config set-all --path --plaintext avfleet:traffic.pools[0].weight=75 --plaintext avfleet:traffic.pools[1].weight=25 --plaintext avfleet:traffic.migration.seq=${intent + 1} --plaintext avfleet:traffic.migration.rollback=false --stack traffic-us-west`,
    "pulumi up --yes --refresh --policy-pack policy --stack traffic-us-west",
    "pulumi stack output --json --stack traffic-us-west",
  ]);

  const before = calls().length;
  const rollback = run("rollback", "--by", "oncall");
  assert.equal(rollback.code, 1, rollback.stderr);
  assert.match(rollback.stdout, /\nrolled-back: operator rollback by oncall\n$/);
  const back = journal()
    .map((e) => e.type)
    .lastIndexOf("weights-intent");
  assert.ok(back > intent);
  assert.deepEqual(calls().slice(before), [
    "pulumi stack output --json --stack traffic-us-west",
    `pulumi config set-all --path --plaintext avfleet:traffic.pools[0].weight=100 --plaintext avfleet:traffic.pools[1].weight=0 --plaintext avfleet:traffic.migration.seq=${back + 1} --plaintext avfleet:traffic.migration.rollback=true --stack traffic-us-west`,
    "pulumi up --yes --refresh --policy-pack policy --stack traffic-us-west",
    "pulumi stack output --json --stack traffic-us-west",
  ]);
  const status = JSON.parse(run("status", "--json").stdout);
  assert.deepEqual(status.weights, { "metal-sjc": 100, "gcp-us-west1": 0 });
  assert.equal(status.state, "rolled-back");
});

test("a failed pulumi up stops the step with the CLI's message in the journal (binary from PULUMI)", () => {
  const { run, bin } = setUp({ PULUMI: "/nonexistent/pulumi" });
  const r = run("run");
  assert.equal(r.code, 3, "PULUMI names a missing binary: the tool fails");
  assert.match(
    r.stderr + r.stdout,
    /pulumi stack output traffic-us-west: .*(not found|No such file)/,
  );
  const withBinary = setUp({
    STANDIN_FAIL_UP_AT: "25",
    PATH: process.env.PATH!,
    PULUMI: join(bin, "pulumi"),
  });
  const failed = withBinary.run("run");
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(
    failed.stdout,
    /rolled-back: weight change failed: pulumi up traffic-us-west: error: update failed \| aws:route53:Record \(gcp-us-west1\): InvalidChangeBatch: stand-in refusal/,
  );
  const command = withBinary.journal().find((e) => e.type === "command" && e.exitCode !== 0);
  assert.ok(command?.type === "command");
  assert.match(command.summary, /InvalidChangeBatch: stand-in refusal/);
});

for (const [backend, words, said] of [
  ["diy", "DIY backend", /the stack is currently locked by 1 lock\(s\)\. Either wait/],
  ["cloud", "Pulumi Cloud", /\[409\] Conflict: Another update is currently in progress/],
] as const) {
  test(`another update holding the stack (${words}: exit 1, its own words) is journaled and retried after a backoff`, () => {
    const { run, calls, journal } = setUp({ STANDIN_BACKEND: backend }, 2);
    const r = run("run");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /aborted by test: bake not needed here/);
    const ups = calls().filter((c) => c.startsWith("pulumi up "));
    assert.equal(ups.length, 3, "two attempts locked out, the third applies");
    const entries = journal();
    const locked = entries.filter((e) => e.type === "command" && e.exitCode === 1);
    assert.equal(locked.length, 2);
    for (const e of locked) assert.ok(e.type === "command" && said.test(e.summary), e.type);
    const notes = entries.flatMap((e) => (e.type === "note" ? [e.message] : []));
    assert.deepEqual(notes, [
      `another update holds traffic-us-west (${words}); retry 1/10 in 2s`,
      `another update holds traffic-us-west (${words}); retry 2/10 in 4s`,
    ]);
    assert.equal(entries.filter((e) => e.type === "rollback-intent").length, 0, "not rolled back");
    const applied = entries.find((e) => e.type === "weights-applied");
    assert.ok(applied?.type === "weights-applied");
    assert.deepEqual(applied.weights, { "metal-sjc": 75, "gcp-us-west1": 25 });
  });
}

test("a failed up leaves no unapplied weight in the stack's config: what the next `pulumi up` applies is what is deployed", () => {
  const { run, pulumiState, journal } = setUp({ STANDIN_UPS_BEFORE_FAILING: "1" });
  assert.equal(run("run").code, 1, "the shift to 25 applies, then the stand-in aborts the bake");
  const r = run("rollback", "--by", "oncall");
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /tool-failed: rollback: pulumi up traffic-us-west: error: update failed/);
  const { staged, outputs } = pulumiState();
  assert.deepEqual(outputs["traffic-us-west"].weights, { "metal-sjc": 75, "gcp-us-west1": 25 });
  const { "avfleet:traffic.migration.seq": seq, ...config } = staged["traffic-us-west"];
  assert.deepEqual(config, {
    "avfleet:traffic.pools[0].weight": 75,
    "avfleet:traffic.pools[1].weight": 25,
    "avfleet:traffic.migration.rollback": false,
  });
  const intent = journal()
    .map((e) => e.type)
    .lastIndexOf("weights-intent");
  assert.ok(seq > intent + 1, "the unstaging write is a later change than the failed one");
  const intents = journal().filter((e) => e.type === "rollback-intent");
  assert.equal(
    intents.length,
    1,
    "the rollback stays recorded as intended: the next run finishes it",
  );
});

test("on Pulumi Cloud every call names its stack ORG/avfleet/<stack>; without --org nothing runs", () => {
  const cloud = { PULUMI_BACKEND_URL: "https://api.pulumi.com", STANDIN_ORG: "acme" };
  const { run, calls, journal, runbook, stacks } = setUp(cloud);
  const refused = run("run");
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /a bare stack name resolves in your default organization: give --org/,
  );
  assert.throws(() => calls(), /ENOENT/, "no pulumi call was made");
  assert.deepEqual(journal(), [], "no journal was written");

  const shift = run("run", "--org", "acme");
  assert.equal(shift.code, 1, shift.stderr);
  assert.match(shift.stdout, /\naborted: aborted by test: bake not needed here\n$/);
  const stackArgs = calls().map((c) => c.split("--stack ")[1].split(" ")[0]);
  assert.deepEqual([...new Set(stackArgs)], ["acme/avfleet/traffic-us-west"]);
  // The plan and the journal keep the stack file's name: only the CLI sees the qualified one.
  const plan = planUnits(loadRunbook(runbook, stacks))[0].commands.map((args) => commandLine(args));
  assert.ok(plan.every((c) => c.includes("--stack traffic-us-west")));
});

test("a DIY backend's stacks keep their bare names: a legacy store refuses qualified ones", () => {
  const { run, calls } = setUp({ PULUMI_BACKEND_URL: "s3://acme-pulumi-state" });
  const shift = run("run");
  assert.equal(shift.code, 1, shift.stderr);
  assert.ok(
    calls().every((c) => c.endsWith("--stack traffic-us-west")),
    calls().join("\n"),
  );
});

test("a journal begun afresh still stages a marker above the one the stack last applied", () => {
  // The state moved (a directory to PostgreSQL) mid-migration: the new journal counts from 1,
  // while the traffic stack's outputs say it last applied step 500 of the running migration.
  const { run, calls, pulumiState, stateFile } = setUp();
  const state = pulumiState();
  state.outputs["traffic-us-west"].migration = { seq: 500, rollback: false };
  writeFileSync(stateFile, JSON.stringify(state));
  const shift = run("run");
  assert.equal(shift.code, 1, shift.stderr);
  const staged = calls().find((c) => c.startsWith("pulumi config set-all"))!;
  assert.match(staged, / --plaintext avfleet:traffic\.migration\.seq=501 /);
});
