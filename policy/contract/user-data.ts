/**
 * How an AWS launch template carries a host's boot payload: the program writes it base64 (and
 * gzipped past the size cloud-init's limit asks for), the pack's host policies read it back.
 */
import { gunzipSync } from "node:zlib";

/** A launch template's user-data as text: base64, and gzipped when it starts with gzip's magic. */
export function launchTemplateUserData(userData: string | undefined): string {
  const bytes = Buffer.from(userData ?? "", "base64");
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
}
