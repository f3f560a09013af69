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

export { isWorldCidr } from "../../policy/rules";
