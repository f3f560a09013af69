/**
 * What a GCP media fleet declares, computed from its spec: pure functions that the GcpFleet
 * component passes straight to the provider, and that tests check directly.
 */
import type { GcpFleetSpec } from "../config/fleet.schema";
import { tier1Eligible } from "../../policy/contract/rules";

// Re-exported: the pack judges TIER_1 with the very rule the fleet is built with.
export { tier1Eligible };
import { GCP_MEDIA_LOAD_METRIC, LIVENESS_PATH } from "../host/metrics";
import { artifactRegistryRepository, containerImage } from "../host/image";
import { autohealingInitialDelaySec } from "../host/units";
import type { GcpAutoscalingPolicy } from "./scaling";
import type { GroupTarget } from "../release/cloud-intent";
import { autoscalerTarget } from "../gcp-scale-in/pool";

/**
 * Google's health-check probers (https://cloud.google.com/load-balancing/docs/health-checks):
 * autohealing and proxy load balancers probe from the first two, a backend-service-based
 * external passthrough network load balancer from 35.191.0.0/16 and the two 209.85 ranges.
 */
export const GOOGLE_HEALTH_CHECK_RANGES = [
  "35.191.0.0/16",
  "130.211.0.0/22",
  "209.85.152.0/22",
  "209.85.204.0/22",
];

/** Per-host gauge the host agent publishes: concurrent forwarded media streams. */
export { GCP_MEDIA_LOAD_METRIC as MEDIA_LOAD_METRIC } from "../host/metrics";

/**
 * The scopes a media host's agent needs: write its load gauge and logs, and read its drain mark
 * (an object in the pool's mark bucket; Artifact Registry serves pulls to the same read-only
 * storage scope). No compute scope: the host never changes its MIG; the scale-in controller
 * deletes it once its drain is done. A scope only caps what the account's IAM grants allow
 * (https://cloud.google.com/compute/docs/access/service-accounts#accesscopesiam): the host
 * account reads objects of its pool's mark prefix alone.
 */
export const HOST_SCOPES = [
  "https://www.googleapis.com/auth/monitoring.write",
  "https://www.googleapis.com/auth/logging.write",
  "https://www.googleapis.com/auth/devstorage.read_only",
];
export const HOST_ROLES = ["roles/monitoring.metricWriter", "roles/logging.logWriter"];

/** Pulls from one repository: granted on that repository, not the project. */
export const IMAGE_PULL_ROLE = "roles/artifactregistry.reader";

/** The Artifact Registry repository a pool pulls its image from, for the reader grant. */
export function imageRepository(spec: GcpFleetSpec) {
  const image = containerImage(spec);
  return image?.auth === "google" ? artifactRegistryRepository(image.name) : undefined;
}

/**
 * The autoscaler only scales out, for every pool: a VM the MIG deletes gets the normal ~90 s
 * stop (graceful shutdown is Preview and does not apply to MIG-initiated deletions:
 * https://cloud.google.com/compute/docs/instances/graceful-shutdown-overview), which would cut
 * its calls. Hosts leave through the scale-in controller (modules/gcp-scale-in/controller.ts): it marks them to
 * drain, each drains up to the pool's limit, and the controller deletes it then.
 */
export const AUTOSCALER_MODE = "ONLY_SCALE_OUT";

export function networkTag(spec: GcpFleetSpec): string {
  return `${spec.pool}-media`;
}

/** A service-account id: 6–30 characters, from the pool name. */
export function serviceAccountId(pool: string): string {
  const head = pool.slice(0, 26).replace(/-+$/, "");
  return `${head}-sfu`.padStart(6, "x");
}

/** The cloud-native policy: target tracking on media load; modules/scaling compiles more onto it. */
export function autoscalingPolicy(spec: GcpFleetSpec): GcpAutoscalingPolicy {
  return {
    mode: AUTOSCALER_MODE,
    minReplicas: spec.minHosts,
    maxReplicas: spec.maxHosts,
    cooldownPeriod: spec.autoscaling.cooldownSec,
    metrics: [{ name: GCP_MEDIA_LOAD_METRIC, target: autoscalerTarget(spec), type: "GAUGE" }],
    // The recommendation the scale-in controller follows: bound how many hosts drain per window.
    scaleInControl: {
      maxScaledInReplicas: { fixed: spec.autoscaling.scaleIn.maxHostsPerWindow },
      timeWindowSec: spec.autoscaling.scaleIn.windowSec,
    },
  };
}

/**
 * Neither a rollout nor a rebalance deletes a serving host. OPPORTUNISTIC: a new template reaches
 * only VMs the MIG creates (scale-out, repair); the old ones leave through the scale-in
 * controller, which drains hosts on the old template first
 * (https://cloud.google.com/compute/docs/instance-groups/updating-selected-instances-in-a-mig).
 * Redistribution NONE: no deletion in a fuller zone to even the zones out
 * (https://cloud.google.com/compute/docs/instance-groups/regional-migs). minimalAction REFRESH,
 * the least disruptive, if someone applies updates by hand. A regional MIG's fixed surge and
 * unavailability are each 0 or at least the number of zones, and not both 0
 * (InstanceGroupManagerUpdatePolicy, Compute v1 reference); surge 0 with redistribution NONE.
 */
export function updatePolicy(spec: GcpFleetSpec) {
  return {
    type: "OPPORTUNISTIC",
    minimalAction: "REFRESH",
    instanceRedistributionType: "NONE",
    maxSurgeFixed: 0,
    maxUnavailableFixed: spec.zones.length,
  };
}

/**
 * The MIG's inputs a later `up` takes from the state: its versions, unless a rollout of this
 * release points them (modules/release/cloud-intent.ts). With versions unchanged, a new template
 * reaches no VM, not even those the MIG creates (scale-out, autohealing): they get the release
 * the pool runs, until the rollout moves the MIG.
 */
export function migIgnoreChanges(target: GroupTarget): string[] {
  return target === "running" ? ["versions"] : [];
}

// Computed below the host, which reads it too (standbyHold); the fleet's callers read it here.
export { autohealingInitialDelaySec };

export function namedPorts(spec: GcpFleetSpec) {
  return [
    { name: "health", port: spec.ports.health.port },
    ...spec.ports.signalingTcp.map((port) => ({ name: `signaling-${port}`, port })),
  ];
}

/** One ingress rule of the fleet's firewall. */
export interface FirewallRule {
  role: string;
  description: string;
  protocol: "udp" | "tcp";
  ports: string[];
  sourceRanges: string[];
}

export function firewallRules(spec: GcpFleetSpec): FirewallRule[] {
  const { mediaUdp, signalingTcp, health } = spec.ports;
  return [
    {
      role: "media-udp",
      description: `WebRTC media from any client, only on the declared range ${mediaUdp.from}-${mediaUdp.to}`,
      protocol: "udp",
      ports: [`${mediaUdp.from}-${mediaUdp.to}`],
      sourceRanges: ["0.0.0.0/0"],
    },
    {
      role: "signaling",
      description: "signaling and TURN/TLS from any client",
      protocol: "tcp",
      ports: signalingTcp.map(String),
      sourceRanges: ["0.0.0.0/0"],
    },
    {
      role: "health",
      description: "health checks, only from Google's probers",
      protocol: "tcp",
      ports: [String(health.port)],
      sourceRanges: GOOGLE_HEALTH_CHECK_RANGES,
    },
    {
      role: "ssh",
      description: "SSH, only from the admin networks",
      protocol: "tcp",
      ports: ["22"],
      sourceRanges: [...spec.adminCidrs],
    },
  ];
}

/** The network-interface settings: gVNIC, an external IP for media, TIER_1 where eligible. */
export function networking(spec: GcpFleetSpec) {
  return {
    networkInterfaces: [
      {
        network: spec.network,
        subnetwork: spec.subnetwork,
        nicType: "GVNIC",
        // Media flows straight to clients: each host needs its own public address.
        accessConfigs: [{ networkTier: "PREMIUM" }],
      },
    ],
    networkPerformanceConfig: tier1Eligible(spec.machineType)
      ? { totalEgressBandwidthTier: "TIER_1" }
      : undefined,
  };
}

/**
 * No gracefulShutdown: it is Preview and does not apply to VMs a MIG deletes
 * (https://cloud.google.com/compute/docs/instances/graceful-shutdown-overview); the drain never
 * rests on it. A host leaves only once the scale-in controller saw its drain end.
 */
export const SCHEDULING = { automaticRestart: true, onHostMaintenance: "MIGRATE" };

/** Shielded VM: Secure Boot, vTPM and integrity monitoring on every host. */
export const SHIELDED_INSTANCE = {
  enableSecureBoot: true,
  enableVtpm: true,
  enableIntegrityMonitoring: true,
};

/**
 * Everything the instance template hands a VM: what it boots (image, disk), runs (the startup
 * script, metadata), runs on (machine type, network, scheduling, Shielded VM) and may call
 * (scopes). Its hash is the pool's release id (modules/release/cloud-intent.ts). Left out, as
 * nothing a host runs depends on them: the template's name, description, labels and project,
 * and the service account's email (the same account for every release of the pool).
 */
export function hostTemplate(spec: GcpFleetSpec, startupScript: string) {
  return {
    machineType: spec.machineType,
    tags: [networkTag(spec)],
    metadataStartupScript: startupScript,
    metadata: {
      "enable-oslogin": "TRUE",
      "block-project-ssh-keys": "TRUE",
      // The agent says its drain is done in a guest attribute, which the scale-in controller
      // reads (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes).
      "enable-guest-attributes": "TRUE",
    },
    bootDisk: {
      boot: true,
      autoDelete: true,
      sourceImage: spec.image,
      diskSizeGb: spec.bootDiskGb,
      diskType: "pd-balanced",
    },
    ...networking(spec),
    scopes: HOST_SCOPES,
    shieldedInstanceConfig: SHIELDED_INSTANCE,
    scheduling: SCHEDULING,
  };
}

/**
 * The APIs a pool's stack calls, enabled by the stack itself: a hardened org's new project has
 * few on. Each is declared with disableOnDestroy false, so two stacks in one project may both
 * declare one (the provider's create enables it, which is idempotent) and neither's destroy
 * turns off an API the other uses.
 */
export function requiredServices(spec: GcpFleetSpec): string[] {
  return [
    "compute.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "logging.googleapis.com",
    // the scale-in controller: a Cloud Run function built by Cloud Build into Artifact
    // Registry from a source zip in Cloud Storage, called by Cloud Scheduler
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "storage.googleapis.com",
    ...(endpointRecord(spec) ? ["dns.googleapis.com"] : []),
  ];
}

/** The pool's join endpoint record, when the spec names both the endpoint and its zone. */
export function endpointRecord(spec: GcpFleetSpec) {
  if (!spec.endpoint || !spec.endpointZone) return undefined;
  return { managedZone: spec.endpointZone, name: `${spec.endpoint}.`, type: "A", ttl: 60 };
}

/** An HTTP check of one of the host agent's health paths. */
export function agentHealthCheck(
  spec: GcpFleetSpec,
  requestPath: string,
  intervalSec: number,
  unhealthyThreshold: number,
) {
  return {
    checkIntervalSec: intervalSec,
    timeoutSec: 5,
    healthyThreshold: 2,
    unhealthyThreshold,
    httpHealthCheck: { port: spec.ports.health.port, requestPath },
  };
}

/**
 * The MIG autohealer's check probes liveness, which a draining host passes: a failed autohealing
 * check recreates the VM, calls and all. Google advises separate, more conservative checks for
 * autohealing than for load balancing
 * (https://cloud.google.com/compute/docs/instance-groups/autohealing-instances-in-migs).
 */
export function autohealingHealthCheck(spec: GcpFleetSpec) {
  return agentHealthCheck(
    spec,
    LIVENESS_PATH,
    AUTOHEALING_INTERVAL_SEC,
    Math.ceil(REBOOT_BUDGET_SEC / AUTOHEALING_INTERVAL_SEC),
  );
}

const AUTOHEALING_INTERVAL_SEC = 10;
/**
 * How long a host may answer nothing while it reboots (kernel, then the startup-script again,
 * then the agent). Autohealing counts from the VM's creation, not its boot: a check that gave up
 * after 30 s recreated every host an operator rebooted, its drain included. A dead host's calls
 * are gone either way; it is recreated two minutes later instead of half a minute.
 */
export const REBOOT_BUDGET_SEC = 120;

/** The load balancer's check probes readiness, faster: a draining host leaves it within ~10 s. */
export function loadBalancerHealthCheck(spec: GcpFleetSpec) {
  return agentHealthCheck(spec, spec.ports.health.path, 5, 2);
}
