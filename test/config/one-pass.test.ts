/**
 * #27 finding 9: the checks beyond the schema run on every part of a file the schema did not
 * refuse, so one run reports every problem and fixing one does not reveal the next.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { INVENTORY_FORMAT } from "../../modules/config/inventory";
import { documentProblems, formatKeyPath } from "../../modules/config/validate";
import { ROOT } from "../support/cli";

const example = YAML.parse(readFileSync(join(ROOT, "inventory/metal-sjc.yaml"), "utf8"));

const problemsOf = (change: (inventory: any) => void) => {
  const inventory = structuredClone(example);
  change(inventory);
  return documentProblems(inventory, INVENTORY_FORMAT).map(
    (p) => `${formatKeyPath(p.path)}: ${p.message}`,
  );
};

test("a host that is not a mapping hides no duplicate name elsewhere", () => {
  assert.deepEqual(
    problemsOf((inv) => {
      inv.hosts[3].name = inv.hosts[0].name;
      inv.hosts.push(null);
    }),
    ["hosts[48]: is null", 'hosts[3].name: is "sjc-m001", already used by hosts[0]'],
  );
});

test("a refused hostClasses or racks mapping is reported once, not again at every host", () => {
  assert.deepEqual(
    problemsOf((inv) => {
      inv.hosts[3].name = inv.hosts[0].name;
      inv.hostClasses = 5;
      inv.racks = "r01";
    }),
    [
      "hostClasses: is number 5",
      'racks: is string "r01"',
      'hosts[3].name: is "sjc-m001", already used by hosts[0]',
    ],
  );
});
