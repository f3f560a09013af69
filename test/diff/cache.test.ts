/** Plan cache keys: same inputs, same key, wherever they come from; any input changed, a miss. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  blobId,
  commitSnapshot,
  PlanCache,
  planKey,
  workingTreeSnapshot,
} from "../../modules/plan/cache";
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
const stackPath = (name: string) => `stacks/Pulumi.${name}.yaml`;
const STACKS = ["gcp-a", "gcp-b", "metal-sjc", "traffic-us-west"];
const key = (stack: string, lock = LOCK) =>
  planKey(workingTreeSnapshot(dir), stack, stackPath, lock, STACKS);
const atCommit = (stack: string) =>
  planKey(commitSnapshot(dir, commit), stack, stackPath, LOCK, STACKS);

test("blob ids are git's own", () => {
  assert.equal(blobId(Buffer.from("export = {};\n")), git("hash-object", "index.ts").trim());
});

test("a commit and an identical working tree give the same key; each stack its own", () => {
  assert.equal(key("gcp-a"), atCommit("gcp-a"));
  assert.equal(key("traffic-us-west"), atCommit("traffic-us-west"));
  assert.notEqual(key("gcp-a"), key("gcp-b"));
});

test("a changed module file, a new one, or the lockfile: a miss", () => {
  const cache = new PlanCache(join(dir, ".avfleet/cache/plans"));
  const before = key("gcp-a");
  cache.set(before, { name: "gcp-a", resources: [], outputs: {} });
  write("modules/fleets/gcp.ts", "export const machine = 2;\n");
  assert.notEqual(key("gcp-a"), before);
  assert.equal(cache.get(key("gcp-a")), undefined);
  write("modules/fleets/gcp.ts", "export const machine = 1;\n");
  assert.equal(key("gcp-a"), before, "restored bytes: the same key again");

  write("modules/fleets/extra.ts", "export {};\n");
  assert.notEqual(key("gcp-a"), before, "an untracked module is read by the program too");
  rmSync(join(dir, "modules/fleets/extra.ts"));

  assert.notEqual(key("gcp-a", Buffer.from('{"lockfileVersion": 2}')), before);
  assert.equal(key("gcp-a"), before);

  // The program imports the pack's rules, not its policies.
  write("policy/rules.ts", "export const rule = 1;\n");
  assert.notEqual(key("gcp-a"), before, "a rule the program applies");
  rmSync(join(dir, "policy/rules.ts"));
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

test("a traffic split's weights re-cost the pools it names, no other fleet", () => {
  const [a, b, metal] = ["gcp-a", "gcp-b", "metal-sjc"].map((s) => key(s));
  write(
    "stacks/Pulumi.traffic-us-west.yaml",
    "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 90}, {stack: metal-sjc, weight: 10}]\n",
  );
  assert.notEqual(key("gcp-a"), a);
  assert.notEqual(key("metal-sjc"), metal);
  assert.equal(key("gcp-b"), b);
  write(
    "stacks/Pulumi.traffic-us-west.yaml",
    "config:\n  avfleet:traffic:\n    pools: [{stack: gcp-a, weight: 100}, {stack: metal-sjc, weight: 0}]\n",
  );
  assert.equal(key("gcp-a"), a);
});

test("another stack's file changes only the stacks that name it", () => {
  const a = key("gcp-a");
  const traffic = key("traffic-us-west");
  write("stacks/Pulumi.gcp-b.yaml", "config: {b: 2}\n");
  write("README.md", "still not an input\n");
  assert.equal(key("gcp-a"), a);
  assert.equal(key("traffic-us-west"), traffic);
  write("stacks/Pulumi.gcp-a.yaml", "config: {a: 2}\n");
  assert.notEqual(key("gcp-a"), a);
  assert.notEqual(key("traffic-us-west"), traffic, "a traffic stack depends on its pools");
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
  writeFileSync(join(dir, "cache", "broken.json"), "{");
  assert.equal(cache.get("broken"), undefined);
  assert.equal(cache.get("absent"), undefined);
});
