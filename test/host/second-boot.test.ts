/**
 * A GCP host's startup script runs at every boot (a standby VM started again): the rendered
 * bootstrap's install check and its agent restart, run under sh against stand-ins of dpkg,
 * dpkg-query, apt-get and systemctl on PATH.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStackFile } from "../../modules/stacks/stack";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { bootstrapScript } from "../../modules/host/bootstrap";
import { AGENT_UNIT } from "../../modules/host/units";
import { missingCommands, prerequisite } from "../support/prerequisites";

const spec = loadStackFile("stacks/Pulumi.gcp-us-west1.yaml").fleet!;
const hardware = { cores: 32, nicDriver: "gve", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };
const lines = bootstrapScript(spec, hostTuning(spec, hardware)).split("\n");
const at = (prefix: string) => {
  const i = lines.findIndex((l) => l.startsWith(prefix));
  assert.ok(i >= 0, `the bootstrap has a line starting ${prefix}`);
  return i;
};

/** `body` under sh -eu with stand-ins on PATH; the calls they saw, one a line. */
function run(body: string[], stubs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-second-boot-"));
  try {
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "root/usr/sbin"), { recursive: true });
    for (const tool of ["ethtool", "nft", "python3", "apt-get", "systemctl", "dpkg", "dpkg-query"])
      writeFileSync(
        join(dir, "bin", tool),
        `#!/bin/sh\necho "${tool} $*" >>"${dir}/calls"\n${stubs[tool] ?? "exit 0"}\n`,
        { mode: 0o755 },
      );
    const r = spawnSync("sh", ["-euc", ["ROOT=$1", ...body].join("\n"), "_", join(dir, "root")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(dir, "bin")}:/usr/bin:/bin` },
    });
    assert.equal(r.status, 0, r.stderr);
    let calls: string[] = [];
    try {
      calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
    } catch {
      calls = [];
    }
    return calls;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the install runs again when the workload is only unpacked at its version or a package is partly installed (a stop mid-dpkg); not when all is configured", (t) => {
  if (!prerequisite(t, missingCommands("sh"))) return;
  const from = at("export DEBIAN_FRONTEND=");
  const to = lines.indexOf("fi", at('if [ "$(dpkg-query'));
  const install = lines.slice(from, to + 1);
  const version = spec.workload.version!;
  const installed = (calls: string[]) => [
    calls.some((c) => c === "dpkg --configure -a"),
    calls.some((c) => /^apt-get .*\binstall\b/.test(c)),
  ];
  // dpkg-query answers what its -f format asks: the old check, ${Version} alone, passed "iU ".
  const query = (status: string) =>
    `printf '%s' "\${2#-f=}" | sed -e 's/[$]{db:Status-Abbrev}/${status}/' -e 's/[$]{Version}/${version}/'`;
  // configured at the version, nothing partly installed: nothing to do
  assert.deepEqual(installed(run(install, { "dpkg-query": query("ii ") })), [false, false]);
  // unpacked, or half-configured, at the version: configured and installed
  assert.deepEqual(installed(run(install, { "dpkg-query": query("iU ") })), [true, true]);
  assert.deepEqual(installed(run(install, { "dpkg-query": query("iF ") })), [true, true]);
  // the workload is fine, another package (a tool) was left half-configured
  const audit = `[ "$1" = --audit ] && echo 'The following packages are only half configured'; exit 0`;
  assert.deepEqual(installed(run(install, { "dpkg-query": query("ii "), dpkg: audit })), [
    true,
    true,
  ]);
});

test("the agent is restarted only when a file the bootstrap writes changed; a second boot with the same files only starts it", (t) => {
  if (!prerequisite(t, missingCommands("sh", "cmp"))) return;
  const put = lines.slice(at("CHANGED="), lines.indexOf("}", at("put() {")) + 1);
  const restart = lines.slice(at('if [ -n "$CHANGED" ]'), at('if [ -n "$CHANGED" ]') + 5);
  const file = (content: string) => [`put /etc/avfleet/x.json 0644 <<'EOF'`, content, "EOF"];
  const agent = (calls: string[]) =>
    calls.filter((c) => c.startsWith("systemctl") && c.endsWith(AGENT_UNIT));
  // first boot: the file is new
  assert.deepEqual(agent(run([...put, ...file("{}"), ...restart], {})), [
    `systemctl restart ${AGENT_UNIT}`,
  ]);
  // a second boot: written again with the same bytes, then with other bytes
  const twice = (second: string) => [
    ...put,
    ...file("{}"),
    "CHANGED=",
    ...file(second),
    ...restart,
  ];
  assert.deepEqual(agent(run(twice("{}"), {})), [`systemctl start ${AGENT_UNIT}`]);
  assert.deepEqual(agent(run(twice('{"a":1}'), {})), [`systemctl restart ${AGENT_UNIT}`]);
});
