/**
 * A migration's weight changes against a deploy from a stale checkout. `avfleet migrate` writes
 * each change's weights with a marker, `avfleet:traffic.migration` {seq, rollback}: seq is the
 * change's position in the region's journal, which only grows. The traffic stack outputs the
 * marker it applied, and the split reads its own last outputs (its `-ref-self` StackReference),
 * so an update whose config is older than what the stack last applied — a teammate or CI
 * deploying from a checkout that missed a step — is refused instead of silently moving traffic
 * back. And a rollback the executor staged is the safe direction: the step rule never holds it.
 * A fleet stack's minHosts carries the same marker, `avfleet:fleet.migration`, from the same
 * journal: a scale step and a floor raised before a shift write it, so a stale deploy of a pool
 * cannot lower its hosts under a running migration either.
 */
import type { PolicyResource } from "@pulumi/policy";
import type { MigrationMarker } from "./contract/facts";
import { markerOf, staleWeights } from "./contract/migration";
import { withFacts, type StackPolicy } from "./policy";

/** The split's StackReference to its own stack: what the stack applied last. */
export function selfReference(resources: PolicyResource[], splitUrn: string) {
  return resources.find(
    (r) =>
      r.type === "pulumi:pulumi:StackReference" &&
      r.parent?.urn === splitUrn &&
      r.name.endsWith("-ref-self"),
  );
}

/** A fleet stack's StackReference to its own stack, `<pool>-ref-self` (modules/program/stack.ts). */
export function fleetSelfReference(resources: PolicyResource[], pool: string) {
  return resources.find(
    (r) => r.type === "pulumi:pulumi:StackReference" && r.name === `${pool}-ref-self`,
  );
}

/** The marker the stack applied last, if its last update carried one. */
export function deployedMarker(self: PolicyResource | undefined): MigrationMarker | undefined {
  return markerOf(self?.props.outputs?.migration);
}

export const trafficMigrationOrder: StackPolicy = {
  name: "traffic-migration-order",
  description:
    "A traffic split's weights are never older than the migration step the stack last applied.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Deploy the traffic stack's file as the migration left it (its avfleet:traffic.migration and weights): pull the migration's stack file changes, or let `avfleet migrate` finish or roll back.",
  validateStack: withFacts(({ traffic }, args, reportViolation) => {
    const split = args.resources.find((r) => r.type === "avfleet:traffic:TrafficSplit");
    if (!split || !traffic) return args.notApplicable("not a traffic stack");
    const stale = staleWeights(
      traffic.migration,
      deployedMarker(selfReference(args.resources, split.urn)),
    );
    if (stale) reportViolation(stale, split.urn);
  }),
};

export const fleetMigrationOrder: StackPolicy = {
  name: "fleet-migration-order",
  description: "A fleet's minHosts is never older than the migration step the stack last applied.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Deploy the fleet stack's file as the migration left it (its avfleet:fleet.migration and minHosts): pull the migration's stack file changes, or let `avfleet migrate` finish or roll back.",
  validateStack: withFacts(({ fleet }, args, reportViolation, factsUrn) => {
    if (!fleet) return args.notApplicable("not a fleet stack");
    const stale = staleWeights(
      fleet.migration,
      deployedMarker(fleetSelfReference(args.resources, fleet.pool)),
      "minHosts is",
    );
    if (stale) reportViolation(stale, factsUrn);
  }),
};
