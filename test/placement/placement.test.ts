import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { loadStacks } from "../../modules/stacks/stack";
import { evaluateStacks } from "../../modules/plan/evaluate";
import type { Plan } from "../../modules/plan/plan";
import { evaluate } from "../../modules/placement/evaluate";
import { solveExact } from "../../modules/placement/exact";
import { lowerBoundUsd, solveHeuristic } from "../../modules/placement/heuristic";
import {
  loadDemand,
  loadRttFiles,
  loadSites,
  SHIPPED_RTT_FILES,
} from "../../modules/placement/load";
import { randomInstance } from "../../modules/placement/random";
import { fitRttModel } from "../../modules/placement/rtt";
import { POLICIES } from "../../modules/policy";
import { evaluatePolicies } from "../../modules/policy/runner";
import { avfleet, ROOT } from "../support/cli";
import { problemsLoading } from "../support/problems";

const model = fitRttModel(loadRttFiles(SHIPPED_RTT_FILES));

test("bad placement inputs are refused with the key path and what was expected", () => {
  const demand = (metros: string) => `metros:\n${metros}`;
  assert.deepEqual(
    problemsLoading(
      loadDemand,
      "demand.yaml",
      demand(
        "  - { name: a, lat: 95, lon: 0, peakSessions: 10, timeZone: UTC }\n  - { name: a, lat: 1, lon: 0, peakSessions: 1.5, timeZone: UTC }\n",
      ),
    ),
    [
      "metros[0].lat: is 95, expected a latitude in degrees (−90…90), ≤ 90",
      "metros[1].peakSessions: is number 1.5, expected peak concurrent sessions from this metro (an integer)",
    ],
  );
  assert.deepEqual(
    problemsLoading(
      loadSites,
      "sites.yaml",
      "sites:\n  - { name: x, provider: gcp, lat: 1, lon: 1, stack: gcp-x, mediaRegion: r, exists: false, machineType: c9-huge, maxHosts: 2, minHosts: 3 }\n",
    ),
    [
      'sites[0].machineType: is "c9-huge", not a gcp type of the capacity table, expected one of c2d-highcpu-32, c2d-highcpu-56, n2-highcpu-32, n2d-highcpu-16, c3-highcpu-44, e2-standard-4',
      "sites[0].minHosts: is 3, more than maxHosts 2, expected minHosts ≤ maxHosts",
      "sites[0].newStack: is missing, expected for a site that does not exist yet, {template, config} to write its stack from",
      "sites[0].region: is missing, expected the gcp region",
    ],
  );
});

test("the heuristic never beats the exact optimum and never breaks the budget; both meet capacity", async () => {
  for (const seed of [3, 5, 7]) {
    const instance = randomInstance(seed, { metros: 14, sites: 8 }, model);
    const exact = await solveExact(instance, { survive: false });
    assert.equal(exact.status, "Optimal", `seed ${seed}`);
    const heuristic = solveHeuristic(instance, { survive: false })!;
    const [e, h] = [exact.solution!.evaluation, heuristic.evaluation];
    for (const x of [e, h]) {
      assert.ok(x.feasible, x.reasons.join("; "));
      assert.ok(x.p95Ms <= instance.budgetMs);
      x.sites.forEach((s, i) => assert.ok(s.hosts <= instance.sites[i].maxHosts));
    }
    assert.ok(h.monthlyUsd >= e.monthlyUsd - 1e-6, `seed ${seed}: heuristic below the optimum`);
    assert.ok(
      lowerBoundUsd(instance) <= e.monthlyUsd + 1e-6,
      `seed ${seed}: bound above the optimum`,
    );
    // The exact answer re-evaluated from its assignment alone costs what the solver says.
    assert.equal(evaluate(instance, exact.solution!.placement).monthlyUsd, e.monthlyUsd);
  }
});

test("with site-loss survival every metro has another site, and any one loss stays within capacity and the relaxed bound", async () => {
  const instance = randomInstance(3, { metros: 10, sites: 6 }, model, { lossBudgetMs: 75 });
  const plain = await solveExact(instance, { survive: false });
  const survive = await solveExact(instance, { survive: true });
  assert.equal(survive.status, "Optimal");
  const { placement, evaluation } = survive.solution!;
  assert.ok(evaluation.feasible, evaluation.reasons.join("; "));
  placement.fallback!.forEach((f, i) => assert.notEqual(f, placement.primary[i]));
  assert.ok(evaluation.lossP95Ms! <= 75);
  // Survival costs more: each site is sized for the worst loss of another.
  assert.ok(evaluation.monthlyUsd > plain.solution!.evaluation.monthlyUsd);
  for (let lost = 0; lost < instance.sites.length; lost++) {
    const extra = instance.sites.map(() => 0);
    instance.metros.forEach((m, i) => {
      if (placement.primary[i] === lost) extra[placement.fallback![i]] += m.peakSessions;
    });
    evaluation.sites.forEach((s, t) => {
      if (t !== lost) assert.ok(s.sizedLoad >= s.load + extra[t], `site ${t} with ${lost} lost`);
    });
  }
  const heuristic = solveHeuristic(instance, { survive: true });
  assert.ok(heuristic && heuristic.evaluation.feasible);
  assert.ok(heuristic.evaluation.monthlyUsd >= evaluation.monthlyUsd - 1e-6);
});

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
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.solver, "exact");
  assert.equal(report.status, "optimal");
  assert.ok(report.p95Ms <= 50);
  assert.ok(
    report.metros.every((m: { rttMs: number }) => m.rttMs <= 100),
    "no metro over the 2× cap",
  );
  const opened = report.sites.filter((s: any) => !s.exists && s.hosts > 0).map((s: any) => s.stack);
  assert.ok(opened.length > 0, "the example opens an edge site");
  for (const stack of opened) {
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
