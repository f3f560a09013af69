/** Policies on the media hosts themselves: tuning, NICs, metadata, disks, provisioning. */
import {
  DRAIN_REQUEST_MARKER,
  METAL_PAYLOAD_TYPE,
  SCALE_IN_ENV,
  tier1Eligible,
  unpinnedImage,
  WORKLOAD_MARKER,
} from "./contract/rules";
import { byType, withFacts, type ResourcePolicy, type StackPolicy } from "./policy";
import { launchTemplateUserData } from "./contract/user-data";

const INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const HOST_COMMAND = "command:local:Command";
const ASG = "aws:autoscaling/group:Group";
const LIFECYCLE_HOOK = "aws:autoscaling/lifecycleHook:LifecycleHook";

/**
 * The boot or provisioning payload a host resource carries, as text. A bare-metal site declares
 * each payload once (its hosts' copies and commands name it by sha256).
 */
function hostPayload(type: string, props: Record<string, any>): string | undefined {
  if (type === INSTANCE_TEMPLATE)
    return (
      props.metadataStartupScript ??
      props.metadata?.["startup-script"] ??
      props.metadata?.["user-data"] ??
      ""
    );
  if (type === LAUNCH_TEMPLATE) return launchTemplateUserData(props.userData);
  if (type === METAL_PAYLOAD_TYPE) return props.payload ?? "";
  return undefined;
}

export const hostTuningPresent: StackPolicy = {
  name: "host-tuning-present",
  description:
    "Every instance template, launch template and bare-metal host carries the avfleet-tune payload of the current version and of the profile its stack names.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: avfleet's program builds the payload (modules/host/bootstrap.ts: bootstrapScript / cloudConfig / metalPart); a violation is user-data written by hand in a program, so build it with those instead.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    if (!fleet) return args.notApplicable("not a fleet stack");
    const { markerPrefix, version: expected, profile } = fleet.tuning;
    for (const r of args.resources) {
      const payload = hostPayload(r.type, r.props);
      // A draining host keeps the tuning it has: its payload only asks it to drain.
      if (payload === undefined || payload.startsWith(DRAIN_REQUEST_MARKER)) continue;
      const marker = payload.split("\n").find((line) => line.startsWith(markerPrefix));
      if (!marker) {
        reportViolation("carries no avfleet-tune marker: the host would boot untuned", r.urn);
        continue;
      }
      const [version, profileField] = marker.slice(markerPrefix.length).split(" ");
      if (version !== expected) {
        reportViolation(`carries avfleet-tune ${version}, expected ${expected}`, r.urn);
      }
      if (profileField !== `profile=${profile}`) {
        reportViolation(`carries ${profileField}, but the stack names profile=${profile}`, r.urn);
      }
    }
  }),
};

export const containerImagePinned: ResourcePolicy = {
  name: "container-image-pinned",
  description:
    "A container workload names its image by digest: a tag can be moved, and then hosts of one pool run different servers (each pulls whatever the tag names when it boots).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Add avfleet:fleet.workload.digest (the image's manifest digest, sha256:…, e.g. from `podman inspect --format '{{.Digest}}'`) beside avfleet:fleet.workload.version in stacks/Pulumi.<stack>.yaml.",
  validateResource: (args, reportViolation) => {
    const payload = hostPayload(args.type, args.props);
    if (payload === undefined) return args.notApplicable("not a host payload");
    const marker = payload.split("\n").find((line) => line.startsWith(WORKLOAD_MARKER));
    if (!marker) return args.notApplicable("names no workload (a drain request)");
    const image = unpinnedImage(marker);
    if (image)
      reportViolation(`runs ${image} by tag only: hosts booted later may run another image`);
  },
};

export const gcpGvnic: ResourcePolicy = {
  name: "gcp-gvnic",
  description: "Media NICs on GCP are gVNIC (virtio-net caps packet rates and blocks TIER_1).",
  enforcementLevel: "mandatory",
  remediationSteps:
    'No stack-file key: GcpFleet sets nicType "GVNIC" on every interface it declares; a violation is an instance template declared outside it, which must set nicType: "GVNIC" on every network interface.',
  validateResource: (args, reportViolation) => {
    if (args.type !== INSTANCE_TEMPLATE) return args.notApplicable("not an instance template");
    (args.props.networkInterfaces ?? []).forEach((nic: { nicType?: string }, i: number) => {
      if (nic.nicType !== "GVNIC")
        reportViolation(
          `networkInterfaces[${i}] is ${nic.nicType ?? "VIRTIO_NET (default)"}, not GVNIC`,
        );
    });
  },
};

export const gcpTier1Eligible: ResourcePolicy = {
  name: "gcp-tier1-eligible",
  description:
    "TIER_1 egress is requested only on machine types that support it (N2/N2D/C2/C2D/C3, 30+ vCPUs).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set avfleet:fleet.machineType to a Tier_1-eligible type, or drop networkPerformanceConfig from a template declared outside GcpFleet (the API rejects the template).",
  validateResource: (args, reportViolation) => {
    if (args.type !== INSTANCE_TEMPLATE) return args.notApplicable("not an instance template");
    const tier = args.props.networkPerformanceConfig?.totalEgressBandwidthTier;
    if (tier === "TIER_1" && !tier1Eligible(args.props.machineType)) {
      reportViolation(`requests TIER_1 on ${args.props.machineType}, which is not eligible`);
    }
  },
};

export const gcpMigKeepsCapacity: ResourcePolicy = {
  name: "gcp-mig-keeps-capacity",
  description:
    "Neither a MIG rollout nor a zone rebalance deletes a serving host: updates are opportunistic (new VMs only) and redistribution is off; old hosts leave through the scale-in controller's drain.",
  enforcementLevel: "mandatory",
  remediationSteps:
    'No stack-file key: GcpFleet sets both; a group declared outside it needs updatePolicy: type "OPPORTUNISTIC", instanceRedistributionType "NONE".',
  validateResource: (args, reportViolation) => {
    if (args.type !== "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager") {
      return args.notApplicable("not a regional MIG");
    }
    const policy = args.props.updatePolicy ?? {};
    if (policy.type !== "OPPORTUNISTIC") {
      reportViolation(
        `update type ${policy.type ?? "PROACTIVE (default)"} replaces serving hosts on a template change, cutting their calls`,
      );
    }
    if (policy.instanceRedistributionType !== "NONE") {
      reportViolation(
        `instance redistribution ${policy.instanceRedistributionType ?? "PROACTIVE (default)"} deletes serving hosts to even out zones`,
      );
    }
  },
};

export const awsImdsv2: ResourcePolicy = {
  name: "aws-imdsv2",
  description: "Instances require IMDSv2 session tokens.",
  enforcementLevel: "mandatory",
  remediationSteps:
    'No stack-file key: AwsFleet requires IMDSv2; a launch template declared outside it needs metadataOptions: { httpTokens: "required" }.',
  validateResource: (args, reportViolation) => {
    if (args.type !== LAUNCH_TEMPLATE) return args.notApplicable("not a launch template");
    if (args.props.metadataOptions?.httpTokens !== "required") {
      reportViolation(
        `httpTokens is ${args.props.metadataOptions?.httpTokens ?? "optional (default)"}`,
      );
    }
  },
};

export const awsEbsEncrypted: ResourcePolicy = {
  name: "aws-ebs-encrypted",
  description: "Every EBS volume of a media host is encrypted.",
  enforcementLevel: "mandatory",
  remediationSteps:
    'No stack-file key: AwsFleet encrypts its volumes; a launch template declared outside it needs blockDeviceMappings[].ebs.encrypted: "true".',
  validateResource: (args, reportViolation) => {
    if (args.type !== LAUNCH_TEMPLATE) return args.notApplicable("not a launch template");
    const mappings = args.props.blockDeviceMappings ?? [];
    if (mappings.length === 0)
      reportViolation("declares no root volume, so the AMI's (maybe unencrypted) one is used");
    mappings.forEach((m: { deviceName?: string; ebs?: { encrypted?: string | boolean } }) => {
      if (String(m.ebs?.encrypted) !== "true")
        reportViolation(`${m.deviceName ?? "a volume"} is not encrypted`);
    });
  },
};

export const awsDrainHook: StackPolicy = {
  name: "aws-drain-hook",
  description:
    "The ASG holds terminating hosts long enough to drain their calls (heartbeat ≥ drainSeconds, or AWS's 7200 s ceiling for a longer drain the agent heartbeats).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "aws.autoscaling.LifecycleHook: an autoscaling:EC2_INSTANCE_TERMINATING hook whose heartbeatTimeout ≥ avfleet:fleet.drainSeconds, or 7200 when the drain is longer.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    const groups = byType(args.resources, ASG);
    if (!fleet || groups.length === 0) return args.notApplicable("no auto scaling group");
    const hooks = byType(args.resources, LIFECYCLE_HOOK).filter(
      (h) => h.props.lifecycleTransition === "autoscaling:EC2_INSTANCE_TERMINATING",
    );
    if (hooks.length === 0) {
      for (const asg of groups) {
        reportViolation("has no termination lifecycle hook: scale-in cuts calls", asg.urn);
      }
    }
    for (const hook of hooks) {
      // A drain past AWS's longest heartbeatTimeout (7200 s) is held by the agent's heartbeats,
      // up to the hook's global timeout min(48 h, 100 x heartbeatTimeout): 48 h at 7200, past
      // any drainSeconds the schema takes
      // (https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html).
      const needed = Math.min(fleet.drainSeconds, 7200);
      if ((hook.props.heartbeatTimeout ?? 3600) < needed) {
        reportViolation(
          `the drain hook's heartbeat ${hook.props.heartbeatTimeout} s is shorter than ${needed === fleet.drainSeconds ? `drainSeconds ${needed}` : `${needed} (drainSeconds ${fleet.drainSeconds})`}`,
          hook.urn,
        );
      }
    }
  }),
};

export const gcpDrainFirstScaleIn: StackPolicy = {
  name: "gcp-drain-first-scale-in",
  description:
    "A GCP pool is never scaled in by its autoscaler (a VM the MIG deletes gets ~90 s, not its drain): the autoscaler only scales out, and a scale-in controller, called on a schedule, drains hosts and deletes them once drained.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: GcpFleet sets the autoscaler's mode to ONLY_SCALE_OUT and adds <pool>-scale-in (a Cloud Run function and its Cloud Scheduler job calling it with OIDC); a pool declared outside it needs both: mode ONLY_SCALE_OUT (or OFF) and a scheduled controller.",
  validateStack: withFacts(({ fleet }, args, reportViolation, factsUrn) => {
    if (fleet?.kind !== "gcp") return args.notApplicable("not a GCP fleet stack");
    for (const scaler of byType(args.resources, "gcp:compute/regionAutoscaler:RegionAutoscaler")) {
      const mode = scaler.props.autoscalingPolicy?.mode ?? "ON";
      if (mode !== "ONLY_SCALE_OUT" && mode !== "OFF") {
        reportViolation(
          `mode ${mode} scales in by deleting VMs: each gets ~90 s to stop, not the ${fleet.drainSeconds} s drain, and its calls are cut; set mode ONLY_SCALE_OUT`,
          scaler.urn,
        );
      }
    }
    // Presence, not values: the settings and the invoker's email are unknown at a first preview.
    const controllers = byType(args.resources, "gcp:cloudfunctionsv2/function:Function").filter(
      (f) => SCALE_IN_ENV in (f.props.serviceConfig?.environmentVariables ?? {}),
    );
    if (controllers.length === 0) {
      reportViolation(
        `pool ${fleet.pool} has no scale-in controller: its autoscaler never scales in, so surplus hosts stay; declare it with GcpFleet`,
        factsUrn,
      );
      return;
    }
    const scheduled = byType(args.resources, "gcp:cloudscheduler/job:Job").some(
      (j) => "serviceAccountEmail" in (j.props.httpTarget?.oidcToken ?? {}),
    );
    if (!scheduled) {
      for (const f of controllers)
        reportViolation(
          "no Cloud Scheduler job calls the scale-in controller with OIDC: it never runs",
          f.urn,
        );
    }
  }),
};

export const metalNoRetiredProvisioning: StackPolicy = {
  name: "metal-no-retired-provisioning",
  description: "Retired bare-metal hosts get no provisioning (their addresses may be reused).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set the host's state to active or draining in the inventory avfleet:fleet.inventory names (hosts[].state), or leave a retired host out of provisioning.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    if (fleet?.kind !== "metal" || !fleet.hostStates) {
      return args.notApplicable("not a bare-metal stack");
    }
    for (const r of byType(args.resources, HOST_COMMAND)) {
      const host = Object.keys(fleet.hostStates).find((name) =>
        ["tune", "drain"].some((what) => r.name === `${fleet.pool}-${name}-${what}`),
      );
      if (host && fleet.hostStates[host] === "retired") {
        reportViolation(`provisions ${host}, which is retired`, r.urn);
      }
    }
  }),
};

export const metalSshKeySecret: StackPolicy = {
  name: "metal-ssh-key-secret",
  description:
    "The SSH private key that provisions bare metal, and every alert receiver's key, is stored only as a Pulumi secret.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "pulumi config set --secret <key> -s <stack> < value (avfleet:sshPrivateKey, avfleet:notifyPageSecret, avfleet:notifyTicketSecret)",
  validateStack: withFacts(({ secrets }, args, reportViolation, factsUrn) => {
    // Policies see decrypted values, so the program declares how the stack stores each key.
    const keys = Object.keys(secrets);
    if (keys.length === 0) return args.notApplicable("the stack sets no secret config");
    for (const key of keys) {
      if (!secrets[key])
        reportViolation(`${key} is stored in plain text in the stack file`, factsUrn);
    }
  }),
};
