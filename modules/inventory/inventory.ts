/**
 * JSON Schema of a bare-metal site's host inventory (`inventory/<stack>.yaml`): host classes
 * (hardware, capacity, cost) and every host with its addresses, rack and state.
 *
 * Loads a bare-metal inventory: schema and the checks across hosts, in one pass.
 */
import type { FromSchema } from "json-schema-to-ts";
import { isPrivateIpv4, notGlobalUnicast } from "../inputs/net";
import { loadInput, readInput, type InputFormat } from "../inputs/validate";
import { type Problem } from "../inputs/problems";

/**
 * Limits of one inventory (docs/reference/stacks-and-inputs.md, "Reading inputs"): the largest
 * sites run a few thousand hosts, and a 20,000-host inventory must stay valid; past 50,000 a
 * site is several inventories.
 */
export const INVENTORY_LIMITS = {
  hosts: 50_000,
  hostClasses: 64,
  racks: 2_000,
  /** 50,000 hosts in block style, each with a comment and an SSH host key, fit. */
  bytes: 16 * 1024 * 1024,
} as const;

/** The NICs media runs on, in a host class and in the facts of a host tuned from it. */
export const interfacesSchema = {
  type: "array",
  description: "a list of NIC names (default: the default route's interface)",
  minItems: 1,
  maxItems: 16,
  uniqueItems: true,
  items: {
    type: "string",
    pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$",
    description: "a NIC name like eth0 or ens5",
  },
} as const;

const hostClassSchema = {
  type: "object",
  description: "a host class {cores, nicDriver, nicQueues, streamsPerHost, egressGbps, monthlyUsd}",
  required: ["cores", "nicDriver", "nicQueues", "streamsPerHost", "egressGbps", "monthlyUsd"],
  additionalProperties: false,
  properties: {
    cores: { type: "integer", minimum: 1, maximum: 1024, description: "a CPU count" },
    nicDriver: {
      type: "string",
      pattern: "^[a-z0-9_]{1,32}$",
      description: "a kernel NIC driver name like mlx5_core or ice",
    },
    nics: {
      type: "integer",
      minimum: 1,
      maximum: 16,
      default: 1,
      description: "how many media NICs the host has",
    },
    nicQueues: {
      type: "integer",
      minimum: 1,
      maximum: 1024,
      description: "RX queues of one media NIC",
    },
    interfaces: interfacesSchema,
    streamsPerHost: {
      type: "integer",
      minimum: 1,
      maximum: 200_000,
      description: "concurrent media streams one host carries at its target load",
    },
    egressGbps: {
      type: "number",
      minimum: 0.1,
      maximum: 3200,
      description: "usable egress in Gbit/s",
    },
    monthlyUsd: {
      type: "number",
      minimum: 0,
      maximum: 1_000_000,
      description: "amortized cost per host-month (hardware, colo, power) in USD",
    },
  },
} as const;

const domainName = (what: string) =>
  ({
    type: "string",
    pattern: "^[a-z0-9][a-z0-9-]{0,31}$",
    description: `${what}: a lowercase name like a or pdu-a`,
  }) as const;

const rackSchema = {
  type: "object",
  description: "a rack {power, network}: the power feed and the network domain it depends on",
  required: ["power", "network"],
  additionalProperties: false,
  properties: {
    power: domainName("the power domain (feed or PDU pair) the rack hangs off"),
    network: domainName("the network domain (ToR pair or spine) the rack uplinks to"),
  },
} as const;

export const HOST_STATES = ["active", "draining", "retired"] as const;

/**
 * An SSH host public key as the host's /etc/ssh/ssh_host_*_key.pub holds it. Ed25519 and
 * ECDSA only: @pulumi/command pins a key by offering only that key's type as host key
 * algorithm, and an RSA key's type is `ssh-rsa`, the SHA-1 signature OpenSSH 8.8 and later
 * disable by default.
 */
export const hostKeySchema = {
  type: "string",
  pattern: "^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) AAAA[A-Za-z0-9+/]+={0,2}( [!-~][ -~]*)?$",
  description:
    "an SSH host public key line like 'ssh-ed25519 AAAA... root@host' (ed25519 or ecdsa; the host's /etc/ssh/ssh_host_ed25519_key.pub)",
} as const;

export const inventorySchema = {
  type: "object",
  description: "a host inventory with site, hostClasses, racks and hosts",
  // racks is required by the loader, which can say which racks to declare.
  required: ["site", "hostClasses", "hosts"],
  additionalProperties: false,
  properties: {
    site: { type: "string", pattern: "^[a-z][a-z0-9]{1,15}$", description: "a site code like sjc" },
    egressUsdPerGbpsMonth: {
      type: "number",
      minimum: 0,
      maximum: 100_000,
      default: 350,
      description: "IP transit price per Gbit/s at the 95th percentile, per month",
    },
    hostClasses: {
      type: "object",
      description: "a mapping of host class name to its hardware, capacity and cost",
      minProperties: 1,
      maxProperties: INVENTORY_LIMITS.hostClasses,
      propertyNames: {
        pattern: "^[a-z0-9][a-z0-9-]{0,31}$",
        description:
          "a host class name: lowercase letters a-z, digits 0-9 and -, starting with a letter or digit, at most 32 characters",
      },
      additionalProperties: hostClassSchema,
    },
    racks: {
      type: "object",
      description:
        "a mapping of rack name to {power, network}, e.g. r01: { power: a, network: spine-1 }",
      minProperties: 1,
      maxProperties: INVENTORY_LIMITS.racks,
      propertyNames: {
        pattern: "^[a-z0-9][a-z0-9-]{0,15}$",
        description:
          "a rack name: lowercase letters a-z, digits 0-9 and -, starting with a letter or digit, at most 16 characters",
      },
      additionalProperties: rackSchema,
    },
    hosts: {
      type: "array",
      description: `a list of at most ${INVENTORY_LIMITS.hosts} hosts`,
      minItems: 1,
      maxItems: INVENTORY_LIMITS.hosts,
      items: {
        type: "object",
        description: "a host {name, publicIp, privateIp, rack, class, state, hostKey}",
        required: ["name", "publicIp", "privateIp", "rack", "class", "state"],
        additionalProperties: false,
        properties: {
          name: {
            type: "string",
            pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
            description: "an RFC 1123 host name label (lowercase letters, digits, inner -)",
          },
          publicIp: {
            type: "string",
            format: "ipv4",
            description: "a public (global unicast) IPv4 address",
          },
          privateIp: {
            type: "string",
            format: "ipv4",
            description: "a private (RFC 1918) IPv4 address",
          },
          rack: {
            type: "string",
            pattern: "^[a-z0-9][a-z0-9-]{0,15}$",
            description: "a rack declared under racks, like r01",
          },
          class: { type: "string", description: "a host class defined in hostClasses" },
          state: { type: "string", enum: HOST_STATES },
          hostKey: hostKeySchema,
        },
      },
    },
  },
} as const;

export type Inventory = FromSchema<typeof inventorySchema>;
export type InventoryHost = Inventory["hosts"][number];
export type HostClass = FromSchema<typeof hostClassSchema>;
export type Rack = FromSchema<typeof rackSchema>;
export type HostState = (typeof HOST_STATES)[number];

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
