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

type Status = "ok" | "drift" | "not-applicable" | "read-only";

/** avfleet-tune's table: columns are at least two spaces apart; values hold single spaces at most. */
export function table(
  stdout: string,
): Map<string, { wanted: string; actual: string; status: Status }> {
  const rows = new Map();
  for (const line of stdout.trim().split("\n").slice(1)) {
    const [name, wanted, actual, status, ...rest] = line.trim().split(/ {2,}/);
    assert.ok(rest.length === 0 && /^(ok|drift|not-applicable|read-only)$/.test(status), line);
    rows.set(name, { wanted, actual, status });
  }
  return rows;
}

/** A 2-core host whose media NICs are the given veths: what a network namespace test tunes. */
export function vethHostFacts(interfaces: string[]): HostFacts {
  return {
    cores: 2,
    nicDriver: "ice",
    rxQueues: 2,
    txQueues: 2,
    packetsPerSecond: 100000,
    stallMs: 20,
    mediaUdpPorts: { from: 40000, to: 40999 },
    mediaWorkerCpus: "1",
    mediaUnit: "sfu.service",
    interfaces,
  };
}
