/**
 * Plan cache keys: the same files used, the same key, wherever they come from; a file the
 * evaluation used changed, a miss; a file it did not use, no effect. Pruning by age and size.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  blobId,
  commitSnapshot,
  PlanCache,
  planKey,
  workingTreeSnapshot,
} from "../../modules/evaluation/cache";
import type { Plan } from "../../modules/plan/plan";

const dir = mkdtempSync(join(tmpdir(), "avfleet-cache-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (path: string, text: string) => {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const git = (...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd: dir,
    encoding: "utf8",
  });

write("index.ts", "export = {};\n");
write("modules/fleets/gcp.ts", "export const machine = 1;\n");
write("inventory/metal-sjc.yaml", "hosts: []\n");
write("stacks/Pulumi.gcp-a.yaml", "config: {a: 1}\n");
write("stacks/Pulumi.gcp-b.yaml", "config: {b: 1}\n");
write(
  "stacks/Pulumi.metal-sjc.yaml",
  "config:\n  avfleet:fleet: {kind: metal, inventory: inventory/metal-sjc.yaml}\n",
);
write(
  "stacks/Pulumi.traffic-us-west.yaml",
  "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 100}, {stack: metal-sjc, weight: 0}]\n",
);
write("README.md", "not an input\n");
git("init", "-q");
git("add", "-A");
git("commit", "-q", "-m", "base");
const commit = git("rev-parse", "HEAD").trim();

const LOCK = Buffer.from('{"lockfileVersion": 3}');
// What evaluations used: each stack its own file; the site its inventory; the traffic split
// its pools' files; every one the program's modules.
// The program imports the pack's contract (policy/contract/rules.ts), never its policies.
const program = ["index.ts", "modules/fleets/gcp.ts", "policy/contract/rules.ts"];
const used: Record<string, string[]> = {
  "gcp-a": [...program, "stacks/Pulumi.gcp-a.yaml"],
  "gcp-b": [...program, "stacks/Pulumi.gcp-b.yaml"],
  "metal-sjc": [...program, "stacks/Pulumi.metal-sjc.yaml", "inventory/metal-sjc.yaml"],
  "traffic-us-west": [
    ...program,
    "stacks/Pulumi.traffic-us-west.yaml",
    "stacks/Pulumi.gcp-a.yaml",
    "stacks/Pulumi.metal-sjc.yaml",
    "inventory/metal-sjc.yaml",
  ],
};
const key = (stack: string, lock = LOCK) =>
  planKey(workingTreeSnapshot(dir), stack, used[stack], lock);
const atCommit = (stack: string) => planKey(commitSnapshot(dir, commit), stack, used[stack], LOCK);

test("blob ids are git's own", () => {
  assert.equal(blobId(Buffer.from("export = {};\n")), git("hash-object", "index.ts").trim());
});

test("a commit and an identical working tree give the same key; each stack its own", () => {
  assert.equal(key("gcp-a"), atCommit("gcp-a"));
  assert.equal(key("traffic-us-west"), atCommit("traffic-us-west"));
  assert.notEqual(key("gcp-a"), key("gcp-b"));
});

test("a changed file the evaluation used, tsconfig.json or the lockfile: a miss; other files: a hit", () => {
  const before = key("gcp-a");
  write("modules/fleets/gcp.ts", "export const machine = 2;\n");
  assert.notEqual(key("gcp-a"), before);
  write("modules/fleets/gcp.ts", "export const machine = 1;\n");
  assert.equal(key("gcp-a"), before, "restored bytes: the same key again");

  write("modules/fleets/aws.ts", "export {};\n");
  write("README.md", "still not an input\n");
  assert.equal(key("gcp-a"), before, "a module the stack's program did not run");
  write("tsconfig.json", "{}\n");
  assert.notEqual(key("gcp-a"), before, "compiler options change every program");
  rmSync(join(dir, "tsconfig.json"));

  assert.notEqual(key("gcp-a", Buffer.from('{"lockfileVersion": 2}')), before);
  assert.equal(key("gcp-a"), before);

  // The program imports the pack's rules, not its policies.
  write("policy/contract/rules.ts", "export const rule = 1;\n");
  assert.notEqual(key("gcp-a"), before, "a rule the program applies");
  rmSync(join(dir, "policy/contract/rules.ts"));
  write("policy/hosts.ts", "export const policy = 1;\n");
  assert.equal(key("gcp-a"), before, "a policy changes no Plan");
  rmSync(join(dir, "policy/hosts.ts"));
});

test("an inventory changes the site that names it and the traffic over it, no other stack", () => {
  const [a, metal, traffic] = ["gcp-a", "metal-sjc", "traffic-us-west"].map((s) => key(s));
  write("inventory/metal-sjc.yaml", "hosts: [{name: sjc-m001}]\n");
  assert.equal(key("gcp-a"), a);
  assert.notEqual(key("metal-sjc"), metal);
  assert.notEqual(key("traffic-us-west"), traffic);
  write("inventory/metal-sjc.yaml", "hosts: []\n");
  assert.equal(key("metal-sjc"), metal);
});

test("a traffic split added to the stacks directory a fleet listed: a miss; the same listing at a commit: a hit", () => {
  // A fleet's egress is costed at its share in every split of its directory, so its
  // evaluation lists the directory (modules/traffic/shares.ts).
  const listed = [...used["gcp-a"], "stacks"];
  const at = (snapshot = workingTreeSnapshot(dir)) => planKey(snapshot, "gcp-a", listed, LOCK);
  const before = at();
  assert.equal(at(commitSnapshot(dir, commit)), before);
  write(
    "stacks/Pulumi.traffic-eu-west.yaml",
    "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 50}]\n",
  );
  assert.notEqual(at(), before, "a new split");
  assert.equal(key("gcp-b"), atCommit("gcp-b"), "a stack that did not list the directory");
  rmSync(join(dir, "stacks/Pulumi.traffic-eu-west.yaml"));
  assert.equal(at(), before);
  write("stacks/sub/Pulumi.x.yaml", "config: {}\n");
  assert.notEqual(at(), before, "a new subdirectory is a new entry");
  rmSync(join(dir, "stacks/sub"), { recursive: true });
  assert.equal(at(), before);
});

test("a fleet's traffic splits: a new or changed split is a miss, any other stack file a hit", () => {
  const costed = [...used["gcp-a"], "stacks/(traffic splits)"];
  const at = (snapshot = workingTreeSnapshot(dir)) => planKey(snapshot, "gcp-a", costed, LOCK);
  const before = at();
  assert.equal(at(commitSnapshot(dir, commit)), before, "a commit and its working tree");
  write("stacks/Pulumi.gcp-b.yaml", "config: {b: 2}\n");
  write("stacks/Pulumi.gcp-c.yaml", "config: {c: 1}\n");
  assert.equal(at(), before, "a stack that is not a split, changed or added");
  write(
    "stacks/Pulumi.traffic-eu-west.yaml",
    "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 50}]\n",
  );
  const added = at();
  assert.notEqual(added, before, "a new split");
  write(
    "stacks/Pulumi.traffic-eu-west.yaml",
    "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 60}]\n",
  );
  assert.notEqual(at(), added, "a split changed");
  rmSync(join(dir, "stacks/Pulumi.traffic-eu-west.yaml"));
  rmSync(join(dir, "stacks/Pulumi.gcp-c.yaml"));
  write("stacks/Pulumi.gcp-b.yaml", "config: {b: 1}\n");
  assert.equal(at(), before);
});

test("lookup finds a Plan by the files an earlier evaluation used, at any revision with those bytes", () => {
  const cache = new PlanCache(join(dir, ".avfleet/cache"));
  const plan: Plan = { name: "gcp-a", resources: [], outputs: { minHosts: 6 } };
  assert.equal(cache.lookup(workingTreeSnapshot(dir), "gcp-a", LOCK), undefined);
  cache.store(workingTreeSnapshot(dir), "gcp-a", used["gcp-a"], LOCK, plan);
  assert.deepEqual(cache.lookup(commitSnapshot(dir, commit), "gcp-a", LOCK)?.plan, plan);
  assert.equal(cache.lookup(workingTreeSnapshot(dir), "gcp-b", LOCK), undefined);

  write("stacks/Pulumi.gcp-a.yaml", "config: {a: 2}\n");
  assert.equal(cache.lookup(workingTreeSnapshot(dir), "gcp-a", LOCK), undefined);
  // A later evaluation used one more file: both sets are remembered.
  const changed: Plan = { ...plan, outputs: { minHosts: 7 } };
  const more = [...used["gcp-a"], "modules/fleets/labels.ts"];
  cache.store(workingTreeSnapshot(dir), "gcp-a", more, LOCK, changed);
  assert.deepEqual(cache.lookup(workingTreeSnapshot(dir), "gcp-a", LOCK)?.plan, changed);
  assert.deepEqual(cache.lookup(commitSnapshot(dir, commit), "gcp-a", LOCK)?.plan, plan);
  write("stacks/Pulumi.gcp-a.yaml", "config: {a: 1}\n");
});

test("prune: entries unused for longer than the age go, then the least recently used above the size", () => {
  const cache = new PlanCache(join(dir, "prune-cache"));
  const plan = (n: number): Plan => ({
    name: "gcp-a",
    resources: [],
    outputs: { padding: "x".repeat(400 * 1024 + n) },
  });
  const day = 86_400_000;
  const age = (key: string, days: number) => {
    const when = new Date(Date.now() - days * day);
    utimesSync(join(cache.root, "plans", `${key}.json`), when, when);
  };
  for (const [key, days] of [
    ["old", 20],
    ["older-used", 3],
    ["newer-used", 2],
    ["fresh", 0],
  ] as const) {
    cache.set(key, plan(days));
    age(key, days);
  }
  // Reading an entry marks it used.
  assert.ok(cache.get("older-used"));
  const result = cache.prune({ maxAgeDays: 14, maxMiB: 1 });
  assert.equal(cache.get("old"), undefined, "older than 14 days");
  assert.equal(cache.get("newer-used"), undefined, "least recently used while above 1 MiB");
  assert.ok(cache.get("older-used") && cache.get("fresh"));
  assert.equal(result.removedFiles, 2);
  assert.equal(result.keptFiles, 2);
  assert.ok(result.keptBytes <= 1024 * 1024);
});

test("the cache returns what was stored, and nothing for an unreadable entry", () => {
  const cache = new PlanCache(join(dir, "cache"));
  const plan: Plan = {
    name: "gcp-a",
    resources: [
      { urn: "urn:x", type: "t", name: "n", custom: true, inputs: { a: [1, { b: "c" }] } },
    ],
    outputs: { minHosts: 6 },
  };
  cache.set("k", plan);
  assert.deepEqual(cache.get("k"), plan);
  writeFileSync(join(dir, "cache", "plans", "broken.json"), "{");
  assert.equal(cache.get("broken"), undefined);
  assert.equal(cache.get("absent"), undefined);
});
