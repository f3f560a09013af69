/**
 * Checks that need every stack at once. The pack judges one stack per `pulumi preview`, so
 * these run where the whole estate is evaluated: `avfleet policy` (and the PR check that calls
 * it).
 */
import type { Demand, FleetSpec } from "../config/fleet.schema";
import type { Plan } from "../plan/plan";
import { STACK_FACTS_TYPE } from "../../policy/contract/facts";
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

export const REGION_DEMAND_POLICY = "region-pools-one-demand";

/**
 * Pools of one media region declare the same demand. They serve the same users (a migration
 * moves every join from one to the other), and preview's hosts needed, the cost, the scaling
 * floors and `migrate plan`'s scale check each read a pool's own copy: two figures for one
 * region size one pool for users it will not have or leave it short (#27 finding 7).
 * `fleetOf`: a stack's fleet spec, undefined for a traffic stack.
 */
export function regionDemandViolations(
  plans: Plan[],
  fleetOf: (stack: string) => FleetSpec | undefined,
): Violation[] {
  const byRegion = new Map<string, { plan: Plan; demand: Demand }[]>();
  for (const plan of plans) {
    const fleet = fleetOf(plan.name);
    if (!fleet) continue;
    const pools = byRegion.get(fleet.mediaRegion) ?? [];
    byRegion.set(fleet.mediaRegion, [...pools, { plan, demand: fleet.demand }]);
  }
  const violations: Violation[] = [];
  for (const [region, pools] of byRegion) {
    for (const pool of pools) {
      const differences = pools.flatMap((other) => {
        const keys = demandKeys(pool.demand, other.demand);
        if (keys.length === 0) return [];
        const values = (d: Demand) => keys.map((k) => `${k} ${d[k] ?? "(unset)"}`).join(", ");
        return [`${values(pool.demand)} here, ${values(other.demand)} in ${other.plan.name}`];
      });
      if (differences.length === 0) continue;
      const facts = pool.plan.resources.find((r) => r.type === STACK_FACTS_TYPE);
      violations.push({
        stack: pool.plan.name,
        urn: facts?.urn ?? pool.plan.resources[0]?.urn ?? pool.plan.name,
        policy: REGION_DEMAND_POLICY,
        level: "mandatory",
        message:
          `avfleet:fleet.demand of ${pool.plan.name} differs from another pool of media region ` +
          `${region}: ${differences.join("; ")}`,
        remediation:
          `give every pool of media region ${region} the same avfleet:fleet.demand (the ` +
          `region's users, whichever pool serves them), then check each pool's hosts needed ` +
          `in avfleet preview`,
      });
    }
  }
  return violations;
}

/** The demand keys two specs set differently. */
function demandKeys(a: Demand, b: Demand): (keyof Demand)[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort() as (keyof Demand)[];
  return keys.filter((k) => a[k] !== b[k]);
}
