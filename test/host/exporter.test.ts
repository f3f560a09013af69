/**
 * The host counters against the real things they read: this kernel's /proc/net/snmp after a
 * socket really overflowed, a real `avfleet-tune verify` run, and promtool's exposition lint,
 * as the host agent (avfleet_agent/counters.py) serves them; and the agent's lines held equal to the
 * reference render (modules/host-series/exporter.ts) on the same readings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { listStacks, loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import {
  HOST_METRIC_FAMILIES,
  parseAllowance,
  parseSnmpUdp,
  renderHostMetrics,
  type HostReadings,
} from "../../modules/host-series/exporter";
import { loadHostFacts, renderTuning } from "../../modules/tuning";
import { SCRIPT_PATH } from "../../modules/tuning/settings";
import { agentImports, installAgent } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const LABELS = { host: "sfu-1", pool: "gcp-us-west1", zone: "us-west1-a", region: "us-west" };

const STACKS = join(ROOT, "stacks");
const metal = listStacks(STACKS)
  .map((name) => loadStackFile(join(STACKS, `Pulumi.${name}.yaml`)).fleet)
  .find((f): f is FleetSpec => f?.kind === "metal")!;

/** The agent's host_metrics on these readings, its module imported from the repository. */
function agentRender(r: HostReadings): string {
  const program = [
    agentImports("from avfleet_agent.counters import host_metrics"),
    "import json",
    "r = json.load(sys.stdin)",
    'sys.stdout.write(host_metrics(r["families"], r["labels"], r.get("snmp"), r.get("ethtool"), r.get("tuneVerify"), r.get("stat"), r.get("userHz", 100)))',
  ].join("\n");
  const run = spawnSync("python3", ["-c", program], {
    input: JSON.stringify({ ...r, families: agentConfig(metal).hostMetrics.families }),
    // the checked-out tree stays as it is
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

/**
 * What `avfleet-agent --print-host-metrics` serves on this host, its config the metal pool's:
 * /proc is this machine's, the rendered agent (launcher and package) and avfleet-tune sit under
 * the agent's root.
 */
function agentOnThisHost(t: TestContext): string {
  const root = mkdtempSync(join(tmpdir(), "wire-agent-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const script = join(root, SCRIPT_PATH);
  mkdirSync(dirname(script), { recursive: true });
  const { script: tune } = renderTuning(
    "media-udp",
    loadHostFacts("modules/tuning/examples/gcp-n2d-16.yaml"),
  );
  writeFileSync(script, tune, { mode: 0o755 });
  writeFileSync(join(root, "agent.json"), JSON.stringify(agentConfig(metal)));
  const agent = installAgent(root, metal);
  const run = spawnSync("python3", [agent, "--print-host-metrics", join(root, "agent.json")], {
    encoding: "utf8",
    env: { ...process.env, AVFLEET_ROOT: root },
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

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

test("RcvbufErrors: a socket that overflowed on this kernel shows on the agent's /metrics", async (t) => {
  if (!prerequisite(t, missingCommands("python3", "sh", "sha256sum"))) return;
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
  const text = agentOnThisHost(t);
  const after = sample(text, "avfleet_host_udp_rcvbuf_errors_total");
  // a 4 KiB buffer holds a couple of 1200-byte datagrams; the rest were dropped (others'
  // tests in this namespace may add drops, never remove them)
  assert.ok(after - before >= 250, `RcvbufErrors rose by ${after - before}, expected >= 250`);
  // metal: the host by its name, no zone (the inventory has none)
  assert.ok(
    text.includes(
      `avfleet_host_udp_rcvbuf_errors_total{host="${hostname()}",pool="${metal.pool}",region="${metal.mediaRegion}"} ${after}\n`,
    ),
    text,
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

test("tuning state: the agent's drift count is what a real avfleet-tune verify reports", (t) => {
  if (!prerequisite(t, missingCommands("python3", "sh", "sha256sum"))) return;
  const text = agentOnThisHost(t);
  const root = mkdtempSync(join(tmpdir(), "wire-tune-"));
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
  const drift = sample(text, "avfleet_host_tuning_drift_settings");
  assert.equal(drift, reported ? Number(reported[1]) : 0, run.stderr);
  assert.equal(run.status, drift > 0 ? 1 : 0);
  // the files it installs are absent under the temp root: they drift, by name
  assert.match(
    text,
    /avfleet_host_tuning_setting_drift\{[^}]*setting="file \/etc\/sysctl\.d\/90-avfleet-tune\.conf"\} 1/,
  );
});

test("the agent's exposition passes promtool's metrics lint", (t) => {
  if (!prerequisite(t, missingCommands("python3", "sh", "sha256sum", "promtool"))) return;
  const text = agentOnThisHost(t);
  const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  const idle = sample(
    text,
    `avfleet_host_cpu_seconds_total{host="${hostname()}",pool="${metal.pool}",region="${metal.mediaRegion}",mode="idle"}`,
  );
  assert.ok(idle > 0);
  // every family, named from the config, once: HELP and TYPE never repeat (promtool would not say)
  for (const { name } of Object.values(HOST_METRIC_FAMILIES))
    assert.equal(text.split(`# TYPE ${name} `).length, 2, name);
});

test("the agent renders the same lines as the reference on the same readings", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const readings: HostReadings = {
    // a value to escape, as an operator's hostname never is but a label may be
    labels: { ...LABELS, host: 'sfu-"1"\\a' },
    snmp: [
      "Ip: Forwarding DefaultTTL",
      "Ip: 1 64",
      "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
      "Udp: 98231 12 407 99120 401 6 0 0 0",
      "UdpLite: InDatagrams NoPorts",
      "UdpLite: 0 0",
    ].join("\n"),
    ethtool: {
      ens5: "NIC statistics:\n     tx_timeout: 0\n     bw_in_allowance_exceeded: 0\n     pps_allowance_exceeded: 1532\n",
      ens6: "NIC statistics:\n     rx_packets: 5\n",
    },
    tuneVerify: [
      "SETTING  WANTED  ACTUAL  STATUS",
      "sysctl net.core.rmem_max  10485760  212992  drift",
      "file /etc/sysctl.d/90-avfleet-tune.conf  3f2a  drift",
      "sysctl net.core.rmem_default  10485760  10485760  ok",
    ].join("\n"),
    stat: "cpu  123456 7 8910 5551234 77 0 4321 15 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n",
    userHz: 100,
  };
  const reference = renderHostMetrics(readings);
  assert.equal(agentRender(readings), reference);
  assert.equal(sample(reference, "avfleet_host_udp_rcvbuf_errors_total"), 401);
  assert.equal(sample(reference, "avfleet_host_tuning_drift_settings"), 2);
  assert.match(reference, /mode="idle"\} 55512\.34\n/);
  assert.match(reference, /host="sfu-\\"1\\"\\\\a"/);
  // a reading the host did not give is left out on both sides
  const partial = { labels: LABELS, snmp: readings.snmp };
  assert.equal(agentRender(partial), renderHostMetrics(partial));
  assert.doesNotMatch(renderHostMetrics(partial), /cpu_seconds/);
});
