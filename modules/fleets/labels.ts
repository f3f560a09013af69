/** The labels/tags every taggable fleet resource carries, so cost and ownership add up. */
import type { FleetSpec } from "../config/fleet.schema";

export function fleetLabels(spec: FleetSpec): Record<string, string> {
  return {
    ...spec.labels,
    "media-region": spec.mediaRegion,
    pool: spec.pool,
    "managed-by": "avfleet",
  };
}
