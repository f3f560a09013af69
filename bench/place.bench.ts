/**
 * Placement solvers on random instances: the heuristic against the exact optimum (HiGHS) on
 * instances of ≤ 12 candidate sites, then the heuristic alone on a 300-metro × 60-site one.
 * Prints per instance the costs, the gap and the times; the last line is the summary.
 */
import { solveExact } from "../modules/siting/exact";
import { solveHeuristic } from "../modules/siting/heuristic";
import { loadRttFiles, SHIPPED_RTT_FILES } from "../modules/latency/load";
import { randomInstance } from "../modules/siting/random";
import { fitRttModel } from "../modules/latency/rtt";

const INSTANCES = 20;

async function main() {
  const model = fitRttModel(loadRttFiles(SHIPPED_RTT_FILES));
  const gaps: number[] = [];
  let violations = 0;
  console.log("seed  metros sites  exact $/month  heuristic $/month  gap %  exact s  heuristic s");
  for (let seed = 1; gaps.length < INSTANCES; seed++) {
    const size = { metros: 20, sites: 10 + (seed % 3) };
    const instance = randomInstance(seed, size, model);
    let t = performance.now();
    const exact = await solveExact(instance, { survive: false, timeLimitSec: 60 });
    const exactSeconds = (performance.now() - t) / 1000;
    // A random instance no placement can serve within the budget says nothing about the gap.
    if (exact.status !== "Optimal" || !exact.solution) {
      console.log(
        `${String(seed).padStart(4)}  ${size.metros} ${size.sites}  (exact: ${exact.status}; skipped)`,
      );
      continue;
    }
    t = performance.now();
    const heuristic = solveHeuristic(instance, { survive: false });
    const heuristicSeconds = (performance.now() - t) / 1000;
    const e = exact.solution.evaluation;
    const h = heuristic?.evaluation;
    // No answer, or an answer over the budget, is a violation: the heuristic must never break it.
    if (!h || !h.feasible || h.p95Ms > instance.budgetMs) violations++;
    const gap = h ? (h.monthlyUsd / e.monthlyUsd - 1) * 100 : Infinity;
    gaps.push(gap);
    console.log(
      `${String(seed).padStart(4)}  ${String(size.metros).padStart(6)} ${String(size.sites).padStart(5)}  ${e.monthlyUsd.toFixed(0).padStart(13)}  ${(h?.monthlyUsd.toFixed(0) ?? "none").padStart(17)}  ${gap.toFixed(2).padStart(5)}  ${exactSeconds.toFixed(2).padStart(7)}  ${heuristicSeconds.toFixed(2).padStart(11)}`,
    );
  }
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
  const big = randomInstance(424242, { metros: 300, sites: 60 }, model);
  const t = performance.now();
  const solution = solveHeuristic(big, { survive: false });
  const bigSeconds = (performance.now() - t) / 1000;
  if (!solution || !solution.evaluation.feasible) violations++;
  console.log(
    `big: 300 metros × 60 sites: ${solution ? `$${solution.evaluation.monthlyUsd.toFixed(0)}/month, ${solution.evaluation.sites.filter((s) => s.hosts > 0).length} sites open, p95 ${solution.evaluation.p95Ms.toFixed(1)} ms` : "no placement"} in ${bigSeconds.toFixed(2)} s`,
  );
  console.log(
    `place: instances=${gaps.length} median_gap_pct=${median.toFixed(2)} max_gap_pct=${Math.max(...gaps).toFixed(2)} budget_violations=${violations} big_seconds=${bigSeconds.toFixed(2)}`,
  );
}

main();
