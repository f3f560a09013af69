import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadStacks } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/evaluation/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { POLICIES } from "../../modules/policy-runner";
import { evaluatePolicies } from "../../modules/policy-runner/runner";
import { avfleet, ROOT } from "../support/cli";

test("avfleet place: tables, a map and stack files that pass the stack checks; nothing in stacks/ changes", () => {
  const out = mkdtempSync(join(tmpdir(), "place-out-"));
  const before = readFileSync(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml"), "utf8");
  const run = avfleet([
    "place",
    "--demand",
    "placement/demand.yaml",
    "--sites",
    "placement/sites.yaml",
    "--out",
    out,
    "--json",
  ]);
  // The example's placement caps gcp-us-west1 at 18 hosts and geo-steers traffic-us-west while
  // runbooks/us-west.yaml scales it to 66 and shifts it by weight (#27 finding 1).
  assert.equal(run.code, 1, run.stderr);
  const report = JSON.parse(run.stdout);
  const proposedFile = (stack: string) => join(out, "stacks", `Pulumi.${stack}.yaml`);
  assert.ok(
    report.breaks.includes(
      `${proposedFile("gcp-us-west1")}: config.avfleet:fleet.maxHosts: is 18, below the 66 hosts runbooks/us-west.yaml steps[1] scales gcp-us-west1 to before traffic moves, expected at least 66 while runbooks/us-west.yaml runs`,
    ),
    report.breaks.join("\n"),
  );
  assert.ok(
    report.breaks.some((b: string) =>
      b.startsWith(
        `${proposedFile("traffic-us-west")}: config.avfleet:traffic.dns.routing: is geoproximity, but runbooks/us-west.yaml shifts`,
      ),
    ),
  );
  // An existing file changes only at the keys the proposal sets (#27 finding 6).
  for (const change of report.changes.filter((c: any) => !c.diff.startsWith("--- /dev/null"))) {
    const changed = change.diff
      .split("\n")
      .filter((l: string) => /^[-+](?![-+]{2} )/.test(l))
      .map((l: string) => l.slice(1).trim().split(":")[0]);
    for (const key of changed)
      assert.ok(
        ["maxHosts", "minHosts", "peakParticipants", "routing", "- { stack"].includes(key),
        `${change.stack}: ${key}`,
      );
  }
  // A new stack keeps none of its template's comments: they describe the template's site.
  const opened = report.sites.filter((s: any) => !s.exists && s.hosts > 0);
  for (const site of opened) {
    const comments = readFileSync(proposedFile(site.stack), "utf8")
      .split("\n")
      .filter((l) => l.trimStart().startsWith("#"));
    assert.equal(comments.length, 3, comments.join("\n"));
    assert.match(comments[0], new RegExp(`^# ${site.stack}: new gcp media site in europe-west2`));
    for (const foreign of ["europe-west4", "Netherlands", "metal-ams", "runbooks/"])
      assert.ok(!comments.some((c) => c.includes(foreign)), `${site.stack}: ${foreign}`);
  }
  // A copied value that still names the template's site is pointed out, not left silent.
  assert.ok(
    report.notes.includes(
      'gcp-europe-west2: config.avfleet:fleet.alerting.notify.ticket.channel is "projects/media-prod-euw4/notificationChannels/1234567890", copied from stack gcp-europe-west4 and naming it (media-prod-euw4): set it in the site\'s newStack.config',
    ),
    report.notes.join("\n"),
  );
  assert.equal(report.solver, "exact");
  assert.equal(report.status, "optimal");
  assert.ok(report.p95Ms <= 50);
  assert.ok(
    report.metros.every((m: { rttMs: number }) => m.rttMs <= 100),
    "no metro over the 2× cap",
  );
  assert.ok(opened.length > 0, "the example opens an edge site");
  for (const { stack } of opened) {
    const file = join(out, "stacks", `Pulumi.${stack}.yaml`);
    const fleet = YAML.parse(readFileSync(file, "utf8")).config["avfleet:fleet"];
    const site = report.sites.find((s: any) => s.stack === stack);
    assert.equal(fleet.maxHosts, site.hosts);
    assert.equal(fleet.demand.peakParticipants, site.sizedLoad);
  }
  assert.match(
    readFileSync(join(out, "map.svg"), "utf8"),
    /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
  );
  assert.equal(readFileSync(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml"), "utf8"), before);
  assert.ok(
    report.notes.some((n: string) => n.includes("weighted canary runs on join.eu-west")),
    "no geo steering where a WRR canary runs",
  );
  // Metros and sites in the same metro as a published region pair are priced by its figure.
  assert.ok(report.rttModel.publishedPairs > 0);
  assert.ok(report.rttModel.publishedPairs < report.rttModel.pairs);
  // Solved again with every RTT ±20 %: each case says what changes against the choice.
  assert.deepEqual(
    report.sensitivity.map((c: any) => c.scale),
    [0.8, 1.2],
  );
  for (const c of report.sensitivity) {
    const chosen = new Set(report.sites.filter((s: any) => s.hosts > 0).map((s: any) => s.name));
    for (const s of c.opened) assert.ok(!chosen.has(s), `${s} was already open`);
    for (const s of c.closed) assert.ok(chosen.has(s), `${s} was not open`);
    for (const m of c.moved)
      assert.equal(report.metros.find((x: any) => x.name === m.metro).primary, m.from);
  }
  const bad = mkdtempSync(join(tmpdir(), "place-bad-"));
  writeFileSync(join(bad, "demand.yaml"), "metros: []\n");
  const refused = avfleet([
    "place",
    "--demand",
    join(bad, "demand.yaml"),
    "--sites",
    "placement/sites.yaml",
    "--out",
    join(bad, "out"),
  ]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /demand\.yaml: metros: /);
  assert.ok(!existsSync(join(bad, "out")), "nothing written on bad input");
  // A runbook the cross-check would read is input too: refused before anything is solved.
  const badRunbooks = mkdtempSync(join(tmpdir(), "place-runbooks-"));
  writeFileSync(join(badRunbooks, "us-west.yaml"), "region: us-west\ntraffic: traffic-nowhere\n");
  const badRunbook = avfleet([
    "place",
    ...["--demand", "placement/demand.yaml", "--sites", "placement/sites.yaml"],
    ...["--runbooks-dir", badRunbooks, "--out", join(bad, "out")],
  ]);
  assert.equal(badRunbook.code, 2);
  assert.match(badRunbook.stderr, /us-west\.yaml: /);
  assert.ok(!existsSync(join(bad, "out")), "nothing written on a bad runbook");
});

test("a geo-steered split evaluates to Route53 geoproximity records with coordinates; the DNS policies judge records", async () => {
  // The proposed traffic-us-west beside copies of today's stacks and inventories.
  const root = mkdtempSync(join(tmpdir(), "place-geo-"));
  cpSync(join(ROOT, "stacks"), join(root, "stacks"), { recursive: true });
  cpSync(join(ROOT, "inventory"), join(root, "inventory"), { recursive: true });
  const doc = YAML.parse(readFileSync(join(ROOT, "stacks/Pulumi.traffic-us-west.yaml"), "utf8"));
  doc.config["avfleet:traffic"].dns.routing = "geoproximity";
  doc.config["avfleet:traffic"].pools = [
    { stack: "metal-sjc", weight: 100, geo: { lat: 37.34, lon: -121.89 } },
    { stack: "gcp-us-west1", weight: 100, geo: { lat: 45.6, lon: -121.18 } },
  ];
  writeFileSync(join(root, "stacks/Pulumi.traffic-us-west.yaml"), YAML.stringify(doc));
  const [plan] = await evaluateStacks(loadStacks(join(root, "stacks"), ["traffic-us-west"]));
  const records = plan.resources.filter((r) => r.type === "aws:route53/record:Record");
  assert.deepEqual(
    records.map((r) => [
      r.inputs.setIdentifier,
      r.inputs.geoproximityRoutingPolicy,
      r.inputs.weightedRoutingPolicies,
    ]),
    [
      ["metal-sjc", { coordinates: [{ latitude: "37.34", longitude: "-121.89" }] }, undefined],
      ["gcp-us-west1", { coordinates: [{ latitude: "45.60", longitude: "-121.18" }] }, undefined],
    ],
  );
  const judge = (p: Plan, name: string) =>
    evaluatePolicies(
      p,
      POLICIES.filter((x) => x.name === name),
    ).violations.map((v) => v.message);
  assert.deepEqual(judge(plan, "traffic-weights"), [], "a geo split has no weights to sum");
  assert.deepEqual(judge(plan, "route53-latency-aws-only"), []);
  const latency = structuredClone(plan);
  for (const r of latency.resources.filter((r) => r.type === "aws:route53/record:Record")) {
    delete r.inputs.geoproximityRoutingPolicy;
    r.inputs.latencyRoutingPolicies = [{ region: "us-west-2" }];
  }
  assert.equal(judge(latency, "route53-latency-aws-only").length, 2);
  const awsLatency = structuredClone(latency);
  awsLatency.resources
    .filter((r) => r.type === "aws:route53/record:Record")
    .forEach((r, i) => (r.inputs.setIdentifier = `aws-pool-${i}`));
  assert.deepEqual(judge(awsLatency, "route53-latency-aws-only"), [], "AWS pools may use latency");
  assert.match(judge(latency, "route53-latency-aws-only")[0], /metal-sjc.*not an AWS endpoint/);
  // A Cloud DNS record set with both WRR and geolocation.
  const geoWrr = structuredClone(plan);
  geoWrr.resources.push({
    ...structuredClone(records[0]),
    type: "gcp:dns/recordSet:RecordSet",
    name: "eu-wrr",
    urn: records[0].urn
      .replace("aws:route53/record:Record", "gcp:dns/recordSet:RecordSet")
      .replace(/::[^:]+$/, "::eu-wrr"),
    inputs: {
      name: "join.eu-west.media.example.net.",
      routingPolicy: {
        wrrs: [{ weight: 100, rrdatas: ["a."] }],
        geos: [{ location: "europe-west4", rrdatas: ["b."] }],
      },
    },
  });
  const geoOnly = structuredClone(geoWrr);
  delete (geoOnly.resources[geoOnly.resources.length - 1].inputs.routingPolicy as any).wrrs;
  assert.deepEqual(judge(geoOnly, "clouddns-one-routing-policy"), []);
  assert.deepEqual(judge(geoWrr, "clouddns-one-routing-policy"), [
    "join.eu-west.media.example.net. combines wrrs and geos in one routing policy, which Cloud DNS refuses",
  ]);
});
