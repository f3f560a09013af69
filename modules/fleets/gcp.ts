/**
 * GcpFleet: one media pool in one GCP region — instance template, regional MIG, autoscaler
 * on media load, health check and firewalls. It only declares; gcp-args.ts computes.
 */
import * as pulumi from "@pulumi/pulumi";
import * as artifactregistry from "@pulumi/gcp/artifactregistry";
import * as compute from "@pulumi/gcp/compute";
import * as dns from "@pulumi/gcp/dns";
import * as projects from "@pulumi/gcp/projects";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import type { GcpFleetSpec } from "../config/fleet.schema";
import type { RolloutConfig } from "../config/rollout";
import { groupIntent, releaseId, rolloutSummary } from "../release/cloud-intent";
import { fleetLabels } from "./labels";
import * as args from "./gcp-args";
import { GcpScaleIn } from "../gcp-scale-in/controller";
import type { GcpScaling } from "./scaling";

export interface GcpFleetArgs {
  /** The validated fleet spec from the stack file. */
  spec: GcpFleetSpec;
  /** The GCP project the fleet lives in (`gcp:project`). */
  project: string;
  /** The GCP region of the fleet (`gcp:region`); every zone is inside it. */
  region: string;
  /**
   * The host bootstrap (modules/host), run by Google's guest agent as `startup-script` at
   * every boot: Debian's GCE images run no cloud-init.
   */
  startupScript: string;
  /** The pool's scaling policy compiled into the autoscaler's policy (modules/scaling/compile.ts). */
  scaling: GcpScaling;
  /** Where a release's rollout stands (`avfleet:rollout`), when one does. */
  rollout?: RolloutConfig;
}

/** The pool's release as the stack outputs it; modules/release/cloud-intent.ts decides. */
export interface GcpRelease {
  /** The release id this `up` renders. */
  rendered: string;
  /** The instance template this `up` renders (its self link, unique form). */
  template: string;
  /** The template the MIG points at after this `up`: what new and recreated hosts get. */
  running: string;
  rollout?: ReturnType<typeof rolloutSummary>;
}

export class GcpFleet extends pulumi.ComponentResource {
  readonly instanceGroup: pulumi.Output<string>;
  readonly instanceGroupManager: compute.RegionInstanceGroupManager;
  /** The join endpoint's load-balancer address: a Cloud DNS traffic split health-checks it. */
  readonly endpointAddress: pulumi.Output<string>;
  readonly release: pulumi.Output<GcpRelease>;

  constructor(name: string, fleetArgs: GcpFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    // The endpoint is an input so policies can see whether a record serves it.
    super("avfleet:fleets:GcpFleet", name, { endpoint: fleetArgs.spec.endpoint }, opts);
    const { instanceGroupManager, address, release } = createGcpFleet(name, fleetArgs, this);
    this.instanceGroupManager = instanceGroupManager;
    this.endpointAddress = address.address;
    this.instanceGroup = instanceGroupManager.instanceGroup;
    this.release = release;
    this.registerOutputs({
      instanceGroup: this.instanceGroup,
      endpointAddress: this.endpointAddress,
      release: this.release,
    });
  }
}

export function createGcpFleet(name: string, fleetArgs: GcpFleetArgs, parent: pulumi.Resource) {
  const { spec, project, region, startupScript, scaling, rollout } = fleetArgs;
  const labels = fleetLabels(spec);
  const tag = args.networkTag(spec);
  const opts = { parent };

  const services = args.requiredServices(spec).map(
    (service) =>
      new projects.Service(
        `${name}-api-${service.split(".")[0]}`,
        // Never turn an API off: another stack in the project may use it.
        { project, service, disableOnDestroy: false },
        opts,
      ),
  );

  const account = new serviceaccount.Account(
    `${name}-sa`,
    {
      project,
      accountId: args.serviceAccountId(spec.pool),
      displayName: `avfleet media hosts of ${spec.pool}`,
    },
    opts,
  );
  for (const role of args.HOST_ROLES) {
    new projects.IAMMember(
      `${name}-${role.split(".").pop()!.toLowerCase()}`,
      { project, role, member: pulumi.interpolate`serviceAccount:${account.email}` },
      opts,
    );
  }

  const repository = args.imageRepository(spec);
  if (repository) {
    new artifactregistry.RepositoryIamMember(
      `${name}-image-reader`,
      {
        ...repository,
        role: args.IMAGE_PULL_ROLE,
        member: pulumi.interpolate`serviceAccount:${account.email}`,
      },
      opts,
    );
  }

  const hostInputs = args.hostTemplate(spec, startupScript);
  const { bootDisk, scopes, ...host } = hostInputs;
  const rendered = releaseId(hostInputs);
  const intent = groupIntent(rendered, rollout);
  const template = new compute.InstanceTemplate(
    `${name}-template`,
    {
      project,
      namePrefix: `${spec.pool}-`,
      description: `media hosts of pool ${spec.pool} (${spec.mediaRegion})`,
      labels,
      ...host,
      disks: [{ ...bootDisk, labels }],
      serviceAccount: { email: account.email, scopes },
    },
    // OPPORTUNISTIC updates leave running VMs on the template they were created from, and GCE
    // refuses to delete a template a MIG still uses (resourceInUseByAnotherResource,
    // hashicorp/terraform-provider-google#6277, pulumi/pulumi-gcp#680): a replaced template
    // stays in the project, so the up that replaces it does not fail.
    { ...opts, retainOnDelete: true },
  );

  const healthCheck = new compute.HealthCheck(
    `${name}-health`,
    { project, ...args.autohealingHealthCheck(spec) },
    opts,
  );

  const instanceGroupManager = new compute.RegionInstanceGroupManager(
    `${name}-mig`,
    {
      project,
      region,
      // The scale-in controller's grants hold on VMs named after the pool.
      baseInstanceName: spec.pool,
      distributionPolicyZones: spec.zones,
      distributionPolicyTargetShape: "EVEN",
      // The template new and recreated hosts get: this up's only when a rollout of exactly
      // this release says so (modules/release/cloud-intent.ts), the one the pool ran before
      // when it rolls back; otherwise ignoreChanges keeps the state's (below).
      versions: [
        {
          name: "primary",
          instanceTemplate:
            intent.target === "from" ? rollout!.from.template! : template.selfLinkUnique,
        },
      ],
      namedPorts: args.namedPorts(spec),
      autoHealingPolicies: {
        healthCheck: healthCheck.id,
        initialDelaySec: args.autohealingInitialDelaySec(spec),
      },
      updatePolicy: args.updatePolicy(spec),
      waitForInstances: false,
      // Stopped hosts a scale-out starts first (policy ours; sized by modules/scaling/compile.ts).
      ...(scaling.standby ?? {}),
    },
    // A new template is created (the release is recorded) while the MIG keeps pointing at what
    // it ran: the engine diffs versions against the state's, so no up moves it; Pulumi uses
    // the program's value only when it creates the MIG.
    { ...opts, ignoreChanges: args.migIgnoreChanges(intent.target) },
  );

  // The join endpoint: a regional external passthrough network load balancer over the MIG
  // for signaling; media stays direct to each host's own address.
  const lbHealth = new compute.RegionHealthCheck(
    `${name}-lb-health`,
    { project, region, ...args.loadBalancerHealthCheck(spec) },
    opts,
  );
  const backend = new compute.RegionBackendService(
    `${name}-lb`,
    {
      project,
      region,
      loadBalancingScheme: "EXTERNAL",
      protocol: "TCP",
      healthChecks: lbHealth.id,
      backends: [{ group: instanceGroupManager.instanceGroup, balancingMode: "CONNECTION" }],
    },
    opts,
  );
  const address = new compute.Address(
    `${name}-lb-ip`,
    { project, region, addressType: "EXTERNAL", networkTier: "PREMIUM" },
    opts,
  );
  new compute.ForwardingRule(
    `${name}-lb-rule`,
    {
      project,
      region,
      loadBalancingScheme: "EXTERNAL",
      ipProtocol: "TCP",
      ports: spec.ports.signalingTcp.map(String),
      ipAddress: address.address,
      backendService: backend.id,
      networkTier: "PREMIUM",
    },
    opts,
  );
  const record = args.endpointRecord(spec);
  if (record) {
    new dns.RecordSet(`${name}-endpoint`, { project, ...record, rrdatas: [address.address] }, opts);
  }

  const autoscaler = new compute.RegionAutoscaler(
    `${name}-autoscaler`,
    {
      project,
      region,
      target: instanceGroupManager.selfLink,
      autoscalingPolicy: scaling.autoscalingPolicy,
    },
    opts,
  );
  // The autoscaler only scales out: hosts leave through the drain path, marked by this.
  new GcpScaleIn(
    `${name}-scale-in`,
    {
      spec,
      project,
      region,
      instanceGroupManager,
      autoscaler,
      hostServiceAccount: account,
      services,
    },
    opts,
  );

  for (const rule of args.firewallRules(spec)) {
    new compute.Firewall(
      `${name}-fw-${rule.role}`,
      {
        project,
        network: spec.network,
        description: rule.description,
        direction: "INGRESS",
        allows: [{ protocol: rule.protocol, ports: rule.ports }],
        sourceRanges: rule.sourceRanges,
        targetTags: [tag],
      },
      opts,
    );
  }

  const release = pulumi
    .all([template.selfLinkUnique, instanceGroupManager.versions])
    .apply(([templateLink, versions]) => ({
      rendered,
      template: templateLink,
      running: versions[0]?.instanceTemplate ?? "",
      ...(rollout ? { rollout: rolloutSummary(rollout) } : {}),
    }));

  return { instanceGroupManager, template, healthCheck, address, release };
}
