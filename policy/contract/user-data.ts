/**
 * How an AWS launch template carries a host's boot payload: the program writes the
 * cloud-config gzipped, then base64 (modules/host/bootstrap.ts awsUserData: AWS caps user-data
 * at 16 KB, cloud-init takes gzip as is); the pack's host policies read it back, plain or not.
 */
import { gunzipSync } from "node:zlib";

/** A launch template's user-data as text: base64, and gzipped when it starts with gzip's magic. */
export function launchTemplateUserData(userData: string | undefined): string {
  const bytes = Buffer.from(userData ?? "", "base64");
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
}
