/**
 * Named tuning profiles. A profile chooses which settings a host gets; the values come
 * from the host facts through the rules in settings.ts.
 */
import type { PROFILE_NAMES } from "../config/fleet.schema";

export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface NicPlan {
  /** Ring descriptors wanted; the script caps them at the NIC's maximum. */
  ringDescriptors: number;
}

export interface Profile {
  summary: string;
  /** Also set rmem_default/wmem_default to the rule, for servers that never set SO_RCVBUF. */
  socketDefaults: boolean;
  /** Per-packet processing work: backlog, budget, UDP minimums under memory pressure. */
  packetPath: boolean;
  /** Microseconds sockets spin for packets before sleeping; absent: no busy polling. */
  busyPollUs?: number;
  /** Rings, channels, coalescing, RSS, RPS/XPS, IRQ affinity; absent: NICs untouched. */
  nic?: NicPlan;
  /** conntrack NOTRACK for the media UDP range. */
  notrack: boolean;
  /** Pin the media unit to the worker CPUs and keep irqbalance from undoing IRQ affinity. */
  pinMedia: boolean;
  nofile: number;
}

const mediaUdp: Profile = {
  summary:
    "UDP media at high packet rates: buffers by the rule, NIC and IRQs kept off media workers",
  socketDefaults: true,
  packetPath: true,
  nic: { ringDescriptors: 4096 },
  notrack: true,
  pinMedia: true,
  nofile: 1048576,
};

export const PROFILES: Record<ProfileName, Profile> = {
  baseline: {
    summary: "safe defaults: raised buffer caps, media ports reserved, file limits",
    socketDefaults: false,
    packetPath: false,
    notrack: false,
    pinMedia: false,
    nofile: 1048576,
  },
  "media-udp": mediaUdp,
  "media-udp-busy-poll": {
    ...mediaUdp,
    summary: "media-udp plus busy polling: lower receive latency for CPU spent spinning",
    busyPollUs: 50,
  },
};

/** What the tuning needs to know about a NIC driver. */
export interface DriverTraits {
  /** `ethtool -L` takes `combined N`, or separate `rx N tx N` (gve). */
  channels: "combined" | "rx-tx";
  /** Interrupt moderation: adaptive, or a fixed rx-usecs where the driver has no adaptive mode. */
  coalesce: { param: "adaptive-rx"; value: "on" } | { param: "rx-usecs"; value: string };
  /** False where the virtual NIC fixes its RSS hash fields and the guest cannot change them. */
  udpHashConfigurable: boolean;
}

const GENERIC: DriverTraits = {
  channels: "combined",
  coalesce: { param: "adaptive-rx", value: "on" },
  udpHashConfigurable: true,
};

export const DRIVERS: Record<string, DriverTraits> = {
  ena: { ...GENERIC, udpHashConfigurable: false },
  gve: {
    channels: "rx-tx",
    coalesce: { param: "rx-usecs", value: "20" },
    udpHashConfigurable: false,
  },
  mlx5_core: GENERIC,
  ice: GENERIC,
};

export function driverTraits(driver: string): DriverTraits {
  return DRIVERS[driver] ?? GENERIC;
}
