/**
 * What Compute Engine, its managed instance groups and its load balancers do to a host, as
 * Google documents it. Inputs are the fields the program sends the provider (the Plan's), so a
 * rule judges the rendered bytes, not avfleet's intent.
 */
import type { ProviderRule } from "./rule";

export const AUTOHEALING: ProviderRule = {
  id: "gcp.mig.autohealing",
  says:
    "A VM that fails the autohealing health check unhealthyThreshold times in a row, once " +
    "initialDelaySec (0-3600) has passed since the MIG (re)created it, is repaired: deleted and " +
    "created again from the template (defaultActionOnFailure REPAIR, the default; DO_NOTHING " +
    "leaves it); a VM the MIG itself stops or deletes is not repaired",
  source:
    "https://cloud.google.com/compute/docs/instance-groups/autohealing-instances-in-migs; " +
    "https://cloud.google.com/compute/docs/instance-groups/about-repair; Compute v1 " +
    "InstanceGroupManagerInstanceLifecyclePolicy.defaultActionOnFailure",
};

/** GCP's range for autohealing's initial delay. */
export const AUTOHEALING_MAX_INITIAL_DELAY_SEC = 3600;

export interface AutohealingSettings {
  initialDelaySec: number;
  checkIntervalSec: number;
  unhealthyThreshold: number;
  /** `instanceLifecyclePolicy.defaultActionOnFailure`; REPAIR when unset. */
  actionOnFailure: "REPAIR" | "DO_NOTHING";
}

/** Whether the MIG repairs (recreates) a VM after `failedProbes` in a row, `age` s after its creation. */
export function autohealingRepairs(s: AutohealingSettings, failedProbes: number, age: number) {
  return (
    s.actionOnFailure === "REPAIR" &&
    age >= s.initialDelaySec &&
    failedProbes >= s.unhealthyThreshold
  );
}

export const UPDATE_POLICY: ProviderRule = {
  id: "gcp.mig.update-policy",
  says:
    "A PROACTIVE update policy applies a new instance template to every VM at once within " +
    "maxSurge/maxUnavailable, by minimalAction (REPLACE deletes the VM and creates a new one, " +
    "RESTART stops and starts it, REFRESH changes only what needs no stop); OPPORTUNISTIC applies " +
    "it only to VMs the MIG creates for other reasons (scale-out, repair)",
  source:
    "https://cloud.google.com/compute/docs/instance-groups/rolling-out-updates-to-managed-instance-groups",
};

/** What a template change does to one existing VM, by the MIG's update policy. */
export function onTemplateChange(policy: {
  type?: string;
  minimalAction?: string;
}): "replace" | "restart" | "refresh" | "none" {
  if (policy.type !== "PROACTIVE") return "none";
  // A new template (another image, metadata or machine type) needs at least a restart.
  if (policy.minimalAction === "REPLACE") return "replace";
  return "restart";
}

export const REDISTRIBUTION: ProviderRule = {
  id: "gcp.mig.redistribution",
  says:
    "A regional MIG with instanceRedistributionType PROACTIVE deletes VMs in zones that hold " +
    "more than their share and creates them in the others (after a zone recovers, or zones " +
    "change); NONE never moves a running VM, and a resize still adds to the emptiest zone and " +
    "removes from the fullest (the API words NONE 'for non-autoscaled groups': unverified for " +
    "an autoscaled one)",
  source:
    "https://cloud.google.com/compute/docs/instance-groups/regional-mig-distribution-shape#proactive-instance-redistribution; " +
    "https://cloud.google.com/compute/docs/instance-groups/regional-mig-rebalance-manually",
};

/** VMs the MIG deletes to even out zones, by the redistribution type. */
export function redistributionDeletes(type: string | undefined, perZone: number[]): number {
  if (type !== "PROACTIVE" || perZone.length === 0) return 0;
  const total = perZone.reduce((a, b) => a + b, 0);
  const even = Math.ceil(total / perZone.length);
  return perZone.reduce((n, count) => n + Math.max(0, count - even), 0);
}

export const AUTOSCALER_MODE: ProviderRule = {
  id: "gcp.autoscaler.mode",
  says:
    "An autoscaler in mode ON resizes the MIG to its recommendation, and the MIG deletes VMs of " +
    "its own choosing to shrink; ONLY_SCALE_OUT never removes a VM (recommendedSize is still " +
    "computed)",
  source:
    "https://cloud.google.com/compute/docs/autoscaler#autoscaling_mode; Compute v1 Autoscaler.recommendedSize",
};

export function autoscalerDeletes(mode: string | undefined): boolean {
  return mode === "ON";
}

export const STOP_LIMIT: ProviderRule = {
  id: "gcp.gce.stop-limit",
  says:
    "Deleting or stopping a VM sends the guest an ACPI shutdown and powers it off when the " +
    "guest has not shut down within 90 s (Spot and preemptible VMs: 30 s; the API's " +
    "Scheduling.skipGuestOsShutdown says 120 s: the shorter is the one to plan for)",
  source:
    "https://cloud.google.com/compute/docs/shutdownscript; Compute v1 Scheduling.skipGuestOsShutdown",
};

export const STOP_LIMIT_SEC = 90;

export const GRACEFUL_SHUTDOWN: ProviderRule = {
  id: "gcp.gce.graceful-shutdown",
  says:
    "Graceful shutdown (scheduling.gracefulShutdown, up to 3600 s) is Preview and is not " +
    "available for VMs a managed instance group deletes; those get the normal stop limit",
  source: "https://cloud.google.com/compute/docs/instances/graceful-shutdown-overview",
};

/** Seconds a VM the MIG deletes has between the ACPI shutdown and its power-off. */
export function migDeletionLimitSec(): number {
  return STOP_LIMIT_SEC;
}

export const STARTUP_SCRIPT: ProviderRule = {
  id: "gcp.gce.startup-script",
  says:
    "Google's guest agent runs the startup-script metadata at every boot of the VM, not only " +
    "the first",
  source: "https://cloud.google.com/compute/docs/instances/startup-scripts/linux",
};

export const AUTOMATIC_RESTART: ProviderRule = {
  id: "gcp.gce.automatic-restart",
  says:
    "A VM that crashes or whose host fails is restarted by Compute Engine when " +
    "scheduling.automaticRestart is true (the default); with onHostMaintenance MIGRATE a host " +
    "maintenance event live-migrates the running VM without stopping it",
  source: "https://cloud.google.com/compute/docs/instances/setting-vm-host-options",
};

export const LIVE_MIGRATION: ProviderRule = {
  id: "gcp.gce.live-migration",
  says:
    "A host maintenance event live-migrates a VM whose scheduling.onHostMaintenance is MIGRATE " +
    "to another host in its zone, keeping it running; VMs with GPUs, bare metal instances, Z3 " +
    "and most Confidential VMs do not live-migrate and are stopped; a hardware failure that " +
    "prevents it terminates the VM and restarts it",
  source: "https://cloud.google.com/compute/docs/instances/live-migration-process",
};

/** Whether a host maintenance event leaves the VM running, from its template's inputs. */
export function liveMigrates(template: {
  machineType?: string;
  scheduling?: { onHostMaintenance?: string };
  guestAccelerators?: unknown[];
  confidentialInstanceConfig?: { enableConfidentialCompute?: boolean };
}): boolean {
  const type = template.machineType ?? "";
  return (
    (template.scheduling?.onHostMaintenance ?? "MIGRATE") === "MIGRATE" &&
    !template.guestAccelerators?.length &&
    !type.endsWith("-metal") &&
    !type.startsWith("z3-") &&
    !template.confidentialInstanceConfig?.enableConfidentialCompute
  );
}

export const RUN_LIMIT: ProviderRule = {
  id: "gcp.gce.run-limit",
  says:
    "A standard VM (provisioningModel STANDARD, the default) runs until stopped or deleted; " +
    "Compute Engine may preempt a Spot or preemptible VM at any time (a preemptible one always " +
    "stops after 24 h), 30 s for the guest; a VM with maxRunDuration or terminationTime ends then",
  source:
    "https://cloud.google.com/compute/docs/instances/spot; " +
    "https://cloud.google.com/compute/docs/instances/create-use-preemptible; " +
    "https://cloud.google.com/compute/docs/instances/limit-vm-runtime",
};

/**
 * Seconds a VM may run before Compute Engine itself ends it, from its template's scheduling: 0
 * for a Spot or preemptible VM (preempted at any time), maxRunDuration when set, else none.
 */
export function runsAtMostSec(scheduling: {
  provisioningModel?: string;
  preemptible?: boolean;
  maxRunDuration?: { seconds?: number };
  terminationTime?: string;
}): number {
  if (scheduling.provisioningModel === "SPOT" || scheduling.preemptible) return 0;
  // A date, not a span: no drain can count on the time it leaves.
  if (scheduling.terminationTime) return 0;
  return scheduling.maxRunDuration?.seconds ?? Infinity;
}

/** Seconds a preempted VM's guest has to shut down. */
export const PREEMPTION_SHUTDOWN_SEC = 30;

export const PASSTHROUGH_NLB: ProviderRule = {
  id: "gcp.nlb.unhealthy-backend",
  says:
    "An external passthrough Network Load Balancer sends no new connections to a backend that " +
    "fails its health check; established TCP connections persist on it by default " +
    "(connectionPersistenceOnUnhealthyBackends DEFAULT_FOR_PROTOCOL, PER_CONNECTION tracking); " +
    "NEVER_PERSIST moves them to healthy backends",
  source:
    "https://cloud.google.com/load-balancing/docs/network/networklb-backend-service#connection-persistence",
};

/** Whether the balancer cuts a host's established connections when its check fails. */
export function passthroughCutsOnUnhealthy(backend: {
  connectionTrackingPolicy?: { connectionPersistenceOnUnhealthyBackends?: string };
}): boolean {
  return (
    backend.connectionTrackingPolicy?.connectionPersistenceOnUnhealthyBackends === "NEVER_PERSIST"
  );
}

export const PASSTHROUGH_ALL_UNHEALTHY: ProviderRule = {
  id: "gcp.nlb.all-unhealthy",
  says:
    "Without a failover policy, an external passthrough Network Load Balancer sends new " +
    "connections only to backends that pass their health check while at least one does; when " +
    "every backend fails it, it distributes new connections among all of them as a last resort. " +
    "Under DEFAULT_FOR_PROTOCOL, UDP flows do not persist on a backend that turns unhealthy " +
    "(only TCP and SCTP under PER_CONNECTION tracking do)",
  source:
    "https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution; " +
    "https://cloud.google.com/dotnet/docs/reference/Google.Cloud.Compute.V1/latest/Google.Cloud.Compute.V1.BackendServiceConnectionTrackingPolicy.Types.ConnectionPersistenceOnUnhealthyBackends",
};

/**
 * Which backends take new connections, given which pass their health check: the healthy ones,
 * or every one when none is.
 */
export function passthroughTakesNew(healthy: boolean[]): boolean[] {
  return healthy.some(Boolean) ? healthy : healthy.map(() => true);
}

export const TEMPLATE_IN_USE: ProviderRule = {
  id: "gcp.template.in-use",
  says:
    "An instance template a MIG still uses (its versions, or VMs created from it) cannot be " +
    "deleted (resourceInUseByAnotherResource): replacing a template fails at the delete unless " +
    "the old one is retained",
  source: "hashicorp/terraform-provider-google#6277; pulumi/pulumi-gcp#680",
};

export const RECREATE: ProviderRule = {
  id: "gcp.mig.recreate",
  says:
    "recreateInstances deletes each named VM and creates it again, with its name and zone, from " +
    "the group's current target template (its versions); the call is done once scheduled " +
    "(each VM's currentAction shows RECREATING until the MIG is through); the deleted VM gets " +
    "the normal stop limit, where the group backs a service with connection draining its " +
    "deletion waits up to that timeout + 60 s (a regional backend service's default timeout is " +
    "0), and the new VM's autohealing initial delay starts afresh",
  source:
    "https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/recreateInstances; " +
    "https://cloud.google.com/sdk/gcloud/reference/compute/instance-groups/managed/recreate-instances; " +
    "hashicorp/terraform-provider-google google/services/compute/resource_compute_region_backend_service.go " +
    "(connection_draining_timeout_sec Default 0)",
};

/** Seconds a recreated VM waits for its backend service's connection draining at most. */
export function recreateDrainWaitSec(backend: { connectionDrainingTimeoutSec?: number }): number {
  const timeout = backend.connectionDrainingTimeoutSec ?? 0;
  return timeout > 0 ? timeout + 60 : 0;
}

/** The template a VM the MIG creates now (scale-out, repair, recreate) is created from. */
export function templateForNewVms(mig: { versions?: { instanceTemplate?: string }[] }) {
  return mig.versions?.[0]?.instanceTemplate;
}

export const ADD_METADATA: ProviderRule = {
  id: "gcp.gce.add-metadata",
  says:
    "gcloud compute instances add-metadata sets only the keys it is given and leaves every other " +
    "key as it was (instances.setMetadata with the VM's current fingerprint); the guest reads " +
    "the new values from its metadata server",
  source:
    "https://cloud.google.com/sdk/gcloud/reference/compute/instances/add-metadata; " +
    "https://cloud.google.com/compute/docs/reference/rest/v1/instances/setMetadata",
};

export const GUEST_ATTRIBUTES: ProviderRule = {
  id: "gcp.gce.guest-attributes",
  says:
    "A VM's guest attributes are written from inside it only, through its metadata server " +
    "(metadata enable-guest-attributes TRUE); instances.getGuestAttributes with a queryPath " +
    "(gcloud compute instances get-guest-attributes --query-path) returns them as " +
    "queryValue.items [{namespace, key, value}]",
  source:
    "https://cloud.google.com/compute/docs/metadata/manage-guest-attributes; " +
    "https://cloud.google.com/sdk/gcloud/reference/compute/instances/get-guest-attributes",
};

export const MANAGED_INSTANCES: ProviderRule = {
  id: "gcp.mig.managed-instances",
  says:
    "listManagedInstances (gcloud ... managed list-instances) reports each VM of the group with " +
    "version.instanceTemplate, the template it was created from, its instanceStatus and its " +
    "currentAction: NONE once the MIG has nothing scheduled for it, CREATING, RECREATING, " +
    "DELETING while it acts",
  source:
    "https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/listManagedInstances; " +
    "Compute v1 ManagedInstance.currentAction, ManagedInstance.version",
};

export const STANDBY_MEMBERS: ProviderRule = {
  id: "gcp.mig.standby-members",
  says:
    "listManagedInstances reports each member's targetStatus, the status the MIG drives it to " +
    "(RUNNING, STOPPED, SUSPENDED, ABANDONED, DELETED); a standby pool's refill is created, " +
    "boots, and is stopped or suspended standbyPolicy.initialDelaySec after its " +
    "creationTimestamp, with no drain; targetSize counts running VMs only (targetStoppedSize, " +
    "targetSuspendedSize the others); a stopped VM keeps its template until it is recreated",
  source:
    "https://cloud.google.com/dotnet/docs/reference/Google.Cloud.Compute.V1/latest/Google.Cloud.Compute.V1.ManagedInstance.Types.TargetStatus; " +
    "https://cloud.google.com/compute/docs/reference/v1/instanceGroupManagers/stopInstances; " +
    "@pulumi/gcp 9.37.0 regionInstanceGroupManager.d.ts targetSize; " +
    "https://cloud.google.com/compute/docs/instance-groups/updating-selected-instances-in-a-mig",
};

/** Whether a member's targetStatus keeps it in the standby pool (STANDBY_MEMBERS). */
export function standbyMember(targetStatus: string | undefined): boolean {
  return targetStatus === "STOPPED" || targetStatus === "SUSPENDED";
}

export const GCP_RULES = [
  TEMPLATE_IN_USE,
  AUTOHEALING,
  UPDATE_POLICY,
  REDISTRIBUTION,
  AUTOSCALER_MODE,
  STOP_LIMIT,
  GRACEFUL_SHUTDOWN,
  STARTUP_SCRIPT,
  AUTOMATIC_RESTART,
  LIVE_MIGRATION,
  RUN_LIMIT,
  PASSTHROUGH_NLB,
  PASSTHROUGH_ALL_UNHEALTHY,
  RECREATE,
  ADD_METADATA,
  GUEST_ATTRIBUTES,
  MANAGED_INSTANCES,
  STANDBY_MEMBERS,
];
