/**
 * A cloud pool's release id (what its hosts are handed) and what its group points at for a
 * given avfleet:rollout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { validateStackDocument } from "../../modules/stacks/stack";
import { RELEASE_ID } from "../../modules/config/rollout";
import type { AwsFleetSpec, GcpFleetSpec } from "../../modules/config/fleet.schema";
import { hostLaunchTemplate } from "../../modules/fleets/aws-args";
import { hostTemplate } from "../../modules/fleets/gcp-args";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { awsBoot, bootstrapScript } from "../../modules/host/bootstrap";
import { cloudRolloutProblems } from "../../modules/config/rollout";
import { canonicalJson, groupIntent, releaseId } from "../../modules/release/cloud-intent";
import { cloudHardware } from "../../modules/tuning/host-facts";
import { ROOT } from "../support/cli";

function fleet<T>(stack: string, change: (fleet: any) => void = () => {}): T {
  const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
  change(doc.config["avfleet:fleet"]);
  return validateStackDocument("test.yaml", doc).document.config["avfleet:fleet"] as T;
}

/** The release of a GCP pool as stack.ts renders it: the bootstrap, then the template's inputs. */
function gcpRelease(change?: (fleet: any) => void): string {
  const spec = fleet<GcpFleetSpec>("gcp-us-west1", change);
  const script = bootstrapScript(spec, hostTuning(spec, cloudHardware(spec.machineType, "gve")));
  return releaseId(hostTemplate(spec, script));
}

function awsRelease(change?: (fleet: any) => void): string {
  const spec = fleet<AwsFleetSpec>("aws-us-east-1", change);
  // As AwsFleet: the user-data less the bucket's name (the pool's, for every release).
  const boot = awsBoot(spec, hostTuning(spec, cloudHardware(spec.instanceType, "ena")));
  return releaseId(hostLaunchTemplate(spec, boot.userData("")));
}

test("a release id is r- and 12 hex of the sha256 of the canonical JSON, whatever the key order", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }),
    canonicalJson({ a: { c: null, d: [2, { e: 0, f: 1 }] }, b: 1 }),
  );
  assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
  // sha256('{"a":2,"b":1}'), first 12 hex digits
  assert.equal(releaseId({ b: 1, a: 2 }), "r-d3626ac30a87");
  assert.match(gcpRelease(), new RegExp(RELEASE_ID));
  assert.match(awsRelease(), new RegExp(RELEASE_ID));
  assert.equal(gcpRelease(), gcpRelease(), "the same pool renders the same release");
});

test("GCP: the release changes with what a host runs or boots, not with labels, sizes or scaling", () => {
  const base = gcpRelease();
  const changes: Record<string, (f: any) => void> = {
    "media server version": (f) => (f.workload.version = "2.4.2-1"),
    "drain limit (the agent's config)": (f) => (f.drainSeconds = 1200),
    "tuning profile setting": (f) => (f.tuning.stallMs = 30),
    image: (f) => (f.image = `${f.image}-2`),
    "machine type": (f) => (f.machineType = "c2d-highcpu-56"),
    "boot disk": (f) => (f.bootDiskGb = (f.bootDiskGb ?? 20) + 10),
  };
  for (const [what, change] of Object.entries(changes)) {
    assert.notEqual(gcpRelease(change), base, what);
  }
  const same: Record<string, (f: any) => void> = {
    "a label": (f) => (f.labels = { ...f.labels, team: "another-team" }),
    "the pool's size": (f) => ((f.minHosts = 9), (f.maxHosts = 120)),
    "scale-in limits": (f) => (f.autoscaling.scaleIn.maxHostsPerWindow = 3),
    "admin networks (firewall, not the host)": (f) => (f.adminCidrs = ["192.0.2.0/24"]),
  };
  for (const [what, change] of Object.entries(same)) {
    assert.equal(gcpRelease(change), base, what);
  }
});

test("AWS: the release changes with the AMI, instance type and user data, not with tags or sizes", () => {
  const base = awsRelease();
  assert.notEqual(
    awsRelease((f) => (f.ami = "ami-0fedcba9876543210")),
    base,
  );
  assert.notEqual(
    awsRelease((f) => (f.instanceType = "c6in.16xlarge")),
    base,
  );
  assert.notEqual(
    awsRelease((f) => (f.workload.version = "2.4.2-1")),
    base,
  );
  assert.equal(
    awsRelease((f) => (f.labels = { ...f.labels, team: "another-team" })),
    base,
  );
  assert.equal(
    awsRelease((f) => (f.maxHosts = 120)),
    base,
  );
});

test("the group points at the rendered release only for a rollout of exactly it", () => {
  const rollout = (release: string, target: "release" | "from") => ({
    release,
    from: { id: "r-000000000001", template: "old" },
    plan: "0123456789ab",
    updated: 0,
    draining: 0,
    target,
    canaryShare: 0.01,
    maxUnavailable: "10%" as const,
    domainsAtOnce: 1,
  });
  const r = "r-0123456789ab";
  assert.equal(groupIntent(r, undefined).target, "running");
  assert.equal(groupIntent(r, rollout("r-ffffffffffff", "release")).target, "running");
  assert.equal(groupIntent(r, rollout("r-ffffffffffff", "from")).target, "running");
  assert.equal(groupIntent(r, rollout(r, "release")).target, "release");
  assert.equal(groupIntent(r, rollout(r, "from")).target, "from");
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-f]{12}$/), (hex) => {
      const other = `r-${hex}`;
      fc.pre(other !== r);
      assert.equal(groupIntent(r, rollout(other, "release")).target, "running");
    }),
  );
  // A rollback needs what the pool ran before, in its own provider's terms.
  const at = ["config", "avfleet:rollout"];
  assert.deepEqual(cloudRolloutProblems("gcp", rollout(r, "from"), at), []);
  assert.deepEqual(
    cloudRolloutProblems("aws", rollout(r, "from"), at).map((p) => p.path),
    [["config", "avfleet:rollout", "from"]],
  );
  assert.deepEqual(
    cloudRolloutProblems("aws", { ...rollout(r, "from"), from: { version: 3 } }, at),
    [],
  );
  assert.deepEqual(cloudRolloutProblems("gcp", undefined, at), []);
});
