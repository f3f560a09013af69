/**
 * An upgrade never restarts a serving media server: the bootstrap installs the package behind a
 * policy-rc.d that forbids service actions, which Debian's own deb-systemd-invoke (what
 * dh_installsystemd's maintainer scripts call) honours. Run against the installed
 * init-system-helpers, in a private mount namespace so the machine's own policy is untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/config/stack";
import { hostTuning } from "../../modules/fleets/host-tuning";
import { bootstrapScript, POLICY_RC_D } from "../../modules/host/bootstrap";
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
  const install = script.indexOf("\n  apt-get install -y -qq --no-install-recommends");
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
