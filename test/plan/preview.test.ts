import { test } from "node:test";
import assert from "node:assert/strict";
import { avfleet } from "../support/cli";
import { bootstrapFiles } from "../support/user-data";

interface JsonResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  inputs: Record<string, any>;
}

const result = avfleet(["preview", "gcp-us-west1", "--json"]);
const doc = JSON.parse(result.stdout || "{}");
const stack = doc.stacks?.[0];
const byName = (name: string): JsonResource => {
  const found = stack.resources.find((r: JsonResource) => r.name === name);
  assert.ok(found, `no resource ${name}`);
  return found;
};

test("preview --json: one stack, exit 0, every resource a child of the fleet or its alerting component", () => {
  assert.equal(result.code, 0, result.stderr);
  assert.equal(doc.stacks.length, 1);
  assert.equal(stack.name, "gcp-us-west1");
  const component = byName("gcp-usw1");
  assert.equal(component.type, "avfleet:fleets:GcpFleet");
  assert.equal(
    component.urn,
    "urn:pulumi:gcp-us-west1::avfleet::avfleet:fleets:GcpFleet::gcp-usw1",
  );
  // The stack's facts for the policy pack sit at the root, beside the fleet and its alerting.
  const facts = byName("stack-facts");
  assert.equal(
    facts.urn,
    "urn:pulumi:gcp-us-west1::avfleet::avfleet:index:StackFacts::stack-facts",
  );
  assert.deepEqual(facts.inputs.fleet.mediaUdp, { from: 10000, to: 59999 });
  assert.equal(facts.inputs.fleet.capacity.hostsRequired, 66);
  const alerting = byName("gcp-usw1-alerting");
  assert.equal(alerting.type, "avfleet:observe:PoolAlerting");
  // Every GCP pool has its scale-in controller, a component of its own under the fleet.
  const scaleIn = byName("gcp-usw1-scale-in");
  assert.equal(scaleIn.parent, component.urn);
  // The stack's last outputs, read at the root: what the pack's fleet-migration-order compares
  // the update's migration marker with.
  const self = byName("gcp-usw1-ref-self");
  assert.equal(self.type, "pulumi:pulumi:StackReference");
  assert.equal(self.parent, undefined);
  const roots = [component, facts, alerting, scaleIn, self];
  for (const r of stack.resources.filter((r: JsonResource) => !roots.includes(r))) {
    const parent = r.type.startsWith("gcp:monitoring/")
      ? alerting
      : r.name.startsWith("gcp-usw1-scale-in-")
        ? scaleIn
        : component;
    assert.equal(r.parent, parent.urn, r.name);
    assert.equal(r.urn, `urn:pulumi:gcp-us-west1::avfleet::${parent.type}$${r.type}::${r.name}`);
  }
});

test("instance template: gVNIC, TIER_1, external IP, a startup script that tunes the host, minimal SA, Shielded VM", () => {
  const t = byName("gcp-usw1-template");
  assert.equal(t.type, "gcp:compute/instanceTemplate:InstanceTemplate");
  assert.equal(t.inputs.machineType, "c2d-highcpu-32");
  assert.equal(t.inputs.networkInterfaces[0].nicType, "GVNIC");
  assert.deepEqual(t.inputs.networkInterfaces[0].accessConfigs, [{ networkTier: "PREMIUM" }]);
  assert.deepEqual(t.inputs.networkPerformanceConfig, { totalEgressBandwidthTier: "TIER_1" });
  // Google's Debian images run the guest agent's startup-script, never cloud-init's user-data.
  const script: string = t.inputs.metadataStartupScript;
  assert.match(script.split("\n")[1], /^# avfleet-tune 1 profile=media-udp hash=[0-9a-f]{64}$/);
  assert.match(bootstrapFiles(script).get("/usr/local/sbin/avfleet-tune")!, /^#!\/bin\/sh/);
  assert.equal(
    t.inputs.metadata["user-data"],
    undefined,
    "user-data and a startup script never both",
  );
  assert.deepEqual(t.inputs.serviceAccount, {
    email: "gcp-usw1-sfu@media-prod-usw1.iam.gserviceaccount.com",
    scopes: [
      "https://www.googleapis.com/auth/monitoring.write",
      "https://www.googleapis.com/auth/logging.write",
      "https://www.googleapis.com/auth/devstorage.read_only",
    ],
  });
  // No compute scope: the scale-in controller deletes drained hosts, never the host itself.
  assert.equal(t.inputs.metadata["enable-guest-attributes"], "TRUE");
  assert.deepEqual(t.inputs.shieldedInstanceConfig, {
    enableIntegrityMonitoring: true,
    enableSecureBoot: true,
    enableVtpm: true,
  });
  assert.deepEqual(t.inputs.tags, ["gcp-usw1-media"]);
  assert.deepEqual(t.inputs.labels, {
    "cost-center": "rtc-1042",
    environment: "prod",
    "managed-by": "avfleet",
    "media-region": "us-west",
    pool: "gcp-usw1",
    team: "media-infra",
  });
});

test("regional MIG: three zones, named ports, autohealing after the first boot, no rollout or rebalance deletes a host", () => {
  const mig = byName("gcp-usw1-mig");
  assert.equal(mig.type, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager");
  assert.equal(mig.inputs.region, "us-west1");
  assert.deepEqual(mig.inputs.distributionPolicyZones, ["us-west1-a", "us-west1-b", "us-west1-c"]);
  assert.deepEqual(mig.inputs.namedPorts, [
    { name: "health", port: 8080 },
    { name: "signaling-443", port: 443 },
  ]);
  // the first boot's 300 s and a margin
  assert.equal(mig.inputs.autoHealingPolicies.initialDelaySec, 420);
  assert.match(mig.inputs.autoHealingPolicies.healthCheck, /^gcp-usw1-health-/);
  assert.deepEqual(mig.inputs.updatePolicy, {
    type: "OPPORTUNISTIC",
    minimalAction: "REFRESH",
    instanceRedistributionType: "NONE",
    maxSurgeFixed: 0,
    maxUnavailableFixed: 3,
  });
  assert.match(
    mig.inputs.versions[0].instanceTemplate,
    /instanceTemplates\/gcp-usw1-0001\?uniqueId=1$/,
  );
  assert.equal(mig.inputs.targetSize, undefined, "the autoscaler owns the size");
});

test("regional autoscaler: custom media-load metric and scale-in control", () => {
  const a = byName("gcp-usw1-autoscaler");
  assert.equal(a.type, "gcp:compute/regionAutoscaler:RegionAutoscaler");
  assert.match(a.inputs.target, /regions\/us-west1\/instanceGroupManagers\/gcp-usw1-mig$/);
  const { scalingSchedules, ...policy } = a.inputs.autoscalingPolicy;
  assert.deepEqual(policy, {
    cooldownPeriod: 180,
    maxReplicas: 90,
    metrics: [{ name: "custom.googleapis.com/avfleet/media_streams", target: 2880, type: "GAUGE" }],
    minReplicas: 6,
    mode: "ONLY_SCALE_OUT",
    scaleInControl: { maxScaledInReplicas: { fixed: 2 }, timeWindowSec: 900 },
  });
  // The stack names policy ours: its forecast floors ride on the autoscaler as schedules,
  // led by a warm boot (a standby pool's stopped host serves in a minute).
  assert.equal(scalingSchedules.length, 54);
});

test("#28: policy ours keeps a standby pool of stopped hosts, each stopped only after the autohealer's delay", () => {
  const mig = byName("gcp-usw1-mig");
  assert.deepEqual(mig.inputs.standbyPolicy, { initialDelaySec: 420, mode: "SCALE_OUT_POOL" });
  assert.equal(mig.inputs.targetStoppedSize, 12);
  assert.equal(mig.inputs.autoHealingPolicies.initialDelaySec, 420);
});

test("autohealing probes the agent's liveness path, the load balancer the configured readiness path", () => {
  const hc = byName("gcp-usw1-health");
  assert.equal(hc.type, "gcp:compute/healthCheck:HealthCheck");
  assert.deepEqual(hc.inputs.httpHealthCheck, { port: 8080, requestPath: "/livez" });
  const lb = byName("gcp-usw1-lb-health");
  assert.deepEqual(lb.inputs.httpHealthCheck, { port: 8080, requestPath: "/healthz" });
});

test("firewalls: media UDP range, signaling, health from Google only, SSH from admins only", () => {
  const fw = (role: string) => byName(`gcp-usw1-fw-${role}`).inputs;
  assert.deepEqual(fw("media-udp").allows, [{ protocol: "udp", ports: ["10000-59999"] }]);
  assert.deepEqual(fw("media-udp").sourceRanges, ["0.0.0.0/0"]);
  assert.deepEqual(fw("signaling").allows, [{ protocol: "tcp", ports: ["443"] }]);
  assert.deepEqual(fw("health").sourceRanges, [
    "35.191.0.0/16",
    "130.211.0.0/22",
    "209.85.152.0/22",
    "209.85.204.0/22",
  ]);
  assert.deepEqual(fw("ssh").allows, [{ protocol: "tcp", ports: ["22"] }]);
  assert.deepEqual(fw("ssh").sourceRanges, ["198.51.100.0/24", "203.0.113.16/28"]);
  for (const role of ["media-udp", "signaling", "health", "ssh"]) {
    assert.deepEqual(fw(role).targetTags, ["gcp-usw1-media"]);
    assert.equal(fw(role).direction, "INGRESS");
  }
});

test("stack outputs: pool, media region, endpoint, instance group, min/max hosts, health-check path, release", () => {
  const { release, ...outputs } = stack.outputs as Record<string, any>;
  // The release this up renders, and what the MIG points at (the program's template on a
  // first up; on later ones the state's: test/fleets/release.test.ts).
  const template = byName("gcp-usw1-mig").inputs.versions[0].instanceTemplate;
  assert.match(release.rendered, /^r-[0-9a-f]{12}$/);
  assert.deepEqual(release, { rendered: release.rendered, template, running: template });
  assert.deepEqual(outputs, {
    endpoint: "edge.gcp-usw1.media.example.net",
    kind: "gcp",
    pool: "gcp-usw1",
    mediaRegion: "us-west",
    minHosts: 6,
    maxHosts: 90,
    healthCheckPath: "/healthz",
    // no migration has set this pool's floor
    migration: null,
    signalingPort: 443,
    // the load balancer's address, which a Cloud DNS traffic split answers with and probes
    endpointAddresses: [byName("gcp-usw1-lb-rule").inputs.ipAddress],
    scaling:
      "ours: GCP autoscaler ONLY_SCALE_OUT, target 2880 streams/host · 54 schedules, floors 7–39 hosts · scale-in ≤ 2 hosts per 900 s · standby pool 12 stopped",
    host: {
      workload: "avfleet-sfu 2.4.1-1",
      agent: "avfleet-agent, load every 30 s",
      drain:
        "up to 1800 s (autoscaler ONLY_SCALE_OUT; scale-in controller drains ≤ 2 host(s) per 900 s, deletes each once drained; media unit stops after 1860 s)",
    },
    instanceGroup:
      "https://www.googleapis.com/compute/v1/projects/media-prod-usw1/regions/us-west1/instanceGroups/gcp-usw1-mig",
  });
});

test("human preview: a tree per stack under its component and a summary line", () => {
  const human = avfleet(["preview", "gcp-us-west1"]);
  assert.equal(human.code, 0);
  assert.match(
    human.stdout,
    /^gcp-us-west1 {2}\(gcp · media region us-west · pool gcp-usw1\)\n {2}gcp-usw1-ref-self {2}pulumi:pulumi:StackReference\n {2}gcp-usw1 {2}avfleet:fleets:GcpFleet\n/,
  );
  assert.match(
    human.stdout,
    /\n {2}└─ gcp-usw1-autoscaler {2}gcp:compute:RegionAutoscaler\n|\n {2}├─ gcp-usw1-autoscaler/,
  );
  assert.match(
    human.stdout,
    /\n {2}stack-facts {2}avfleet:index:StackFacts\n {2}= 75 resources to create \(71 custom, 4 components\)\n {4}hosts: 6–90\n {4}scaling: ours: GCP autoscaler ONLY_SCALE_OUT, target 2880 streams\/host · 54 schedules, floors 7–39 hosts · scale-in ≤ 2 hosts per 900 s · standby pool 12 stopped\n {4}host: avfleet-sfu 2\.4\.1-1 · avfleet-agent, load every 30 s · drain up to 1800 s \(autoscaler ONLY_SCALE_OUT; scale-in controller drains ≤ 2 host\(s\) per 900 s, deletes each once drained; media unit stops after 1860 s\)\n {4}release: r-[0-9a-f]{12} \(template gcp-usw1-0001\); no rollout: an up records it and changes no existing host\n {4}capacity: 432,000 streams for a demand of 208,000 \(headroom incl\.\); 66 hosts needed with N\+1 → covers demand\n {4}cost\/month: compute \$5,081–\$76,212 · egress \$0 \(0 % of the region's traffic\)\n/,
  );
  // how each way a host leaves plays out on this rendering, one line each
  assert.match(
    human.stdout,
    /\n {4}how hosts leave[^\n]*\n {6}scale-in: drains \(marked by the scale-in controller\), then the controller deleted its drained VM — no call cut before its limit\n/,
  );
  assert.match(
    human.stdout,
    /\n {6}template-rollout: template changes: the MIG's update policy says none for running VMs — no call cut before its limit\n/,
  );
  assert.match(
    human.stdout,
    /\npreview: 1 stacks, 75 resources, [\d.]+ s \(offline, Pulumi mocks\)\n$/,
  );
});
