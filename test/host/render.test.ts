/** What modules/host renders: units, agent config, the three carriers of the bootstrap. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listStacks, loadStackFile } from "../../modules/config/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostTuning } from "../../modules/fleets/host-tuning";
import { autoscalingPolicy } from "../../modules/fleets/gcp-args";
import { MEDIA_METRIC } from "../../modules/fleets/aws-args";
import { agentConfig } from "../../modules/host/agent";
import {
  awsUserData,
  bootstrapScript,
  cloudConfig,
  DRAIN_REQUEST_MARKER,
  metalPayload,
} from "../../modules/host/bootstrap";
import { workloadUnit } from "../../modules/host/units";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { assertCloudConfigsPass, bootstrapFiles } from "../support/user-data";

const STACKS = join(ROOT, "stacks");
const fleets = listStacks(STACKS)
  .map((name) => loadStackFile(join(STACKS, `Pulumi.${name}.yaml`)).fleet)
  .filter((f): f is FleetSpec => f !== undefined);
const hardware = { cores: 32, nicDriver: "ena", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };
const gcp = fleets.find((f) => f.kind === "gcp")!;
const aws = fleets.find((f) => f.kind === "aws")!;

test("the media unit starts only after the tuning verifies, restarts on failure, and waits out the drain", () => {
  const unit = workloadUnit(gcp);
  assert.match(unit, /^Requires=avfleet-tune\.service$/m);
  assert.match(unit, /^After=network-online\.target avfleet-tune\.service$/m);
  assert.match(unit, /^ExecStartPre=\/usr\/local\/sbin\/avfleet-tune verify$/m);
  assert.match(unit, /^ExecStart=\/usr\/bin\/avfleet-sfu$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^Environment=AVFLEET_ADMIN_PORT=9090$/m);
  assert.match(unit, new RegExp(`^TimeoutStopSec=${gcp.drainSeconds + 60}$`, "m"));
  assert.ok(gcp.drainSeconds + 60 > 90, "longer than systemd's default 90 s");
});

test("the agent publishes under the very names the autoscalers read", () => {
  assert.equal(agentConfig(gcp).metric.type, autoscalingPolicy(gcp as any).metrics[0].name);
  const a = agentConfig(aws).metric;
  assert.deepEqual(
    [a.namespace, a.name, a.unit],
    [MEDIA_METRIC.namespace, MEDIA_METRIC.name, "Count"],
  );
  assert.equal(a.autoScalingGroup, `${aws.pool}-media`);
  assert.equal(agentConfig(aws).lifecycleHook, "media-drain");
  // Cloud Monitoring takes one point per series every 5 s at most.
  assert.ok(agentConfig({ ...gcp, agent: { intervalSec: 1 } } as FleetSpec).publishEverySec >= 5);
});

test("every cloud stack's bootstrap carries tuning, unit, agent and config; AWS user-data fits 16 KB gzipped", () => {
  for (const spec of fleets.filter((f) => f.kind !== "metal")) {
    const files = bootstrapFiles(bootstrapScript(spec, hostTuning(spec, hardware)));
    assert.deepEqual(
      [...files.keys()],
      [
        "/usr/local/sbin/avfleet-tune",
        "/etc/systemd/system/sfu.service",
        "/usr/local/sbin/avfleet-agent",
        "/etc/avfleet/agent.json",
        "/etc/systemd/system/avfleet-agent.service",
      ],
      spec.pool,
    );
    assert.equal(JSON.parse(files.get("/etc/avfleet/agent.json")!).platform, spec.kind);
  }
  const userData = awsUserData(cloudConfig(aws, hostTuning(aws, hardware)));
  assert.ok(Buffer.from(userData, "base64").length <= 16384);
});

test("a draining bare-metal host gets its drain request and nothing else", () => {
  const metal = fleets.find((f) => f.kind === "metal")!;
  const tuning = hostTuning(metal, hardware);
  const draining = metalPayload(metal, tuning, "draining").create;
  assert.ok(draining.startsWith(DRAIN_REQUEST_MARKER));
  assert.doesNotMatch(draining, /avfleet-tune|systemctl|apt-get/);
  assert.notEqual(
    metalPayload(metal, tuning, "active").hash,
    metalPayload(metal, tuning, "draining").hash,
  );
});

test("every rendered cloud-config passes cloud-init schema", (t) => {
  if (!prerequisite(t, missingCommands("cloud-init"))) return;
  assertCloudConfigsPass(
    fleets.filter((f) => f.kind !== "metal"),
    hardware,
  );
});

test("the bootstrap and the stand-in tools pass shellcheck (POSIX sh)", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  const dir = mkdtempSync(join(tmpdir(), "host-shellcheck-"));
  const file = join(dir, "avfleet-bootstrap");
  writeFileSync(file, bootstrapScript(aws, hostTuning(aws, hardware)));
  const metal = fleets.find((f) => f.kind === "metal")!;
  const payload = join(dir, "payload");
  writeFileSync(
    payload,
    `#!/bin/sh\n${metalPayload(metal, hostTuning(metal, hardware), "draining").create}`,
  );
  const fixtures = join(ROOT, "test/fixtures/host/bin");
  const r = spawnSync(
    "shellcheck",
    ["-s", "sh", file, payload, join(fixtures, "apt-get"), join(fixtures, "systemctl")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stdout);
});
