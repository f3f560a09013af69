/**
 * `avfleet adopt`: each record of the import file lands on the URN the program declares it
 * with (checked against the program's own URNs under Pulumi's mock runtime), with the import
 * ids the providers document.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  adoption,
  importedUrns,
  CLOUD_DNS_RECORD,
  ROUTE53_RECORD,
} from "../../modules/adopt/adopt";
import { listStacks } from "../../modules/config/stack";
import type { Plan } from "../../modules/plan/plan";
import { avfleet, ROOT } from "../support/cli";
import { evaluateExamples } from "../support/plans";

const plans = new Map<string, Plan>();

before(async () => {
  for (const plan of await evaluateExamples(...listStacks(join(ROOT, "stacks")))) {
    plans.set(plan.name, plan);
  }
});

const isRecord = (type: string) => type === ROUTE53_RECORD || type === CLOUD_DNS_RECORD;

test("every example stack's records are imported under the URNs the program declares", () => {
  let adopted = 0;
  for (const [stack, plan] of plans) {
    const { file, records } = adoption(plan);
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
  assert.deepEqual(adoption(plans.get("traffic-us-west")!).file, {
    resources: [
      { type: "avfleet:traffic:TrafficSplit", name: "traffic-us-west", component: true },
      {
        type: ROUTE53_RECORD,
        name: "traffic-us-west-metal-sjc",
        id: "Z04517273OFFLINE_join.us-west.media.example.net_CNAME_metal-sjc",
        parent: "traffic-us-west",
      },
    ],
  });
});

test("Cloud DNS ids name the record with its trailing dot; an endpoint's parent is its fleet", () => {
  assert.deepEqual(adoption(plans.get("gcp-us-west1")!).file.resources, [
    { type: "avfleet:fleets:GcpFleet", name: "gcp-usw1", component: true },
    {
      type: CLOUD_DNS_RECORD,
      name: "gcp-usw1-endpoint",
      id: "projects/media-prod-usw1/managedZones/media-example-net/rrsets/edge.gcp-usw1.media.example.net./A",
      parent: "gcp-usw1",
    },
  ]);
  const wrr = adoption(plans.get("traffic-eu-west")!).records;
  assert.equal(wrr.length, 1);
  assert.match(wrr[0].id, /^projects\/[^/]+\/managedZones\/[^/]+\/rrsets\/[^/]+\.\/A$/);
  assert.equal(
    adoption(plans.get("aws-us-east-1")!).records[0].id,
    "Z04517273OFFLINE_edge.aws-use1.media.example.net_A",
  );
});

test("records the program imports itself are left out; --only picks, and refuses a name it lacks", () => {
  assert.deepEqual(adoption(plans.get("metal-ams")!).records, []);
  const sjc = adoption(plans.get("metal-sjc")!, ["metal-sjc-sjc-m001-dns"]);
  assert.deepEqual(
    sjc.file.resources.map((r) => [r.name, r.parent]),
    [
      ["metal-sjc", undefined],
      ["metal-sjc-sjc-m001-dns", "metal-sjc"],
    ],
  );
  assert.throws(
    () => adoption(plans.get("traffic-us-west")!, ["traffic-us-west-gcp-us-west1"]),
    /traffic-us-west declares no DNS record named traffic-us-west-gcp-us-west1 to adopt; its records: traffic-us-west-metal-sjc/,
  );
});

test("test of the test: the README's top-level import puts the record on another URN", () => {
  const { file } = adoption(plans.get("traffic-us-west")!);
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
  assert.match(
    diy.stdout,
    /pulumi import --file \S+import\.json --generate-code=false --stack organization\/avfleet\/traffic-us-west/,
  );
  assert.deepEqual(
    JSON.parse(readFileSync(out, "utf8")),
    adoption(plans.get("traffic-us-west")!).file,
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
