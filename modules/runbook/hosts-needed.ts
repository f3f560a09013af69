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
 */
export function poolEconomics(
  stacksDir: string,
  stack: string,
): { fleet: FleetSpec; economics: Economics } | undefined {
  try {
    const file = loadStackFile(stackFileName(stacksDir, stack));
    if (!file.fleet) return undefined;
    return { fleet: file.fleet, economics: fleetEconomics(file.fleet, file.inventory) };
  } catch {
    return undefined;
  }
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
