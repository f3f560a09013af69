/**
 * Live: Debian's Prometheus on loopback scrapes the rehearsal world's /metrics and four host
 * agents (the real exporter), with the observe rules loaded (durations scaled 20x: an hour's
 * window in 3 minutes; thresholds as rendered). Loss on one pool and kernel buffer drops on one
 * of its hosts must page for that pool and host only, and `avfleet diagnose` must name both
 * and the cause.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { renderExposition } from "../../modules/rehearsal/exposition";
import { advance, loadWorld } from "../../modules/rehearsal/world";
import { diagnose, prometheusVectors } from "../../modules/observe/diagnose";
import { renderRules } from "../../modules/observe/rules";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { newRehearsal, SHORT_RUNBOOK, tempDir, tempStacks, writeRunbook } from "../migrate/support";
import { SimHost } from "./hosts";
import { alerts, close, poll, serveText, startPrometheus } from "../support/prometheus";

// At weight 100, which the test never applies: the fault starts when the test says so (a fault
// at the weight the target already has would be active from the world's first minute).
const FAULT = "target-loss=20@100";
const TARGET = "gcp-us-west1";
const SOURCE = "metal-sjc";
/** The `pool` label TARGET's hosts export: its fleet's pool, not the stack's name. */
const TARGET_POOL = "gcp-usw1";

test("live: a pool's loss and a host's buffer drops page in Prometheus; diagnose names pool, host and cause", async (t) => {
  if (!prerequisite(t, missingCommands("prometheus"))) return;
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), tempStacks(), [FAULT]);
  const world = loadWorld(r.worldFile);
  // both pools carry calls; an hour of simulated traffic first
  world.stacks[world.traffic].outputs!.weights = { [SOURCE]: 50, [TARGET]: 50 };
  advance(world, world.now + 3_600_000);
  const hosts = [
    ...["a", "b", "c"].map(
      (z) =>
        new SimHost({
          host: `usw1-${z}`,
          pool: TARGET_POOL,
          zone: `us-west1-${z}`,
          region: "us-west",
        }),
    ),
    new SimHost({ host: "sjc-1", pool: SOURCE, zone: "sjc", region: "us-west" }),
  ];
  const worldServer = await serveText(() => renderExposition(world));
  for (const h of hosts) await h.serve();
  // a simulated minute of calls and a second of host traffic every 250 ms
  const timer = setInterval(() => {
    advance(world, world.now + 60_000);
    for (const h of hosts) h.tick(0.25);
  }, 250);
  const prometheus = await startPrometheus(
    { avfleet: [worldServer.port], "avfleet-host": hosts.map((h) => h.port) },
    renderRules({ scale: 20 }),
  );
  t.after(async () => {
    clearInterval(timer);
    close(worldServer.server);
    for (const h of hosts) h.stop();
    await prometheus.stop();
  });

  // healthy first: the world's noise and the hosts' counters page nothing
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const quiet = (await alerts(prometheus.url)).filter((a) => a.labels.severity === "page");
  assert.deepEqual(quiet, [], "no page while healthy");

  const injected = Date.now();
  world.triggered[FAULT] = world.now;
  hosts[1].faults.add("kernel-buffer");
  const firing = await poll("loss page and buffer-drop page firing", 30, async () => {
    const all = await alerts(prometheus.url);
    const fired = all.filter((a) => a.state === "firing");
    const loss = fired.find((a) => a.labels.alertname === "AvfleetPacketLossBurnPage");
    const drops = fired.find((a) => a.labels.alertname === "AvfleetHostUdpReceiveBufferDrops");
    return loss && drops ? all : undefined;
  }).catch((err) => {
    throw new Error(`${err.message}; prometheus said: ${prometheus.log()}`);
  });
  t.diagnostic(`pages firing ${((Date.now() - injected) / 1000).toFixed(1)} s after the fault`);
  const pages = firing.filter((a) => a.labels.severity === "page" && a.state === "firing");
  assert.deepEqual(
    pages.map((a) => [a.labels.alertname, a.labels.pool, a.labels.host ?? ""]).sort(),
    [
      ["AvfleetHostUdpReceiveBufferDrops", TARGET_POOL, "usw1-b"],
      ["AvfleetPacketLossBurnPage", TARGET_POOL, ""],
    ],
  );
  const loss = pages.find((a) => a.labels.alertname === "AvfleetPacketLossBurnPage")!;
  assert.equal(loss.labels.region, "us-west");
  assert.equal(loss.labels.slo, "packet-loss");

  // the module against the same Prometheus: the pool, its host, the cause and the fix
  const d = await diagnose(prometheusVectors(prometheus.url), { since: "20s" });
  assert.deepEqual(
    d.pools.map((p) => [p.pool, p.cause, p.culprits.join(",")]),
    [[TARGET_POOL, "kernel-buffer", "usw1-b"]],
  );
  assert.equal(d.pools[0].burns.find((b) => b.slo === "packet-loss")!.burn > 1, true);
  assert.match(d.pools[0].fix, /rmem_max.*avfleet-tune apply/);
  assert.deepEqual(
    d.hosts.map((h) => [h.host, h.causes.map((c) => c.cause).join(",")]),
    [["usw1-b", "kernel-buffer"]],
  );

  // the CLI: exit 1, the human report names them
  const cli = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(__dirname, "../../scripts/avfleet.ts"),
      "diagnose",
      "--prometheus",
      prometheus.url,
      "--since",
      "20s",
      "--pool",
      TARGET_POOL,
    ],
    { encoding: "utf8" },
  );
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stdout, /^POOL gcp-usw1 \(us-west\): packet-loss burns [\d.]+x its budget/m);
  assert.match(cli.stdout, /cause: kernel-buffer \(usw1-b\)/);
  assert.match(cli.stdout, /HOST usw1-b \(pool gcp-usw1, zone us-west1-b\): kernel-buffer/);
});
