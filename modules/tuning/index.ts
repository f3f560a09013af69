/** Host kernel and NIC tuning for UDP media: profiles + host facts → rendered artifacts. */
export { PROFILE_NAMES } from "../config/fleet.schema";
export { PROFILES, type ProfileName } from "./profiles";
export {
  hostFactsSchema,
  hostFactsProblems,
  assertHostFacts,
  loadHostFacts,
  type HostFacts,
} from "./schema";
export { HEADROOM, PER_PACKET_COST_BYTES, ruleBytes, bufferBytes } from "./rule";
export type { Setting, InstalledFile } from "./settings";
export { AVFLEET_TUNE_VERSION, TOOL_PACKAGES, sha256, shellQuote } from "./script";
export {
  TUNING_MARKER_PREFIX,
  renderTuning,
  renderCloudInit,
  hostPayloadPart,
  tuningMarker,
  type TuningArtifacts,
} from "./render";
