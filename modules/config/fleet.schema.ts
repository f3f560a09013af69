/**
 * JSON Schema of a fleet spec — the `avfleet:fleet` key of a stack file. The single source
 * of truth: TypeScript types come from it (FromSchema) and so do the loader's errors.
 */
import type { FromSchema } from "json-schema-to-ts";
import { machineTypeNames } from "../capacity/machine-types";

const port = (description: string, minimum = 1) =>
  ({ type: "integer", minimum, maximum: 65535, description }) as const;

export const portRangeSchema = {
  type: "object",
  description: "a port range {from, to} inside 1024–65535",
  required: ["from", "to"],
  additionalProperties: false,
  properties: {
    from: port("a port in 1024–65535", 1024),
    to: port("a port in 1024–65535", 1024),
  },
} as const;

const labelValue = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9_-]{0,62}$",
  description: "a label value: lowercase letters, digits, - and _, at most 63 characters",
} as const;

/** Keys every fleet kind shares. */
const commonProperties = {
  mediaRegion: {
    type: "string",
    pattern: "^[a-z]+(-[a-z0-9]+)*$",
    description: "a media region name like us-west (where users are steered)",
  },
  pool: {
    type: "string",
    pattern: "^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
    description: "a pool name: lowercase RFC 1123 label of at most 40 characters",
  },
  minHosts: { type: "integer", minimum: 0, maximum: 5000, description: "a host count in 0–5000" },
  maxHosts: { type: "integer", minimum: 1, maximum: 5000, description: "a host count in 1–5000" },
  ports: {
    type: "object",
    description: "a mapping with mediaUdp, signalingTcp and health",
    required: ["mediaUdp", "signalingTcp", "health"],
    additionalProperties: false,
    properties: {
      mediaUdp: portRangeSchema,
      signalingTcp: {
        type: "array",
        description: "a list of TCP ports for signaling and TURN/TLS",
        minItems: 1,
        uniqueItems: true,
        items: port("a TCP port in 1–65535"),
      },
      health: {
        type: "object",
        description: "a mapping {path, port} the load balancer and autohealer probe",
        required: ["path", "port"],
        additionalProperties: false,
        properties: {
          path: {
            type: "string",
            pattern: "^/[A-Za-z0-9._~/-]*$",
            description: "an absolute HTTP path like /healthz",
          },
          port: port("a port in 1024–65535", 1024),
        },
      },
    },
  },
  adminCidrs: {
    type: "array",
    description: "a list of CIDRs allowed to reach SSH, e.g. 198.51.100.0/24",
    minItems: 1,
    uniqueItems: true,
    items: { type: "string", format: "cidr", description: "a CIDR like 198.51.100.0/24" },
  },
  tuning: {
    type: "object",
    description: "a mapping {profile}",
    required: ["profile"],
    additionalProperties: false,
    properties: {
      profile: { type: "string", enum: ["baseline", "media-udp"] },
      stallMs: {
        type: "number",
        exclusiveMinimum: 0,
        maximum: 1000,
        default: 20,
        description: "the worst receiver stall to absorb, in ms",
      },
    },
  },
  drainSeconds: {
    type: "integer",
    minimum: 60,
    maximum: 7200,
    default: 1800,
    description: "seconds a host may take to drain its calls before it goes",
  },
  labels: {
    type: "object",
    description: "a mapping with team and cost-center",
    required: ["team", "cost-center"],
    additionalProperties: false,
    properties: {
      team: labelValue,
      "cost-center": labelValue,
      environment: labelValue,
    },
  },
} as const;

const commonRequired = [
  "kind",
  "mediaRegion",
  "pool",
  "minHosts",
  "maxHosts",
  "ports",
  "adminCidrs",
  "tuning",
  "labels",
] as const;

export const gcpFleetSchema = {
  type: "object",
  required: [...commonRequired, "machineType", "zones"],
  additionalProperties: false,
  properties: {
    kind: { const: "gcp" },
    ...commonProperties,
    machineType: {
      type: "string",
      enum: machineTypeNames("gcp"),
      description: `a GCP machine type with known media capacity: ${machineTypeNames("gcp").join(", ")}`,
    },
    zones: {
      type: "array",
      description: "a list of zones of the stack's gcp:region, e.g. us-west1-a",
      minItems: 1,
      uniqueItems: true,
      items: {
        type: "string",
        pattern: "^[a-z]+-[a-z]+[0-9]+-[a-z]$",
        description: "a zone like us-west1-a",
      },
    },
    image: {
      type: "string",
      default: "projects/debian-cloud/global/images/family/debian-12",
      description: "a boot image or image family self link",
    },
    network: { type: "string", default: "default", description: "a VPC network name or self link" },
    subnetwork: { type: "string", description: "a subnetwork name or self link" },
    bootDiskGb: {
      type: "integer",
      minimum: 10,
      maximum: 2000,
      default: 20,
      description: "a size in GB",
    },
    autoscaling: {
      type: "object",
      description: "a mapping {targetUtilization, cooldownSec, scaleIn}",
      additionalProperties: false,
      default: {},
      properties: {
        targetUtilization: {
          type: "number",
          minimum: 0.1,
          maximum: 0.9,
          default: 0.6,
          description: "the share of a host's media capacity the autoscaler aims for",
        },
        cooldownSec: {
          type: "integer",
          minimum: 60,
          maximum: 3600,
          default: 180,
          description: "seconds",
        },
        scaleIn: {
          type: "object",
          description: "a mapping {maxHostsPerWindow, windowSec}",
          additionalProperties: false,
          default: {},
          properties: {
            maxHostsPerWindow: {
              type: "integer",
              minimum: 1,
              default: 2,
              description:
                "how many hosts scale-in may remove per window (each removal ends calls)",
            },
            windowSec: {
              type: "integer",
              minimum: 60,
              maximum: 3600,
              default: 900,
              description: "seconds",
            },
          },
        },
      },
    },
  },
} as const;

export const fleetSchema = {
  type: "object",
  description: "a fleet spec with a kind",
  required: ["kind"],
  discriminator: { propertyName: "kind" },
  oneOf: [gcpFleetSchema],
} as const;

export type GcpFleetSpec = FromSchema<typeof gcpFleetSchema>;
export type FleetSpec = GcpFleetSpec;
export type PortRange = FromSchema<typeof portRangeSchema>;
