/**
 * StackReferences between the stacks of this project, and a stack's reference to itself: what
 * the stack applied last, which the pack compares an update's migration marker with
 * (policy/migration.ts). Kept apart from the split so a fleet's program loads no DNS provider.
 */
import * as pulumi from "@pulumi/pulumi";
import type { MigrationMarker } from "../../policy/contract/facts";
import { markerOf, staleWeights } from "../../policy/contract/migration";

/** The StackReference name of a stack of this project. */
export function stackRef(stack: string): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

/** `<name>-ref-self`: this stack's outputs as its last update left them (empty before the first). */
export function selfReference(name: string, opts?: pulumi.CustomResourceOptions) {
  return new pulumi.StackReference(`${name}-ref-self`, { name: stackRef(pulumi.getStack()) }, opts);
}

/**
 * Why this update must not run (#30), or undefined: its config's migration marker is older than
 * the one its own stack last applied (`applied`: the stack's `migration` output), judged as the
 * pack's migration-order rules judge it (a staged rollback and a journal begun afresh carry a
 * seq above the deployed one: the executor sees to it). On a DIY backend nothing makes
 * `pulumi up` load the pack, so the program refuses a stale checkout itself.
 */
export function staleRefusal(
  stack: string,
  config: MigrationMarker | undefined,
  applied: unknown,
  what: "weights are" | "minHosts is",
): string | undefined {
  // What the program outputs is null or a marker; anything else is a marker the engine could not
  // give back (a secret it failed to decrypt reads as {}: pulumi/pulumi pkg/resource/deploy
  // builtins.go, backend/secrets.go), and passing it would let any config through.
  if (applied !== undefined && applied !== null && !markerOf(applied))
    return `stack ${stack}: its last update's migration output is unreadable (${JSON.stringify(applied)}); refused before any change, as the migration's order cannot be judged. Check that this checkout can decrypt the stack's secrets`;
  const why = staleWeights(config, markerOf(applied), what);
  return (
    why &&
    `stack ${stack}: ${why}; refused before any change. Deploy the stack file as the migration left it (pull its stack file commits), or let \`avfleet migrate\` finish or roll back`
  );
}

/**
 * Throws the refusal once this stack's own last outputs are read (a fleet's or a split's);
 * returns the marker the stack last applied, if any.
 */
export async function refuseStale(
  self: pulumi.StackReference,
  config: MigrationMarker | undefined,
  what: "weights are" | "minHosts is",
): Promise<MigrationMarker | undefined> {
  // Details, not the value: a stack whose config is a secret outputs a secret marker.
  const { value, secretValue } = await self.getOutputDetails("migration");
  const refusal = staleRefusal(pulumi.getStack(), config, value ?? secretValue, what);
  if (refusal) throw new Error(refusal);
  return markerOf(value ?? secretValue);
}
