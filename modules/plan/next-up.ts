/**
 * What the next `pulumi up` would change on a resource that already exists, for given inputs:
 * the engine first takes every `ignoreChanges` property from the state instead of the program
 * (Pulumi docs, "Resource option: ignoreChanges"), then the provider diffs the state against the
 * inputs. An input the program leaves out is not sent: an optional, provider-computed property
 * (a MIG's targetSize, an ASG's desiredCapacity) keeps whatever the cloud set.
 */
import type { PlanResource } from "./plan";

export function nextUpChanges(
  resource: PlanResource,
  state: Record<string, unknown>,
  keys: string[],
): string[] {
  const ignored = new Set(resource.ignoreChanges ?? []);
  return keys.filter((key) => {
    if (ignored.has(key) || !(key in resource.inputs)) return false;
    return JSON.stringify(resource.inputs[key]) !== JSON.stringify(state[key]);
  });
}
