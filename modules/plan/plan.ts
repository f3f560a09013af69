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

/** Demand against capacity for a fleet stack (modules/capacity). */
export interface PlanCapacity {
  /** Peak concurrent media streams the stack must carry, headroom included. */
  demandStreams: number;
  /** Streams the stack carries at maxHosts (bare metal: its active hosts). */
  capacityStreams: number;
  /**
   * Hosts needed for the demand, N+1 across zones or racks included; bare metal: the active
   * hosts plus the shortfall.
   */
  hostsRequired: number;
  /** Hosts missing to cover the demand (0 when covered). */
  shortfallHosts: number;
  /** Bare metal: the host class the shortfall is counted in (the site's most common). */
  shortfallClass?: string;
}

/** Monthly cost of a fleet stack in USD (modules/capacity). */
export interface PlanCost {
  /** Compute at min and at max hosts (bare metal: amortized, min = max). */
  computeMonthlyUsd: { min: number; max: number };
  /** Egress for the stack's share of its region's demand; media is egress-heavy. */
  egressMonthlyUsd: number;
  /** Share of the media region's traffic the egress is costed at (traffic split weight). */
  trafficShare: number;
}
