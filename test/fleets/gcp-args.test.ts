import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { validateStackDocument } from "../../modules/stacks/stack";
import type { GcpFleetSpec } from "../../modules/config/fleet.schema";
import * as args from "../../modules/fleets/gcp-args";
import { autoscalerTarget } from "../../modules/gcp-scale-in/pool";
import { agentConfig } from "../../modules/host/agent";
import { launchSeconds } from "../../modules/host/units";
import { agentImports } from "../support/agent";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

function spec(change: (fleet: any) => void = () => {}): GcpFleetSpec {
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.gcp-us-west1.yaml"), "utf8"));
  change(doc.config["avfleet:fleet"]);
  return validateStackDocument("test.yaml", doc).document.config["avfleet:fleet"] as GcpFleetSpec;
}

test("TIER_1 egress only for N2/N2D/C2/C2D/C3 types with at least 30 vCPUs", () => {
  assert.equal(args.tier1Eligible("c2d-highcpu-32"), true);
  assert.equal(args.tier1Eligible("c3-highcpu-44"), true);
  assert.equal(args.tier1Eligible("n2-highcpu-32"), true);
  assert.equal(args.tier1Eligible("n2d-highcpu-16"), false, "16 vCPUs is below 30");
  assert.equal(args.tier1Eligible("e2-standard-4"), false, "E2 is not an eligible family");
  assert.equal(args.tier1Eligible("n2-custom-32-65536"), true, "a custom type's vCPUs");
  assert.equal(args.tier1Eligible("n2-custom-8-327680"), false, "8 vCPUs, not its memory");
  assert.deepEqual(
    args.networking(spec((f) => (f.machineType = "n2d-highcpu-16"))).networkPerformanceConfig,
    undefined,
  );
  assert.deepEqual(args.networking(spec()).networkPerformanceConfig, {
    totalEgressBandwidthTier: "TIER_1",
  });
  assert.equal(args.networking(spec()).networkInterfaces[0].nicType, "GVNIC");
});

test("autoscaler holds each host at capacity × target utilization, on the media-load gauge", () => {
  // c2d-highcpu-32 carries 4,800 streams; 60 % of that is 2,880.
  const policy = args.autoscalingPolicy(spec());
  assert.deepEqual(policy.metrics, [
    { name: "custom.googleapis.com/avfleet/media_streams", target: 2880, type: "GAUGE" },
  ]);
  assert.deepEqual(policy.scaleInControl, {
    maxScaledInReplicas: { fixed: 2 },
    timeWindowSec: 900,
  });
  // A VM the MIG deletes gets ~90 s: whatever the drain, the autoscaler never scales in.
  for (const drainSeconds of [60, 1800, 5400])
    assert.equal(
      args.autoscalingPolicy(spec((f) => (f.drainSeconds = drainSeconds))).mode,
      "ONLY_SCALE_OUT",
    );
  assert.equal(policy.minReplicas, 6);
  assert.equal(policy.maxReplicas, 90);
  assert.equal(autoscalerTarget(spec((f) => (f.autoscaling.targetUtilization = 0.5))), 2400);
});

test("rollouts and rebalancing never delete a serving host: opportunistic updates, no redistribution", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), (zones) => {
      const policy = args.updatePolicy(
        spec(
          (f) =>
            (f.zones = ["us-west1-a", "us-west1-b", "us-west1-c", "us-west1-d"].slice(0, zones)),
        ),
      );
      assert.equal(policy.type, "OPPORTUNISTIC");
      assert.equal(policy.instanceRedistributionType, "NONE");
      assert.equal(policy.minimalAction, "REFRESH");
      // a regional MIG's fixed values: 0 or ≥ the zones, not both 0
      assert.equal(policy.maxSurgeFixed, 0);
      assert.equal(policy.maxUnavailableFixed, zones);
    }),
  );
});

test("autohealing waits out the first boot: package pools 420 s, container pools 1020 s, at most 3600", () => {
  assert.equal(args.autohealingInitialDelaySec(spec()), 420);
  const container = spec((f) => {
    delete f.workload.package;
    delete f.workload.aptSource;
    delete f.workload.version;
    f.workload.image = "us-west1-docker.pkg.dev/media-prod-usw1/sfu/avfleet-sfu";
    f.workload.version = "2.4.1";
    f.workload.digest = `sha256:${"ab".repeat(32)}`;
  });
  // the image pull (600 s) on top of the first boot's installs (300 s), and a margin
  assert.equal(args.autohealingInitialDelaySec(container), 1020);
  assert.ok(args.autohealingInitialDelaySec(container) >= launchSeconds(container));
  assert.ok(args.autohealingInitialDelaySec(container) <= 3600);
});

test("firewall: media only on the declared UDP range, health only from Google, SSH only from admins", () => {
  const rules = Object.fromEntries(args.firewallRules(spec()).map((r) => [r.role, r]));
  assert.deepEqual(rules["media-udp"].ports, ["10000-59999"]);
  assert.equal(rules["media-udp"].protocol, "udp");
  assert.deepEqual(rules["media-udp"].sourceRanges, ["0.0.0.0/0"]);
  assert.deepEqual(rules.signaling.ports, ["443"]);
  // Autohealing's probers and the network load balancer's.
  assert.deepEqual(rules.health.sourceRanges, [
    "35.191.0.0/16",
    "130.211.0.0/22",
    "209.85.152.0/22",
    "209.85.204.0/22",
  ]);
  assert.deepEqual(rules.health.ports, ["8080"]);
  assert.deepEqual(rules.ssh.sourceRanges, ["198.51.100.0/24", "203.0.113.16/28"]);
  assert.deepEqual(rules.ssh.ports, ["22"]);
});

test("service-account ids are valid GCP account ids for every valid pool name", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/), (pool) => {
      const id = args.serviceAccountId(pool);
      assert.match(id, /^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$/, `${pool} → ${id}`);
    }),
  );
});

test("the template asks for no graceful shutdown: no drain rests on it", () => {
  assert.deepEqual(args.SCHEDULING, { automaticRestart: true, onHostMaintenance: "MIGRATE" });
  assert.equal("gracefulShutdown" in args.SCHEDULING, false);
});

test("autohealing probes liveness, which a draining host passes; the load balancer probes readiness, which it fails", (t) => {
  if (!prerequisite(t, missingCommands("python3"))) return;
  const s = spec();
  const config = agentConfig(s);
  const autohealing = args.autohealingHealthCheck(s).httpHealthCheck;
  const balancer = args.loadBalancerHealthCheck(s).httpHealthCheck;
  assert.equal(autohealing.requestPath, config.health.livenessPath);
  assert.equal(balancer.requestPath, config.health.path);
  assert.notEqual(autohealing.requestPath, balancer.requestPath);
  assert.equal(autohealing.port, config.health.port);
  // The agent's own answer, tabulated by python3 from the file the hosts run.
  const cases = [
    // [path, drain, tuned, the media server's own health answer (0: none)]
    [autohealing.requestPath, true, true, 200],
    [balancer.requestPath, true, true, 200],
    [autohealing.requestPath, false, true, 200],
    [balancer.requestPath, false, true, 200],
    [autohealing.requestPath, true, true, 0],
    [autohealing.requestPath, false, false, 200],
    [balancer.requestPath, false, false, 200],
    [balancer.requestPath, false, true, 0],
    ["/other", false, true, 200],
    // a server that calls itself unhealthy while it drains is still alive: not recreated
    [autohealing.requestPath, true, true, 503],
    [balancer.requestPath, false, true, 503],
  ];
  const run = spawnSync(
    "python3",
    [
      "-c",
      `${agentImports("from avfleet_agent.agent import health_answer")}import json
config, cases = json.load(sys.stdin)
drain = {"reason": "termination notice"}
json.dump([health_answer(p, config, drain if d else None, t, w) for p, d, t, w in cases], sys.stdout)`,
    ],
    {
      input: JSON.stringify([config, cases]),
      encoding: "utf8",
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const statuses = (JSON.parse(run.stdout) as Array<[number, string] | null>).map((a) => a?.[0]);
  assert.deepEqual(statuses, [200, 503, 200, 200, 503, 200, 503, 503, undefined, 200, 503]);
});
