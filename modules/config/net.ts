/** Address arithmetic that the schemas' `cidr` format and the semantic checks share. */
import { isIPv4, isIPv6 } from "node:net";

export function isCidr(text: string): boolean {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return false;
  const [, address, bits] = match;
  const prefix = Number(bits);
  if (isIPv4(address)) return prefix <= 32 && /^\d+(\.\d+){3}$/.test(address);
  if (isIPv6(address)) return prefix <= 128;
  return false;
}

function ipv4Number(address: string): number {
  return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function inRange(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4Number(address) / size) === Math.floor(ipv4Number(base) / size);
}

/** RFC 1918: the only ranges a host's private (inside the site) address may come from. */
export const PRIVATE_IPV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;

/**
 * IPv4 ranges that are not global unicast (IANA's special-purpose registry, RFC 6890): a public
 * DNS record pointing at one reaches nobody, or the wrong host. The documentation ranges of
 * RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are not here: they are what
 * example files must use, and they route nowhere else either.
 */
const NOT_GLOBAL_IPV4: readonly (readonly [string, string])[] = [
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

/** Why an IPv4 address is not global unicast, or undefined when it is. */
export function notGlobalUnicast(address: string): string | undefined {
  return NOT_GLOBAL_IPV4.find(([cidr]) => inRange(address, cidr))?.[1];
}

export function isPrivateIpv4(address: string): boolean {
  return PRIVATE_IPV4.some((cidr) => inRange(address, cidr));
}
