/**
 * The host tuning of every fleet: host facts derived from the fleet spec and the hardware,
 * rendered by modules/tuning into cloud-init user-data (GCP, AWS) or the command a
 * bare-metal host runs over SSH, whose hash changes exactly when the payload does.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { renderCloudInit, renderHostPayload, renderTuning } from "../tuning";
import { hostFacts, type HostHardware } from "../tuning/host-facts";
import type { HostPayload } from "./metal";

export function cloudInitUserData(spec: FleetSpec, hardware: HostHardware): string {
  return renderCloudInit(renderTuning(spec.tuning.profile, hostFacts(spec, hardware)));
}

export function hostPayload(spec: FleetSpec, hardware: HostHardware): HostPayload {
  return renderHostPayload(renderTuning(spec.tuning.profile, hostFacts(spec, hardware)));
}
