/**
 * The price of not cutting calls: ours replayed at several points — how many calls a scale-in
 * may cut per host at the drain limit, and longer drain limits — each giving host-hours against
 * calls cut. The team picks its point from the curve (plot.ts frontierSvg).
 */
import { OURS_MAX_CUT_PER_HOST, oursWith } from "./policies";
import { replay, type ReplayPool } from "./replay";

export interface FrontierPoint {
  /** Calls a scale-in may leave per host at the drain limit (Infinity: any). */
  maxCutPerHost: number;
  drainLimitMin: number;
  hostHours: number;
  /** Calls cut at the drain limit, and before it, as % of calls started. */
  cutAtLimitPct: number;
  cutEarlyPct: number;
  /** The point ours runs at. */
  chosen: boolean;
}

/**
 * The points replayed: per-host cut budgets at the pool's own drain limit, then no budget at
 * that limit and at each longer one up to the longest drainSeconds the platform takes (two days
 * on GCP, 47 h 58 min on AWS, modules/config: #28), so the team sees what a longer drain buys.
 */
export const FRONTIER_BUDGETS = [5, 15, OURS_MAX_CUT_PER_HOST, 80, Infinity];
export const LONGER_DRAIN_MIN = [120, 240, 480, 1440, 2880];

/**
 * `chosen`: the budget the pool runs at (a GCP stack's `autoscaling.maxCutPerHost`);
 * `longestMin`: the longest drain limit its platform takes.
 */
export function frontier(
  target: ReplayPool,
  warmPool: boolean,
  longestMin: number,
  chosen = OURS_MAX_CUT_PER_HOST,
): FrontierPoint[] {
  const own = target.pool.drainLimitMin;
  const budgets = [...new Set([...FRONTIER_BUDGETS, chosen])].sort((a, b) => a - b);
  const settings = [
    ...budgets.map((budget) => ({ budget, limit: own })),
    ...LONGER_DRAIN_MIN.filter((limit) => limit > own && limit <= longestMin).map((limit) => ({
      budget: Infinity,
      limit,
    })),
  ];
  return settings.map(({ budget, limit }) => {
    const r = replay(
      { ...target, pool: { ...target.pool, drainLimitMin: limit } },
      oursWith(budget),
      { warmPool },
    );
    const calls = Math.max(1, r.totals.calls);
    return {
      maxCutPerHost: budget,
      drainLimitMin: limit,
      hostHours: r.hostHours,
      cutAtLimitPct: (100 * r.totals.callsCutAtLimit) / calls,
      cutEarlyPct: (100 * r.totals.callsCut) / calls,
      chosen: budget === chosen && limit === own,
    };
  });
}
