/**
 * What a pool's calls sound like, minute by minute: packet loss, jitter p95, join success and
 * RTT p95 around healthy figures with seeded noise, plus whatever loss a fault adds. The
 * migration rehearsal judges its gates on it; the autoscaling replay ignores it (its pools
 * differ in hosts, not in networks).
 */

/** Deterministic noise in [0, 1) from the seed and a key (FNV-1a, then an avalanche mix). */
export function noise(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 15), h | 1);
  h ^= h + Math.imul(h ^ (h >>> 7), h | 61);
  return ((h ^ (h >>> 14)) >>> 0) / 4294967296;
}

export interface Quality {
  /** Packet loss ratio. */
  loss: number;
  /** Jitter p95, seconds. */
  jitter: number;
  /** Joins that succeed, ratio. */
  joinSuccess: number;
  /** Round-trip time p95, seconds. */
  rtt: number;
}

/**
 * Pure: a healthy pool's quality in minute `t` (keyed by pool and minute, so the same seed
 * gives the same figures on every run), or with `faultLoss` (a ratio) the loss of a broken one.
 * Every figure is the minute's, shared by all of the pool's calls in it. Half of a figure's
 * noise is the pool's own; the other half is the region's, the same minute in every pool (a
 * congested peering link), which gates must not take for a difference — nor its absence in the
 * other pool's mean, when the pools' calls weigh on different minutes, for one.
 */
export function poolQuality(seed: number, pool: string, t: number, faultLoss?: number): Quality {
  const key = `${pool}@${t}`;
  const shared = (what: string) => noise(seed, `${what}@${t}`);
  return {
    loss:
      faultLoss === undefined
        ? 0.002 + 0.00075 * (noise(seed, `loss${key}`) + shared("loss"))
        : faultLoss + 0.001 * (noise(seed, `loss-f${key}`) + shared("loss")),
    jitter: 0.01 + 0.004 * (noise(seed, `jitter${key}`) + shared("jitter")),
    joinSuccess: 0.9985 + 0.0014 * noise(seed, `join${key}`),
    rtt: 0.06 + 0.03 * noise(seed, `rtt${key}`),
  };
}
