import { test } from "node:test";
import assert from "node:assert/strict";
import { loadRttFiles, SHIPPED_RTT_FILES } from "../../modules/latency/load";
import { fitRttModel } from "../../modules/latency/rtt";
import { evaluate } from "../../modules/siting/evaluate";
import { solveExact } from "../../modules/siting/exact";
import { lowerBoundUsd, solveHeuristic } from "../../modules/siting/heuristic";
import { loadDemand, loadSites } from "../../modules/siting/load";
import { randomInstance } from "../../modules/siting/random";
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
