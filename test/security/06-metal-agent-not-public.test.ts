/**
 * Finding 6: on bare metal nothing stood in front of the agent's port. It listened on every
 * address (the public one too), each scrape forked `ethtool -S` (a lever for a flood), and the
 * pack's admin-ports rule said "not applicable". Now the agent listens on the host's private
 * address and loopback only, a rendered nftables table admits its port from the site's admin and
 * monitoring networks alone, one read of the NIC serves every scrape for a while, and the pack
 * judges a site whose agent port the Internet reaches.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStacks, loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { POLICIES } from "../../modules/policy-runner";
import { agentConfig, HOST_READINGS_REFRESH_SEC } from "../../modules/host/agent";
import { bootstrapScript } from "../../modules/host/bootstrap";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import {
  AGENT_UNIT,
  agentFirewall,
  agentUnit,
  FIREWALL_PATH,
  FIREWALL_TABLE,
  FIREWALL_UNIT,
  NFT,
  nftablesDropIn,
} from "../../modules/host/units";
import { SCRIPT_PATH } from "../../modules/tuning/settings";
import { agentImports, installAgent } from "../support/agent";
import { ROOT } from "../support/cli";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";

/** The rendered agent's launcher, installed under `root`. */
let launcher: string;
const STACKS = join(ROOT, "stacks");
const sjc = loadStackFile(join(STACKS, "Pulumi.metal-sjc.yaml")).fleet as FleetSpec;
const PORT = sjc.ports.health.port;
const NS = `sec06-${process.pid}`;
const VETH = `s06${process.pid % 100000}`;
/** The site's side: its bastion (adminCidrs), its Prometheus (monitoringCidrs), the Internet. */
const ADMIN = "10.20.250.2";
const MONITORING = "10.20.250.18";
const INTERNET = "203.0.113.9";
/** The host: its private address (the inventory's privateIp) and its public one. */
const PRIVATE = "10.20.1.11";
const PUBLIC = "198.51.100.11";
const HARDWARE = {
  cores: 32,
  nicDriver: "mlx5_core",
  rxQueues: 16,
  txQueues: 16,
  streamsPerHost: 4500,
};

function ip(...args: string[]) {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
}

function inNs(command: string, input?: string) {
  return spawnSync("ip", ["netns", "exec", NS, "sh", "-c", command], { encoding: "utf8", input });
}

/** curl from one of the site's sources; its exit code: 0 answered, 7 refused, 28 timed out. */
function reach(from: string, to: string, port = PORT, path = "/metrics") {
  return spawnSync(
    "curl",
    [
      "-s",
      "-o",
      "/dev/null",
      "--interface",
      from,
      "--max-time",
      "2",
      `http://${to}:${port}${path}`,
    ],
    { encoding: "utf8" },
  ).status;
}

let root: string;
let agent: ChildProcess | undefined;
let ready = false;

before(() => {
  if (!isRoot() || missingCommands("ip", "nft", "curl", "python3", "ss")) return;
  root = mkdtempSync(join(tmpdir(), "sec06-"));
  ip("netns", "add", NS);
  ip("link", "add", VETH, "type", "veth", "peer", "name", `${VETH}p`);
  ip("link", "set", `${VETH}p`, "netns", NS);
  for (const a of [
    `${ADMIN}/28`,
    `${MONITORING}/28`,
    "10.20.1.1/24",
    `${INTERNET}/24`,
    "198.51.100.1/24",
  ])
    ip("addr", "add", a, "dev", VETH);
  ip("link", "set", VETH, "up");
  ip("-n", NS, "link", "set", "lo", "up");
  ip("-n", NS, "addr", "add", `${PRIVATE}/24`, "dev", `${VETH}p`);
  ip("-n", NS, "addr", "add", `${PUBLIC}/24`, "dev", `${VETH}p`);
  ip("-n", NS, "link", "set", `${VETH}p`, "up");
  ip("-n", NS, "route", "add", "default", "via", "10.20.1.1");
  // A fake ethtool that counts its runs and takes a while, as a NIC with many queues does.
  const bin = join(root, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "ethtool"),
    `#!/bin/sh\necho run >>${root}/ethtool.runs\nsleep 0.3\nprintf 'NIC statistics:\\n     rx_packets: 7\\n'\n`,
    { mode: 0o755 },
  );
  mkdirSync(join(root, "etc/avfleet"), { recursive: true });
  writeFileSync(join(root, "etc/avfleet/agent.json"), JSON.stringify(agentConfig(sjc, ["eth0"])));
  launcher = installAgent(root, sjc);
  ready = true;
});

after(() => {
  agent?.kill("SIGKILL");
  if (!ready) return;
  spawnSync("ip", ["netns", "del", NS]);
  spawnSync("ip", ["link", "del", VETH]);
  rmSync(root, { recursive: true, force: true });
});

async function startAgent(): Promise<void> {
  agent = spawn(
    "ip",
    ["netns", "exec", NS, "python3", launcher, join(root, "etc/avfleet/agent.json")],
    {
      env: { ...process.env, AVFLEET_ROOT: root, PATH: `${join(root, "bin")}:${process.env.PATH}` },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  // Loopback is the last address it binds.
  for (let i = 0; i < 100 && !inNsListening().includes(`127.0.0.1:${PORT}`); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

function inNsListening(): string[] {
  return inNs(`ss -Hltn 'sport = :${PORT}'`)
    .stdout.split("\n")
    .map((l) => l.trim().split(/\s+/)[3])
    .filter(Boolean)
    .sort();
}

test("the metal agent listens on the host's private address and loopback, never the public one", async (t) => {
  if (!prerequisite(t, ready ? undefined : "root and ip, nft, curl, python3, ss")) return;
  await startAgent();
  assert.deepEqual(inNsListening(), [`${PRIVATE}:${PORT}`, `127.0.0.1:${PORT}`].sort());
  assert.equal(reach(ADMIN, PRIVATE), 0, "the bastion scrapes the private address");
  assert.equal(reach(ADMIN, PUBLIC), 7, "the public address refuses the connection");
});

test("the rendered nftables table admits the agent's port from the admin and monitoring networks only", (t) => {
  if (!prerequisite(t, ready ? undefined : "root and ip, nft, curl, python3, ss")) return;
  const load = inNs("nft -f -", agentFirewall(sjc));
  assert.equal(load.status, 0, load.stderr);
  // Loaded twice, as every payload run and every boot do: replaced, not doubled or refused.
  assert.equal(inNs("nft -f -", agentFirewall(sjc)).status, 0);
  const rules = inNs(`nft list table inet ${FIREWALL_TABLE}`).stdout;
  assert.equal(rules.match(/tcp dport/g)?.length, 2, rules);
  assert.equal(reach(ADMIN, PRIVATE), 0, "admin network");
  assert.equal(reach(MONITORING, PRIVATE), 0, "monitoring network");
  assert.equal(reach(INTERNET, PRIVATE), 28, "any other source is dropped");
  assert.equal(
    reach(ADMIN, PRIVATE, sjc.workload.adminPort, "/stats"),
    28,
    "the media server's admin port answers loopback only",
  );
});

test("Debian's nftables.service flushes the ruleset at each start, reload and stop; avfleet's drop-in loads the firewall and the tuning again after each", (t) => {
  if (!prerequisite(t, ready ? undefined : "root and ip, nft, curl, python3, ss")) return;
  const dropIn = nftablesDropIn(true);
  const lines = (key: string) =>
    [...dropIn.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]);
  for (const key of ["ExecStartPost", "ExecReload", "ExecStopPost"]) {
    assert.deepEqual(lines(key), [`-${SCRIPT_PATH} apply`, `${NFT} -f ${FIREWALL_PATH}`], key);
  }
  // A cloud host has no firewall of avfleet's, but the tuning's notrack table all the same.
  assert.deepEqual(
    [...nftablesDropIn(false).matchAll(/^ExecReload=(.*)$/gm)].map((m) => m[1]),
    [`-${SCRIPT_PATH} apply`],
  );
  assert.equal(inNs("nft -f -", agentFirewall(sjc)).status, 0);
  // Debian's /etc/nftables.conf as shipped (nftables 1.0.6), which its start and reload apply.
  const debianConf = [
    "#!/usr/sbin/nft -f",
    "flush ruleset",
    "table inet filter {",
    "  chain input { type filter hook input priority filter; }",
    "}",
    "",
  ].join("\n");
  assert.equal(inNs("nft -f -", debianConf).status, 0);
  assert.equal(reach(INTERNET, PRIVATE), 0, "the flush opened the agent's port to anyone");
  // The drop-in's firewall line, its file here from stdin.
  assert.equal(inNs("nft -f -", agentFirewall(sjc)).status, 0);
  assert.equal(reach(INTERNET, PRIVATE), 28, "closed again");
  assert.equal(reach(ADMIN, PRIVATE), 0, "the admin network still reaches it");
});

test("a scrape flood forks one ethtool per refresh period, not one per scrape", async (t) => {
  if (!prerequisite(t, ready && agent ? undefined : "the running agent of the first test")) return;
  rmSync(join(root, "ethtool.runs"), { force: true });
  const started = Date.now();
  const flood = Array.from(
    { length: 20 },
    () =>
      new Promise<string>((resolve) => {
        const c = spawn("ip", [
          "netns",
          "exec",
          NS,
          "curl",
          "-sf",
          `http://127.0.0.1:${PORT}/metrics`,
        ]);
        let out = "";
        c.stdout.on("data", (d) => (out += d));
        c.on("close", () => resolve(out));
      }),
  );
  const bodies = await Promise.all(flood);
  const periods = Math.floor((Date.now() - started) / 1000 / HOST_READINGS_REFRESH_SEC) + 1;
  // no file: the whole flood was served from readings cached before it (0 runs)
  const log = join(root, "ethtool.runs");
  const runs = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").length : 0;
  assert.ok(runs <= periods, `${runs} ethtool runs for 20 scrapes in ${periods} refresh period(s)`);
  for (const body of bodies) assert.match(body, /rx_packets|avfleet_/);
});

test("no private route to the admin networks: the agent refuses to serve rather than listen publicly", (t) => {
  if (!prerequisite(t, ready ? undefined : "root and ip, nft, curl, python3, ss")) return;
  ip("-n", NS, "route", "add", "192.0.2.0/24", "dev", `${VETH}p`, "src", PUBLIC);
  const program = `${agentImports("from avfleet_agent.serve import listen_addresses")}listen_addresses({"port": ${PORT}, "via": ["192.0.2.0/24"]})`;
  const run = inNs(`python3 -c '${program.replaceAll("'", "'\\''")}'`);
  assert.notEqual(run.status, 0);
  assert.match(
    run.stderr,
    /no private address routes to 192\.0\.2\.0\/24: not serving on a public one/,
  );
});

test("the metal agent unit needs its firewall; the bootstrap installs and reloads it", () => {
  const unit = agentUnit("avfleet-sfu.service", sjc.drainSeconds, "metal");
  assert.match(unit, new RegExp(`^Requires=${FIREWALL_UNIT}$`, "m"));
  assert.match(unit, new RegExp(`^After=.* ${FIREWALL_UNIT}$`, "m"));
  const script = bootstrapScript(sjc, hostTuning(sjc, HARDWARE));
  assert.ok(
    script.indexOf(`systemctl restart ${FIREWALL_UNIT}`) <
      script.lastIndexOf(`systemctl restart ${AGENT_UNIT}`),
  );
  assert.match(
    agentFirewall(sjc),
    /ip saddr \{ 10\.20\.250\.0\/28, 10\.20\.250\.16\/28 \} tcp dport 8080 accept/,
  );
});

test("admin-ports-not-from-internet judges a bare-metal site: an agent port open to the Internet fails", async () => {
  const [plan] = await evaluateStacks(loadStacks(STACKS, ["metal-sjc"]));
  const judge = (change: (text: string) => string) => {
    const copy = structuredClone(plan);
    for (const r of copy.resources)
      if (r.inputs.payload && r.inputs.of !== "drain")
        r.inputs.payload = change(String(r.inputs.payload));
    return evaluatePolicies(
      copy,
      POLICIES.filter((p) => p.name === "admin-ports-not-from-internet"),
    );
  };
  const as = judge((text) => text);
  assert.deepEqual(as.violations, []);
  assert.deepEqual(as.judged, { "admin-ports-not-from-internet": 1 });
  const open = judge((text) =>
    text.replace(/^(# avfleet-agent-listen port=8080 from=).*$/m, "$10.0.0.0/0"),
  );
  assert.deepEqual(
    [...new Set(open.violations.map((v) => v.message))],
    ["opens TCP 8080 to 0.0.0.0/0 (100% of the public IPv4 space)"],
  );
  const none = judge((text) => text.replace(/^# avfleet-agent-listen .*\n/m, ""));
  assert.deepEqual(
    [...new Set(none.violations.map((v) => v.message))],
    ["installs no firewall for TCP 8080: its hosts' agent answers every address"],
  );
});
