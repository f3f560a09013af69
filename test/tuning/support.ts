/** Shared by the tuning tests: the example host classes and a text snapshot check. */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import YAML from "yaml";
import type { HostFacts } from "../../modules/tuning";

export const EXAMPLES = resolve(__dirname, "../../modules/tuning/examples");

/** A 16-vCPU GCP VM (gve) and a 64-core bare-metal host with two mlx5 NICs. */
export const HOSTS = {
  "gcp-n2d-16": join(EXAMPLES, "gcp-n2d-16.yaml"),
  "metal-64": join(EXAMPLES, "metal-64.yaml"),
} as const;

export function exampleFacts(name: keyof typeof HOSTS): HostFacts {
  return YAML.parse(readFileSync(HOSTS[name], "utf8"));
}

/**
 * Compares text with test/tuning/__snapshots__/<name>. A missing snapshot is written
 * (and fails in CI, where it must already be committed); UPDATE_SNAPSHOTS=1 rewrites.
 */
export function matchSnapshot(name: string, actual: string): void {
  const file = join(__dirname, "__snapshots__", name);
  if (process.env.UPDATE_SNAPSHOTS === "1" || !existsSync(file)) {
    assert.notEqual(process.env.CI, "true", `snapshot ${name} is not committed`);
    writeFileSync(file, actual);
    return;
  }
  assert.equal(
    actual,
    readFileSync(file, "utf8"),
    `snapshot ${name} changed (UPDATE_SNAPSHOTS=1 to accept)`,
  );
}
