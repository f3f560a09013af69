/**
 * npm run bench:udp — does the media-udp profile's socket buffer absorb a receiver stall
 * that the default buffer does not? Two network namespaces joined by a veth pair; a sender
 * at a fixed rate of 1200-byte datagrams; a receiver that stalls STALL_MS every PERIOD_MS;
 * drops are the receiver namespace's /proc/net/snmp Udp RcvbufErrors. Prints figures only.
 *
 * The buffer is the socket's own (SO_RCVBUFFORCE): net.core.rmem_max and rmem_default are
 * the host's, read-only inside a child netns, and the bench changes nothing outside the
 * namespaces it creates. Needs root, ip (iproute2) and cc.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PER_PACKET_COST_BYTES, renderTuning, ruleBytes, type HostFacts } from "../modules/tuning";

const PPS = 100_000;
const STALL_MS = 20;
const PERIOD_MS = 160;
const SECONDS = 5;
const DATAGRAM_BYTES = 1200;
const PORT = 40000;
// TEST-NET-1 (RFC 5737): documentation addresses, here only ever inside the two namespaces.
const TX_ADDR = "192.0.2.1";
const RX_ADDR = "192.0.2.2";
const TX_NS = `avfleet-bench-tx-${process.pid}`;
const RX_NS = `avfleet-bench-rx-${process.pid}`;

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")}: ${result.stderr || result.error}`);
  }
  return result.stdout;
}

function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "root (network namespaces)";
  for (const tool of ["ip", "cc"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} on PATH`;
  }
  return undefined;
}

function rcvbufErrors(): number {
  const lines = run("ip", ["netns", "exec", RX_NS, "cat", "/proc/net/snmp"])
    .split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf("RcvbufErrors")]);
}

const field = (text: string, key: string) => Number(new RegExp(`${key}=(\\d+)`).exec(text)?.[1]);

interface Run {
  buffer: number;
  sent: number;
  received: number;
  drops: number;
  lossPct: number;
  maxQueued: number;
  /** How long the stall that left the largest queue really lasted, in µs. */
  stallUs: number;
  sched: string;
}

async function measure(bin: string, forcedBuffer: number): Promise<Run> {
  const before = rcvbufErrors();
  const receiver = spawn("ip", [
    "netns",
    "exec",
    RX_NS,
    join(bin, "receiver"),
    String(PORT),
    String(forcedBuffer),
    String(STALL_MS),
    String(PERIOD_MS),
    String(SECONDS + 1),
  ]);
  let out = "";
  receiver.stdout.on("data", (chunk) => (out += chunk));
  receiver.stderr.on("data", (chunk) => process.stderr.write(chunk));
  const exited = new Promise<number | null>((resolve) => receiver.on("exit", resolve));
  while (!out.includes("ready")) {
    if (receiver.exitCode !== null) throw new Error(`receiver exited: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const sent = field(
    run("ip", [
      "netns",
      "exec",
      TX_NS,
      join(bin, "sender"),
      RX_ADDR,
      String(PORT),
      String(PPS),
      String(SECONDS),
      String(DATAGRAM_BYTES),
    ]),
    "sent",
  );
  if ((await exited) !== 0) throw new Error(`receiver failed: ${out}`);
  const drops = rcvbufErrors() - before;
  return {
    buffer: field(out, "rcvbuf"),
    sent,
    received: field(out, "received"),
    drops,
    lossPct: (100 * drops) / sent,
    maxQueued: field(out, "max_queued_bytes"),
    stallUs: field(out, "stall_us"),
    sched: /sched=(\w+)/.exec(out)?.[1] ?? "?",
  };
}

function setUp(bin: string): void {
  for (const name of ["sender", "receiver"]) {
    run("cc", ["-O2", "-Wall", "-o", join(bin, name), join(__dirname, "udp", `${name}.c`)]);
  }
  run("ip", ["netns", "add", TX_NS]);
  run("ip", ["netns", "add", RX_NS]);
  run("ip", [
    "link",
    "add",
    "avb0",
    "netns",
    TX_NS,
    "type",
    "veth",
    "peer",
    "name",
    "avb1",
    "netns",
    RX_NS,
  ]);
  for (const [ns, dev, addr] of [
    [TX_NS, "avb0", TX_ADDR],
    [RX_NS, "avb1", RX_ADDR],
  ]) {
    run("ip", ["-n", ns, "addr", "add", `${addr}/24`, "dev", dev]);
    run("ip", ["-n", ns, "link", "set", dev, "up"]);
  }
}

function tearDown(bin: string): void {
  for (const ns of [TX_NS, RX_NS]) spawnSync("ip", ["netns", "del", ns]);
  rmSync(bin, { recursive: true, force: true });
}

const pct = (x: number) => x.toFixed(2);

async function main(): Promise<number> {
  const missing = missingPrerequisite();
  if (missing) {
    process.stderr.write(`bench:udp needs ${missing}\n`);
    return 2;
  }
  const cores = cpus().length;
  const facts: HostFacts = {
    cores,
    nicDriver: "veth",
    rxQueues: 1,
    txQueues: 1,
    packetsPerSecond: PPS,
    stallMs: STALL_MS,
    mediaUdpPorts: { from: PORT, to: PORT },
    mediaWorkerCpus: cores > 1 ? `1-${cores - 1}` : "0",
    mediaUnit: "sfu.service",
  };
  const profileBuffer = Number(
    renderTuning("media-udp", facts).settings.find((s) => s.name === "net.core.rmem_default")!
      .value,
  );
  const rule = ruleBytes(PPS, STALL_MS);
  const bin = mkdtempSync(join(tmpdir(), "avfleet-bench-udp-"));
  const cleanUp = () => tearDown(bin);
  process.once("SIGINT", () => (cleanUp(), process.exit(130)));
  try {
    setUp(bin);
    console.log(
      `udp-stall: ${PPS} pkt/s of ${DATAGRAM_BYTES}-byte datagrams for ${SECONDS} s over a veth pair between two netns; ` +
        `receiver stalls ${STALL_MS} ms every ${PERIOD_MS} ms`,
    );
    console.log(
      `buffers are set per socket with SO_RCVBUFFORCE: net.core.rmem_max/rmem_default are the host's ` +
        `(read-only in the receiver's netns); "default" sets nothing and gets rmem_default`,
    );
    const runs: [string, Run][] = [
      ["default", await measure(bin, 0)],
      ["media-udp", await measure(bin, profileBuffer)],
    ];
    for (const [name, r] of runs) {
      console.log(
        `  ${name.padEnd(9)} buffer=${r.buffer} B  sent=${r.sent}  received=${r.received}  ` +
          `RcvbufErrors=${r.drops}  loss=${pct(r.lossPct)} %  max queued=${r.maxQueued} B  sched=${r.sched}`,
      );
    }
    const [[, base], [, profile]] = runs;
    if (profile.drops === 0 && profile.maxQueued > 0) {
      const packets = (PPS * profile.stallUs) / 1e6;
      console.log(
        `  per-packet cost measured: ${Math.round(profile.maxQueued / packets)} B ` +
          `(largest queue after a stall, ${profile.maxQueued} B, / ${Math.round(packets)} packets ` +
          `in its ${(profile.stallUs / 1000).toFixed(1)} ms); the rule uses ${PER_PACKET_COST_BYTES} B`,
      );
    }
    console.log(
      `udp-stall: pps=${PPS} stall_ms=${STALL_MS} default_loss_pct=${pct(base.lossPct)} ` +
        `profile_loss_pct=${pct(profile.lossPct)} profile_buffer_bytes=${profile.buffer} rule_bytes=${rule}`,
    );
    return 0;
  } finally {
    cleanUp();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`bench:udp failed: ${(err as Error).message}\n`);
    process.exitCode = 3;
  },
);
