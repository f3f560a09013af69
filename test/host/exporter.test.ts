/**
 * The host exporter against the real things it reads: this kernel's /proc/net/snmp after a
 * socket really overflowed, a real `avfleet-tune verify` run, and promtool's exposition lint.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllowance, parseSnmpUdp, renderHostMetrics } from "../../modules/host/exporter";
import { loadHostFacts, renderTuning } from "../../modules/tuning";
import { missingCommands, prerequisite } from "../support/prerequisites";

const LABELS = { host: "sfu-1", pool: "gcp-us-west1", zone: "us-west1-a", region: "us-west" };

/** A receiver that binds a 4 KiB buffer, then blocks its event loop: the kernel must drop. */
const STALLED_RECEIVER = `
const s = require("node:dgram").createSocket({ type: "udp4", recvBufferSize: 4096 });
s.bind(0, "127.0.0.1", () => {
  process.stdout.write(String(s.address().port) + "\\n");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
  process.exit(0);
});`;

function sample(text: string, series: string): number {
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`));
  assert.ok(line, `${series} in\n${text}`);
  return Number(line.split(" ").at(-1));
}

test("RcvbufErrors: a socket that overflowed on this kernel shows in the rendered counter", async () => {
  const before = parseSnmpUdp(readFileSync("/proc/net/snmp", "utf8")).RcvbufErrors;
  const child = spawn(process.execPath, ["-e", STALLED_RECEIVER], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once("data", (d) => resolve(Number(String(d)))),
  );
  const sender = createSocket("udp4");
  const payload = Buffer.alloc(1200);
  for (let i = 0; i < 300; i++) {
    await new Promise<void>((resolve, reject) =>
      sender.send(payload, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
    );
  }
  sender.close();
  await new Promise((resolve) => child.once("exit", resolve));
  const text = renderHostMetrics({ labels: LABELS, snmp: readFileSync("/proc/net/snmp", "utf8") });
  const after = sample(text, "avfleet_host_udp_rcvbuf_errors_total");
  // a 4 KiB buffer holds a couple of 1200-byte datagrams; the rest were dropped (others'
  // tests in this namespace may add drops, never remove them)
  assert.ok(after - before >= 250, `RcvbufErrors rose by ${after - before}, expected >= 250`);
  assert.match(
    text,
    /avfleet_host_udp_rcvbuf_errors_total\{host="sfu-1",pool="gcp-us-west1",zone="us-west1-a",region="us-west"\} \d+/,
  );
});

test("allowance counters: only ethtool's *_allowance_exceeded, per interface", () => {
  // ENA's ethtool -S layout (AWS ENA driver docs): indented name: value lines
  const ena = [
    "NIC statistics:",
    "     tx_timeout: 0",
    "     bw_in_allowance_exceeded: 0",
    "     bw_out_allowance_exceeded: 7",
    "     pps_allowance_exceeded: 1532",
    "     conntrack_allowance_exceeded: 0",
    "     linklocal_allowance_exceeded: 0",
    "     queue_0_rx_cnt: 99",
  ].join("\n");
  assert.deepEqual(parseAllowance(ena), {
    bw_in_allowance_exceeded: 0,
    bw_out_allowance_exceeded: 7,
    pps_allowance_exceeded: 1532,
    conntrack_allowance_exceeded: 0,
    linklocal_allowance_exceeded: 0,
  });
  const text = renderHostMetrics({ labels: LABELS, ethtool: { ens5: ena } });
  assert.equal(
    sample(
      text,
      'avfleet_host_nic_allowance_exceeded_total{host="sfu-1",pool="gcp-us-west1",zone="us-west1-a",region="us-west",interface="ens5",counter="pps_allowance_exceeded"}',
    ),
    1532,
  );
  assert.doesNotMatch(text, /queue_0_rx_cnt/);
});

test("tuning state: the drift count is what a real avfleet-tune verify reports", (t) => {
  if (!prerequisite(t, missingCommands("sh", "sha256sum"))) return;
  const root = mkdtempSync(join(tmpdir(), "observe-tune-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { script } = renderTuning(
    "media-udp",
    loadHostFacts("modules/tuning/examples/gcp-n2d-16.yaml"),
  );
  writeFileSync(join(root, "avfleet-tune"), script);
  // verify only reads; AVFLEET_TUNE_ROOT keeps its file checks inside the temp dir
  const run = spawnSync("sh", [join(root, "avfleet-tune"), "verify"], {
    encoding: "utf8",
    env: { ...process.env, AVFLEET_TUNE_ROOT: root },
  });
  const reported = /(\d+) setting\(s\) drift/.exec(run.stderr);
  const text = renderHostMetrics({ labels: LABELS, tuneVerify: run.stdout });
  const drift = sample(text, "avfleet_host_tuning_drift_settings");
  assert.equal(drift, reported ? Number(reported[1]) : 0, run.stderr);
  assert.equal(run.status, drift > 0 ? 1 : 0);
  // the files it installs are absent under the temp root: they drift, by name
  assert.match(
    text,
    /avfleet_host_tuning_setting_drift\{[^}]*setting="file \/etc\/sysctl\.d\/90-avfleet-tune\.conf"\} 1/,
  );
});

test("the exposition passes promtool's metrics lint", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const text = renderHostMetrics({
    labels: LABELS,
    snmp: readFileSync("/proc/net/snmp", "utf8"),
    stat: readFileSync("/proc/stat", "utf8"),
    ethtool: { ens5: "     pps_allowance_exceeded: 3\n" },
    tuneVerify:
      "SETTING  WANTED  ACTUAL  STATUS\nsysctl net.core.rmem_max  10485760  212992  drift\n",
  });
  const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  const idle = sample(
    text,
    'avfleet_host_cpu_seconds_total{host="sfu-1",pool="gcp-us-west1",zone="us-west1-a",region="us-west",mode="idle"}',
  );
  assert.ok(idle > 0);
});
