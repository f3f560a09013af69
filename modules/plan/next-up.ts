/**
 * What the next `pulumi up` would change on a resource that already exists, for given inputs:
 * the engine first takes every `ignoreChanges` property (or part of one, by property path) from
 * the state instead of the program (Pulumi docs, "Resource option: ignoreChanges"), then the
 * provider diffs the state against the inputs. An input the program leaves out is not sent: an
 * optional, provider-computed property (a MIG's targetSize, an ASG's desiredCapacity) keeps
 * whatever the cloud set.
 */
import { isDeepStrictEqual } from "node:util";
import { inputsAfterIgnore } from "../providers/replacement";
import type { PlanResource } from "./plan";

/** The top-level inputs among `keys` whose value the next `up` would change. */
export function nextUpChanges(
  resource: PlanResource,
  state: Record<string, unknown>,
  keys: string[],
): string[] {
  const inputs = nextUpInputs(resource, state);
  return keys.filter(
    (key) => key in resource.inputs && !isDeepStrictEqual(inputs[key], state[key]),
  );
}

/** The inputs the next `up` sends: the program's, with the state's value where it is ignored. */
export function nextUpInputs(
  resource: PlanResource,
  state: Record<string, unknown>,
): Record<string, unknown> {
  return inputsAfterIgnore(resource.inputs, state, resource.ignoreChanges ?? []);
}
