/**
 * Pure rules that both the program (to build resources) and the pack (to judge them) apply.
 * They live here, in the pack, because a published pack carries only this folder; the
 * program imports them from here.
 */

/**
 * The first line of a draining bare-metal host's payload: it asks the host's agent to drain and
 * changes nothing else, so the host keeps the tuning it has (policies skip the tuning check).
 */
export const DRAIN_REQUEST_MARKER = "# avfleet drain request: the host keeps its tuning and units";

/**
 * The component that carries one bare-metal payload once per site (a host class's, or the drain
 * request): its `payload` input is the script; each host's command names it by its `sha`.
 */
export const METAL_PAYLOAD_TYPE = "avfleet:fleets:MetalPayload";

/** The environment variable that carries a scale-in controller's settings (its function's). */
export const SCALE_IN_ENV = "AVFLEET_SCALE_IN";

/** A CIDR that covers every address: 0.0.0.0/0 or ::/0. */
export function isWorldCidr(text: string): boolean {
  return /\/0$/.test(text);
}

const TIER_1_FAMILIES = new Set(["n2", "n2d", "c2", "c2d", "c3"]);

/**
 * TIER_1 egress needs gVNIC and an N2/N2D/C2/C2D/C3 type with at least 30 vCPUs. A GCP
 * machine type's name carries its vCPU count: c2d-highcpu-32, n2-custom-32-65536.
 */
export function tier1Eligible(type: string): boolean {
  const family = type.split("-")[0];
  const vcpus = Number(/-custom-(\d+)-\d+$|-(\d+)$/.exec(type)?.slice(1).find(Boolean) ?? 0);
  return TIER_1_FAMILIES.has(family) && vcpus >= 30;
}

export type Weights = Record<string, number>;

/** Points of traffic a change moves: the sum of every pool's increase. */
export function weightStep(previous: Weights, next: Weights): number {
  const pools = new Set([...Object.keys(previous), ...Object.keys(next)]);
  let moved = 0;
  for (const pool of pools) moved += Math.max(0, (next[pool] ?? 0) - (previous[pool] ?? 0));
  return moved;
}

/**
 * The line a host payload carries to say what media server it runs (`image=<name>:<tag>[@digest]`
 * or `package=<name>=<version>`), at the start of a line of the payload as the pack sees it.
 */
export const WORKLOAD_MARKER = "# avfleet-workload ";

/**
 * The line a bare-metal class payload carries to say who reaches its hosts' agent port through
 * the firewall it installs: `port=<port> from=<cidr>,<cidr>`.
 */
export const AGENT_LISTEN_MARKER = "# avfleet-agent-listen ";

/** The image a workload marker names when it is pinned by tag only, else undefined. */
export function unpinnedImage(marker: string): string | undefined {
  const image = /^image=(\S+)$/.exec(marker.slice(WORKLOAD_MARKER.length))?.[1];
  return image && !/@sha256:[a-f0-9]{64}$/.test(image) ? image : undefined;
}
