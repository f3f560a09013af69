/** Loads a bare-metal inventory: schema and the checks across hosts, in one pass. */
import {
  INVENTORY_LIMITS,
  inventorySchema,
  type Inventory,
  type InventoryHost,
} from "./inventory.schema";
import { isPrivateIpv4, notGlobalUnicast } from "../inputs/net";
import { loadInput, readInput, type InputFormat } from "../inputs/validate";
import { type Problem } from "../inputs/problems";

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The hosts that are mappings, with their index: the schema refuses any other item, and the
 * checks across hosts still run on the rest (every problem of the file in one run).
 */
function readableHosts(inventory: Inventory): [InventoryHost, number][] {
  return inventory.hosts.flatMap((host, i): [InventoryHost, number][] =>
    isMapping(host) ? [[host, i]] : [],
  );
}

function duplicates(
  hosts: [InventoryHost, number][],
  key: "name" | "publicIp" | "privateIp",
): Problem[] {
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  hosts.forEach(([host, i]) => {
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

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A public address gets a public DNS record; a private one carries the site's own traffic. */
function addressProblems(host: InventoryHost, i: number): Problem[] {
  const problems: Problem[] = [];
  const why = IPV4.test(host.publicIp) ? notGlobalUnicast(host.publicIp) : undefined;
  if (why) {
    problems.push({
      path: ["hosts", i, "publicIp"],
      message: `is ${host.publicIp}, ${why}`,
      expected: "a global unicast IPv4 address (its public DNS record must reach this host)",
    });
  }
  if (IPV4.test(host.privateIp) && !isPrivateIpv4(host.privateIp)) {
    problems.push({
      path: ["hosts", i, "privateIp"],
      message: `is ${host.privateIp}, not a private address`,
      expected: "an address in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
    });
  }
  return problems;
}

export function inventoryProblems(inventory: Inventory): Problem[] {
  const hosts = readableHosts(inventory);
  const problems = [
    ...duplicates(hosts, "name"),
    ...duplicates(hosts, "publicIp"),
    ...duplicates(hosts, "privateIp"),
  ];
  if (!inventory.racks) {
    const used = [...new Set(hosts.map(([h]) => h.rack))];
    problems.push({
      path: ["racks"],
      message: "is missing",
      expected: `a racks: mapping declaring the ${used.length} racks the hosts use, each with its power and network domain, e.g. racks: { ${used
        .slice(0, 3)
        .map((r) => `${r}: { power: <feed>, network: <domain> }`)
        .join(", ")}${used.length > 3 ? ", …" : ""} } (CHANGELOG.md)`,
    });
  }
  // A hostClasses or racks the schema refused as a whole names nothing to check against.
  const classes = isMapping(inventory.hostClasses) ? Object.keys(inventory.hostClasses) : undefined;
  const racks = isMapping(inventory.racks) ? Object.keys(inventory.racks) : undefined;
  hosts.forEach(([host, i]) => {
    problems.push(...addressProblems(host, i));
    if (classes && !classes.includes(host.class)) {
      problems.push({
        path: ["hosts", i, "class"],
        message: `is "${host.class}", not a defined host class`,
        expected: `one of ${classes.join(", ")}`,
      });
    }
    // An undeclared rack is most often a typo, and each typo would count as one more failure
    // domain in the capacity plan.
    if (racks && !racks.includes(host.rack)) {
      problems.push({
        path: ["hosts", i, "rack"],
        message: `is "${host.rack}", not a declared rack`,
        expected: `one of ${racks.slice(0, 20).join(", ")}${racks.length > 20 ? ", …" : ""}, or add it under racks: as ${host.rack}: { power: <feed>, network: <domain> }`,
      });
    }
  });
  // Provisioning connects to every host that is not retired; an unpinned host key would let
  // anyone on the path receive the root payload.
  hosts.forEach(([host, i]) => {
    if (host.state !== "retired" && !host.hostKey) {
      problems.push({
        path: ["hosts", i, "hostKey"],
        message: "is missing on host",
        subject: host.name,
        expected: `${inventorySchema.properties.hosts.items.properties.hostKey.description}; only retired hosts may omit it`,
      });
    }
  });
  // Draining a whole rack at once takes out its share of the site and usually means a typo
  // in a bulk edit; a rack goes away host by host, or is retired.
  const states = new Map<string, string[]>();
  for (const [host] of hosts) states.set(host.rack, [...(states.get(host.rack) ?? []), host.state]);
  for (const [rack, rackStates] of states) {
    if (rackStates.every((s) => s === "draining")) {
      problems.push({
        path: ["hosts"],
        message: `rack ${rack} has all ${rackStates.length} hosts draining`,
        expected: "at least one active or retired host per rack",
      });
    }
  }
  // A site with no host left serves nothing: previewing it would only report the hosts it
  // lacks. Retiring a site is decommissioning its stack (migrate decommission), not this.
  if (
    inventory.hosts.length > 0 &&
    inventory.hosts.every((h) => isMapping(h) && h.state === "retired")
  ) {
    problems.push({
      path: ["hosts"],
      message: `has all ${inventory.hosts.length} hosts retired`,
      expected:
        "at least one active or draining host (a site that is gone is decommissioned: its stack destroyed and its stack file removed)",
    });
  }
  return problems;
}

export const INVENTORY_FORMAT: InputFormat<Inventory> = {
  name: "inventory",
  expected: "a host inventory with site, hostClasses, racks and hosts",
  schema: inventorySchema,
  maxBytes: INVENTORY_LIMITS.bytes,
  // Besides hosts, block lists are a few interface names per host class.
  maxListItems: INVENTORY_LIMITS.hosts + 16 * INVENTORY_LIMITS.hostClasses,
  semantic: inventoryProblems,
};

export function readInventory(file: string) {
  return readInput(file, INVENTORY_FORMAT);
}

export function loadInventory(file: string): Inventory {
  return loadInput(file, INVENTORY_FORMAT);
}
