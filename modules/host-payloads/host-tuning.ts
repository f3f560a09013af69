/**
 * The host tuning of every fleet: host facts derived from the fleet spec and the hardware,
 * rendered by modules/tuning; modules/host carries it in each host's boot payload.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { hostPayloadPart, renderTuning, type TuningArtifacts } from "../tuning";
import { hostFacts, type HostHardware } from "../tuning/host-facts";
import type { PayloadPart } from "./metal-payload";

/** The tuning of one host class; modules/host carries it in the boot payload. */
export function hostTuning(spec: FleetSpec, hardware: HostHardware): TuningArtifacts {
  return renderTuning(spec.tuning.profile, hostFacts(spec, hardware));
}

/** A bare-metal host's tuning part: installs avfleet-tune and provisions (tools, then apply). */
export function tuningPayloadPart(spec: FleetSpec, hardware: HostHardware): PayloadPart {
  return hostPayloadPart(hostTuning(spec, hardware));
}
