/**
 * The host-tuning slot of every fleet's boot payload. The slot is where modules/tuning's
 * rendered cloud-init goes; until a profile is rendered the user-data carries the marker
 * lines only, so the slot is visible in previews and snapshots.
 */
import type { FleetSpec } from "../config/fleet.schema";

export const TUNING_SLOT_BEGIN = "# --- avfleet host tuning slot: begin ---";
export const TUNING_SLOT_END = "# --- avfleet host tuning slot: end ---";

export function cloudInitUserData(spec: FleetSpec): string {
  return [
    "#cloud-config",
    `# avfleet media host: pool=${spec.pool} media-region=${spec.mediaRegion} profile=${spec.tuning.profile}`,
    TUNING_SLOT_BEGIN,
    TUNING_SLOT_END,
    "",
  ].join("\n");
}
