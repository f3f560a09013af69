/**
 * An upgrade never restarts a serving media server: the bootstrap installs the package behind a
 * policy-rc.d that forbids service actions, which Debian's own deb-systemd-invoke (what
 * dh_installsystemd's maintainer scripts call) honours. Run against the installed
 * init-system-helpers, in a private mount namespace so the machine's own policy is untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { bootstrapScript, DRAIN_REQUEST_PATH, POLICY_RC_D } from "../../modules/host/bootstrap";
import { AGENT_STATE_DIR, STATE_DIR } from "../../modules/host/units";
import { MEDIA_UNIT } from "../../modules/tuning/host-facts";
import { SCRIPT_PATH } from "../../modules/tuning/settings";
import { ROOT } from "../support/cli";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";

const spec = loadStackFile("stacks/Pulumi.metal-sjc.yaml").fleet!;
const hardware = { cores: 32, nicDriver: "ice", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };
const script = bootstrapScript(spec, hostTuning(spec, hardware));

/** The bootstrap's lines that put its policy-rc.d in place, run under a throwaway root. */
function renderedPolicy(): string {
  const lines = script.split("\n");
  const from = lines.findIndex((l) => l.includes(`[ -e "$ROOT${POLICY_RC_D}" ] ||`));
  const to = from;
  assert.ok(from > 0, "the bootstrap puts a policy-rc.d in place");
  const root = mkdtempSync(join(tmpdir(), "avfleet-policy-"));
  spawnSync("mkdir", ["-p", join(root, "usr/sbin")]);
  const run = spawnSync("sh", [
    "-euc",
    // its EXIT trap would clean up after an install that never comes here
    ["ROOT=$1", ...lines.slice(from, to + 1), "trap - EXIT"].join("\n"),
    "_",
    root,
  ]);
  assert.equal(run.status, 0, String(run.stderr));
  return join(root, POLICY_RC_D);
}

/** deb-systemd-invoke as a package's postinst calls it, with `policy` as the host's policy-rc.d. */
function invoke(policy: string) {
  return spawnSync(
    "unshare",
    [
      "--mount",
      "sh",
      "-c",
      // A tmpfs over /usr/sbin, in this namespace only: nothing of the machine's is written.
      'mount -t tmpfs tmpfs /usr/sbin && cp "$1" /usr/sbin/policy-rc.d && deb-systemd-invoke restart avfleet-upgrade-test.service',
      "_",
      policy,
    ],
    { encoding: "utf8" },
  );
}

test("the package install runs behind a policy-rc.d that Debian's deb-systemd-invoke obeys: no restart of the media server", (t) => {
  const missing = !isRoot() ? "root" : missingCommands("unshare", "mount", "deb-systemd-invoke");
  if (!prerequisite(t, missing)) return;
  // the install comes after the policy, and the policy goes once the install is over
  const install = script.indexOf(
    "\n  apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef",
  );
  assert.ok(install > 0 && script.indexOf(`$ROOT${POLICY_RC_D}`) < install);
  assert.ok(script.lastIndexOf(`rm -f "$ROOT${POLICY_RC_D}"`) > install);
  const policy = renderedPolicy();
  assert.equal(statSync(policy).mode & 0o777, 0o755);
  const denied = invoke(policy);
  assert.equal(denied.status, 0, denied.stderr);
  assert.match(
    denied.stderr,
    /policy-rc\.d returned 101, not running 'restart avfleet-upgrade-test\.service'/,
  );
  // The test of the test: a policy that allows it lets deb-systemd-invoke go to systemctl.
  const allow = join(policy, "..", "allow");
  writeFileSync(allow, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  assert.doesNotMatch(invoke(allow).stderr, /returned 101/);
  assert.match(readFileSync(policy, "utf8"), /^exit 101$/m);
});

/**
 * The bootstrap from its install step to the media server's start, as a drained host set
 * active again runs it, under a throwaway root with the rehearsal's stand-in apt-get, dpkg and
 * systemctl; each call is logged with whether the package's binary is there yet.
 */
function afterDrain(
  drain: "drained" | "running" = "drained",
  { mediaFails = false, killedAtMediaRestart = false } = {},
) {
  const lines = script.split("\n");
  const from = lines.indexOf("export DEBIAN_FRONTEND=noninteractive");
  // With a media server that does not start, to the end; else up to its start.
  const to =
    mediaFails || killedAtMediaRestart
      ? lines.length
      : lines.findIndex((l) => l.startsWith(`systemctl start ${MEDIA_UNIT}`));
  assert.ok(from > 0 && to > from);
  const root = mkdtempSync(join(tmpdir(), "avfleet-drained-"));
  const bin = join(root, "test-bin");
  const fixtures = join(ROOT, "test/fixtures/host/bin");
  const binary = `$AVFLEET_ROOT/usr/bin/${spec.workload.package}`;
  mkdirSync(bin);
  for (const tool of ["apt-get", "systemctl"]) {
    writeFileSync(
      join(bin, tool),
      `#!/bin/sh\n[ -e "${binary}" ] && b=new || b=old\nprintf '%s %s (binary: %s)\\n' ${tool} "$*" $b >>"$AVFLEET_ROOT/calls"\n` +
        (mediaFails && tool === "systemctl"
          ? `case "$*" in "start ${MEDIA_UNIT}"|"restart ${MEDIA_UNIT}") exit 1;; esac\n`
          : "") +
        // The deploy's SSH session drops while the media server restarts: the shell gets TERM.
        (killedAtMediaRestart && tool === "systemctl"
          ? `case "$*" in "restart ${MEDIA_UNIT}") kill -TERM $PPID; sleep 1;; esac\n`
          : "") +
        `exec ${join(fixtures, tool)} "$@"\n`,
      { mode: 0o755 },
    );
  }
  for (const dir of ["usr/sbin", STATE_DIR.slice(1), "usr/local/sbin"]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  // The tuning's own apply is not what this is about: a stand-in that changes nothing.
  // The drain as the agent left it while it ran as root: in root's directory.
  writeFileSync(join(root, SCRIPT_PATH), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  if (drain === "drained") writeFileSync(join(root, STATE_DIR, "drained"), "1764000000\n");
  writeFileSync(join(root, STATE_DIR, "drain.json"), "{}\n");
  writeFileSync(join(root, DRAIN_REQUEST_PATH), "set by the inventory: draining\n");
  const run = spawnSync(
    "sh",
    ["-euc", ["ROOT=$1", ...lines.slice(from, to)].join("\n"), "_", root],
    {
      encoding: "utf8",
      env: { ...process.env, AVFLEET_ROOT: root, PATH: `${bin}:${fixtures}:${process.env.PATH}` },
    },
  );
  return {
    run,
    calls: [
      ...readFileSync(join(root, "calls"), "utf8").trim().split("\n"),
      ...readFileSync(join(root, "var/log/apt-get.calls"), "utf8").trim().split("\n"),
    ],
    requested: existsSync(join(root, DRAIN_REQUEST_PATH)),
    drain: (dir: string) => existsSync(join(root, dir, "drain.json")),
  };
}

test("a drained host set active again: the package installs behind policy-rc.d, then the media server restarts on the new binary", (t) => {
  if (!prerequisite(t, missingCommands("dpkg-query"))) return;
  const { run, calls } = afterDrain();
  assert.equal(run.status, 0, run.stderr);
  const install = calls.findIndex((c) => /^apt-get .*\binstall\b/.test(c));
  const restart = calls.indexOf(`systemctl restart ${MEDIA_UNIT} (binary: new)`);
  assert.ok(install >= 0, calls.join("\n"));
  assert.match(calls[install], /\(binary: old\)$/);
  assert.ok(restart > install, `the restart comes after the install:\n${calls.join("\n")}`);
  assert.equal(calls.filter((c) => c.startsWith(`systemctl restart ${MEDIA_UNIT}`)).length, 1);
  // The package's own restart, asked of the policy layer during the install, was refused.
  assert.ok(calls.includes(`policy-rc.d ${MEDIA_UNIT} restart: 101`), calls.join("\n"));
});

test("a media server that does not start after the install fails the bootstrap, and the agent stopped for the drain check runs again", (t) => {
  if (!prerequisite(t, missingCommands("dpkg-query"))) return;
  const { run, calls } = afterDrain("drained", { mediaFails: true });
  assert.notEqual(run.status, 0, "the up names the host");
  const agent = calls.filter((c) => /^systemctl (stop|start|restart) avfleet-agent/.test(c));
  assert.deepEqual(
    agent.map((c) => c.split(" ")[1]),
    ["stop", "stop", "start"],
    calls.join("\n"),
  );
  assert.ok(
    calls.indexOf(agent[2]) >
      calls.findIndex((c) => c.startsWith(`systemctl restart ${MEDIA_UNIT}`)),
  );
});

test("a deploy killed by a signal after the agent stopped for the drain check starts the agent again", (t) => {
  if (!prerequisite(t, missingCommands("dpkg-query"))) return;
  const { run, calls } = afterDrain("drained", { killedAtMediaRestart: true });
  assert.equal(run.status, 143, run.stderr);
  const agent = calls.filter((c) => /^systemctl (stop|start|restart) avfleet-agent/.test(c));
  assert.deepEqual(
    agent.map((c) => c.split(" ")[1]),
    ["stop", "stop", "start"],
    calls.join("\n"),
  );
});

test("a host set active again while its drain still runs: the bootstrap stops before any restart and says so; the host keeps draining", (t) => {
  if (!prerequisite(t, missingCommands("dpkg-query"))) return;
  const { run, calls, requested, drain } = afterDrain("running");
  assert.equal(run.status, 1);
  assert.match(
    run.stderr,
    new RegExp(
      `^avfleet-bootstrap: \\S+ is still draining: set it active again once ${AGENT_STATE_DIR}/drained is there$`,
      "m",
    ),
  );
  assert.deepEqual(
    calls.filter((c) => c.startsWith(`systemctl restart ${MEDIA_UNIT}`)),
    [],
    "its calls are not cut",
  );
  assert.ok(requested, "the drain request stays: the agent goes on draining");
  // The root agent's drain moved into the agent's own directory, the agent stopped meanwhile;
  // stopped again for the check (no tick in between) and started again to go on.
  assert.deepEqual([drain(STATE_DIR), drain(AGENT_STATE_DIR)], [false, true]);
  const agent = calls.filter((c) => /^systemctl (stop|start) avfleet-agent/.test(c));
  assert.deepEqual(
    agent.map((c) => c.split(" ")[1]),
    ["stop", "stop", "start"],
    calls.join("\n"),
  );
});
