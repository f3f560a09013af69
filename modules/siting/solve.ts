/**
 * Which solver runs, and what it proves: the exact MILP on small instances (optimal within
 * HiGHS's relative gap), the heuristic on large ones (a gap bound against a lower bound).
 */
import { EXACT_RELATIVE_GAP, solveExact } from "./exact";
import { lowerBoundUsd, solveHeuristic, type Solution } from "./heuristic";
import type { Instance } from "./instance";

/** The exact solver takes instances up to this many sites and assignment variables. */
export const EXACT_MAX_SITES = 12;
export const EXACT_MAX_VARIABLES = 6000;

export interface PlacementRun {
  solver: "exact" | "heuristic";
  /** What the solver reports: `optimal`, `time limit`, `heuristic`, or why there is no answer. */
  status: string;
  /** Proven bound on how far the answer's cost can be above the optimum, in percent. */
  gapBoundPct?: number;
  solution?: Solution;
  seconds: number;
}

export function exactFits(instance: Instance, survive: boolean): boolean {
  const S = instance.sites.length;
  const variables = instance.metros.length * S * (survive ? S - 1 : 1);
  return S <= EXACT_MAX_SITES && variables <= EXACT_MAX_VARIABLES;
}

export async function place(
  instance: Instance,
  options: { survive: boolean; solver?: "exact" | "heuristic" | "auto" },
): Promise<PlacementRun> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const useExact =
    options.solver === "exact" ||
    (options.solver !== "heuristic" && exactFits(instance, options.survive));
  if (useExact) {
    const exact = await solveExact(instance, { survive: options.survive, timeLimitSec: 120 });
    if (exact.status === "Optimal") {
      return {
        solver: "exact",
        status: "optimal",
        gapBoundPct: exact.solution ? EXACT_RELATIVE_GAP * 100 : undefined,
        solution: exact.solution,
        seconds: seconds(),
      };
    }
    if (exact.status === "Infeasible") {
      return { solver: "exact", status: "infeasible", seconds: seconds() };
    }
  }
  const solution = solveHeuristic(instance, { survive: options.survive });
  const bound = lowerBoundUsd(instance);
  return {
    solver: "heuristic",
    status: solution ? "heuristic" : "no feasible placement found",
    gapBoundPct:
      solution && bound > 0 ? (solution.evaluation.monthlyUsd / bound - 1) * 100 : undefined,
    solution,
    seconds: seconds(),
  };
}
