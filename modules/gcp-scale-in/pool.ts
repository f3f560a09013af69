/**
 * What the scale-in controller and the pool's autoscaler (modules/fleets/gcp-args.ts) both read
 * of a GCP pool. Here, below the fleet, so that the fleet declares the controller without the
 * controller reading the fleet back.
 */
import type { GcpFleetSpec } from "../config/fleet.schema";

/**
 * IAM condition: the VMs the pool's MIG names after the pool — its baseInstanceName (the pool),
 * a hyphen and four random characters (Compute v1, InstanceGroupManager.baseInstanceName:
 * https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers). Only
 * startsWith, endsWith and extract are documented on resource.name
 * (https://cloud.google.com/iam/docs/conditions-attribute-reference#resource-name); a regex
 * `matches` that IAM refused would leave the binding unmade and the controller unable to scale
 * in. So the condition is a prefix, and it also holds on the VMs of a pool named `<pool>-…` in
 * the same project: keep a project's pool names prefix-free (SECURITY.md, known gaps).
 */
export function poolInstances(spec: GcpFleetSpec): string {
  return (
    `resource.type == "compute.googleapis.com/Instance" && ` +
    `resource.name.extract("/instances/{name}").startsWith("${spec.pool}-")`
  );
}

export { autoscalerTarget } from "../host/metrics";
