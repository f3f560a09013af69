/** Loads a bare-metal inventory: schema, then the checks across hosts. */
import { inventorySchema, type Inventory } from "./inventory.schema";
import { assertNoProblems, readYamlFile, schemaProblems, type Problem } from "./validate";

function duplicates(inventory: Inventory, key: "name" | "publicIp" | "privateIp"): Problem[] {
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  inventory.hosts.forEach((host, i) => {
    const seen = first.get(host[key]);
    if (seen === undefined) first.set(host[key], i);
    else
      problems.push({
        path: ["hosts", i, key],
        message: `is "${host[key]}", already used by hosts[${seen}]`,
        expected: `a ${key} no other host has`,
      });
  });
  return problems;
}

export function inventoryProblems(inventory: Inventory): Problem[] {
  const problems = [
    ...duplicates(inventory, "name"),
    ...duplicates(inventory, "publicIp"),
    ...duplicates(inventory, "privateIp"),
  ];
  const classes = Object.keys(inventory.hostClasses);
  inventory.hosts.forEach((host, i) => {
    if (!classes.includes(host.class)) {
      problems.push({
        path: ["hosts", i, "class"],
        message: `is "${host.class}", not a defined host class`,
        expected: `one of ${classes.join(", ")}`,
      });
    }
  });
  // Provisioning connects to every host that is not retired; an unpinned host key would let
  // anyone on the path receive the root payload.
  inventory.hosts.forEach((host, i) => {
    if (host.state !== "retired" && !host.hostKey) {
      problems.push({
        path: ["hosts", i, "hostKey"],
        message: `is missing on ${host.state} host ${host.name}`,
        expected: `${inventorySchema.properties.hosts.items.properties.hostKey.description}; only retired hosts may omit it`,
      });
    }
  });
  // Draining a whole rack at once takes out its share of the site and usually means a typo
  // in a bulk edit; a rack goes away host by host, or is retired.
  const racks = new Map<string, string[]>();
  for (const host of inventory.hosts)
    racks.set(host.rack, [...(racks.get(host.rack) ?? []), host.state]);
  for (const [rack, states] of racks) {
    if (states.every((s) => s === "draining")) {
      problems.push({
        path: ["hosts"],
        message: `rack ${rack} has all ${states.length} hosts draining`,
        expected: "at least one active or retired host per rack",
      });
    }
  }
  return problems;
}

export function loadInventory(file: string): Inventory {
  const document = readYamlFile(file, "a host inventory with site, hostClasses and hosts");
  assertNoProblems(file, schemaProblems(inventorySchema, document));
  const inventory = document as Inventory;
  assertNoProblems(file, inventoryProblems(inventory));
  return inventory;
}
