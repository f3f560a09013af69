/** Policies over a whole stack: labels, autoscaler bounds, capacity, traffic weights. */
import type { PolicyResource } from "@pulumi/policy";
import { readFacts, STACK_FACTS_TYPE } from "./contract/facts";
import { TRAFFIC_WEIGHTS_POLICY, weightStep, type Weights } from "./contract/rules";
import { byType, withFacts, type ResourcePolicy, type StackPolicy } from "./policy";
import { deployedMarker, selfReference } from "./migration";
import { stagedRollback } from "./contract/migration";

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
    "Set avfleet:fleet.labels (team, cost-center) in the stack file; a resource declared outside avfleet's components takes them with fleetLabels(spec) (modules/fleets/labels.ts).",
  validateResource: (args, reportViolation) => {
    const read = LABELLED[args.type];
    if (!read) return args.notApplicable("takes no labels");
    const labels = read(args.props) ?? {};
    const missing = REQUIRED_LABELS.filter((key) => !labels[key]);
    if (missing.length) reportViolation(`lacks ${missing.join(", ")}`);
  },
};

export const gcpAutoscalerBounds: StackPolicy = {
  name: "gcp-autoscaler-bounds",
  description:
    "A media autoscaler bounds scale-in (scaleInControl), has min ≤ max, and keeps at least one host per zone.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Set avfleet:fleet.autoscaling.scaleIn, and avfleet:fleet.minHosts ≥ the number of avfleet:fleet.zones; keep minHosts ≤ avfleet:fleet.maxHosts.",
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

/** The most hosts the stack's autoscaled group may run. */
function maxHosts(resources: PolicyResource[]): number | undefined {
  const scaler = byType(resources, "gcp:compute/regionAutoscaler:RegionAutoscaler")[0];
  if (scaler) return scaler.props.autoscalingPolicy?.maxReplicas ?? 0;
  const asg = byType(resources, "aws:autoscaling/group:Group")[0];
  if (asg) return asg.props.maxSize ?? 0;
  return undefined;
}

export const capacityCoversDemand: StackPolicy = {
  name: "capacity-covers-demand",
  description:
    "At its most hosts, a fleet carries its media region's peak with headroom, even after losing a zone or rack.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Raise avfleet:fleet.maxHosts (metal: add active hosts to the inventory avfleet:fleet.inventory names), use a larger avfleet:fleet.machineType / instanceType, or correct avfleet:fleet.demand.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    if (!fleet) return args.notApplicable("not a fleet stack");
    // A bare-metal site's capacity is its active hosts; every active host has a DNS record.
    const have = fleet.hostStates
      ? Object.values(fleet.hostStates).filter((state) => state === "active").length
      : maxHosts(args.resources);
    if (have === undefined) return args.notApplicable("no autoscaled group");
    const { hostsRequired, headroom } = fleet.capacity;
    if (have < hostsRequired) {
      reportViolation(
        `${have} hosts at most, but the media region's peak needs ${hostsRequired} (headroom ${headroom}, N+1)`,
      );
    }
  }),
};

export const trafficWeights: StackPolicy = {
  name: TRAFFIC_WEIGHTS_POLICY,
  description:
    "A traffic split's weights sum to 100, and one change moves at most the split's maxStepPct points (a rollback avfleet migrate staged excepted).",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Change avfleet:traffic.pools[].weight in steps (avfleet migrate runs the schedule); for an emergency, raise avfleet:traffic.maxStepPct in the same change, with review.",
  validateStack: withFacts(({ traffic }, args, reportViolation) => {
    const split = args.resources.find((r) => r.type === "avfleet:traffic:TrafficSplit");
    if (!split || !traffic) return args.notApplicable("not a traffic stack");
    if (traffic.routing !== "weighted") {
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
          next[traffic.servingPools[i] ?? `wrr-${i}`] = w.weight;
        },
      ),
    );
    const sum = Object.values(next).reduce((a, b) => a + b, 0);
    if (sum !== 100) reportViolation(`the records' weights sum to ${sum}, not 100`, split.urn);
    // The last applied weights, read by the split's StackReference to its own stack.
    const self = selfReference(args.resources, split.urn);
    const previous = (self?.props.outputs?.weights ?? {}) as Weights;
    // A rollback the executor staged goes back to weights that served: never held back.
    const rollback = stagedRollback(traffic.migration, deployedMarker(self));
    if (Object.keys(previous).length > 0 && !rollback) {
      const moved = weightStep(previous, next);
      if (moved > traffic.maxStepPct) {
        reportViolation(
          `this change moves ${moved} points of traffic, more than maxStepPct ${traffic.maxStepPct}`,
          split.urn,
        );
      }
    }
  }),
};

export const stackFactsDeclared: StackPolicy = {
  name: "stack-facts-declared",
  description: `The stack declares its facts (${STACK_FACTS_TYPE}), which the policies that judge it against its own spec read.`,
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: the facts are declared by avfleet's program (index.ts, modules/program/facts.ts), not read from the stack file; run the stack with avfleet's program of the pack's version.",
  validateStack: (args, reportViolation) => {
    const found = readFacts(args.resources);
    if ("problem" in found) {
      reportViolation(`${found.problem}: the policies that need it judge nothing`, found.urn);
    }
  },
};
