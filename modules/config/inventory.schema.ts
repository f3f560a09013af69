/**
 * JSON Schema of a bare-metal site's host inventory (`inventory/<stack>.yaml`): host classes
 * (hardware, capacity, cost) and every host with its addresses, rack and state.
 */
import type { FromSchema } from "json-schema-to-ts";
import { hostFactsSchema } from "../tuning/schema";

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
    interfaces: hostFactsSchema.properties.interfaces,
    streamsPerHost: {
      type: "integer",
      minimum: 1,
      description: "concurrent media streams one host carries at its target load",
    },
    egressGbps: { type: "number", exclusiveMinimum: 0, description: "usable egress in Gbit/s" },
    monthlyUsd: {
      type: "number",
      minimum: 0,
      description: "amortized cost per host-month (hardware, colo, power) in USD",
    },
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
  description: "a host inventory with site, hostClasses and hosts",
  required: ["site", "hostClasses", "hosts"],
  additionalProperties: false,
  properties: {
    site: { type: "string", pattern: "^[a-z][a-z0-9]{1,15}$", description: "a site code like sjc" },
    egressUsdPerGbpsMonth: {
      type: "number",
      minimum: 0,
      default: 350,
      description: "IP transit price per Gbit/s at the 95th percentile, per month",
    },
    hostClasses: {
      type: "object",
      description: "a mapping of host class name to its hardware, capacity and cost",
      minProperties: 1,
      propertyNames: { pattern: "^[a-z0-9][a-z0-9-]{0,31}$" },
      additionalProperties: hostClassSchema,
    },
    hosts: {
      type: "array",
      description: "a list of hosts",
      minItems: 1,
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
          publicIp: { type: "string", format: "ipv4", description: "a public IPv4 address" },
          privateIp: { type: "string", format: "ipv4", description: "a private IPv4 address" },
          rack: {
            type: "string",
            pattern: "^[a-z0-9][a-z0-9-]{0,15}$",
            description: "a rack name like r01",
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
export type HostState = (typeof HOST_STATES)[number];
