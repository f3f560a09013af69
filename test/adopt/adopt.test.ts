/**
 * `avfleet adopt`: each record of the import file lands on the URN the program declares it
 * with (checked against the program's own URNs under Pulumi's mock runtime), with the import
 * ids the providers document.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  adoption,
  importedUrns,
  CLOUD_DNS_RECORD,
  ROUTE53_RECORD,
} from "../../modules/adopt/adopt";
import { listStacks } from "../../modules/stacks/stack";
import type { Plan } from "../../modules/plan/plan";
import { avfleet, ROOT } from "../support/cli";
import { evaluateExamples } from "../support/plans";

const plans = new Map<string, Plan>();

/** The provider versions the program runs on, read here from the installed SDKs. */
const VERSIONS = {
  aws: JSON.parse(readFileSync(require.resolve("@pulumi/aws/package.json"), "utf8")).version,
  gcp: JSON.parse(readFileSync(require.resolve("@pulumi/gcp/package.json"), "utf8")).version,
};

before(async () => {
  for (const plan of await evaluateExamples(...listStacks(join(ROOT, "stacks")))) {
    plans.set(plan.name, plan);
  }
});

const isRecord = (type: string) => type === ROUTE53_RECORD || type === CLOUD_DNS_RECORD;

test("every example stack's records are imported under the URNs the program declares", () => {
  let adopted = 0;
  for (const [stack, plan] of plans) {
    const { file, records } = adoption(plan, VERSIONS);
    const urns = importedUrns(file, stack, "avfleet");
    const declared = plan.resources.filter((r) => isRecord(r.type) && r.importId === undefined);
    assert.deepEqual(
      records.map((r) => urns.get(r.name)),
      declared.map((r) => r.urn),
      stack,
    );
    adopted += records.length;
  }
  assert.ok(adopted >= 5, `only ${adopted} records adopted across the examples`);
});

test("a Route53 split record: ZONEID_NAME_TYPE_SETID under its TrafficSplit, created empty", () => {
  assert.deepEqual(adoption(plans.get("traffic-us-west")!, VERSIONS).file, {
    resources: [
      { type: "avfleet:traffic:TrafficSplit", name: "traffic-us-west", component: true },
      {
        type: ROUTE53_RECORD,
        name: "traffic-us-west-metal-sjc",
        id: "Z04517273OFFLINE_join.us-west.media.example.net_CNAME_metal-sjc",
        version: VERSIONS.aws,
        parent: "traffic-us-west",
      },
    ],
  });
});

test("Cloud DNS ids name the record with its trailing dot; an endpoint's parent is its fleet", () => {
  assert.deepEqual(adoption(plans.get("gcp-us-west1")!, VERSIONS).file.resources, [
    { type: "avfleet:fleets:GcpFleet", name: "gcp-usw1", component: true },
    {
      type: CLOUD_DNS_RECORD,
      name: "gcp-usw1-endpoint",
      id: "projects/media-prod-usw1/managedZones/media-example-net/rrsets/edge.gcp-usw1.media.example.net./A",
      version: VERSIONS.gcp,
      parent: "gcp-usw1",
    },
  ]);
  const wrr = adoption(plans.get("traffic-eu-west")!, VERSIONS).records;
  assert.equal(wrr.length, 1);
  assert.match(wrr[0].id, /^projects\/[^/]+\/managedZones\/[^/]+\/rrsets\/[^/]+\.\/A$/);
  assert.equal(
    adoption(plans.get("aws-us-east-1")!, VERSIONS).records[0].id,
    "Z04517273OFFLINE_edge.aws-use1.media.example.net_A",
  );
});

test("records the program imports itself are left out; --only picks, and refuses a name it lacks", () => {
  assert.deepEqual(adoption(plans.get("metal-ams")!, VERSIONS).records, []);
  const sjc = adoption(plans.get("metal-sjc")!, VERSIONS, ["metal-sjc-sjc-m001-dns"]);
  assert.deepEqual(
    sjc.file.resources.map((r) => [r.name, r.parent]),
    [
      ["metal-sjc", undefined],
      ["metal-sjc-sjc-m001-dns", "metal-sjc"],
    ],
  );
  assert.throws(
    () => adoption(plans.get("traffic-us-west")!, VERSIONS, ["traffic-us-west-gcp-us-west1"]),
    /traffic-us-west declares no DNS record named traffic-us-west-gcp-us-west1 to adopt; its records: traffic-us-west-metal-sjc/,
  );
});

test("test of the test: the README's top-level import puts the record on another URN", () => {
  const { file } = adoption(plans.get("traffic-us-west")!, VERSIONS);
  const topLevel = {
    resources: file.resources.filter((r) => !r.component).map(({ parent: _, ...r }) => r),
  };
  const record = plans.get("traffic-us-west")!.resources.find((r) => r.type === ROUTE53_RECORD)!;
  assert.notEqual(
    importedUrns(topLevel, "traffic-us-west", "avfleet").get(record.name),
    record.urn,
  );
});

test("avfleet adopt writes the file and prints the qualified stack; Cloud without --org writes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-adopt-"));
  const out = join(dir, "import.json");
  const diy = avfleet([
    "adopt",
    "traffic-us-west",
    "--backend",
    `file://${join(dir, "state")}`,
    "--out",
    out,
  ]);
  assert.equal(diy.code, 0, diy.stderr);
  const steps = diy.stdout.split("\n").filter((line) => line.startsWith("  pulumi "));
  assert.deepEqual(
    steps.map((line) => line.trim().split(/\s+/).slice(0, 4).join(" ")),
    [
      `pulumi login file://${join(dir, "state")}`,
      "pulumi stack init organization/avfleet/traffic-us-west",
      `pulumi import --file ${out}`,
      "pulumi preview --stack organization/avfleet/traffic-us-west",
    ],
  );
  assert.match(steps[1], /if the stack does not exist yet/);
  assert.match(
    steps[2],
    /--generate-code=false --protect=false --stack organization\/avfleet\/traffic-us-west +# in CI add --yes/,
  );
  // An example stack: written, with its placeholder zone called out on both streams.
  const warning =
    /warning: traffic-us-west-metal-sjc: its import id rests on zoneId "Z04517273OFFLINE", which carries the marker OFFLINE \(from avfleet:traffic\.dns\.zone\)/;
  assert.match(diy.stdout, warning);
  assert.match(diy.stderr, warning);
  assert.deepEqual(
    JSON.parse(readFileSync(out, "utf8")),
    adoption(plans.get("traffic-us-west")!, VERSIONS).file,
  );

  const cloud = avfleet([
    "adopt",
    "gcp-us-west1",
    "--backend",
    "https://api.pulumi.com",
    "--json",
    "--org",
    "media-infra",
    "--out",
    join(dir, "g.json"),
  ]);
  assert.equal(cloud.code, 0, cloud.stderr);
  assert.equal(JSON.parse(cloud.stdout).qualifiedStack, "media-infra/avfleet/gcp-us-west1");

  const noOrg = avfleet([
    "adopt",
    "gcp-us-west1",
    "--backend",
    "https://api.pulumi.com",
    "--out",
    join(dir, "x.json"),
  ]);
  assert.equal(noOrg.code, 2);
  assert.match(noOrg.stderr, /a bare stack name resolves in your default organization: give --org/);
  assert.ok(!existsSync(join(dir, "x.json")));

  const unknown = avfleet([
    "adopt",
    "traffic-us-west",
    "--backend",
    "file:///x",
    "--only",
    "nope",
    "--out",
    join(dir, "y.json"),
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /declares no DNS record named nope/);
  assert.ok(!existsSync(join(dir, "y.json")));
});

/** A copy of the example stacks, `edit` applied to one stack file's text. */
function stacksCopy(stack: string, edit: (text: string) => string): string {
  // Beside its inventory/, which the bare-metal stacks name relative to the project.
  const root = mkdtempSync(join(tmpdir(), "avfleet-adopt-stacks-"));
  const dir = join(root, "stacks");
  cpSync(join(ROOT, "stacks"), dir, { recursive: true });
  cpSync(join(ROOT, "inventory"), join(root, "inventory"), { recursive: true });
  const file = join(dir, `Pulumi.${stack}.yaml`);
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  return dir;
}

test("import ids resting on placeholders: listed for an example stack, refused (exit 2, nothing written) for a real one", () => {
  assert.deepEqual(adoption(plans.get("traffic-us-west")!, VERSIONS).placeholders, [
    {
      record: "traffic-us-west-metal-sjc",
      input: "zoneId",
      value: "Z04517273OFFLINE",
      reason: "carries the marker OFFLINE",
      keys: ["avfleet:traffic.dns.zone"],
    },
    {
      record: "traffic-us-west-metal-sjc",
      input: "name",
      value: "join.us-west.media.example.net",
      reason: "is a name reserved for documentation (RFC 2606)",
      keys: ["avfleet:traffic.dns.recordName"],
    },
  ]);
  const real = stacksCopy("traffic-us-west", (t) => t.replace("avfleet:example: true", ""));
  const out = join(real, "import.json");
  const run = avfleet([
    "adopt",
    "traffic-us-west",
    "--stacks-dir",
    real,
    "--backend",
    "file:///x",
    "--out",
    out,
  ]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /Pulumi\.traffic-us-west\.yaml: avfleet:traffic\.dns\.zone: traffic-us-west-metal-sjc: its import id rests on zoneId "Z04517273OFFLINE"/,
  );
  assert.match(run.stderr, /nothing written/);
  assert.ok(!existsSync(out));
});

test("a stack file with an environment: is refused on a DIY backend (exit 2, nothing written), taken on Cloud", () => {
  const dir = stacksCopy("gcp-us-west1", (t) => `environment:\n  - media/prod\n${t}`);
  const out = join(dir, "import.json");
  const args = ["adopt", "gcp-us-west1", "--stacks-dir", dir, "--out", out];
  const diy = avfleet([...args, "--backend", "s3://media-pulumi-state"]);
  assert.equal(diy.code, 2, diy.stderr);
  assert.match(
    diy.stderr,
    /Pulumi\.gcp-us-west1\.yaml: environment: a DIY backend \(s3:\/\/media-pulumi-state\) does not support Pulumi ESC environments/,
  );
  assert.ok(!existsSync(out));
  const cloud = avfleet([...args, "--backend", "https://api.pulumi.com", "--org", "media-infra"]);
  assert.equal(cloud.code, 0, cloud.stderr);
  assert.ok(existsSync(out));
});
