/**
 * avfleet diff end to end, on a throwaway git repository: each kind of change shows in the
 * right row, the cache serves the second run, no change is one line, bad input evaluates
 * nothing. One set of revisions serves every case: evaluations are the expensive part.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { spawnSync } from "node:child_process";
import { ROOT } from "../support/cli";
import { tempProject, type TempProject } from "./project";

let project: TempProject;
let drained: string;

const fleet = (change: (f: Record<string, any>) => void) => (doc: Record<string, any>) =>
  change(doc.config["avfleet:fleet"]);

before(() => {
  project = tempProject();
  for (const pool of ["gcp-a", "gcp-b", "gcp-d"]) {
    project.writeStack(
      pool,
      "gcp-us-west1",
      fleet((f) => (f.pool = pool)),
    );
  }
  // The traffic split over metal-sjc and gcp-us-west1, which stays unchanged.
  for (const stack of ["metal-sjc", "gcp-us-west1", "traffic-us-west"]) {
    project.writeStack(stack, stack);
  }
  project.commit("base");
  project.writeStack(
    "gcp-a",
    "gcp-us-west1",
    fleet((f) => {
      f.pool = "gcp-a";
      f.machineType = "c2d-highcpu-56";
    }),
  );
  project.writeStack(
    "gcp-b",
    "gcp-us-west1",
    fleet((f) => {
      f.pool = "gcp-b";
      f.ports.mediaUdp.from = 20000;
      // Fewer hosts than zones: the autoscaler-bounds policy's mandatory violation.
      f.minHosts = 2;
    }),
  );
  project.writeStack(
    "gcp-c",
    "gcp-us-west1",
    fleet((f) => (f.pool = "gcp-c")),
  );
  project.removeStack("gcp-d");
  project.editYaml("inventory/metal-sjc.yaml", (inventory) => {
    const host = inventory.hosts.find((h: { state: string }) => h.state === "active");
    drained = host.name;
    host.state = "draining";
  });
  project.writeStack("traffic-us-west", "traffic-us-west", (doc) => {
    doc.config["avfleet:traffic"].pools = [
      { stack: "metal-sjc", weight: 90 },
      { stack: "gcp-us-west1", weight: 10 },
    ];
  });
  project.commit(
    "head: machine type, port range and a policy violation, a host draining, traffic moving, a stack added and one removed",
  );
});

after(() => project.dispose());

interface JsonStack {
  stack: string;
  status: string;
  created: number;
  updated: number;
  replaced: number;
  deleted: number;
  hosts?: { before?: { min: number; max: number }; after?: { min: number; max: number } };
  cost?: { egress: { before?: number; after?: number } };
  hostStates: { key: string; before?: string; after?: string }[];
  weights: { key: string; before?: number; after?: number }[];
  policy: { introduced: { policy: string; level: string; urn: string }[]; resolved: unknown[] };
  resources: {
    op: string;
    name: string;
    changes: { path: string; before?: unknown; after?: unknown; replaces: boolean }[];
  }[];
}

test("--json between two commits: the right row for each kind of change", () => {
  const result = project.avfleet("diff", "--base", "HEAD~1", "--head", "HEAD", "--json");
  assert.equal(result.code, 0, result.stderr);
  // Every stack changed or is costed by a split that changed (gcp-us-west1's weight).
  assert.match(result.stderr, /diff: 0 Plans reused, 12 evaluated/);
  const doc = JSON.parse(result.stdout);
  assert.equal(doc.changed, true);
  const stack = (name: string): JsonStack => doc.stacks.find((s: JsonStack) => s.stack === name);
  assert.deepEqual(
    doc.stacks.map((s: JsonStack) => [s.stack, s.status]),
    [
      ["gcp-a", "changed"],
      ["gcp-b", "changed"],
      ["gcp-c", "added"],
      ["gcp-d", "removed"],
      ["gcp-us-west1", "changed"],
      ["metal-sjc", "changed"],
      ["traffic-us-west", "changed"],
    ],
  );

  const template = stack("gcp-a").resources.find((r) => r.name === "gcp-a-template")!;
  assert.equal(template.op, "replace");
  assert.deepEqual(
    template.changes.find((c) => c.path === "machineType"),
    { path: "machineType", before: "c2d-highcpu-32", after: "c2d-highcpu-56", replaces: true },
  );
  assert.equal(stack("gcp-a").replaced, 1);

  assert.deepEqual(
    stack("gcp-b").policy.introduced.map((v) => [v.policy, v.level, v.urn.split("::").pop()]),
    [["gcp-autoscaler-bounds", "mandatory", "gcp-b-autoscaler"]],
  );
  assert.deepEqual(stack("gcp-us-west1").policy, { introduced: [], resolved: [] });
  // Its resources are the same; from weight 0 to 10 it starts paying a tenth of the
  // region's egress.
  const pool = stack("gcp-us-west1");
  assert.equal(pool.created + pool.updated + pool.replaced + pool.deleted, 0);
  assert.equal(pool.cost!.egress.before, 0);
  assert.ok(pool.cost!.egress.after! > 0);
  const firewall = stack("gcp-b").resources.find((r) => r.name === "gcp-b-fw-media-udp")!;
  assert.equal(firewall.op, "update");
  assert.deepEqual(
    firewall.changes.find((c) => c.path === "allows[0].ports[0]"),
    { path: "allows[0].ports[0]", before: "10000-59999", after: "20000-59999", replaces: false },
  );

  const added = stack("gcp-c");
  assert.ok(added.created > 0 && added.resources.every((r) => r.op === "create"));
  assert.deepEqual(added.hosts, { after: { min: 6, max: 90 } });
  const removed = stack("gcp-d");
  assert.ok(removed.deleted > 0 && removed.resources.every((r) => r.op === "delete"));

  const metal = stack("metal-sjc");
  assert.deepEqual(metal.hostStates, [{ key: drained, before: "active", after: "draining" }]);
  assert.equal(metal.hosts!.after!.max, metal.hosts!.before!.max - 1, "one host fewer serving");

  assert.deepEqual(stack("traffic-us-west").weights, [
    { key: "gcp-us-west1", before: 0, after: 10 },
    { key: "metal-sjc", before: 100, after: 90 },
  ]);
});

test("--markdown against the working tree: all Plans from the cache; summary rows first; a new violation fails", () => {
  const result = project.avfleet("diff", "--base", "HEAD~1", "--markdown", "--fail-on-violations");
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /diff: 12 Plans reused, 0 evaluated/);
  const md = result.stdout;
  assert.match(md, /^### avfleet diff: `HEAD~1 \([0-9a-f]{7}\)` → `working tree`\n/);
  // gcp-us-west1's egress moves with the traffic share, none of its inputs: counted apart.
  assert.match(
    md,
    /\*\*6 of 7 stacks change · 1 with cost only \(prices or demand moved\) · 1 added · 1 removed · /,
  );
  assert.match(
    md,
    /> ⚠️ \*\*Traffic moves in traffic-us-west: gcp-us-west1 0% → 10%, metal-sjc 100% → 90%\*\*/,
  );
  assert.match(
    md,
    new RegExp(`> ⚠️ \\*\\*Hosts change state in metal-sjc: 1 active → draining\\*\\*`),
  );
  const row = (stack: string) => md.split("\n").find((l) => l.startsWith(`| **${stack}`))!;
  // Traffic moving comes first, then hosts changing state, then replacements and removals.
  assert.ok(md.indexOf(row("traffic-us-west")) < md.indexOf(row("metal-sjc")));
  assert.ok(md.indexOf(row("metal-sjc")) < md.indexOf(row("gcp-a")));
  assert.match(
    row("traffic-us-west"),
    /\| ⚠️ \*\*gcp-us-west1 0% → 10%, metal-sjc 100% → 90%\*\* \|/,
  );
  assert.match(
    row("gcp-us-west1"),
    /^\| \*\*gcp-us-west1\*\* \| 0 \| 0 \| 0 \| 0 \| .* egress \+\$/,
  );
  assert.match(row("gcp-a"), /^\| \*\*gcp-a\*\* \| 0 \| \d+ \| 1 \| 0 \| /);
  assert.match(
    row("gcp-c"),
    /^\| \*\*gcp-c \(new stack\)\*\* \| \d+ \| 0 \| 0 \| 0 \| — → 6–90 \|/,
  );
  assert.match(
    row("gcp-d"),
    /^\| \*\*gcp-d \(stack removed\)\*\* \| 0 \| 0 \| 0 \| \d+ \| 6–90 → — \|/,
  );
  assert.match(row("metal-sjc"), /\| 1 active → draining \|/);
  assert.match(md, /<details><summary><b>gcp-b: \d+ to update/);
  assert.match(md, /> ⚠️ \*\*1 new mandatory policy violations in gcp-b\*\*/);
  assert.match(row("gcp-b"), /\| 2–90 → 2–90 \||\| 6–90 → 2–90 \|/);
  assert.match(row("gcp-b"), /\| \+1 mandatory \|$/);
  assert.match(md, /\n {7}allows\[0\]\.ports\[0\]: "10000-59999" → "20000-59999"\n/);
  assert.match(md, /machineType: "c2d-highcpu-32" → "c2d-highcpu-56" {2}\[forces replacement\]/);
});

test("no change: one line, exit 0", () => {
  const result = project.avfleet("diff", "--base", "HEAD");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    "No infrastructure change: 6 stacks have identical Plans at HEAD (" +
      project.git("rev-parse", "--short=7", "HEAD").trim() +
      ") and working tree.\n",
  );
});

test("bad input: unknown revision, not a git repository, no --base — exit 2, nothing evaluated", () => {
  const unknown = project.avfleet("diff", "--base", "no-such-branch");
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^--base: is "no-such-branch", not a commit in .+, expected a branch, tag or commit \(e\.g\. origin\/main\)\n$/,
  );
  assert.equal(unknown.stdout, "");

  const missing = project.avfleet("diff");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /usage: --base REV is required/);

  const outside = mkdtempSync(join(tmpdir(), "avfleet-not-git-"));
  try {
    symlinkSync(join(ROOT, "node_modules"), join(outside, "node_modules"), "dir");
    const result = spawnSync(
      process.execPath,
      ["--import", "tsx", join(project.dir, "scripts/avfleet.ts"), "diff", "--base", "HEAD"],
      {
        cwd: outside,
        encoding: "utf8",
        env: { ...process.env, GIT_CEILING_DIRECTORIES: tmpdir() },
      },
    );
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /: \(directory\): is not inside a git repository, expected a git checkout/,
    );
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test("worktrees of the evaluated revisions are gone afterwards", () => {
  assert.equal(project.git("worktree", "list").trim().split("\n").length, 1);
});

test("step rule at review time: 50 points over a maxStepPct of 20 fails diff and policy --base", () => {
  // HEAD: metal-sjc 90, gcp-us-west1 10 (maxStepPct 25). The working tree moves 50 points.
  project.writeStack("traffic-us-west", "traffic-us-west", (doc) => {
    doc.config["avfleet:traffic"].maxStepPct = 20;
    doc.config["avfleet:traffic"].pools = [
      { stack: "metal-sjc", weight: 40 },
      { stack: "gcp-us-west1", weight: 60 },
    ];
  });
  const breach = "this change moves 50 points of traffic, more than maxStepPct 20";
  try {
    const diff = project.avfleet("diff", "--base", "HEAD", "--markdown", "--fail-on-violations");
    assert.equal(diff.code, 1, diff.stderr);
    const summary = diff.stdout.split("<details>")[0];
    const alerts = summary.split("\n").filter((l) => l.startsWith("> ⚠️"));
    assert.equal(alerts[0], `> ⚠️ **Traffic rule broken in traffic-us-west: ${breach}**  `);
    assert.match(diff.stdout, new RegExp(`\\[mandatory\\] traffic-weights: ${breach}`));

    const policy = project.avfleet("policy", "--base", "HEAD", "traffic-us-west");
    assert.equal(policy.code, 1, policy.stderr);
    assert.match(
      policy.stdout,
      new RegExp(`\\n  \\[mandatory\\] traffic-weights: traffic-us-west: ${breach}\\n`),
    );
    // Without a base there is nothing applied to step from, as offline always was.
    const alone = project.avfleet("policy", "traffic-us-west");
    assert.equal(alone.code, 0, alone.stdout);
    const bad = project.avfleet("policy", "--base", "no-such-branch", "traffic-us-west");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^--base: is "no-such-branch", not a commit in /);
  } finally {
    project.git("checkout", "--", "stacks/Pulumi.traffic-us-west.yaml");
  }
});

test("a program whose facts disagree with its stack's config fails the review, as the pack would", () => {
  // The pack reads the config the CLI hands it (PULUMI_CONFIG); diff must judge with it too.
  const grep = spawnSync("grep", ["-rl", "version: STACK_FACTS_VERSION", "modules"], {
    cwd: project.dir,
    encoding: "utf8",
  });
  const facts = grep.stdout.trim();
  assert.equal(facts.split("\n").length, 1, `one file declares the facts: ${grep.stdout}`);
  const path = join(project.dir, facts);
  writeFileSync(
    path,
    readFileSync(path, "utf8").replace("drainSeconds: spec.drainSeconds,", "drainSeconds: 60,"),
  );
  try {
    const diff = project.avfleet("diff", "--base", "HEAD", "--json", "--fail-on-violations");
    assert.equal(diff.code, 1, diff.stderr);
    const stacks: JsonStack[] = JSON.parse(diff.stdout).stacks;
    const refused = stacks
      .filter((s) =>
        s.policy.introduced.some(
          (v) => v.policy === "stack-facts-match-config" && v.level === "mandatory",
        ),
      )
      .map((s) => s.stack);
    // Every fleet stack of head: their drain limits are 1800 s, not 60.
    assert.deepEqual(refused, ["gcp-a", "gcp-b", "gcp-c", "gcp-us-west1", "metal-sjc"]);
  } finally {
    project.git("checkout", "--", facts);
  }
});
