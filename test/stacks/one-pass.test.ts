/**
 * #27 finding 9: the checks beyond the schema run on every part of a file the schema did not
 * refuse, so one run reports every problem and fixing one does not reveal the next.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { INVENTORY_FORMAT, loadInventory } from "../../modules/inventory/inventory";
import { inventorySchema } from "../../modules/inventory/inventory";
import { documentProblems } from "../../modules/inputs/validate";
import { formatKeyPath } from "../../modules/inputs/problems";
import { ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

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

test("one problem on many hosts is one line naming them, not a line per host", () => {
  const inventory = structuredClone(example);
  const bare = inventory.hosts.slice(0, 29);
  for (const host of bare) delete host.hostKey;
  inventory.hosts[30].class = "r740";
  inventory.hosts[31].class = "r740";
  const lines = problemsLoading(loadInventory, "site.yaml", YAML.stringify(inventory));
  const keyExpected = `${inventorySchema.properties.hosts.items.properties.hostKey.description}; only retired hosts may omit it`;
  assert.deepEqual(lines, [
    `hosts[${bare.map((_: unknown, i: number) => i).join(", ")}].hostKey (29 items: ${bare.map((h: any) => h.name).join(", ")}): is missing on host, expected ${keyExpected}`,
    'hosts[30, 31].class (2 items): is "r740", not a defined host class, expected one of r640-2x25g, r6525-2x100g',
  ]);
  delete inventory.hosts[29].hostKey;
  inventory.hosts[31].class = "r640-2x25g";
  assert.deepEqual(
    problemsLoading(loadInventory, "site.yaml", YAML.stringify(inventory)).slice(1),
    [
      'hosts[30].class: is "r740", not a defined host class, expected one of r640-2x25g, r6525-2x100g',
    ],
  );
});
