/**
 * The Plan cache by module graph, and sharding: a change to one fleet module re-evaluates
 * only the stacks whose programs ran it; shards run as separate processes at the same time
 * merge into the report one run prints; merge refuses an incomplete or mixed set of shards.
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { avfleetAsync, tempProject, type TempProject } from "./project";

let project: TempProject;
const STACKS = ["aws-us-east-1", "gcp-us-west1", "metal-sjc", "traffic-us-west"];

before(() => {
  project = tempProject();
  for (const stack of STACKS) project.writeStack(stack, stack);
  project.commit("base");
});
after(() => project.dispose());

const evaluatedStacks = (stderr: string) =>
  [...stderr.matchAll(/^evaluated \d+\/\d+: (\S+) \((.+)\)$/gm)].map((m) => `${m[1]} @ ${m[2]}`);

test("a change to the AWS fleet module re-evaluates the AWS stack only", () => {
  const first = project.avfleet("diff", "--base", "HEAD");
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(evaluatedStacks(first.stderr).sort(), [
    "aws-us-east-1 @ working tree",
    "gcp-us-west1 @ working tree",
    "metal-sjc @ working tree",
    "traffic-us-west @ working tree",
  ]);
  assert.match(first.stderr, /^diff: 4 Plans reused, 4 evaluated$/m);

  const module = join(project.dir, "modules/fleets/aws.ts");
  const original = readFileSync(module, "utf8");
  appendFileSync(module, "\nexport const AVFLEET_TEST_MARK = 1;\n");
  try {
    const second = project.avfleet("diff", "--base", "HEAD");
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(evaluatedStacks(second.stderr), ["aws-us-east-1 @ working tree"]);
    assert.match(
      second.stderr,
      /^diff: working tree \(4 stacks\): 3 Plans reused, 1 to evaluate$/m,
    );
    assert.match(second.stderr, /^diff: HEAD \(4 stacks\): 4 Plans reused, 0 to evaluate$/m);
  } finally {
    writeFileSync(module, original);
  }
});

test("shards run as separate processes merge into the report of one run", async () => {
  project.writeStack("gcp-us-west1", "gcp-us-west1", (doc) => {
    doc.config["avfleet:fleet"].maxHosts = 123;
  });
  project.editYaml("inventory/metal-sjc.yaml", (inventory) => {
    inventory.hosts.find((h: { state: string }) => h.state === "active").state = "draining";
  });
  const whole = project.avfleet("diff", "--base", "HEAD", "--markdown");
  assert.equal(whole.code, 0, whole.stderr);
  const wholeJson = project.avfleet("diff", "--base", "HEAD", "--json");

  const shards = await Promise.all(
    [1, 2, 3].map((i) => avfleetAsync(project, "diff", "--base", "HEAD", "--shard", `${i}/3`)),
  );
  const files = shards.map((result, i) => {
    assert.equal(result.code, 0, result.stderr);
    const file = join(project.dir, `shard-${i + 1}.json`);
    writeFileSync(file, result.stdout);
    return file;
  });
  const covered = shards.map((s) => JSON.parse(s.stdout).stacks as string[]);
  assert.deepEqual(covered.flat().sort(), STACKS, "every stack in exactly one shard");
  assert.ok(covered.every((c) => c.length >= 1));

  const merged = project.avfleet("diff", "merge", ...files, "--markdown");
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, whole.stdout);
  assert.match(merged.stdout, /metal-sjc: 1 active → draining/);
  const mergedJson = project.avfleet("diff", "merge", ...files.reverse(), "--json");
  assert.deepEqual(JSON.parse(mergedJson.stdout), JSON.parse(wholeJson.stdout));

  const missing = project.avfleet("diff", "merge", files[0], files[2]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^\(shards\): shard 2\/3: is missing, expected one file for each of the 3 shards$/m,
  );
  const twice = project.avfleet("diff", "merge", ...files, files[1]);
  assert.equal(twice.code, 2);
  assert.match(
    twice.stderr,
    /shard-2\.json: shard\.index: is 2, also the index of .*shard-2\.json, expected each shard once/,
  );
  writeFileSync(join(project.dir, "bad.json"), '{"format": 1, "shard": {"index": 0, "count": 3}}');
  const bad = project.avfleet("diff", "merge", join(project.dir, "bad.json"));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.json: shard\.index: /);
});
