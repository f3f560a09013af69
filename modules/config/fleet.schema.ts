/**
 * JSON Schema of a fleet spec — the `avfleet:fleet` key of a stack file. The single source
 * of truth: TypeScript types come from it (FromSchema) and so do the loader's errors.
 */
import type { FromSchema } from "json-schema-to-ts";
import { machineTypeNames } from "../machines/machine-types";
import { FACT_DEFAULTS } from "../../policy/contract/stack-config";
import { dnsProviderProperties } from "./dns.schema";
import { hostKeySchema } from "../inventory/inventory";
import { port, portRangeSchema, workloadSchema } from "./workload.schema";
import { awsAlertingSchema, gcpAlertingSchema, metalAlertingSchema } from "./notify.schema";
import { migrationMarkerSchema } from "./marker.schema";
import { AWS_MAX_DRAIN_SEC } from "./aws-drain";
import { DRAIN_CEILING_SEC } from "./drain-ceiling";

/**
 * The tuning profiles a fleet may name. The names belong to the input format; modules/tuning
 * keys its profiles by them, so a name without a profile fails to compile.
 */
export const PROFILE_NAMES = ["baseline", "media-udp", "media-udp-busy-poll"] as const;

const labelValue = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9_-]{0,62}$",
  description: "a label value: lowercase letters, digits, - and _, at most 63 characters",
} as const;

/** The media region's peak demand this pool must be able to carry alone. */
export const demandSchema = {
  type: "object",
  description: "a mapping {peakParticipants, streamsPerParticipant, avgStreamKbps, headroom}",
  required: ["peakParticipants", "streamsPerParticipant", "avgStreamKbps"],
  additionalProperties: false,
  properties: {
    peakParticipants: {
      type: "integer",
      minimum: 0,
      maximum: 100_000_000,
      description: "concurrent participants at the media region's peak",
    },
    streamsPerParticipant: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 64,
      description: "media streams the SFU forwards per participant (audio + video layers)",
    },
    avgStreamKbps: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 20000,
      description: "average bitrate of one forwarded stream, in kbit/s",
    },
    headroom: {
      type: "number",
      minimum: 0,
      maximum: 2,
      default: FACT_DEFAULTS.headroom,
      description: "spare share of capacity above the peak, e.g. 0.3",
    },
    peakToAverage: {
      type: "number",
      minimum: 1,
      maximum: 10,
      default: 2.5,
      description: "peak over the monthly average of egress (diurnal curve), for egress cost",
    },
  },
} as const;

/**
 * avfleet:fleet.migration (#30): the marker `avfleet migrate` writes with every minHosts it sets,
 * so the policy pack's fleet-migration-order refuses a deploy from a checkout that missed it.
 */
const fleetMigrationSchema = migrationMarkerSchema(
  "written by avfleet migrate with each minHosts it sets (a scale step, a floor raised before a shift), never by hand: {seq, rollback, at}; the policy pack refuses an update whose seq is older than the one the stack last applied",
  "the position in the region's migration journal of the change that wrote this minHosts",
  "the change was made by a rollback (the floor raised for the pool it returns to)",
);

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
  endpoint: {
    type: "string",
    format: "hostname",
    description: "the hostname this pool's joins go to (its signaling edge), for traffic stacks",
  },
  minHosts: { type: "integer", minimum: 0, maximum: 5000, description: "a host count in 0–5000" },
  maxHosts: { type: "integer", minimum: 1, maximum: 5000, description: "a host count in 1–5000" },
  migration: fleetMigrationSchema,
  ports: {
    type: "object",
    description: "a mapping with mediaUdp, signalingTcp and health",
    required: ["mediaUdp", "signalingTcp", "health"],
    additionalProperties: false,
    properties: {
      mediaUdp: portRangeSchema,
      signalingTcp: {
        type: "array",
        description: "a list of at most 16 TCP ports for signaling and TURN/TLS",
        minItems: 1,
        maxItems: 16,
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
    description: "a list of at most 64 CIDRs allowed to reach SSH, e.g. 198.51.100.0/24",
    minItems: 1,
    maxItems: 64,
    uniqueItems: true,
    items: { type: "string", format: "cidr", description: "a CIDR like 198.51.100.0/24" },
  },
  tuning: {
    type: "object",
    description: "a mapping {profile}",
    required: ["profile"],
    additionalProperties: false,
    properties: {
      profile: { type: "string", enum: PROFILE_NAMES },
      stallMs: {
        type: "number",
        exclusiveMinimum: 0,
        maximum: 1000,
        default: 20,
        description: "the worst receiver stall to absorb, in ms",
      },
    },
  },
  demand: demandSchema,
  // Each platform's block sets its own maximum: what holds a draining host differs.
  drainSeconds: {
    type: "integer",
    minimum: 60,
    default: FACT_DEFAULTS.drainSeconds,
    description: "seconds a host may take to drain its calls before it goes",
  },
  workload: workloadSchema,
  agent: {
    type: "object",
    description: "a mapping {intervalSec}",
    additionalProperties: false,
    default: {},
    properties: {
      intervalSec: {
        type: "number",
        minimum: 1,
        maximum: 300,
        default: 30,
        description: "seconds between the host agent's load reports and drain checks",
      },
    },
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
  "ports",
  "adminCidrs",
  "tuning",
  "labels",
  "demand",
  "workload",
] as const;

const targetUtilization = {
  type: "number",
  minimum: 0.1,
  maximum: 0.9,
  default: 0.6,
  description: "the share of a host's media capacity the autoscaler aims for",
} as const;

/**
 * Which scaling policy modules/scaling compiles into the pool's autoscaler
 * (docs/reference/autoscaling.md: Compiling a scaling policy).
 */
const scalingPolicy = {
  type: "string",
  enum: ["cloud-native", "ours"],
  default: "cloud-native",
  description:
    "cloud-native (target tracking on media load alone) or ours (forecast floors on a schedule, the same target tracking, slow scale-in)",
} as const;

const forecastMargin = {
  type: "number",
  minimum: 0,
  maximum: 1,
  default: 0.15,
  description: "policy ours: share above the forecast peak each scheduled floor holds, e.g. 0.15",
} as const;

/**
 * The worst step of demand the pool plans for without notice (#28): a regional failover lands
 * its joins here within seconds. modules/scaling sizes the AWS warm pool and the GCP standby
 * pool from it and `scale replay` reports what it still refuses
 * (docs/reference/autoscaling.md: Spikes).
 */
export const worstStepSchema = {
  type: "object",
  description: "a mapping {factor, withinSeconds}: the pool's demand × factor within withinSeconds",
  additionalProperties: false,
  default: {},
  properties: {
    factor: {
      type: "number",
      exclusiveMinimum: 1,
      maximum: 10,
      default: 2,
      description:
        "the demand multiplier of the worst step, above 1 and at most 10, e.g. 2 (a regional failover doubles the pool's load)",
    },
    withinSeconds: {
      type: "integer",
      minimum: 1,
      maximum: 3600,
      default: 60,
      description: "seconds in which the step arrives, 1–3600, e.g. 60",
    },
  },
} as const;

export const gcpFleetSchema = {
  type: "object",
  required: [...commonRequired, "minHosts", "maxHosts", "machineType", "zones"],
  additionalProperties: false,
  properties: {
    kind: { const: "gcp" },
    ...commonProperties,
    drainSeconds: {
      ...commonProperties.drainSeconds,
      maximum: DRAIN_CEILING_SEC,
      description:
        "seconds a host may take to drain its calls before it goes; the scale-in controller deletes its VM once drained, or 300 s past this",
    },
    alerting: gcpAlertingSchema,
    endpointZone: {
      type: "string",
      pattern: "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
      description: "the Cloud DNS managed zone (of gcp:project) that holds the endpoint's record",
    },
    machineType: {
      type: "string",
      enum: machineTypeNames("gcp"),
      description: `a GCP machine type with known media capacity: ${machineTypeNames("gcp").join(", ")}`,
    },
    zones: {
      type: "array",
      description: "a list of at most 8 zones of the stack's gcp:region, e.g. us-west1-a",
      minItems: 1,
      maxItems: 8,
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
      description:
        "a mapping {policy, targetUtilization, forecastMargin, worstStep, cooldownSec, maxCutPerHost, scaleIn}",
      additionalProperties: false,
      default: {},
      properties: {
        policy: scalingPolicy,
        targetUtilization,
        forecastMargin,
        worstStep: worstStepSchema,
        standbyPool: {
          type: "boolean",
          default: true,
          description:
            "policy ours: keep stopped, initialized VMs in the MIG's standby pool so a scale-out serves in about a minute; a refill takes no join before it is stopped (docs/real-path.md, GCP standby pool made safe), e.g. true",
        },
        cooldownSec: {
          type: "integer",
          minimum: 60,
          maximum: 3600,
          default: 180,
          description: "seconds",
        },
        // Issue #28: the scale-in controller's per-host cut budget (modules/gcp-scale-in).
        maxCutPerHost: {
          type: "integer",
          minimum: 0,
          maximum: 100000,
          default: 35,
          description:
            "calls a host may still be expected to hold at the drain limit when scale-in drains it (its agent tells from its calls' ages); a host above waits for its calls to end, e.g. 35",
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

export const awsFleetSchema = {
  type: "object",
  required: [...commonRequired, "minHosts", "maxHosts", "instanceType", "ami", "vpcId", "subnets"],
  additionalProperties: false,
  properties: {
    kind: { const: "aws" },
    ...commonProperties,
    drainSeconds: {
      ...commonProperties.drainSeconds,
      maximum: AWS_MAX_DRAIN_SEC,
      description:
        "seconds a host may take to drain its calls before it goes; past two hours the agent heartbeats the drain hook",
    },
    alerting: awsAlertingSchema,
    endpointZone: {
      type: "string",
      pattern: "^Z[A-Z0-9]{1,31}$",
      description: "the Route53 hosted zone id that holds the endpoint's record, e.g. Z04517273ABC",
    },
    instanceType: {
      type: "string",
      enum: machineTypeNames("aws"),
      description: `a network-optimized EC2 type with known media capacity: ${machineTypeNames("aws").join(", ")}`,
    },
    ami: {
      type: "string",
      pattern: "^ami-[0-9a-f]{8,17}$",
      description: "an AMI id like ami-0abc12345def67890",
    },
    vpcId: {
      type: "string",
      pattern: "^vpc-[0-9a-f]{8,17}$",
      description: "a VPC id like vpc-0abc1234",
    },
    subnets: {
      type: "array",
      description: "a list of at most 8 {zone, id}: one public subnet per availability zone",
      minItems: 1,
      maxItems: 8,
      items: {
        type: "object",
        description: "a mapping {zone, id}",
        required: ["zone", "id"],
        additionalProperties: false,
        properties: {
          zone: {
            type: "string",
            pattern: "^[a-z]{2}-[a-z]+-[0-9][a-z]$",
            description: "an availability zone like us-east-1a",
          },
          id: {
            type: "string",
            pattern: "^subnet-[0-9a-f]{8,17}$",
            description: "a subnet id like subnet-0abc1234",
          },
        },
      },
    },
    rootVolumeGb: {
      type: "integer",
      minimum: 8,
      maximum: 2000,
      default: 20,
      description: "a size in GB",
    },
    autoscaling: {
      type: "object",
      description:
        "a mapping {policy, targetUtilization, forecastMargin, worstStep, warmupSec, warmPool, maxCutPerHost}",
      additionalProperties: false,
      default: {},
      properties: {
        policy: scalingPolicy,
        targetUtilization,
        forecastMargin,
        worstStep: worstStepSchema,
        warmPool: {
          type: "boolean",
          default: true,
          description:
            "policy ours: keep stopped, initialized hosts in a warm pool so a scale-out serves in about a minute",
        },
        warmupSec: {
          type: "integer",
          minimum: 0,
          maximum: 3600,
          default: 300,
          description: "seconds",
        },
        maxCutPerHost: {
          type: "integer",
          minimum: 0,
          default: 35,
          description:
            "calls a host may be expected to still hold at the drain limit and be scaled in: above it, its agent protects it from scale-in",
        },
      },
    },
  },
} as const;

const dnsSchema = {
  type: "object",
  description: "a mapping {provider, zone, domain, ttl}",
  required: ["provider", "zone", "domain"],
  additionalProperties: false,
  properties: {
    ...dnsProviderProperties,
    domain: {
      type: "string",
      format: "hostname",
      description: "the domain host records go under, e.g. sjc.media.example.net",
    },
    ttl: { type: "integer", minimum: 5, maximum: 86400, default: 300, description: "seconds" },
    adopt: {
      type: "boolean",
      default: false,
      description:
        "true when the hosts' records already exist (a live site's first up): Route53 overwrites them, Cloud DNS imports them",
    },
  },
} as const;

const sshUserSchema = {
  type: "string",
  pattern: "^[a-z_][a-z0-9_-]{0,31}$",
  description: "a Unix user name",
} as const;

const sshPortSchema = {
  type: "integer",
  minimum: 1,
  maximum: 65535,
  default: 22,
  description: "a TCP port",
} as const;

export const metalFleetSchema = {
  type: "object",
  required: [...commonRequired, "site", "inventory", "ssh", "dns"],
  additionalProperties: false,
  properties: {
    kind: { const: "metal" },
    ...commonProperties,
    drainSeconds: {
      ...commonProperties.drainSeconds,
      maximum: DRAIN_CEILING_SEC,
      description:
        "seconds a host may take to drain its calls; past them a rollout may restart its media server, and it goes when its operator retires it",
    },
    alerting: metalAlertingSchema,
    site: { type: "string", pattern: "^[a-z][a-z0-9]{1,15}$", description: "a site code like sjc" },
    monitoringCidrs: {
      type: "array",
      description:
        "a list of at most 64 CIDRs of the site's monitoring network (its Prometheus), e.g. 10.20.250.16/28: with adminCidrs, the only sources the host's firewall lets reach the agent's port (ports.health.port); absent: adminCidrs alone",
      maxItems: 64,
      uniqueItems: true,
      items: { type: "string", format: "cidr", description: "a CIDR like 10.20.250.16/28" },
    },
    inventory: {
      type: "string",
      // Neither absolute nor climbing out with `..`: a stack file names only files of its
      // project, so one cannot have the program (or a reviewer's preview) read another file.
      pattern: "^(?!/)(?!(.*/)?\\.\\.(/|$))[A-Za-z0-9_./-]+\\.ya?ml$",
      description:
        "the host inventory file, a path inside the project relative to its root (no leading /, no ..), e.g. inventory/metal-sjc.yaml",
    },
    ssh: {
      type: "object",
      description:
        "a mapping {user, port, agent, bastion}; the key is the secret avfleet:sshPrivateKey, or the operator's ssh-agent's (agent: true); user root runs the payload as root, any other user through sudo -n",
      required: ["user"],
      additionalProperties: false,
      properties: {
        user: sshUserSchema,
        port: sshPortSchema,
        agent: {
          type: "boolean",
          default: false,
          description:
            "true: the operator's ssh-agent holds the key (SSH_AUTH_SOCK where pulumi runs), so no avfleet:sshPrivateKey and no key in the state",
        },
        bastion: {
          type: "object",
          description:
            "a mapping {host, port, user, hostKey}: the jump host every connection goes through (same key)",
          required: ["host", "user", "hostKey"],
          additionalProperties: false,
          properties: {
            host: {
              type: "string",
              format: "hostname",
              description: "the bastion's DNS name or IPv4 address",
            },
            port: sshPortSchema,
            user: sshUserSchema,
            hostKey: hostKeySchema,
          },
        },
      },
    },
    dns: dnsSchema,
    endpointAddresses: {
      type: "array",
      description:
        "the IPv4 addresses the site's endpoint answers on (its signaling edge): a Cloud DNS traffic split health-checks them",
      minItems: 1,
      maxItems: 8,
      uniqueItems: true,
      items: { type: "string", format: "ipv4", description: "an IPv4 address" },
    },
  },
} as const;

export const fleetSchema = {
  type: "object",
  description: "a fleet spec with a kind",
  required: ["kind"],
  discriminator: { propertyName: "kind" },
  oneOf: [gcpFleetSchema, awsFleetSchema, metalFleetSchema],
} as const;

export type GcpFleetSpec = FromSchema<typeof gcpFleetSchema>;
export type AwsFleetSpec = FromSchema<typeof awsFleetSchema>;
export type MetalFleetSpec = FromSchema<typeof metalFleetSchema>;
export type FleetSpec = GcpFleetSpec | AwsFleetSpec | MetalFleetSpec;
export type Demand = FromSchema<typeof demandSchema>;
