/** What modules/host renders: units, agent config, the three carriers of the bootstrap. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import YAML from "yaml";
import { listStacks, loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { autoscalingPolicy } from "../../modules/fleets/gcp-args";
import { mediaMetric } from "../../modules/fleets/aws-args";
import { agentConfig } from "../../modules/host/agent";
import {
  awsBoot,
  AWS_USER_DATA_LIMIT,
  bootstrapScript,
  GCP_METADATA_VALUE_LIMIT,
  cloudConfig,
  DRAIN_REQUEST_MARKER,
  metalPayload,
  PER_BOOT_BOOTSTRAP_PATH,
} from "../../modules/host/bootstrap";
import { SHUTDOWN_TARGETS, workloadUnit } from "../../modules/host/units";
import { agentPackagePaths } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";
import {
  assertCloudConfigsPass,
  bootstrapFiles,
  cloudInit,
  TEST_BUCKET,
} from "../support/user-data";

const STACKS = join(ROOT, "stacks");
const fleets = listStacks(STACKS)
  .map((name) => loadStackFile(join(STACKS, `Pulumi.${name}.yaml`)).fleet)
  .filter((f): f is FleetSpec => f !== undefined);
const hardware = { cores: 32, nicDriver: "ena", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };
const gcp = fleets.find((f) => f.kind === "gcp")!;
const aws = fleets.find((f) => f.kind === "aws")!;

test("every GCP stack's bootstrap, its startup-script metadata, stays under half of GCE's 256 KB per value", (t) => {
  for (const spec of fleets.filter((f) => f.kind === "gcp")) {
    const bytes = Buffer.byteLength(bootstrapScript(spec, hostTuning(spec, hardware)));
    t.diagnostic(`${spec.pool}: startup-script ${bytes} bytes`);
    assert.ok(bytes <= GCP_METADATA_VALUE_LIMIT / 2, `${spec.pool}: ${bytes}`);
  }
});

test("the media unit starts only after the tuning verifies, restarts on failure, and waits out the drain", () => {
  const unit = workloadUnit(gcp);
  // Wants=, not Requires=: restarting the tuning unit must not restart the server; its
  // ExecStartPre verify still refuses a start the tuning does not back (#28)
  assert.match(unit, /^Wants=network-online\.target avfleet-tune\.service$/m);
  assert.doesNotMatch(unit, /^Requires=/m);
  assert.match(
    unit,
    /^After=network-online\.target avfleet-tune\.service ssh\.service systemd-user-sessions\.service google-guest-agent\.service google-guest-agent-manager\.service /m,
  );
  assert.match(unit, /^ExecStartPre=\+\/usr\/local\/sbin\/avfleet-tune verify$/m);
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
    [`AVFleet/Media/${aws.pool}`, mediaMetric(aws.pool).name, "Count"],
  );
  assert.equal(a.autoScalingGroup, `${aws.pool}-media`);
  assert.equal(agentConfig(aws).lifecycleHook, "media-drain");
  // Cloud Monitoring takes one point per series every 5 s at most.
  assert.ok(agentConfig({ ...gcp, agent: { intervalSec: 1 } } as FleetSpec).publishEverySec >= 5);
});

test("every cloud stack's bootstrap carries tuning, unit, agent and config; AWS user-data (the stub) under a quarter of its 16 KB", () => {
  for (const spec of fleets.filter((f) => f.kind !== "metal")) {
    const files = bootstrapFiles(bootstrapScript(spec, hostTuning(spec, hardware)));
    assert.deepEqual(
      [...files.keys()],
      [
        // the package's repository, where the image has none (the GCP examples' Debian images)
        ...(spec.workload.aptSource
          ? ["/etc/apt/keyrings/avfleet.asc", "/etc/apt/sources.list.d/avfleet.sources"]
          : []),
        "/usr/local/sbin/avfleet-tune",
        "/etc/systemd/system/sfu.service",
        // the agent's package with its own platform's adapter, then the launcher the units run
        ...agentPackagePaths(spec.kind),
        "/usr/local/sbin/avfleet-agent",
        "/etc/avfleet/agent.json",
        "/etc/systemd/system/avfleet-agent.service",
        "/etc/systemd/system/avfleet-tune-check.service",
        "/etc/systemd/system/avfleet-tune-check.timer",
        // Debian's nftables.service flushes the tuning's notrack table: put back after it
        "/etc/systemd/system/nftables.service.d/avfleet.conf",
        // systemd 252's shutdown targets force the power-off at 30 min: room for the drain
        // (halt.target and kexec.target, none there yet, the same)
        "/etc/systemd/system/poweroff.target.d/avfleet-drain.conf",
        "/etc/systemd/system/reboot.target.d/avfleet-drain.conf",
        "/etc/systemd/system/kexec.target.d/avfleet-drain.conf",
        "/etc/systemd/system/halt.target.d/avfleet-drain.conf",
        // GCP: the Ops Agent that sends the agent's series to Cloud Monitoring (its source
        // staged: apt reads it only once the install step has its key)
        ...(spec.kind === "gcp"
          ? [
              "/etc/avfleet/apt/google-cloud-ops-agent.sources",
              "/etc/google-cloud-ops-agent/config.yaml",
            ]
          : []),
      ],
      spec.pool,
    );
    assert.equal(JSON.parse(files.get("/etc/avfleet/agent.json")!).platform, spec.kind);
    assert.match(
      files.get("/etc/systemd/system/reboot.target.d/avfleet-drain.conf")!,
      new RegExp(`^JobTimeoutSec=${spec.drainSeconds + 120}$`, "m"),
    );
  }
  const userData = awsBoot(aws, hostTuning(aws, hardware)).userData(TEST_BUCKET);
  assert.ok(Buffer.from(userData, "base64").length <= AWS_USER_DATA_LIMIT / 4);
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

test("Debian's cloud-init runs the AWS bootstrap at every boot, the first one included", (t) => {
  if (!prerequisite(t, missingCommands("cloud-init"))) return;
  assert.deepEqual(
    Object.keys(YAML.parse(cloudConfig(aws, hostTuning(aws, hardware), TEST_BUCKET))),
    ["write_files"],
  );
  // cloud-init's own code, with its own interpreter: the module's frequency and directory.
  const cloudInit = spawnSync("sh", ["-c", "command -v cloud-init"], { encoding: "utf8" });
  const python = readFileSync(cloudInit.stdout.trim(), "utf8").split("\n")[0].slice(2).trim();
  const r = spawnSync(
    python,
    [
      "-c",
      "import os; from cloudinit.config import cc_scripts_per_boot as m; from cloudinit.helpers import Paths; " +
        "print(m.frequency, os.path.join(Paths({}).get_cpath('scripts'), m.SCRIPT_SUBDIR))",
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `always ${dirname(PER_BOOT_BOOTSTRAP_PATH)}`);
  const cfg = YAML.parse(readFileSync("/etc/cloud/cloud.cfg", "utf8"));
  assert.ok(cfg.cloud_final_modules.includes("scripts-per-boot"));
});

test("the bootstrap, the AWS boot stub and the stand-in tools pass shellcheck (POSIX sh)", (t) => {
  if (!prerequisite(t, missingCommands("shellcheck"))) return;
  const dir = mkdtempSync(join(tmpdir(), "host-shellcheck-"));
  const file = join(dir, "avfleet-bootstrap");
  writeFileSync(file, bootstrapScript(aws, hostTuning(aws, hardware)));
  const stub = join(dir, "avfleet-boot-stub");
  writeFileSync(
    stub,
    cloudInit(cloudConfig(aws, hostTuning(aws, hardware), TEST_BUCKET)).bootstrap,
  );
  const metal = fleets.find((f) => f.kind === "metal")!;
  const payload = join(dir, "payload");
  writeFileSync(
    payload,
    `#!/bin/sh\n${metalPayload(metal, hostTuning(metal, hardware), "draining").create}`,
  );
  const fixtures = join(ROOT, "test/fixtures/host/bin");
  const r = spawnSync(
    "shellcheck",
    [
      ...["-s", "sh", file, stub, payload],
      ...["apt-get", "dpkg", "systemctl"].map((f) => join(fixtures, f)),
    ],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stdout);
});

test("the shutdown targets' drop-ins load under Debian 12's systemd, over its own units, halt.target's too", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const units = "/usr/lib/systemd/system";
  const verify = (target: string, dropIn: string) => {
    const root = mkdtempSync(join(tmpdir(), "avfleet-dropin-"));
    const dir = join(root, `etc/systemd/system/${target}.d`);
    spawnSync("mkdir", ["-p", dir, join(root, units)]);
    const name = target.replace(/\.target$/, "");
    for (const unit of [
      target,
      `systemd-${name}.service`,
      "shutdown.target",
      "final.target",
      "umount.target",
    ]) {
      spawnSync("cp", [join(units, unit), join(root, units)]);
    }
    writeFileSync(join(dir, "avfleet-drain.conf"), dropIn);
    return spawnSync("systemd-analyze", ["verify", `--root=${root}`, target], {
      encoding: "utf8",
    });
  };
  // Debian's own reboot target carries the deadline the drop-in moves; its halt target none.
  assert.match(readFileSync(join(units, "reboot.target"), "utf8"), /^JobTimeoutSec=30min$/m);
  assert.doesNotMatch(readFileSync(join(units, "halt.target"), "utf8"), /^JobTimeout/m);
  for (const spec of fleets) {
    const files = bootstrapFiles(bootstrapScript(spec, hostTuning(spec, hardware)));
    for (const target of SHUTDOWN_TARGETS) {
      const run = verify(target, files.get(`/etc/systemd/system/${target}.d/avfleet-drain.conf`)!);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stderr, "", `${spec.pool} ${target}: systemd-analyze says nothing`);
    }
  }
  // The test of the test: a misspelt key is named, and so is an action systemd 252 has not.
  assert.match(
    verify("reboot.target", "[Unit]\nJobTimeoutSecs=60\n").stderr,
    /Unknown key 'JobTimeoutSecs'/,
  );
  assert.match(
    verify("halt.target", "[Unit]\nJobTimeoutAction=halt-force\n").stderr,
    /Failed to parse JobTimeoutAction=/,
  );
});

test("at a shutdown the media server and the agent stop before ssh, the guest agent and the Ops Agent (ordered After= them), the agent restarted without a start limit (#28)", () => {
  for (const spec of fleets) {
    const files = bootstrapFiles(bootstrapScript(spec, hostTuning(spec, hardware)));
    const media = files.get(`/etc/systemd/system/${hostTuning(spec, hardware).facts.mediaUnit}`)!;
    const agent = files.get("/etc/systemd/system/avfleet-agent.service")!;
    const after = (unit: string) =>
      [...unit.matchAll(/^After=(.*)$/gm)].flatMap((m) => m[1].split(" "));
    const outlive =
      spec.kind === "gcp"
        ? [
            "ssh.service",
            "google-guest-agent.service",
            "google-cloud-ops-agent.service",
            "google-cloud-ops-agent-fluent-bit.service",
            "google-cloud-ops-agent-opentelemetry-collector.service",
          ]
        : spec.kind === "aws"
          ? ["ssh.service", "amazon-ssm-agent.service"]
          : ["ssh.service"];
    for (const unit of [media, agent])
      for (const service of outlive)
        assert.ok(after(unit).includes(service), `${spec.pool} ${service}`);
    assert.match(agent, /^StartLimitIntervalSec=0$/m);
    assert.match(agent, /^Restart=always$/m);
  }
});

test("the units load under Debian 12's systemd with their After= on services an image may not have", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const gcp = fleets.find((f) => f.kind === "gcp")!;
  const files = bootstrapFiles(bootstrapScript(gcp, hostTuning(gcp, hardware)));
  const verify = (edit: (text: string) => string) => {
    const dir = join(mkdtempSync(join(tmpdir(), "avfleet-units-")), "system");
    spawnSync("mkdir", ["-p", dir]);
    // The tuning's own unit, which the bootstrap installs from its script, as a stand-in.
    writeFileSync(
      join(dir, "avfleet-tune.service"),
      "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    const paths: string[] = [];
    for (const [path, text] of files) {
      if (!/^\/etc\/systemd\/system\/[^/]+\.(service|timer)$/.test(path)) continue;
      paths.push(join(dir, path.split("/").pop()!));
      writeFileSync(paths.at(-1)!, edit(text));
    }
    const run = spawnSync("systemd-analyze", ["verify", ...paths], { encoding: "utf8" });
    // What it says of the executables the image installs (the media server) is no concern here.
    return run.stderr.split("\n").filter((l) => l && !/is not executable/.test(l));
  };
  // Nothing said of an After= on the guest agent or the Ops Agent, which this host lacks.
  assert.deepEqual(
    verify((text) => text),
    [],
  );
  // The test of the test: a start limit systemd cannot read is named.
  assert.match(
    verify((text) => text.replace("StartLimitIntervalSec=0", "StartLimitIntervalSec=never")).join(
      "\n",
    ),
    /avfleet-agent\.service:\d+: Failed to parse sec value, ignoring: never/,
  );
});
