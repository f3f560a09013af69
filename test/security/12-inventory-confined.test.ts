/**
 * Finding 12: `inventory:` took absolute paths and `..`, so a stack file could have the
 * program, and every preview of it, read a file outside the project. The path must now name a
 * file inside the project, symbolic links followed; anything else exits 2 before any evaluation.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { avfleet, ROOT } from "../support/cli";

const scratch = mkdtempSync(join(tmpdir(), "avfleet-12-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A valid inventory of site sjc outside every project below: what the attack reads. */
const outside = join(scratch, "elsewhere");
mkdirSync(outside);
copyFileSync(join(ROOT, "inventory/metal-sjc.yaml"), join(outside, "metal-sjc.yaml"));

let projects = 0;
/** A project whose metal-sjc stack names `inventory`; `prepare` lays out its files. */
function project(inventory: string, prepare: (dir: string) => void = () => {}): string {
  const dir = join(scratch, `project-${projects++}`);
  mkdirSync(join(dir, "stacks"), { recursive: true });
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.metal-sjc.yaml"), "utf8"));
  doc.config["avfleet:fleet"].inventory = inventory;
  writeFileSync(join(dir, "stacks/Pulumi.metal-sjc.yaml"), YAML.stringify(doc));
  prepare(dir);
  return join(dir, "stacks");
}

const EXPECTED_PATH =
  "expected the host inventory file, a path inside the project relative to its root (no leading /, no ..), e.g. inventory/metal-sjc.yaml";

for (const [what, inventory] of [
  ["an absolute path", join(outside, "metal-sjc.yaml")],
  ["a path climbing out with ..", "../elsewhere/metal-sjc.yaml"],
  ["a .. in the middle", "inventory/../../elsewhere/metal-sjc.yaml"],
]) {
  test(`an inventory named by ${what} exits 2, nothing evaluated`, () => {
    const stacks = project(inventory);
    const result = avfleet(["preview", "--stacks-dir", stacks, "metal-sjc"]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr.trim().split("\n")[0],
      `${join(stacks, "Pulumi.metal-sjc.yaml")}: config.avfleet:fleet.inventory: is "${inventory}", ${EXPECTED_PATH}`,
    );
  });
}

for (const [what, link] of [
  [
    "the inventory file",
    (dir: string) => {
      mkdirSync(join(dir, "inventory"));
      symlinkSync(join(outside, "metal-sjc.yaml"), join(dir, "inventory/metal-sjc.yaml"));
    },
  ],
  ["folder", (dir: string) => symlinkSync(outside, join(dir, "inventory"))],
] as const) {
  test(`an inventory ${what} inside the project that links outside it exits 2`, () => {
    const stacks = project("inventory/metal-sjc.yaml", link);
    const result = avfleet(["preview", "--stacks-dir", stacks, "metal-sjc"]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr.trim().split("\n")[0],
      `${join(stacks, "Pulumi.metal-sjc.yaml")}: config.avfleet:fleet.inventory: is "inventory/metal-sjc.yaml", which resolves to ${join(outside, "metal-sjc.yaml")}, outside the project ${join(stacks, "..")}, expected the path of this site's host inventory, a file inside the project`,
    );
  });
}

test("a link that stays inside the project is followed", () => {
  const stacks = project("inventory/metal-sjc.yaml", (dir) => {
    mkdirSync(join(dir, "sites"));
    copyFileSync(join(ROOT, "inventory/metal-sjc.yaml"), join(dir, "sites/metal-sjc.yaml"));
    symlinkSync(join(dir, "sites"), join(dir, "inventory"));
  });
  const result = avfleet(["preview", "--stacks-dir", stacks, "metal-sjc"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /metal-sjc/);
});
