/** Reads back what a rendered host payload (cloud-config, startup-script, SSH command) installs. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import type { HostHardware } from "../../modules/tuning/host-facts";
import { cloudConfig, PER_BOOT_BOOTSTRAP_PATH } from "../../modules/host/bootstrap";

/** A bucket as the provider names one from a pool's prefix: the longest S3 allows (63). */
export const TEST_BUCKET = "aws-use1-boot-".padEnd(63, "7");
import { bootstrapFiles } from "../../modules/lifecycle/rendered";

/** `cloud-init schema` passes every pool's rendered cloud-config (the caller checks it is there). */
export function assertCloudConfigsPass(specs: FleetSpec[], hardware: HostHardware): void {
  const dir = mkdtempSync(join(tmpdir(), "host-cloud-config-"));
  for (const spec of specs) {
    const file = join(dir, `${spec.pool}.yaml`);
    writeFileSync(file, cloudConfig(spec, hostTuning(spec, hardware), TEST_BUCKET));
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `${spec.pool}: ${r.stdout}${r.stderr}`);
  }
}

/** The files avfleet-bootstrap installs, by path: the lifecycle simulation reads them the same way. */
export { bootstrapFiles };

export function cloudInit(userData: string): {
  marker: string;
  bootstrap: string;
  files: Map<string, string>;
  runcmd: string[][] | undefined;
} {
  const [, marker] = userData.split("\n");
  const doc = YAML.parse(userData);
  const file = doc.write_files.find((f: { path: string }) => f.path === PER_BOOT_BOOTSTRAP_PATH);
  return {
    marker,
    bootstrap: file.content,
    files: bootstrapFiles(file.content),
    runcmd: doc.runcmd,
  };
}
