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

/** Inputs by URN, as the state holds them after an up. */
export type State = ReadonlyMap<string, Record<string, unknown>>;

export interface UpResult {
  created: PlanResource[];
  /** URNs of resources the program no longer declares. */
  deleted: string[];
  /** Existing resources the up changes, and which inputs. */
  updated: { resource: PlanResource; keys: string[] }[];
  /** The state after the up: ignored inputs keep the state's value. */
  state: State;
}

/** What the next `up` of `plan` does against `state`, and the state it leaves. */
export function nextUp(state: State, plan: { resources: PlanResource[] }): UpResult {
  const after = new Map<string, Record<string, unknown>>();
  const created: PlanResource[] = [];
  const updated: UpResult["updated"] = [];
  for (const resource of plan.resources) {
    const before = state.get(resource.urn);
    if (!before) {
      created.push(resource);
      after.set(resource.urn, resource.inputs);
      continue;
    }
    const keys = nextUpChanges(resource, before, [
      ...new Set([...Object.keys(before), ...Object.keys(resource.inputs)]),
    ]);
    if (keys.length) updated.push({ resource, keys });
    const kept = (resource.ignoreChanges ?? []).filter((key) => key in before);
    after.set(resource.urn, {
      ...before,
      ...resource.inputs,
      ...Object.fromEntries(kept.map((key) => [key, before[key]])),
    });
  }
  const deleted = [...state.keys()].filter((urn) => !after.has(urn));
  return { created, deleted, updated, state: after };
}

/** The state a first `up` of `plan` leaves. */
export function stateOf(plan: { resources: PlanResource[] }): State {
  return nextUp(new Map(), plan).state;
}
