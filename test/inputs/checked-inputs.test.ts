/**
 * A checked document is reused only for the bytes it was checked at: an inventory read again
 * unchanged is not parsed again (the CLI, the worker and the program each read it), and one
 * changed since, by this process or another, is read and checked afresh.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { INVENTORY_FORMAT, readInventory } from "../../modules/inventory/inventory";
import { checkedInputs, rememberCheckedInputs } from "../../modules/inputs/validate";
import { ROOT } from "../support/cli";

const example = YAML.parse(readFileSync(join(ROOT, "inventory/metal-sjc.yaml"), "utf8"));

function inventoryFile(document: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "checked-")), "site.yaml");
  writeFileSync(file, YAML.stringify(document));
  return file;
}

const digestOf = (file: string) =>
  createHash("sha256").update(readFileSync(file, "utf8")).digest("hex");

test("an inventory read twice gives equal documents, each the caller's own to change", () => {
  const file = inventoryFile(example);
  const first = readInventory(file);
  assert.deepEqual(first.problems, []);
  first.value!.hosts[0].name = "changed-by-the-caller";
  const second = readInventory(file);
  assert.deepEqual(second.problems, []);
  assert.equal(second.value!.hosts[0].name, example.hosts[0].name);
  assert.deepEqual(second.value!.hosts.length, example.hosts.length);
});

test("a file that changed is checked again: an edit that breaks it is reported", () => {
  const file = inventoryFile(example);
  assert.deepEqual(readInventory(file).problems, []);
  writeFileSync(file, YAML.stringify({ ...example, hosts: [] }));
  const { value, problems } = readInventory(file);
  assert.equal(value?.hosts.length, 0);
  assert.ok(problems.length > 0, "an inventory without hosts is refused");
  assert.ok(problems.every((p) => p.file === file));
});

test("a document checked by another process is used while its file has the bytes it was checked at", () => {
  const file = inventoryFile(example);
  const handed = { ...example, site: "handed-over" };
  rememberCheckedInputs([
    { format: INVENTORY_FORMAT.name, file, digest: digestOf(file), value: handed },
  ]);
  assert.equal(readInventory(file).value?.site, "handed-over");

  rememberCheckedInputs([
    { format: INVENTORY_FORMAT.name, file, digest: "0".repeat(64), value: handed },
  ]);
  assert.equal(readInventory(file).value?.site, example.site, "a stale digest is not trusted");
});

test("what a process checked is what it hands over: valid documents only, by absolute path", () => {
  const good = inventoryFile(example);
  const bad = inventoryFile({ ...example, hosts: "none" });
  readInventory(good);
  readInventory(bad);
  const handed = checkedInputs().filter((c) => c.file === good || c.file === bad);
  assert.deepEqual(
    handed.map(({ format, file, digest }) => ({ format, file, digest })),
    [{ format: "inventory", file: good, digest: digestOf(good) }],
  );
});
