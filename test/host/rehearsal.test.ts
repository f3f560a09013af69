/**
 * The host rehearsal (bench/host/rehearsal.ts): a GCP, an AWS and a bare-metal host boot from
 * the bytes the fleet renders, in network namespaces, against stand-ins that check every
 * request's documented shape.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { rehearseHosts, summaryLine } from "../../bench/host/rehearsal";
import { isRoot, missingCommands, prerequisite } from "../support/prerequisites";

test("host rehearsal: tuned, serving, measured, drained on notice, agent crash mid-drain survived, no call cut", async (t) => {
  const missing = !isRoot()
    ? "root"
    : missingCommands("ip", "nft", "ethtool", "sha256sum", "python3", "curl", "cloud-init");
  if (!prerequisite(t, missing)) return;
  const result = await rehearseHosts(`host-t${process.pid}`);
  assert.deepEqual(result.problems, [], "every request matched the API's documented shape");
  assert.deepEqual(
    result.hosts.map((h) => h.kind),
    ["gcp", "aws", "metal"],
  );
  for (const h of result.hosts) {
    assert.ok(h.tuned, `${h.kind}: tuning read back`);
    assert.ok(
      h.mediaAfterTuning,
      `${h.kind}: the media server started after the tuning, on tuned values`,
    );
    assert.ok(h.healthy, `${h.kind}: health check served`);
    assert.ok(h.unhealthyWhileDraining, `${h.kind}: unhealthy once draining`);
    assert.ok(h.metricPosts >= 1, `${h.kind}: load reported`);
    assert.ok(h.drained, `${h.kind}: the platform was told the host may go`);
    assert.equal(h.sessionsAtCompletion, 0, `${h.kind}: completed at zero sessions`);
    assert.equal(h.callsCut, 0, `${h.kind}: no call cut when the units stopped`);
    assert.equal(h.agentRestartsSurvived, 1, `${h.kind}: the drain went on after kill -9`);
  }
  assert.ok(result.hosts[1].heartbeats >= 1, "aws: heartbeats while sessions remained");
  // GCP, drain 7200 s > graceful shutdown: the autoscaler only scales out; the scale-in
  // controller marked the quieter of two VMs, whose agent drained it and deleted its VM.
  assert.equal(result.hosts[0].drainSeconds, 7200);
  assert.ok(result.hosts[0].markedByController, "gcp: marked by the scale-in controller");
  // the host counters carry what modules/observe's rules sum by: the platform's name for the
  // host and its zone (none on bare metal), the pool and its media region
  assert.deepEqual(
    result.hosts.map((h) => h.hostLabels),
    [
      { host: "gcp-usw1-x7k2", pool: "gcp-usw1", zone: "us-west1-b", region: "us-west" },
      { host: "i-0abc1234def567890", pool: "aws-use1", zone: "us-east-1b", region: "us-east" },
      { host: hostname(), pool: "metal-sjc", region: "us-west" },
    ],
  );
  // A GCP VM deleted by its MIG: the agent drains at system shutdown, then the SFU stops.
  const shutdown = result.shutdown;
  assert.ok(shutdown.unhealthyWhileDraining, "gcp shutdown: unhealthy at once");
  assert.ok(shutdown.drained, "gcp shutdown: drained for the shutdown, no self-deletion");
  assert.equal(shutdown.sessionsAtCompletion, 0);
  assert.equal(shutdown.callsCut, 0, "gcp shutdown: the SFU stopped with no session left");
  assert.match(
    summaryLine(result),
    /^host: hosts=3 tuned=3 healthy=3 metric_posts=\d+ drains=3 calls_cut=0 agent_restarts_survived=3$/,
  );
});
