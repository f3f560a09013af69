/**
 * avfleet-tune on a real kernel: apply and verify inside a network namespace this test
 * creates and removes. Nothing outside the namespace is written: files go under a temp
 * AVFLEET_TUNE_ROOT, and the namespace holds only a veth pair of its own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderTuning } from "../../modules/tuning";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";
import { table, vethHostFacts } from "./support";

const NS = `avfleet-tune-test-${process.pid}`;

const facts = vethHostFacts(["avt0", "absent0"]);

function inNs(command: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync("ip", ["netns", "exec", NS, "sh", "-c", command], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
}

test("avfleet-tune in a fresh netns: apply takes, read-only is read-only, verify catches drift", (t) => {
  const missing = !isRoot() ? "root" : missingCommands("ip", "nft", "ethtool", "sha256sum");
  if (!prerequisite(t, missing)) return;
  const dir = mkdtempSync(join(tmpdir(), "avfleet-tune-"));
  const script = join(dir, "avfleet-tune");
  const root = join(dir, "root");
  writeFileSync(script, renderTuning("media-udp", facts).script, { mode: 0o755 });
  const env = { AVFLEET_TUNE_ROOT: root };
  const created = spawnSync("ip", ["netns", "add", NS], { encoding: "utf8" });
  assert.equal(created.status, 0, created.stderr);
  try {
    assert.equal(inNs("ip link add avt0 type veth peer name avt1").status, 0);

    const apply = inNs(`${script} apply`, env);
    assert.equal(apply.status, 0, apply.stdout + apply.stderr);
    const applied = table(apply.stdout);
    const status = (name: string) => applied.get(name)?.status;
    // Writable per netns: they take.
    assert.deepEqual(applied.get("sysctl net.ipv4.udp_rmem_min"), {
      wanted: "16384",
      actual: "16384",
      status: "ok",
    });
    assert.equal(status("sysctl net.ipv4.udp_wmem_min"), "ok");
    assert.equal(status("sysctl net.ipv4.ip_local_reserved_ports"), "ok");
    assert.deepEqual(applied.get("sysctl net.ipv4.ip_local_port_range"), {
      wanted: "41000 65535",
      actual: "41000 65535",
      status: "ok",
    });
    assert.equal(status("conntrack notrack udp"), "ok");
    assert.equal(status("file /etc/sysctl.d/90-avfleet-tune.conf"), "ok");
    assert.equal(status("avt0 rx-0 rps_cpus"), "ok");
    // Shown from the host inside a child netns: read-only, never ok.
    for (const key of ["rmem_max", "rmem_default", "wmem_max", "wmem_default"]) {
      assert.equal(status(`sysctl net.core.${key}`), "read-only", key);
    }
    // Only in the initial netns; a veth has no rings, coalescing or IRQs; no such NIC.
    assert.equal(status("sysctl net.core.netdev_max_backlog"), "not-applicable");
    assert.equal(status("avt0 ring rx"), "not-applicable");
    assert.equal(status("avt0 coalesce adaptive-rx"), "not-applicable");
    assert.equal(status("avt0 irq affinity"), "not-applicable");
    assert.equal(status("absent0"), "not-applicable");
    const nft = inNs("nft list table inet avfleet_tune");
    assert.match(nft.stdout, /udp dport 40000-40999 notrack/);

    const verify = inNs(`${script} verify`, env);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.deepEqual(
      [...table(verify.stdout).values()].map((r) => r.status).filter((s) => s === "drift"),
      [],
    );

    // Drift: a key put back, a rule deleted, a file edited. verify reports and exits 1.
    inNs("echo 4096 > /proc/sys/net/ipv4/udp_rmem_min; nft delete table inet avfleet_tune");
    writeFileSync(join(root, "etc/sysctl.d/90-avfleet-tune.conf"), "# edited\n");
    const drifted = inNs(`${script} verify`, env);
    assert.equal(drifted.status, 1, drifted.stdout + drifted.stderr);
    const rows = table(drifted.stdout);
    assert.deepEqual(rows.get("sysctl net.ipv4.udp_rmem_min"), {
      wanted: "16384",
      actual: "4096",
      status: "drift",
    });
    assert.equal(rows.get("conntrack notrack udp")?.status, "drift");
    assert.equal(rows.get("file /etc/sysctl.d/90-avfleet-tune.conf")?.status, "drift");
    assert.match(drifted.stderr, /avfleet-tune verify: 3 setting\(s\) drift/);
    assert.equal(
      inNs("cat /proc/sys/net/ipv4/udp_rmem_min").stdout.trim(),
      "4096",
      "verify only reads",
    );

    const reapplied = inNs(`${script} apply`, env);
    assert.equal(reapplied.status, 0, reapplied.stdout);
  } finally {
    spawnSync("ip", ["netns", "del", NS]);
    rmSync(dir, { recursive: true, force: true });
  }
});
