/** Address arithmetic that the schemas' `cidr` format and the semantic checks share. */
import { isIPv4, isIPv6 } from "node:net";
import { NOT_GLOBAL_IPV4 } from "../../policy/contract/rules";

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

/** Why an IPv4 address is not global unicast, or undefined when it is. */
export function notGlobalUnicast(address: string): string | undefined {
  return NOT_GLOBAL_IPV4.find(([cidr]) => inRange(address, cidr))?.[1];
}

export function isPrivateIpv4(address: string): boolean {
  return PRIVATE_IPV4.some((cidr) => inRange(address, cidr));
}
