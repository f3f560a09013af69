/**
 * StackReferences between the stacks of this project, and a stack's reference to itself: what
 * the stack applied last, which the pack compares an update's migration marker with
 * (policy/migration.ts). Kept apart from the split so a fleet's program loads no DNS provider.
 */
import * as pulumi from "@pulumi/pulumi";

/** The StackReference name of a stack of this project. */
export function stackRef(stack: string): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

/** `<name>-ref-self`: this stack's outputs as its last update left them (empty before the first). */
export function selfReference(name: string, opts?: pulumi.CustomResourceOptions) {
  return new pulumi.StackReference(`${name}-ref-self`, { name: stackRef(pulumi.getStack()) }, opts);
}
