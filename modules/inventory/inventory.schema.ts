/**
 * JSON Schema of a bare-metal site's host inventory (`inventory/<stack>.yaml`): host classes
 * (hardware, capacity, cost) and every host with its addresses, rack and state.
 */
import type { FromSchema } from "json-schema-to-ts";

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
