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

/** ...and an AWS pool's custom termination policy's (its Lambda function's). */
export const TERMINATION_ENV = "AVFLEET_TERMINATION";

/**
 * IPv4 ranges that are not global unicast (IANA's special-purpose registry, RFC 6890:
 * https://www.iana.org/assignments/iana-ipv4-special-registry/). The
 * documentation ranges of RFC 5737 are not here: example files must use them as host
 * addresses, and they route nowhere either.
 */
export const NOT_GLOBAL_IPV4: readonly (readonly [string, string])[] = [
  ["0.0.0.0/8", "an unspecified (this-network) address"],
  ["10.0.0.0/8", "a private (RFC 1918) address"],
  ["100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address"],
  ["127.0.0.0/8", "a loopback address"],
  ["169.254.0.0/16", "a link-local address"],
  ["172.16.0.0/12", "a private (RFC 1918) address"],
  ["192.0.0.0/24", "an IETF protocol assignment (RFC 6890)"],
  ["192.88.99.0/24", "a deprecated 6to4 relay anycast address"],
  ["192.168.0.0/16", "a private (RFC 1918) address"],
  ["198.18.0.0/15", "a benchmarking (RFC 2544) address"],
  ["224.0.0.0/4", "a multicast address"],
  ["240.0.0.0/4", "a reserved address (or broadcast)"],
];

/** An address range of one family, first and last address inclusive. */
interface Span {
  first: bigint;
  last: bigint;
}

const FAMILY_BITS = { 4: 32, 6: 128 } as const;
type Family = keyof typeof FAMILY_BITS;

function ipv4Value(text: string): bigint | undefined {
  const octets = text.split(".");
  if (octets.length !== 4 || !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)) {
    return undefined;
  }
  return octets.reduce((n, o) => n * 256n + BigInt(o), 0n);
}

function ipv6Value(text: string): bigint | undefined {
  // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const v4 = tail ? ipv4Value(tail[2]) : undefined;
  if (tail && v4 === undefined) return undefined;
  const head = tail
    ? `${tail[1]}${(v4! >> 16n).toString(16)}:${(v4! & 0xffffn).toString(16)}`
    : text;
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const [left, right = undefined] = halves.map(groups);
  const missing = 8 - left.length - (right?.length ?? 0);
  if (right === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array(right === undefined ? 0 : missing).fill("0"), ...(right ?? [])];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return all.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/**
 * The addresses a CIDR names, undefined if it is not one. Host bits are ignored, as EC2
 * canonicalizes them (100.68.0.18/18 is 100.68.0.0/18:
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html).
 */
function cidrSpan(text: string): { family: Family; span: Span } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) return undefined;
  const family: Family = match[1].includes(":") ? 6 : 4;
  const address = family === 4 ? ipv4Value(match[1]) : ipv6Value(match[1]);
  const prefix = Number(match[2]);
  if (address === undefined || prefix > FAMILY_BITS[family]) return undefined;
  const size = 1n << BigInt(FAMILY_BITS[family] - prefix);
  const first = (address / size) * size;
  return { family, span: { first, last: first + size - 1n } };
}

/** Spans sorted and merged where they overlap or touch, so no address counts twice. */
function union(spans: Span[]): Span[] {
  const merged: Span[] = [];
  for (const { first, last } of [...spans].sort((a, b) => (a.first < b.first ? -1 : 1))) {
    const previous = merged[merged.length - 1];
    if (previous && first <= previous.last + 1n) {
      if (last > previous.last) previous.last = last;
    } else merged.push({ first, last });
  }
  return merged;
}

const size = (spans: Span[]) => spans.reduce((n, s) => n + s.last - s.first + 1n, 0n);

/** The addresses of `spans` (a union) that also lie in `within` (a union). */
function overlap(spans: Span[], within: Span[]): bigint {
  let n = 0n;
  for (const a of spans) {
    for (const b of within) {
      const first = a.first > b.first ? a.first : b.first;
      const last = a.last < b.last ? a.last : b.last;
      if (first <= last) n += last - first + 1n;
    }
  }
  return n;
}

const spansOf = (cidrs: readonly string[]) => union(cidrs.map((c) => cidrSpan(c)!.span));

/**
 * Each family's public address space, and the share of it that counts as the world. IPv4: a
 * /8 (16.7 million public addresses) is more than any company's offices and VPN egress hold,
 * and 0.0.0.0/0 cut into pieces stays far above it. IPv6: only 2000::/3 is global unicast
 * (RFC 4291, https://www.iana.org/assignments/ipv6-address-space/), less the IETF and
 * documentation blocks (https://www.iana.org/assignments/iana-ipv6-special-registry/); a /16 of
 * it holds 65,536 of the /32s an RIR gives a whole ISP, so no admin network is that large.
 */
const PUBLIC: Record<Family, { within: Span[]; excluded: Span[]; world: bigint }> = {
  4: {
    within: [{ first: 0n, last: (1n << 32n) - 1n }],
    excluded: spansOf(NOT_GLOBAL_IPV4.map(([cidr]) => cidr)),
    world: 1n << 24n,
  },
  6: {
    within: spansOf(["2000::/3"]),
    // IETF protocol assignments (RFC 2928) and documentation (RFC 3849).
    excluded: spansOf(["2001::/23", "2001:db8::/32"]),
    world: 1n << 112n,
  },
};

/** How many public addresses of one family the union of some spans holds. */
function publicAddresses(family: Family, spans: Span[]): bigint {
  const { within, excluded } = PUBLIC[family];
  return overlap(spans, within) - overlap(spans, excluded);
}

/**
 * Whether a rule whose sources are `cidrs` opens to the Internet: the union of its sources of
 * one family holds at least the world's share of that family's public space, or half of the
 * family's whole space (8000::/1 lies outside 2000::/3 and is still half of IPv6). Pieces count
 * together, so 0.0.0.0/1 and 128.0.0.0/1 are the world as 0.0.0.0/0 is. A source that is not a
 * CIDR is left out: the provider refuses it. Returns that family's sources and how much they hold.
 */
export function worldShare(
  cidrs: readonly string[],
): { sources: string[]; share: string } | undefined {
  for (const family of [4, 6] as const) {
    const sources = cidrs.filter((c) => cidrSpan(c)?.family === family);
    const spans = union(sources.map((c) => cidrSpan(c)!.span));
    const reached = publicAddresses(family, spans);
    if (reached >= PUBLIC[family].world) {
      const all = publicAddresses(family, PUBLIC[family].within);
      const percent = Number((reached * 10000n) / all) / 100;
      return { sources, share: `${percent}% of the public IPv${family} space` };
    }
    if (size(spans) >= 1n << BigInt(FAMILY_BITS[family] - 1)) {
      return { sources, share: `half or more of all IPv${family} addresses` };
    }
  }
  return undefined;
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

/** The component modules/alerting/alerting.ts declares per cloud pool. */
export const POOL_ALERTING_TYPE = "avfleet:observe:PoolAlerting";

/** GCP: scaling schedules per autoscaler; AWS: scheduled actions per group (fixed quotas). */
export const GCP_MAX_SCHEDULES = 128;
export const AWS_MAX_SCHEDULED_ACTIONS = 125;

/** The step rule's policy, which the PR diff's summary opens with when it holds a change. */
export const TRAFFIC_WEIGHTS_POLICY = "traffic-weights";
