/**
 * Shard documents in process: each large text once, by sha256, and back in place after merge;
 * a shard whose report names a blob it lacks, or that is not JSON, is refused with every file's
 * problem at once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BLOB_MIN_CHARS, mergeShards, shardDocument } from "../../modules/diff/merge";
import { InputError } from "../../modules/inputs/problems";
import { plan, report, resource } from "./plans";

const dir = mkdtempSync(join(tmpdir(), "avfleet-merge-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const script = (v: string) => `#!/bin/sh\n${`echo ${v}\n`.repeat(BLOB_MIN_CHARS)}`;
const COMMAND = "command:local:Command";

function write(name: string, document: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(document));
  return file;
}

test("a shard keeps each large text once and merge puts it back", () => {
  const hosts = ["m1", "m2", "m3"];
  const r = report([
    {
      before: plan(
        "metal-sjc",
        hosts.map((h) => resource("metal-sjc", COMMAND, h, { create: script("a") })),
      ),
      after: plan(
        "metal-sjc",
        hosts.map((h) => resource("metal-sjc", COMMAND, h, { create: script("b") })),
      ),
    },
  ]);
  const document = shardDocument({ index: 1, count: 1 }, ["metal-sjc"], r) as {
    blobs: Record<string, string>;
  };
  // Three hosts, two scripts: two blobs.
  assert.deepEqual(Object.values(document.blobs).sort(), [script("a"), script("b")]);
  const text = JSON.stringify(document);
  assert.ok(text.length < 3 * script("a").length, `${text.length} characters`);
  assert.deepEqual(mergeShards([write("whole.json", document)]), r);
});

test("a missing blob and a file that is not JSON: exit-2 problems for every file", () => {
  const r = report([
    {
      before: plan("s", [resource("s", COMMAND, "c", { create: script("a") })]),
      after: plan("s", [resource("s", COMMAND, "c", { create: script("b") })]),
    },
  ]);
  const document = shardDocument({ index: 1, count: 2 }, ["s"], r) as { blobs: object };
  const lacking = write("lacking.json", { ...document, blobs: {} });
  const broken = join(dir, "broken.json");
  writeFileSync(broken, '{"format": 2,');
  assert.throws(
    () => mergeShards([lacking, broken]),
    (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(
        err.lines[0],
        /lacking\.json: blobs: has no "[0-9a-f]{64}", which the report refers to/,
      );
      assert.equal(err.lines.length, 3, err.lines.join("\n"));
      assert.match(
        err.lines[2],
        /broken\.json: \(document\): is not JSON \(.+\), expected a shard written by avfleet diff --shard/,
      );
      return true;
    },
  );
});
