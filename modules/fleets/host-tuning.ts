/**
 * The host tuning of every fleet: host facts derived from the fleet spec and the hardware,
 * rendered by modules/tuning into cloud-init user-data (GCP, AWS) or its part of a
 * bare-metal host's SSH payload.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { hostPayloadPart, renderCloudInit, renderTuning } from "../tuning";
import { hostFacts, type HostHardware } from "../tuning/host-facts";
import type { PayloadPart } from "./metal-payload";

export function cloudInitUserData(spec: FleetSpec, hardware: HostHardware): string {
  return renderCloudInit(renderTuning(spec.tuning.profile, hostFacts(spec, hardware)));
}

export function tuningPayloadPart(spec: FleetSpec, hardware: HostHardware): PayloadPart {
  return hostPayloadPart(renderTuning(spec.tuning.profile, hostFacts(spec, hardware)));
}
