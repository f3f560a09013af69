/**
 * Region-wide capacity (#27 finding 7): once the shift ends, the target carries the whole
 * media region, so a scale step's floor must cover what the target stack needs for its demand.
 * The figure is `avfleet preview`'s "N hosts needed with N+1" (modules/capacity hostsRequired,
 * through fleetEconomics), so plan and preview cannot disagree.
 */
import { fleetEconomics, type Economics } from "../capacity/capacity";
import type { FleetSpec } from "../config/fleet.schema";
import { loadStackFile, stackFileName } from "../stacks/stack";
import type { Runbook } from "./runbook.schema";
import type { Weights } from "./weights";

export interface ScaleShortfall {
  /** Index of the scale step in the runbook's steps. */
  step: number;
  /** Key path in the runbook: `steps[1].minHosts`. */
  key: string;
  stack: string;
  asked: number;
  needed: number;
}

/**
 * A pool stack's fleet and its capacity and cost, as preview computes them; undefined for a
 * stack that does not load or is no fleet (`avfleet preview`'s to report, not the runbook's).
 * `share` (0–1): the part of the region's peak the pool carries, 1 once a move is done.
 */
export function poolEconomics(
  stacksDir: string,
  stack: string,
  share = 1,
): { fleet: FleetSpec; economics: Economics } | undefined {
  try {
    const file = loadStackFile(stackFileName(stacksDir, stack));
    if (!file.fleet) return undefined;
    const { demand } = file.fleet;
    const carried = { ...demand, peakParticipants: demand.peakParticipants * share };
    return {
      fleet: file.fleet,
      economics: fleetEconomics({ ...file.fleet, demand: carried }, file.inventory),
    };
  } catch {
    return undefined;
  }
}

/** A floor raised before a weight change (#28): a pool and the hosts its new share needs. */
export interface Floor {
  stack: string;
  /** Weight the pool goes to, of 100. */
  weight: number;
  minHosts: number;
}

/**
 * The floors a weight change needs before it moves joins: each cloud pool whose weight rises
 * gets the hosts its new share of the region's peak needs, headroom and N+1 included — the
 * figure a scale step is held to, for the share instead of the whole. A bare-metal site's hosts
 * are its inventory (it has no minHosts), and a stack that does not load has no figure: neither
 * gets a floor.
 */
export function receivingFloors(stacksDir: string, from: Weights, to: Weights): Floor[] {
  return Object.keys(to).flatMap((stack) => {
    if ((to[stack] ?? 0) <= (from[stack] ?? 0)) return [];
    const pool = poolEconomics(stacksDir, stack, to[stack] / 100);
    if (!pool || pool.fleet.kind === "metal") return [];
    // Never past maxHosts, which the stack's own check refuses (capacity-covers-demand says why).
    const minHosts = Math.min(pool.economics.capacity.hostsRequired, pool.fleet.maxHosts);
    return minHosts > 0 ? [{ stack, weight: to[stack], minHosts }] : [];
  });
}

/** Every scale step whose minHosts is below the hosts the target needs. */
export function scaleShortfalls(runbook: Runbook, stacksDir: string): ScaleShortfall[] {
  const target = poolEconomics(stacksDir, runbook.target);
  if (!target) return [];
  const needed = target.economics.capacity.hostsRequired;
  return runbook.steps.flatMap((step, i) =>
    step.kind === "scale" && step.minHosts < needed
      ? [
          {
            step: i,
            key: `steps[${i}].minHosts`,
            stack: runbook.target,
            asked: step.minHosts,
            needed,
          },
        ]
      : [],
  );
}

/** One line per shortfall: file, key, hosts asked against hosts needed, and the fix. */
export function shortfallLine(file: string, s: ScaleShortfall): string {
  return (
    `${file}: ${s.key}: scales ${s.stack} to ${s.asked} hosts, but its demand needs ${s.needed} ` +
    `(avfleet preview ${s.stack}: hosts needed with N+1), expected minHosts ≥ ${s.needed}`
  );
}
