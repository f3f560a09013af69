/**
 * Finding 3: a GCP media host could delete every VM of its pool, and of any pool whose name
 * starts with its own. Now a host holds no compute right at all. The scale-in controller's VM
 * grants are a name prefix, the only form IAM documents on resource.name, which would also hold
 * on the VMs of a pool named `<pool>-…` in the same project: `avfleet policy` refuses two such
 * pools across the estate.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { avfleet, ROOT } from "../support/cli";
import { evaluateExamples, resource } from "../support/plans";
import { HOST_ROLES, HOST_SCOPES } from "../../modules/fleets/gcp-args";

/**
 * Whether a rendered instance condition holds on a VM of that name, for the forms avfleet
 * renders: `resource.type == Instance && extract("/instances/{name}").<startsWith|matches>(…)`.
 */
function holdsOn(expression: string, name: string): boolean {
  const form =
    /^resource\.type == "compute\.googleapis\.com\/Instance" && resource\.name\.extract\("\/instances\/\{name\}"\)\.(startsWith|matches)\("([^"]*)"\)$/.exec(
      expression,
    );
  assert.ok(form, `an instance condition avfleet renders: ${expression}`);
  return form[1] === "startsWith" ? name.startsWith(form[2]) : new RegExp(form[2]).test(name);
}

test("the controller's VM grants hold on its pool's MIG names, in the form IAM documents", async () => {
  const [plan] = await evaluateExamples("gcp-europe-west4");
  for (const grant of ["inspect", "delete"]) {
    const { condition } = resource(plan, `gcp-euw4-scale-in-${grant}-member`).inputs;
    // the pool's own VMs: base name, hyphen, four random characters
    assert.equal(holdsOn(condition.expression, "gcp-euw4-x7k2"), true, grant);
    assert.equal(holdsOn(condition.expression, "gcp-euw4-0a9z"), true, grant);
    // a pool whose name is a prefix of this one's, and other pools of the project
    for (const other of ["gcp-euw-x7k2", "gcp-usw1-x7k2", "gcp-euw40-x7k2"])
      assert.equal(holdsOn(condition.expression, other), false, `${grant} on ${other}`);
  }
});

test("a GCP host can delete no VM and change no MIG: no compute scope, no compute role, a storage read only of its pool's drain marks", async () => {
  const [plan] = await evaluateExamples("gcp-europe-west4");
  const template = resource(plan, "gcp-euw4-template").inputs;
  assert.deepEqual(template.serviceAccount.scopes, [
    "https://www.googleapis.com/auth/monitoring.write",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/devstorage.read_only",
  ]);
  assert.deepEqual(HOST_SCOPES, template.serviceAccount.scopes);
  // every project grant to the hosts' account is one of the two writer roles
  const hostGrants = plan.resources
    .filter((r) => r.type === "gcp:projects/iAMMember:IAMMember")
    .filter((r) => /^serviceAccount:gcp-euw4-sfu@/.test(String(r.inputs.member)))
    .map((r) => r.inputs.role);
  assert.deepEqual(hostGrants.sort(), [...HOST_ROLES].sort());
  assert.deepEqual(HOST_ROLES, ["roles/monitoring.metricWriter", "roles/logging.logWriter"]);
  // and no custom role names the hosts' account
  for (const r of plan.resources.filter(
    (r) => r.type === "gcp:projects/iAMCustomRole:IAMCustomRole",
  ))
    assert.doesNotMatch(String(r.inputs.title), /media hosts/);
});

test("CLI: avfleet policy exits 1 on two pools of one project whose names collide by prefix, and passes them in two projects", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-03-"));
  const stacks = join(dir, "stacks");
  mkdirSync(stacks);
  const source = readFileSync(join(ROOT, "stacks", "Pulumi.gcp-europe-west4.yaml"), "utf8");
  const write = (project: string) => {
    const doc = YAML.parse(source);
    writeFileSync(join(stacks, "Pulumi.gcp-europe-west4.yaml"), source);
    doc.config["avfleet:fleet"].pool = "gcp-euw4-b";
    doc.config["gcp:project"] = project;
    writeFileSync(join(stacks, "Pulumi.gcp-europe-west4-b.yaml"), YAML.stringify(doc));
  };
  const project = YAML.parse(source).config["gcp:project"];
  try {
    write(project);
    const collide = avfleet(["policy", "--stacks-dir", stacks]);
    assert.equal(collide.code, 1, collide.stdout + collide.stderr);
    assert.ok(
      collide.stdout.includes(
        `[mandatory] gcp-pool-names-prefix-free: gcp-euw4-b-mig: pool gcp-euw4-b (stack gcp-europe-west4-b) begins with pool gcp-euw4- (stack gcp-europe-west4) in project ${project}: gcp-euw4's scale-in controller could delete gcp-euw4-b's VMs`,
      ),
      collide.stdout,
    );
    write(`${project}-b`);
    const apart = avfleet(["policy", "--stacks-dir", stacks, "--json"]);
    assert.deepEqual(
      JSON.parse(apart.stdout).violations.filter(
        (v: { policy: string }) => v.policy === "gcp-pool-names-prefix-free",
      ),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
