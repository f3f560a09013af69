/** Policies over a whole stack: labels, autoscaler bounds, capacity, traffic weights. */
import type { PolicyResource } from "@pulumi/policy";
import { fleetEconomics, hostsRequired } from "../capacity/capacity";
import { hostCounts } from "../fleets/metal-args";
import { machineType } from "../capacity/machine-types";
import { servingPools, weightStep, type Weights } from "../traffic/weights";
import type { ResourcePolicy, StackPolicy } from "./policy";
import { stackFor } from "./stack-context";

export const REQUIRED_LABELS = ["team", "cost-center", "media-region", "pool"];

/** Resource types that take labels or tags, and where they are. */
const LABELLED: Record<string, (props: Record<string, any>) => Record<string, string> | undefined> =
  {
    "gcp:compute/instanceTemplate:InstanceTemplate": (p) => p.labels,
    "aws:ec2/launchTemplate:LaunchTemplate": (p) => p.tags,
    "aws:ec2/securityGroup:SecurityGroup": (p) => p.tags,
    "aws:iam/role:Role": (p) => p.tags,
    "aws:iam/instanceProfile:InstanceProfile": (p) => p.tags,
    "aws:autoscaling/group:Group": (p) =>
      p.tags &&
      Object.fromEntries(p.tags.map((t: { key: string; value: string }) => [t.key, t.value])),
  };

export const labelsPresent: ResourcePolicy = {
  name: "labels-present",
  description: `Every resource that takes labels or tags carries ${REQUIRED_LABELS.join(", ")}, so cost and ownership add up.`,
  enforcementLevel: "mandatory",
  remediationSteps:
    "Pass fleetLabels(spec) (modules/fleets/labels.ts) as the resource's labels/tags.",
  validateResource: (args, reportViolation) => {
    const read = LABELLED[args.type];
    if (!read) return args.notApplicable("takes no labels");
    const labels = read(args.props) ?? {};
    const missing = REQUIRED_LABELS.filter((key) => !labels[key]);
    if (missing.length) reportViolation(`lacks ${missing.join(", ")}`);
  },
};

const byType = (resources: PolicyResource[], type: string) =>
  resources.filter((r) => r.type === type);

export const gcpAutoscalerBounds: StackPolicy = {
  name: "gcp-autoscaler-bounds",
  description:
    "A media autoscaler bounds scale-in (scaleInControl), has min ≤ max, and keeps at least one host per zone.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set autoscaling.scaleIn and minHosts ≥ the number of zones in the stack file; keep minHosts ≤ maxHosts.",
  validateStack: (args, reportViolation) => {
    const scalers = byType(args.resources, "gcp:compute/regionAutoscaler:RegionAutoscaler");
    if (scalers.length === 0) return args.notApplicable("no regional autoscaler");
    for (const scaler of scalers) {
      const policy = scaler.props.autoscalingPolicy ?? {};
      const mig = byType(
        args.resources,
        "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
      ).find((m) => m.parent?.urn === scaler.parent?.urn);
      const zones = (mig?.props.distributionPolicyZones ?? []).length;
      if (!policy.scaleInControl?.maxScaledInReplicas) {
        reportViolation(
          "has no scaleInControl: scale-in may end many hosts' calls at once",
          scaler.urn,
        );
      }
      if (policy.minReplicas > policy.maxReplicas) {
        reportViolation(
          `minReplicas ${policy.minReplicas} > maxReplicas ${policy.maxReplicas}`,
          scaler.urn,
        );
      }
      if (policy.minReplicas < zones) {
        reportViolation(
          `minReplicas ${policy.minReplicas} leaves a zone of ${zones} without a host`,
          scaler.urn,
        );
      }
    }
  },
};

/** The most hosts the stack's resources let it run, and what one host carries. */
function declaredCapacity(resources: PolicyResource[]) {
  const scaler = byType(resources, "gcp:compute/regionAutoscaler:RegionAutoscaler")[0];
  const template = byType(resources, "gcp:compute/instanceTemplate:InstanceTemplate")[0];
  const mig = byType(
    resources,
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
  )[0];
  if (scaler && template) {
    return {
      maxHosts: scaler.props.autoscalingPolicy?.maxReplicas ?? 0,
      host: machineType(template.props.machineType),
      domains: (mig?.props.distributionPolicyZones ?? []).length,
    };
  }
  const asg = byType(resources, "aws:autoscaling/group:Group")[0];
  const launch = byType(resources, "aws:ec2/launchTemplate:LaunchTemplate")[0];
  if (asg && launch) {
    return {
      maxHosts: asg.props.maxSize ?? 0,
      host: machineType(launch.props.instanceType),
      domains: (asg.props.vpcZoneIdentifiers ?? []).length,
    };
  }
  return undefined;
}

export const capacityCoversDemand: StackPolicy = {
  name: "capacity-covers-demand",
  description:
    "At its most hosts, a fleet carries its media region's peak with headroom, even after losing a zone or rack.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Raise maxHosts (or add active hosts), use a larger machine type, or correct avfleet:fleet.demand.",
  validateStack: (args, reportViolation) => {
    if (args.resources.length === 0) return args.notApplicable("no resources");
    const { fleet, inventory } = stackFor(args.resources[0].urn);
    if (!fleet) return args.notApplicable("not a fleet stack");
    let have: number;
    let need: number;
    if (fleet.kind === "metal" && inventory) {
      // A bare-metal site's capacity is its active hosts; every active host has a DNS record.
      have = hostCounts(inventory).active;
      need = fleetEconomics(fleet, inventory).capacity.hostsRequired;
    } else {
      const declared = declaredCapacity(args.resources);
      if (!declared) return args.notApplicable("no autoscaled group");
      have = declared.maxHosts;
      need = hostsRequired(fleet.demand, declared.host, declared.domains);
    }
    if (have < need) {
      reportViolation(
        `${have} hosts at most, but the media region's peak needs ${need} (headroom ${fleet.demand.headroom}, N+1)`,
      );
    }
  },
};

export const trafficWeights: StackPolicy = {
  name: "traffic-weights",
  description:
    "A traffic split's weights sum to 100, and one change moves at most the split's maxStepPct points.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Move traffic in steps (avfleet migrate runs the schedule); for an emergency, raise maxStepPct in the same change, with review.",
  validateStack: (args, reportViolation) => {
    const split = args.resources.find((r) => r.type === "avfleet:traffic:TrafficSplit");
    if (!split) return args.notApplicable("not a traffic stack");
    const { traffic } = stackFor(split.urn);
    if (!traffic) return args.notApplicable("no traffic spec");
    if ((traffic.dns.routing ?? "weighted") !== "weighted") {
      return args.notApplicable("geo-steered split: clients go by location, not by weight");
    }
    const next: Weights = {};
    for (const r of byType(args.resources, "aws:route53/record:Record")) {
      next[r.props.setIdentifier] = r.props.weightedRoutingPolicies?.[0]?.weight ?? 0;
    }
    byType(args.resources, "gcp:dns/recordSet:RecordSet").forEach((r) =>
      (r.props.routingPolicy?.wrrs ?? []).forEach(
        (w: { weight: number; rrdatas: string[] }, i: number) => {
          // WRR entries carry no pool name; the split writes them in servingPools order.
          next[servingPools(traffic)[i]?.stack ?? `wrr-${i}`] = w.weight;
        },
      ),
    );
    const sum = Object.values(next).reduce((a, b) => a + b, 0);
    if (sum !== 100) reportViolation(`the records' weights sum to ${sum}, not 100`, split.urn);
    // The last applied weights, read by the split's StackReference to its own stack.
    const self = args.resources.find(
      (r) =>
        r.type === "pulumi:pulumi:StackReference" &&
        r.parent?.urn === split.urn &&
        r.name.endsWith("-ref-self"),
    );
    const previous = (self?.props.outputs?.weights ?? {}) as Weights;
    if (Object.keys(previous).length > 0) {
      const moved = weightStep(previous, next);
      if (moved > traffic.maxStepPct) {
        reportViolation(
          `this change moves ${moved} points of traffic, more than maxStepPct ${traffic.maxStepPct}`,
          split.urn,
        );
      }
    }
  },
};
