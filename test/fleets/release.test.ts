/**
 * What `pulumi up` does with a cloud pool's release, read from the Plans of the example stacks
 * and of variants of them (a new media server, a rollout forward, back, or of another release),
 * and played against a previous state the way the engine plays ignoreChanges: a new template
 * or launch template version is created, and the group points at it only for a rollout of
 * exactly that release.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { RELEASE_ID } from "../../modules/config/rollout";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { validateStackDocument } from "../../modules/stacks/stack";
import { mockState } from "../../modules/plan/mock-state";
import { nextUpChanges, nextUpInputs } from "../../modules/plan/next-up";
import type { Plan } from "../../modules/plan/plan";
import { startsInstanceRefresh } from "../../modules/providers/aws";
import { forcesReplacement } from "../../modules/providers/replacement";
import { ROOT } from "../support/cli";
import { evaluateExamples, evaluateVariants, resource } from "../support/plans";

const GCP = "gcp-us-west1";
const AWS = "aws-us-east-1";
/** The template the pool's running hosts came from: an earlier release's. */
const OLD_TEMPLATE =
  "https://www.googleapis.com/compute/v1/projects/media-prod-usw1/global/instanceTemplates/gcp-usw1-0000?uniqueId=7";
const OLD_VERSION = 3;

let base: Record<string, Plan>;
let plans: Record<string, Plan>;

function rollout(release: string, target: "release" | "from", from: Record<string, unknown>) {
  return {
    release,
    from,
    plan: "0123456789ab",
    updated: 0,
    draining: 0,
    target,
    canaryShare: 0.05,
    maxUnavailable: "10%",
    domainsAtOnce: 1,
  };
}

/** A stack with a new media server, and with a rollout of `release` to each target. */
function variantsOf(prefix: string, stack: string, release: string, from: Record<string, unknown>) {
  const withRollout = (r: string, target: "release" | "from") => ({
    stack,
    change: (c: Record<string, any>) => (c["avfleet:rollout"] = rollout(r, target, from)),
  });
  return {
    [`${prefix}-new-server`]: {
      stack,
      change: (c: Record<string, any>) => (c["avfleet:fleet"].workload.version = "2.4.2-1"),
    },
    [`${prefix}-forward`]: withRollout(release, "release"),
    [`${prefix}-back`]: withRollout(release, "from"),
    [`${prefix}-other-release`]: withRollout("r-ffffffffffff", "release"),
  };
}

before(async () => {
  const [gcp, aws] = await evaluateExamples(GCP, AWS);
  base = { [GCP]: gcp, [AWS]: aws };
  const rendered = (p: Plan) => (p.outputs.release as { rendered: string }).rendered;
  const from = { id: "r-000000000001" };
  plans = await evaluateVariants({
    ...variantsOf("gcp", GCP, rendered(gcp), { ...from, template: OLD_TEMPLATE }),
    ...variantsOf("aws", AWS, rendered(aws), { ...from, version: OLD_VERSION }),
  });
});

/** The MIG's state after an earlier up: what the mock provider holds, on the old template. */
function oldMigState() {
  const mig = resource(base[GCP], "gcp-usw1-mig");
  return {
    ...mockState(mig.type, mig.name, mig.inputs, () => ({})),
    versions: [{ name: "primary", instanceTemplate: OLD_TEMPLATE }],
  };
}

function oldGroupState() {
  const group = resource(base[AWS], "aws-use1-asg");
  return {
    ...mockState(group.type, group.name, group.inputs, () => ({})),
    launchTemplate: { ...group.inputs.launchTemplate, version: String(OLD_VERSION) },
  };
}

test("GCP: a new media server with no rollout creates a template and the MIG keeps pointing at the old one", () => {
  const before = base[GCP];
  const after = plans["gcp-new-server"];
  const release = (p: Plan) => p.outputs.release as Record<string, unknown>;
  assert.match(String(release(before).rendered), new RegExp(RELEASE_ID));
  assert.notEqual(release(after).rendered, release(before).rendered, "a new release");
  // The template is immutable: the up creates a new one; the old one stays (retainOnDelete),
  // since the MIG's hosts still use it.
  const template = resource(after, "gcp-usw1-template");
  assert.notEqual(
    template.inputs.metadataStartupScript,
    resource(before, "gcp-usw1-template").inputs.metadataStartupScript,
  );
  assert.equal(forcesReplacement(template.type, "metadataStartupScript"), true);
  assert.equal(template.retainOnDelete, true);
  // The MIG: its versions are the state's on the next up, so it changes nothing.
  const mig = resource(after, "gcp-usw1-mig");
  assert.deepEqual(mig.ignoreChanges, ["versions"]);
  assert.deepEqual(nextUpChanges(mig, oldMigState(), Object.keys(mig.inputs)), []);
  assert.equal(
    (nextUpInputs(mig, oldMigState()).versions as any)[0].instanceTemplate,
    OLD_TEMPLATE,
  );
  // A rollout of another release changes nothing either.
  const other = resource(plans["gcp-other-release"], "gcp-usw1-mig");
  assert.deepEqual(other.ignoreChanges, ["versions"]);
  assert.deepEqual(nextUpChanges(other, oldMigState(), Object.keys(other.inputs)), []);
});

test("GCP: a rollout of this release forward points the MIG at the new template; back, at the old one", () => {
  const forward = plans["gcp-forward"];
  const mig = resource(forward, "gcp-usw1-mig");
  const template = resource(forward, "gcp-usw1-template");
  assert.equal(mig.ignoreChanges, undefined, "the versions are the program's");
  assert.match(mig.inputs.versions[0].instanceTemplate, /instanceTemplates\/gcp-usw1-0001\?/);
  assert.deepEqual(nextUpChanges(mig, oldMigState(), Object.keys(mig.inputs)), ["versions"]);
  // The update policy is OPPORTUNISTIC: the new target replaces no running VM.
  assert.equal(mig.inputs.updatePolicy.type, "OPPORTUNISTIC");
  assert.deepEqual(forward.outputs.release, {
    rendered: (base[GCP].outputs.release as any).rendered,
    template: mig.inputs.versions[0].instanceTemplate,
    running: mig.inputs.versions[0].instanceTemplate,
    rollout: {
      release: (base[GCP].outputs.release as any).rendered,
      target: "release",
      updated: 0,
      draining: 0,
    },
  });
  assert.equal(template.retainOnDelete, true);

  const back = resource(plans["gcp-back"], "gcp-usw1-mig");
  assert.equal(back.ignoreChanges, undefined);
  assert.equal(back.inputs.versions[0].instanceTemplate, OLD_TEMPLATE);
  assert.deepEqual(nextUpChanges(back, oldMigState(), Object.keys(back.inputs)), []);
  assert.equal((plans["gcp-back"].outputs.release as any).running, OLD_TEMPLATE);
});

test("AWS: a new media server with no rollout makes a launch template version; the group keeps launching the old one and starts no refresh", () => {
  const group = resource(plans["aws-new-server"], "aws-use1-asg");
  const lt = resource(plans["aws-new-server"], "aws-use1-lt");
  assert.notEqual(lt.inputs.userData, resource(base[AWS], "aws-use1-lt").inputs.userData);
  // A launch template's content makes a new version, not a new template.
  assert.equal(forcesReplacement(lt.type, "userData"), false);
  assert.equal(group.inputs.instanceRefresh, undefined, "no refresh is declared");
  assert.match(group.inputs.launchTemplate.version, /^\d+$/, "a version number, never $Latest");
  assert.deepEqual(group.ignoreChanges, [
    "initialLifecycleHooks",
    "minSize",
    "launchTemplate.version",
  ]);
  const state = oldGroupState();
  const changed = nextUpChanges(group, state, Object.keys(group.inputs));
  assert.deepEqual(changed, []);
  assert.deepEqual(nextUpInputs(group, state).launchTemplate, {
    id: group.inputs.launchTemplate.id,
    version: "3",
  });
  assert.equal(startsInstanceRefresh(group.inputs, changed), false);
  // A rollout of another release changes nothing either.
  const other = resource(plans["aws-other-release"], "aws-use1-asg");
  assert.deepEqual(nextUpChanges(other, state, Object.keys(other.inputs)), []);
});

test("AWS: a rollout of this release forward points the group at the new version, back at the old; neither starts a refresh", () => {
  const forward = resource(plans["aws-forward"], "aws-use1-asg");
  const lt = resource(plans["aws-forward"], "aws-use1-lt");
  assert.deepEqual(forward.ignoreChanges, ["initialLifecycleHooks", "minSize"]);
  // The mock provider's launch template is at version 1: the group points at it.
  assert.equal(forward.inputs.launchTemplate.version, "1");
  const changed = nextUpChanges(forward, oldGroupState(), Object.keys(forward.inputs));
  assert.deepEqual(changed, ["launchTemplate"]);
  assert.equal(startsInstanceRefresh(forward.inputs, changed), false);
  // The test of the test: the group as it was declared before would have refreshed every host.
  const declaredBefore = {
    ...forward.inputs,
    instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 100 } },
  };
  assert.equal(startsInstanceRefresh(declaredBefore, changed), true);
  assert.deepEqual(plans["aws-forward"].outputs.release, {
    rendered: (base[AWS].outputs.release as any).rendered,
    version: 1,
    running: 1,
    rollout: {
      release: (base[AWS].outputs.release as any).rendered,
      target: "release",
      updated: 0,
      draining: 0,
    },
  });
  assert.equal(lt.inputs.updateDefaultVersion, true);

  const back = resource(plans["aws-back"], "aws-use1-asg");
  assert.equal(back.inputs.launchTemplate.version, String(OLD_VERSION));
  assert.deepEqual(nextUpChanges(back, oldGroupState(), Object.keys(back.inputs)), []);
  assert.equal((plans["aws-back"].outputs.release as any).running, OLD_VERSION);
});

test("a cloud rollout that does not say what the pool ran before is refused at its key path", () => {
  const withRollout = (stack: string, from: Record<string, unknown>) => {
    const doc = YAML.parse(readFileSync(join(ROOT, `stacks/Pulumi.${stack}.yaml`), "utf8"));
    doc.config["avfleet:rollout"] = rollout("r-0123456789ab", "from", from);
    return () => validateStackDocument(`Pulumi.${stack}.yaml`, doc);
  };
  assert.throws(withRollout(GCP, { id: "r-000000000001", version: 3 }), (err: Error) => {
    assert.match(err.message, /avfleet:rollout\.from.*has no template/);
    return true;
  });
  assert.throws(
    withRollout(AWS, { template: OLD_TEMPLATE }),
    /avfleet:rollout\.from.*has no version/,
  );
  withRollout(GCP, { template: OLD_TEMPLATE })();
  withRollout(AWS, { version: OLD_VERSION })();
});
