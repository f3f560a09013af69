/**
 * Finding 5: the Internet-facing media server ran as root with no sandbox, so an exploit of the
 * SFU was root on the host; the agent likewise. Now the package server runs as a user systemd
 * allocates, in a read-only system with private /tmp and devices, no new privileges, and no
 * capability but the bind of a port below 1024 when the fleet has one; the agent likewise runs as
 * a user of its own with no capability at all, writing none of root's /var/lib/avfleet (the
 * bare-metal payload's place), and root's part of its work is one fixed tuning check. A
 * container pool's server drops every capability and runs in a user namespace when its ports
 * allow. Judged with systemd's own tools on the rendered units (systemd-analyze verify, and
 * security --offline); the container rehearsal (test/host) runs the podman flags for real.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import {
  AGENT_CONFIG_PATH,
  AGENT_LIB_DIR,
  AGENT_PATH,
  AGENT_RUN_DIR,
  AGENT_STATE_DIR,
  AGENT_UNIT,
  agentUnit,
  CONTAINER_HOST_ID,
  CONTAINER_IDS,
  containerCommand,
  containerPrivileges,
  FIREWALL_UNIT,
  firewallUnit,
  NFT,
  RUN_DIR,
  STATE_DIR,
  TUNE_CHECK_TIMER,
  TUNE_CHECK_EVERY_SEC,
  TUNE_CHECK_UNIT,
  TUNE_UNIT,
  TUNE_VERDICT_PATH,
  tuneCheckTimer,
  tuneCheckUnit,
  workloadCommand,
  workloadUnit,
} from "../../modules/host/units";
import { hostFiles } from "../../modules/host/bootstrap";
import type { ContainerImage } from "../../modules/host/image";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { PAYLOAD_PATH } from "../../modules/host-payloads/metal-payload";
import { SCRIPT_PATH } from "../../modules/tuning/settings";
import { installAgent } from "../support/agent";
import { ROOT } from "../support/cli";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";
import { agentConfig } from "../../modules/host/agent";

const sjc = loadStackFile(join(ROOT, "stacks/Pulumi.metal-sjc.yaml")).fleet as FleetSpec;
/** The same fleet with its signaling on an unprivileged port. */
const high: FleetSpec = structuredClone(sjc);
high.ports.signalingTcp = [8443];
const MEDIA_UNIT = "avfleet-sfu.service";
const HARDWARE = {
  cores: 32,
  nicDriver: "mlx5_core",
  rxQueues: 16,
  txQueues: 16,
  streamsPerHost: 4800,
};
/** A fleet's spec with its server run from an image. */
function containerOn(spec: FleetSpec): FleetSpec {
  const c = structuredClone(spec);
  c.workload = { ...c.workload, image: "registry.example/sfu", digest: `sha256:${"0".repeat(64)}` };
  return c;
}
const NOBODY = 65534;
const PYTHON = "/usr/bin/python3";

/** systemd-analyze on the rendered units in a throwaway root (their programs as stubs). */
function analyze(units: Record<string, string>, ...args: string[]) {
  const root = mkdtempSync(join(tmpdir(), "sec05-"));
  try {
    for (const program of [
      workloadCommand(sjc),
      SCRIPT_PATH,
      "/usr/bin/python3",
      AGENT_PATH,
      NFT,
    ]) {
      mkdirSync(join(root, dirname(program)), { recursive: true });
      writeFileSync(join(root, program), "#!/bin/sh\n", { mode: 0o755 });
    }
    // Debian's own units, which the rendered ones are ordered against.
    mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
    spawnSync("cp", ["-r", "/usr/lib/systemd/system", join(root, "usr/lib/systemd/")]);
    const dir = join(root, "etc/systemd/system");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, TUNE_UNIT),
      `[Service]\nType=oneshot\nExecStart=${SCRIPT_PATH} apply\n`,
    );
    for (const [name, text] of Object.entries(units)) writeFileSync(join(dir, name), text);
    return spawnSync("systemd-analyze", [...args, `--root=${root}`, ...Object.keys(units)], {
      encoding: "utf8",
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** systemd's own verdict on a unit: each check's result, and the overall exposure (0 safe, 10 root). */
function security(name: string, text: string) {
  const json = analyze({ [name]: text }, "security", "--offline=true", "--json=short");
  assert.equal(json.status, 0, json.stderr);
  const checks = new Map<string, boolean>(
    (JSON.parse(json.stdout) as { name: string; set: boolean }[]).map((c) => [c.name, c.set]),
  );
  const plain = analyze({ [name]: text }, "security", "--offline=true");
  const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(plain.stdout)?.[1]);
  return { checks, exposure };
}

/** systemd-analyze security's checks both Internet-facing and agent units must pass. */
const SANDBOX_CHECKS = [
  "User=/DynamicUser=",
  "NoNewPrivileges=",
  "ProtectSystem=",
  "ProtectHome=",
  "PrivateTmp=",
  "CapabilityBoundingSet=~CAP_SYS_ADMIN",
  "CapabilityBoundingSet=~CAP_NET_ADMIN",
];

test("the media server runs as a user of its own, sandboxed, with no capability for high ports", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const { checks, exposure } = security(MEDIA_UNIT, workloadUnit(high));
  for (const check of [
    ...SANDBOX_CHECKS,
    "PrivateDevices=",
    "ProtectKernelModules=",
    "ProtectKernelTunables=",
    "CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)",
  ])
    assert.equal(checks.get(check), true, `${check} protects the media server`);
  // A root service with no sandbox scores 9.6 ("UNSAFE"), the unit this replaces.
  assert.ok(exposure <= 5, `exposure ${exposure}`);
  assert.match(workloadUnit(high), /^CapabilityBoundingSet=$/m);
  assert.doesNotMatch(workloadUnit(high), /AmbientCapabilities/);
});

test("a fleet that signals on 443 gives its server the bind capability and nothing else", () => {
  const unit = workloadUnit(sjc);
  assert.deepEqual(sjc.ports.signalingTcp, [443]);
  assert.match(unit, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  assert.match(unit, /^DynamicUser=yes$/m);
  // The tuning check lists nftables (CAP_NET_ADMIN): it alone runs with full privileges.
  assert.match(unit, new RegExp(`^ExecStartPre=\\+${SCRIPT_PATH} verify$`, "m"));
});

test("the agent runs as a user of its own with no capability, and cannot write where root's payload lives", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const unit = agentUnit(MEDIA_UNIT, sjc.drainSeconds, "gcp");
  const { checks, exposure } = security(AGENT_UNIT, unit);
  for (const check of [
    ...SANDBOX_CHECKS,
    "CapabilityBoundingSet=~CAP_SYS_MODULE",
    "CapabilityBoundingSet=~CAP_SYS_PTRACE",
    "CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)",
    "CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)",
  ])
    assert.equal(checks.get(check), true, `${check} protects the agent`);
  // As root bounded to CAP_NET_ADMIN it scored 6.x.
  assert.ok(exposure <= 5, `exposure ${exposure}`);
  assert.match(unit, /^DynamicUser=yes$/m);
  assert.match(unit, /^CapabilityBoundingSet=$/m);
  assert.doesNotMatch(unit, /^(User|AmbientCapabilities|ReadWritePaths|PermissionsStartOnly)=/m);
  // Nothing of the agent's runs with full privileges ("+", "!", "!!" prefixes).
  assert.doesNotMatch(unit, /^Exec\w+=[+!]/m);
  // ProtectSystem=strict leaves writable only these: none is, or holds, root's payload directory.
  const writable = [...unit.matchAll(/^(State|Runtime)Directory=(.+)$/gm)].map(
    ([, kind, dir]) => `/${kind === "State" ? "var/lib" : "run"}/${dir}`,
  );
  assert.deepEqual(writable, [AGENT_STATE_DIR, AGENT_RUN_DIR]);
  assert.equal(dirname(PAYLOAD_PATH), STATE_DIR);
  for (const dir of writable)
    assert.ok(!`${STATE_DIR}/`.startsWith(`${dir}/`) && dir !== STATE_DIR, dir);
  // pulled in by Wants=: a failed check must not keep the agent (and its liveness) down
  assert.match(unit, new RegExp(`^Wants=.* ${TUNE_CHECK_UNIT}$`, "m"));
  assert.doesNotMatch(unit, new RegExp(`^Requires=${TUNE_CHECK_UNIT}$`, "m"));
});

test("root's part of the agent's work is the tuning check alone: a fixed command, CAP_NET_ADMIN only, writing only /run/avfleet", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const host = hostFiles(sjc, hostTuning(sjc, HARDWARE));
  const units = host.filter(
    (f) => f.path.startsWith("/etc/systemd/system/") && !f.path.includes(".d/"),
  );
  // Every unit the payload writes (the tuning's own unit comes from its script), and who runs
  // it: as root only the firewall loader and this check, and neither runs the agent's loop.
  const root = units
    .filter(
      (f) => !/^(DynamicUser=yes|User=\S+)$/m.test(f.content) && /^\[Service\]$/m.test(f.content),
    )
    .map((f) => basename(f.path));
  assert.deepEqual(root.sort(), [FIREWALL_UNIT, TUNE_CHECK_UNIT]);
  const check = tuneCheckUnit();
  assert.match(
    check,
    new RegExp(
      `^ExecStart=/usr/bin/python3 ${AGENT_PATH} --verify-tuning ${AGENT_CONFIG_PATH}$`,
      "m",
    ),
  );
  assert.match(check, /^CapabilityBoundingSet=CAP_NET_ADMIN$/m);
  assert.match(check, /^ProtectSystem=strict$/m);
  assert.match(check, /^RuntimeDirectory=avfleet$/m);
  assert.match(check, /^RuntimeDirectoryPreserve=yes$/m);
  // the check reads drift by what it can write: a read-only /proc/sys would verify every sysctl
  assert.doesNotMatch(check, /^ProtectKernelTunables=/m);
  assert.equal(dirname(TUNE_VERDICT_PATH), RUN_DIR);
  const { checks } = security(TUNE_CHECK_UNIT, check);
  for (const name of [
    "NoNewPrivileges=",
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)",
  ])
    assert.equal(checks.get(name), true, `${name} bounds the check`);
});

test("systemd-analyze verify accepts the rendered media, agent and firewall units", (t) => {
  if (!prerequisite(t, missingCommands("systemd-analyze"))) return;
  const run = analyze(
    {
      [MEDIA_UNIT]: workloadUnit(sjc),
      [AGENT_UNIT]: agentUnit(MEDIA_UNIT, sjc.drainSeconds, "metal"),
      [FIREWALL_UNIT]: firewallUnit(),
      [TUNE_CHECK_UNIT]: tuneCheckUnit(),
      [TUNE_CHECK_TIMER]: tuneCheckTimer(),
    },
    "verify",
  );
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, "");
});

test("a container pool's server has no capability, no new privileges, a read-only image and a user namespace, on any port", () => {
  const image = { ref: "registry.example/sfu@sha256:" + "0".repeat(64) } as ContainerImage;
  const ids = `0:${CONTAINER_HOST_ID}:${CONTAINER_IDS}`;
  // Root in the container is CONTAINER_HOST_ID on the host, with nothing.
  assert.deepEqual(containerPrivileges(), [
    "--cap-drop=all",
    `--uidmap=${ids}`,
    `--gidmap=${ids}`,
    "--security-opt=no-new-privileges",
    "--read-only",
  ]);
  for (const spec of [containerOn(sjc), containerOn(high)]) {
    const argv = containerCommand(spec, image).split(" ");
    for (const flag of containerPrivileges()) assert.ok(argv.includes(flag), flag);
    assert.ok(
      !argv.some((a) => /^--(privileged|cap-add|userns=host|security-opt=.*unconfined)/.test(a)),
    );
    assert.ok(
      argv.indexOf("--cap-drop=all") < argv.indexOf(image.ref),
      "podman flags precede the image",
    );
  }
});

test("a container pool signaling on 443: the host's tuning lowers ip_unprivileged_port_start to 443, and a server in a user namespace over host networking binds it then, not before", (t) => {
  if (!prerequisite(t, !isRoot() ? "root" : missingCommands("ip", "unshare", "python3"))) return;
  const sysctls = (spec: FleetSpec) =>
    hostTuning(spec, HARDWARE).settings.filter(
      (s) => s.name === "net.ipv4.ip_unprivileged_port_start",
    );
  assert.deepEqual(
    sysctls(containerOn(sjc)).map((s) => s.value),
    ["443"],
  );
  // A package's server gets the capability from systemd; above 1024 nothing is needed.
  assert.deepEqual(sysctls(sjc), []);
  assert.deepEqual(sysctls(containerOn(high)), []);
  const ns = `sec05-port-${process.pid}`;
  spawnSync("ip", ["netns", "add", ns]);
  t.after(() => spawnSync("ip", ["netns", "del", ns]));
  spawnSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
  // root of a user namespace of its own, as podman's --uidmap makes it, in the host's network
  const bind = () =>
    spawnSync(
      "ip",
      [
        "netns",
        "exec",
        ns,
        "unshare",
        "--user",
        "--map-root-user",
        "python3",
        "-c",
        "import socket; socket.socket().bind(('127.0.0.1', 443))",
      ],
      { encoding: "utf8" },
    );
  const refused = bind();
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /Permission denied/);
  const set = spawnSync("ip", [
    "netns",
    "exec",
    ns,
    "sysctl",
    "-w",
    `net.ipv4.ip_unprivileged_port_start=${sysctls(containerOn(sjc))[0].value}`,
  ]);
  assert.equal(set.status, 0, String(set.stderr));
  const bound = bind();
  assert.equal(bound.status, 0, bound.stderr);
});

test("the agent's program as an unprivileged user: root's verdict makes it tuned, a stale one does not, its drain lands in its own directory, root's payload is out of reach", (t) => {
  if (!prerequisite(t, !isRoot() ? "root" : missingCommands("setpriv"))) return;
  const root = mkdtempSync(join(tmpdir(), "sec05-agent-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(root, 0o755);
  const config = join(root, "agent.json");
  writeFileSync(config, JSON.stringify(agentConfig(sjc)));
  mkdirSync(join(root, dirname(SCRIPT_PATH)), { recursive: true });
  writeFileSync(join(root, SCRIPT_PATH), "#!/bin/sh\necho 'tuned: 0 setting(s) drift' >&2\n", {
    mode: 0o755,
  });
  // The launcher and package where the bootstrap puts them, run by Debian's python as the units do.
  const launcher = installAgent(root, sjc);
  mkdirSync(join(root, STATE_DIR), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, PAYLOAD_PATH), "#!/bin/sh\n", { mode: 0o700 });
  // What systemd makes of StateDirectory=/RuntimeDirectory= for the agent's user.
  for (const dir of [AGENT_STATE_DIR, AGENT_RUN_DIR]) {
    mkdirSync(join(root, dir), { recursive: true });
    chownSync(join(root, dir), NOBODY, NOBODY);
  }
  const env = { ...process.env, AVFLEET_ROOT: root, PYTHONDONTWRITEBYTECODE: "1" };
  // Root's check unit.
  const check = spawnSync(PYTHON, [launcher, "--verify-tuning", config], {
    env,
  });
  assert.equal(check.status, 0, String(check.stderr));
  const program = `import json, os, sys, time
sys.path.insert(0, ${JSON.stringify(join(root, AGENT_LIB_DIR))})
from avfleet_agent import agent, common
a = agent.Agent(json.load(open(sys.argv[1])))
a.verify_tuning()
a.start_drain("test")
try:
    open(common.under_root(${JSON.stringify(PAYLOAD_PATH)}), "w").write("swapped")
    swapped = True
except PermissionError:
    swapped = False
json.dump({"uid": os.getuid(), "tuned": a.tuned, "swapped": swapped}, sys.stdout)`;
  // The unit's user: an unprivileged uid with no capability (CapabilityBoundingSet= empty).
  const asAgent = () =>
    spawnSync(
      "setpriv",
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        PYTHON,
        "-c",
        program,
        config,
      ],
      { env, encoding: "utf8" },
    );
  const fresh = asAgent();
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.deepEqual(JSON.parse(fresh.stdout), { uid: NOBODY, tuned: true, swapped: false });
  // Root's timer stopped 16 minutes ago: the agent no longer calls the host tuned.
  const old = Date.now() / 1000 - 3 * TUNE_CHECK_EVERY_SEC - 60;
  utimesSync(join(root, TUNE_VERDICT_PATH), old, old);
  const stale = asAgent();
  assert.equal(stale.status, 0, stale.stderr);
  assert.deepEqual(JSON.parse(stale.stdout), { uid: NOBODY, tuned: false, swapped: false });
  assert.match(stale.stderr, /is avfleet-tune-check\.timer running\?/);
  assert.equal(readFileSync(join(root, PAYLOAD_PATH), "utf8"), "#!/bin/sh\n");
  assert.equal(
    JSON.parse(readFileSync(join(root, AGENT_STATE_DIR, "drain.json"), "utf8")).reason,
    "test",
  );
});
