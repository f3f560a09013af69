/**
 * The media range is reserved (ip_local_reserved_ports), so outgoing connections must draw
 * their ephemeral ports elsewhere. Where the media range overlaps Linux's default
 * ephemeral range, the profiles move ip_local_port_range next to it.
 */

/** Linux's default net.ipv4.ip_local_port_range. */
export const DEFAULT_EPHEMERAL = { from: 32768, to: 60999 } as const;

/** Fewer ephemeral ports than this and a host cannot keep its outgoing connections. */
export const MIN_EPHEMERAL_PORTS = 1024;

export interface PortRange {
  from: number;
  to: number;
}

/**
 * The ephemeral range a host needs beside the media range: undefined when the default
 * does not overlap it, else the larger free span of the default's start to 65535.
 */
export function ephemeralPorts(media: PortRange): PortRange | undefined {
  if (media.to < DEFAULT_EPHEMERAL.from || media.from > DEFAULT_EPHEMERAL.to) return undefined;
  const below = { from: DEFAULT_EPHEMERAL.from, to: media.from - 1 };
  const above = { from: media.to + 1, to: 65535 };
  return size(below) >= size(above) ? below : above;
}

export function size(range: PortRange): number {
  return Math.max(0, range.to - range.from + 1);
}
