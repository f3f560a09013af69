import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import YAML from "yaml";
import {
  bufferBytes,
  PROFILE_NAMES,
  renderCloudInit,
  renderTuning,
  ruleBytes,
  TUNING_MARKER_PREFIX,
  type TuningArtifacts,
} from "../../modules/tuning";
import { exampleFacts } from "./support";

const value = (a: TuningArtifacts, name: string) => a.settings.find((s) => s.name === name)?.value;

test("the sizing rule: 100 kpps × 20 ms × 2304 B, +10 %, rounded up to a MiB", () => {
  assert.equal(ruleBytes(100_000, 20), 4_608_000);
  assert.equal(bufferBytes(100_000, 20), 5 * 1024 * 1024);
  assert.equal(bufferBytes(1_000_000, 20), 49 * 1024 * 1024);
});

test("media-udp on the 16-vCPU gve VM: buffers by the rule, two queues on the two interrupt CPUs", () => {
  const a = renderTuning("media-udp", exampleFacts("gcp-n2d-16"));
  for (const key of ["rmem_max", "rmem_default", "wmem_max", "wmem_default"]) {
    assert.equal(value(a, `net.core.${key}`), String(10 * 1024 * 1024), key);
  }
  assert.equal(value(a, "net.core.netdev_max_backlog"), "10000");
  assert.equal(value(a, "net.ipv4.udp_rmem_min"), "16384");
  assert.equal(value(a, "net.ipv4.ip_local_reserved_ports"), "10000-20000");
  assert.equal(value(a, "notrack udp"), "10000-20000");
  assert.equal(value(a, "channels rx-tx"), "2 (or the NIC's maximum)", "gve takes rx N tx N");
  assert.equal(value(a, "coalesce rx-usecs"), "20", "gve has no adaptive moderation");
  assert.equal(value(a, "rx-flow-hash udp4"), undefined, "gve fixes its RSS hash fields");
  assert.equal(value(a, "rps_cpus (every RX queue)"), "0", "two queues already cover CPUs 0-1");
  assert.equal(value(a, "irq affinity"), "round-robin over 0-1");
  assert.equal(value(a, "sfu.service CPUAffinity"), "2-15");
  assert.equal(value(a, "sfu.service LimitNOFILE"), "1048576");
  assert.equal(value(a, "net.core.busy_poll"), undefined, "media-udp does not busy-poll");
  assert.ok(a.settings.every((s) => s.reason.length > 10 && !s.reason.includes("\n")));
});

test("media-udp on the 64-core host: 8 queues per NIC on CPUs 0-7, every CPU on one TX queue", () => {
  const a = renderTuning("media-udp", exampleFacts("metal-64"));
  assert.equal(value(a, "net.core.rmem_max"), String(49 * 1024 * 1024));
  assert.equal(value(a, "net.core.netdev_max_backlog"), "20000");
  assert.equal(value(a, "channels combined"), "8 (or the NIC's maximum)");
  assert.equal(value(a, "coalesce adaptive-rx"), "on");
  assert.equal(value(a, "rx-flow-hash udp4"), "sdfn");
  const xps = value(a, "xps_cpus (TX queue i: CPUs ≡ i mod queues)")!.split(" ");
  assert.equal(xps.length, 8);
  assert.equal(xps[0], "01010101,01010101");
  assert.equal(xps[7], "80808080,80808080");
  assert.match(a.script, /^  printf '%s\\n' 'ens1f0np0' 'ens1f1np1'$/m);
  assert.match(a.script, /^  nic_irqs "\$1" '0,1,2,3,4,5,6,7'$/m);
});

test("RPS spreads packet work over the interrupt CPUs only when there are fewer queues than CPUs", () => {
  const a = renderTuning("media-udp", { ...exampleFacts("metal-64"), rxQueues: 4, txQueues: 4 });
  assert.equal(value(a, "rps_cpus (every RX queue)"), "00000000,000000ff");
});

test("baseline raises caps only; the busy-poll profile adds busy polling", () => {
  const base = renderTuning("baseline", exampleFacts("gcp-n2d-16"));
  assert.equal(value(base, "net.core.rmem_max"), String(10 * 1024 * 1024));
  assert.equal(value(base, "net.core.rmem_default"), undefined);
  assert.equal(base.settings.filter((s) => s.area === "nic" || s.area === "conntrack").length, 0);
  assert.match(base.script, /^interfaces\(\) \{\n  :\n\}$/m, "baseline touches no NIC");
  const busy = renderTuning("media-udp-busy-poll", exampleFacts("gcp-n2d-16"));
  assert.equal(value(busy, "net.core.busy_poll"), "50");
  assert.equal(value(busy, "net.core.busy_read"), "50");
});

test("the sysctl.d file holds every sysctl setting with its reason", () => {
  const a = renderTuning("media-udp", exampleFacts("gcp-n2d-16"));
  const sysctls = a.settings.filter((s) => s.area === "sysctl");
  const lines = a.sysctl.split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(
    lines,
    sysctls.map((s) => `${s.name} = ${s.value}`),
  );
  for (const s of sysctls) assert.ok(a.sysctl.includes(`# ${s.reason}\n${s.name} =`), s.name);
});

test("the hash changes exactly when something rendered changes", () => {
  const facts = exampleFacts("gcp-n2d-16");
  const a = renderTuning("media-udp", facts);
  assert.equal(renderTuning("media-udp", exampleFacts("gcp-n2d-16")).hash, a.hash);
  assert.match(a.hash, /^[0-9a-f]{64}$/);
  const others = [
    renderTuning("baseline", facts),
    renderTuning("media-udp", { ...facts, stallMs: 30 }),
    renderTuning("media-udp", { ...facts, mediaUnit: "media.service" }),
    renderTuning("media-udp", { ...facts, interfaces: ["ens4"] }),
  ];
  for (const other of others) assert.notEqual(other.hash, a.hash);
});

test("cloud-init: a #cloud-config that installs the script and runs apply, with the marker, under AWS's 16 KB", () => {
  for (const host of ["gcp-n2d-16", "metal-64"] as const) {
    for (const profile of PROFILE_NAMES) {
      const a = renderTuning(profile, exampleFacts(host));
      const text = renderCloudInit(a);
      const lines = text.split("\n");
      assert.equal(lines[0], "#cloud-config");
      assert.equal(lines[1], `${TUNING_MARKER_PREFIX}1 profile=${profile} hash=${a.hash}`);
      const doc = YAML.parse(text);
      const [file] = doc.write_files;
      assert.equal(file.path, "/usr/local/sbin/avfleet-tune");
      assert.equal(file.permissions, "0755");
      assert.equal(gunzipSync(Buffer.from(file.content, "base64")).toString(), a.script);
      assert.deepEqual(doc.runcmd, [["/usr/local/sbin/avfleet-tune", "apply"]]);
      assert.deepEqual(doc.packages, ["ethtool", "nftables"]);
      assert.ok(text.length < 16_384, `${host} ${profile}: ${text.length} bytes`);
    }
  }
});

test("every file the script installs carries the values the settings list", () => {
  const a = renderTuning("media-udp", exampleFacts("metal-64"));
  const file = (path: string) => a.files.find((f) => f.path === path)!.content;
  assert.match(
    file("/etc/systemd/system/sfu.service.d/90-avfleet-tune.conf"),
    /^LimitNOFILE=1048576\nCPUAffinity=8-63$/m,
  );
  assert.match(
    file("/etc/systemd/system/avfleet-tune.service"),
    /^ExecStart=\/usr\/local\/sbin\/avfleet-tune apply$/m,
  );
  assert.match(file("/etc/systemd/system/avfleet-tune.service"), /^Before=sfu.service$/m);
  assert.match(file("/etc/security/limits.d/90-avfleet-tune.conf"), /^\* hard nofile 1048576$/m);
});

test("a single media port renders as the kernel and nft print it back: no dash", () => {
  const a = renderTuning("media-udp", {
    ...exampleFacts("gcp-n2d-16"),
    mediaUdpPorts: { from: 3478, to: 3478 },
  });
  assert.equal(value(a, "net.ipv4.ip_local_reserved_ports"), "3478");
  assert.match(a.script, /^  notrack '3478'$/m);
});

test("outgoing connections move beside a media range that overlaps the default ephemeral ports", () => {
  const facts = exampleFacts("gcp-n2d-16");
  const at = (from: number, to: number) =>
    value(
      renderTuning("media-udp", { ...facts, mediaUdpPorts: { from, to } }),
      "net.ipv4.ip_local_port_range",
    );
  assert.equal(at(10000, 20000), undefined, "no overlap: the default range stays");
  assert.equal(at(10000, 59999), "60000 65535");
  assert.equal(at(50000, 60000), "32768 49999");
});

test("avfleet-tune without apply, verify or provision: usage on stderr, exit 2, nothing read or written", () => {
  const { script } = renderTuning("media-udp", exampleFacts("gcp-n2d-16"));
  for (const args of [[], ["apply-now"], ["--help"]]) {
    const run = spawnSync("sh", ["-s", "--", ...args], { input: script, encoding: "utf8" });
    assert.equal(run.status, 2, args.join(" "));
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^usage: avfleet-tune apply\|verify\|provision$/m);
  }
});
