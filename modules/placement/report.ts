/** A placement in words: the per-site and per-metro tables, and the summary line. */
import type { Evaluation, Placement } from "../siting/evaluate";
import type { Instance } from "../siting/instance";
import type { PlacementRun } from "../siting/solve";

function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

const usd = (n: number) => `$${Math.round(n).toLocaleString("en-US")}`;

export function siteTable(instance: Instance, evaluation: Evaluation): string {
  const rows = instance.sites.map((site, s) => {
    const e = evaluation.sites[s];
    const state =
      e.hosts === 0 ? (site.spec.exists ? "close" : "-") : site.spec.exists ? "keep" : "OPEN";
    return [
      site.name,
      site.spec.provider,
      state,
      String(e.load),
      String(e.sizedLoad),
      `${e.hosts}/${site.maxHosts}`,
      e.hosts ? usd(e.monthlyUsd) : "",
    ];
  });
  return table(
    ["site", "provider", "action", "sessions", "sized for", "hosts/max", "$/month"],
    rows,
  );
}

export function metroTable(instance: Instance, placement: Placement): string {
  const rows = instance.metros.map((m, i) => {
    const p = placement.primary[i];
    const f = placement.fallback?.[i];
    const rtt = instance.rtt[i][p];
    return [
      m.name,
      String(m.peakSessions),
      instance.sites[p].name,
      `${rtt.toFixed(0)}${rtt > instance.budgetMs ? "!" : ""}`,
      f === undefined ? "" : instance.sites[f].name,
      f === undefined ? "" : instance.rtt[i][f].toFixed(0),
    ];
  });
  return table(["metro", "sessions", "primary", "rtt ms", "fallback", "rtt ms"], rows);
}

export function summaryLine(instance: Instance, run: PlacementRun): string {
  const e = run.solution!.evaluation;
  const open = e.sites.filter((s) => s.hosts > 0).length;
  const gap =
    run.gapBoundPct === undefined
      ? "gap unknown"
      : run.solver === "exact"
        ? `optimal within ${Number(run.gapBoundPct.toPrecision(2))}%`
        : `within ${run.gapBoundPct.toFixed(1)}% of a lower bound`;
  const loss =
    e.lossP95Ms === undefined
      ? ""
      : `; with ${instance.sites[e.worstLoss!].name} lost p95 ${e.lossP95Ms.toFixed(1)} ms (bound ${instance.lossBudgetMs} ms)`;
  return `place: ${run.solver} solver (${gap}) in ${run.seconds.toFixed(2)} s: ${open} sites, ${e.sites.reduce((n, s) => n + s.hosts, 0)} hosts, ${usd(e.monthlyUsd)}/month, weighted p95 ${e.p95Ms.toFixed(1)} ms (budget ${instance.budgetMs} ms)${loss}`;
}
