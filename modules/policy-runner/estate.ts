/**
 * Checks that need every stack at once. The pack judges one stack per `pulumi preview`, so
 * these run where the whole estate is evaluated: `avfleet policy` (and the PR check that calls
 * it).
 */
import type { Plan } from "../plan/plan";
import type { Violation } from "./runner";

const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";

export const POOL_PREFIX_POLICY = "gcp-pool-names-prefix-free";

/**
 * In one GCP project, no MIG's base instance name followed by a hyphen begins another's. The
 * scale-in controller of a pool may get, inspect and delete only "its" VMs, and IAM can say so
 * only as a prefix of the VM's name (resource.name offers startsWith, endsWith and extract:
 * https://cloud.google.com/iam/docs/conditions-attribute-reference#resource-name): a VM is
 * `<baseInstanceName>-<4 characters>`, so pool `usw1`'s condition also holds on every VM of a
 * pool `usw1-b` in the same project (modules/gcp-scale-in/pool.ts, poolInstances).
 */
export function poolPrefixViolations(plans: Plan[]): Violation[] {
  const migs = plans.flatMap((plan) =>
    plan.resources
      .filter((r) => r.type === MIG)
      .map((r) => ({
        stack: plan.name,
        urn: r.urn,
        project: String(r.inputs.project ?? ""),
        base: String(r.inputs.baseInstanceName ?? ""),
      })),
  );
  const violations: Violation[] = [];
  for (const wide of migs) {
    for (const narrow of migs) {
      if (narrow === wide || narrow.project !== wide.project) continue;
      if (!narrow.base.startsWith(`${wide.base}-`)) continue;
      violations.push({
        stack: narrow.stack,
        urn: narrow.urn,
        policy: POOL_PREFIX_POLICY,
        level: "mandatory",
        message:
          `pool ${narrow.base} (stack ${narrow.stack}) begins with pool ${wide.base}- ` +
          `(stack ${wide.stack}) in project ${wide.project}: ${wide.base}'s scale-in ` +
          `controller could delete ${narrow.base}'s VMs, IAM holding it to VM names that ` +
          `begin "${wide.base}-"`,
        remediation:
          `rename one pool so that neither name followed by "-" begins the other, or put the ` +
          `two pools in projects of their own`,
      });
    }
  }
  return violations;
}
