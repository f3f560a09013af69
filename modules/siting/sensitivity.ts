/**
 * How much the placement leans on its RTTs: the same instance solved again with every RTT
 * scaled (±20 % by default) and the budget unchanged, compared with the chosen placement —
 * which sites open or close, which metros move, what it costs, or that nothing fits.
 */
import type { Instance } from "./instance";
import { place, type PlacementRun } from "./solve";

export interface SensitivityCase {
  /** Every RTT multiplied by this. */
  scale: number;
  solver: PlacementRun["solver"];
  status: string;
  monthlyUsd?: number;
  p95Ms?: number;
  /** Sites with hosts here but not in the chosen placement, and the other way round. */
  opened: string[];
  closed: string[];
  /** Metros whose primary site changes. */
  moved: { metro: string; from: string; to: string }[];
}

function openSites(instance: Instance, run: PlacementRun): Set<string> {
  const sites = run.solution?.evaluation.sites ?? [];
  return new Set(instance.sites.filter((_, s) => sites[s]?.hosts > 0).map((site) => site.name));
}

export function scaledInstance(instance: Instance, scale: number): Instance {
  return { ...instance, rtt: instance.rtt.map((row) => row.map((ms) => ms * scale)) };
}

export async function rttSensitivity(
  instance: Instance,
  chosen: PlacementRun,
  options: { survive: boolean; solver: "exact" | "heuristic" | "auto"; scales: number[] },
): Promise<SensitivityCase[]> {
  const base = openSites(instance, chosen);
  const primary = chosen.solution!.placement.primary;
  const cases: SensitivityCase[] = [];
  // One after the other: the exact solver's WebAssembly instance is not shared between runs.
  for (const scale of options.scales) {
    const run = await place(scaledInstance(instance, scale), options);
    const open = openSites(instance, run);
    const moved = run.solution
      ? instance.metros.flatMap((m, i) => {
          const to = run.solution!.placement.primary[i];
          return to === primary[i]
            ? []
            : [
                {
                  metro: m.name,
                  from: instance.sites[primary[i]].name,
                  to: instance.sites[to].name,
                },
              ];
        })
      : [];
    cases.push({
      scale,
      solver: run.solver,
      status: run.status,
      monthlyUsd: run.solution?.evaluation.monthlyUsd,
      p95Ms: run.solution?.evaluation.p95Ms,
      opened: [...open].filter((s) => !base.has(s)),
      closed: [...base].filter((s) => !open.has(s)),
      moved,
    });
  }
  return cases;
}

/** One line per case for the command's human output. */
export function sensitivityLines(cases: SensitivityCase[], chosenUsd: number): string[] {
  return cases.map((c) => {
    const pct = `${c.scale >= 1 ? "+" : "−"}${Math.round(Math.abs(c.scale - 1) * 100)} %`;
    if (c.monthlyUsd === undefined)
      return `RTT ${pct}: ${c.solver} solver: ${c.status}: no placement fits`;
    const sites =
      [
        c.opened.length ? `opens ${c.opened.join(", ")}` : "",
        c.closed.length ? `closes ${c.closed.join(", ")}` : "",
      ]
        .filter(Boolean)
        .join("; ") || "same sites";
    const usd = ((c.monthlyUsd / chosenUsd - 1) * 100).toFixed(1);
    return `RTT ${pct}: ${sites}; ${c.moved.length} metro${c.moved.length === 1 ? "" : "s"} move${c.moved.length ? ` (${c.moved.map((m) => `${m.metro} ${m.from}→${m.to}`).join(", ")})` : ""}; $/month ${Number(usd) >= 0 ? "+" : ""}${usd} %, weighted p95 ${c.p95Ms!.toFixed(1)} ms`;
  });
}
