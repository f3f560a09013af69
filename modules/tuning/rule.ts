/**
 * The UDP receive buffer sizing rule (docs/design.md): a socket must hold every packet that
 * arrives while its reader stalls, and each queued packet costs its skb's truesize, not
 * its payload. Bigger than the rule only adds queueing delay under sustained overload.
 */

/** Truesize of one queued 1200-byte datagram on this kernel (measured, docs/design.md). */
export const PER_PACKET_COST_BYTES = 2304;

/**
 * Margin over the rule: bench:udp measures 2.33–2.39 KB per queued datagram on veth (the
 * cost above is the low end) and timed stalls overrun by about 1 %.
 */
export const HEADROOM = 1.1;

const MIB = 1 << 20;

/** packets/s × stall × per-packet cost, in bytes. */
export function ruleBytes(packetsPerSecond: number, stallMs: number): number {
  return Math.ceil((packetsPerSecond * stallMs) / 1000) * PER_PACKET_COST_BYTES;
}

/** The buffer a profile sets: the rule plus HEADROOM, rounded up to a whole MiB. */
export function bufferBytes(packetsPerSecond: number, stallMs: number): number {
  return Math.ceil((ruleBytes(packetsPerSecond, stallMs) * HEADROOM) / MIB) * MIB;
}
