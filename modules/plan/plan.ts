import type { PlanCapacity, PlanCost } from "../capacity/capacity";

/** A Plan: what one stack's program declares, evaluated offline under Pulumi's mocks. */

export interface PlanResource {
  urn: string;
  /** Type token, e.g. `gcp:compute/instanceTemplate:InstanceTemplate`. */
  type: string;
  name: string;
  /** URN of the parent resource; absent for resources at the stack's root. */
  parent?: string;
  /** True for a provider-managed resource, false for a component. */
  custom: boolean;
  /** Inputs as the provider would receive them, secrets replaced by SECRET. */
  inputs: Record<string, unknown>;
  /** The `import` resource option: the id of an existing resource the first up adopts. */
  importId?: string;
  /** The `ignoreChanges` resource option: inputs a later up takes from the state, not the program. */
  ignoreChanges?: string[];
  /** The `retainOnDelete` resource option: a replaced or deleted resource stays in the cloud. */
  retainOnDelete?: boolean;
  /** The `replaceOnChanges` resource option: inputs whose change replaces rather than updates. */
  replaceOnChanges?: string[];
  /** The `deleteBeforeReplace` resource option: a replacement deletes the old one first. */
  deleteBeforeReplace?: boolean;
}

export interface Plan {
  name: string;
  resources: PlanResource[];
  /** Stack outputs, secrets replaced by SECRET. */
  outputs: Record<string, unknown>;
  /** Fleet stacks only. */
  capacity?: PlanCapacity;
  /** Fleet stacks only. */
  cost?: PlanCost;
}

export const SECRET = "[secret]";
