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
    : missingCommands(
        "ip",
        "nft",
        "ethtool",
        "sha256sum",
        "python3",
        "curl",
        "cloud-init",
        "promtool",
      );
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
    // Counted from the SFU's session records through that kill -9: each call once, on every
    // platform (AWS's agent comes in the payload object its user-data fetches).
    const { sfu, agent, promtool, contract } = h.sessions!;
    assert.deepEqual(contract, [], `${h.kind}: the SFU's records match the contract`);
    assert.ok(sfu.ended >= 1 && sfu.joinsFailed >= 1, `${h.kind}: ${JSON.stringify(sfu)}`);
    assert.deepEqual(agent.ended, [sfu.ended, sfu.ended, sfu.ended], `${h.kind}: ended calls`);
    assert.ok(agent.minutes >= sfu.ended, `${h.kind}: a session-minute at least per call`);
    assert.equal(agent.joins, sfu.joined + sfu.joinsFailed, `${h.kind}: join attempts`);
    assert.equal(agent.joinsFailed, sfu.joinsFailed, `${h.kind}: failed joins in le="0"`);
    assert.deepEqual(agent.ice, { connected: sfu.joined, failed: sfu.joinsFailed });
    assert.equal(agent.open, 0, `${h.kind}: nothing in progress once drained`);
    assert.deepEqual(promtool, [], `${h.kind}: promtool accepts the agent's /metrics`);
  }
  assert.ok(result.hosts[1].heartbeats >= 1, "aws: heartbeats while sessions remained");
  assert.ok(result.hosts[0].heartbeats >= 1, "gcp: said it saw its mark while sessions remained");
  const payload = result.hosts[1].payload!;
  assert.ok(payload.swappedRefused, "aws: a payload swapped under its key was refused, not run");
  assert.equal(
    payload.fetches,
    1,
    "aws: fetched at the first boot, kept for the warm pool's start",
  );
  // The AWS host launched into a warm pool, was stopped mid-bootstrap and started again.
  const warm = result.hosts[1].warm!;
  assert.equal(warm.warmPosts, 0, "aws: no load published while Warmed:Stopped");
  assert.equal(warm.launchCompletions, 2, "aws: the launch completed at each boot");
  assert.ok(warm.launchHeartbeats >= 1, "aws: the launch heartbeats until the bootstrap ran");
  assert.equal(warm.completedBeforeBootstrap, false, "aws: never completed before the bootstrap");
  assert.ok(warm.launchNoActive >= 1, "aws: a restarted agent's completion answered, not retried");
  assert.ok(warm.bootstrapInterrupted, "aws: the stop killed a bootstrap mid-install");
  assert.ok(warm.stoppedDraining, "aws: the stop's shutdown drain did not keep the host out");
  assert.ok(warm.retuned, "aws: the stop reset the tuning, the start tuned again");
  assert.deepEqual(warm.waitingAtEnd, [], "aws: no lifecycle action left waiting");
  // GCP: the autoscaler only scales out; the scale-in controller marked the quieter of two
  // VMs, whose agent drained it and said so in a guest attribute; the controller's next pass
  // deleted the VM (the stand-in refuses deleteInstances from the host itself).
  const gcp = result.hosts[0];
  assert.ok(gcp.markedByController, "gcp: marked by the scale-in controller");
  assert.ok(gcp.deletedByController, "gcp: deleted from the MIG by the controller, once drained");
  // Its pool keeps a standby pool: its first boot, as a refill's would, answered the load
  // balancer 503 "cordoned" until the controller admitted it (the MIG drives it to RUNNING).
  assert.deepEqual(gcp.admission, { heldBeforeAdmission: true, admittedByController: true });
  // Before that, the controller cordoned it (nothing to drain, one host's worth of load): it
  // answered the load balancer 503 "cordoned" while alive, serving its calls and publishing its
  // load with the calls it expects at the drain limit; put back, it answered 200 again.
  assert.deepEqual(gcp.cordon, {
    cordonedByController: true,
    outOfRotation: true,
    aliveWhileCordoned: true,
    publishedWhileCordoned: true,
    sessions: gcp.cordon!.sessions,
    backInRotation: true,
  });
  const [heldWhenCordoned, heldWhenBack] = gcp.cordon!.sessions;
  assert.ok(heldWhenCordoned > 0, "gcp: calls in progress when cordoned");
  // The calls are held (they do not end on their own) and the SFU stand-in starts its own:
  // fewer afterwards would be a cut.
  assert.ok(
    heldWhenBack >= heldWhenCordoned,
    `gcp: ${heldWhenCordoned} held, ${heldWhenBack} after`,
  );
  // The autohealer probed the rendered autohealing check's path through the drain: never a
  // repair, while the load balancer's readiness path answered 503 in the same drain.
  assert.ok(gcp.autohealer!.probes >= 3, "gcp: the autohealer probed through the drain");
  // Liveness failed only while the killed agent restarted; readiness failed the whole drain.
  assert.ok(
    gcp.autohealer!.longestFailedRun < gcp.autohealer!.longestReadinessFailedRun,
    `gcp: liveness failed ${gcp.autohealer!.longestFailedRun} probes in a row, readiness ${gcp.autohealer!.longestReadinessFailedRun}`,
  );
  assert.equal(gcp.autohealer!.repairs, 0, "gcp: no autohealer repair of a draining host");
  assert.ok(gcp.autohealer!.readinessFailed, "gcp: readiness answered 503 while draining");
  // AWS: the drain hook became active only after deregistration; until then Auto Scaling
  // answered "No active Lifecycle Action", which the agent did not take for done.
  const hook = result.hosts[1].drainHook!;
  assert.ok(hook.noActive >= 1, "aws: the agent called the drain hook before it was active");
  assert.equal(hook.completedBeforeActive, false, "aws: no drain counted done before the hook");
  assert.ok(hook.completedAfterActive, "aws: the drain hook completed once active");
  // AWS: CloudWatch took exactly the metrics the pool's rendered alarms read (names and
  // dimensions), in the namespace the role may write; per period the increases, which add up to
  // what the SFU's counters moved, a restart among them.
  const counters = result.hosts[1].counters!;
  assert.deepEqual(counters.arrived, counters.alarmed, "aws: the alarms' metrics arrived");
  assert.equal(counters.denied, 0, "aws: nothing published outside the role's namespace");
  // ...and beside its load, its calls expected at the drain limit, one series for its own
  // instance, which the pool's termination policy reads (#28)
  assert.equal(counters.leftAtLimit.length, 1, counters.leftAtLimit.join("; "));
  assert.match(
    counters.leftAtLimit[0],
    /^AVFleet\/Media\/aws-use1 CallsLeftAtLimit \{"AutoScalingGroupName":"aws-use1-media","InstanceId":"i-[0-9a-f]+"\}$/,
  );
  for (const [metric, { published, moved }] of Object.entries(counters.sums))
    assert.equal(published, moved, `aws: ${metric} published as the counters moved`);
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
  // Bare metal: the site's own Prometheus, run from the prometheus.yml and targets file `observe
  // render` writes (one host kept, its address rewritten to the namespace's), found the host by
  // the inventory and read it; the kernel's drops it was then made to count paged through the
  // site's rendered Alertmanager to the page webhook.
  const site = result.hosts[2].site!;
  assert.deepEqual(site.rewritten, {
    host: "sjc-m001",
    from: "10.20.1.11:8080",
    to: site.rewritten.to,
  });
  assert.equal(site.healthy?.value, "1", "metal: avfleet_healthy_hosts{pool} is 1");
  const inventoryLabels = {
    job: "avfleet-host",
    instance: site.rewritten.to,
    pool: "metal-sjc",
    region: "us-west",
    site: "sjc",
    host: hostname(),
  };
  assert.deepEqual(site.healthy?.labels, { __name__: "avfleet_healthy_hosts", ...inventoryLabels });
  assert.deepEqual(site.hostSeries, {
    __name__: "avfleet_host_udp_in_datagrams_total",
    ...inventoryLabels,
  });
  assert.deepEqual(site.page, {
    receiver: "metal-sjc-page",
    alertname: "AvfleetHostUdpReceiveBufferDrops",
    labels: {
      alertname: "AvfleetHostUdpReceiveBufferDrops",
      cause: "kernel-buffer",
      severity: "page",
      pool: "metal-sjc",
      region: "us-west",
      host: hostname(),
    },
  });
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
