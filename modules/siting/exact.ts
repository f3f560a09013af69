/**
 * The exact solver for small instances: the placement as a mixed-integer program, solved by
 * HiGHS (compiled to WebAssembly, the `highs` npm package). Open sites y, assignments x (or,
 * with site-loss survival, primary+fallback pairs w), hosts h and per-domain spares k, with
 * the capacity module's N+1 rule written linearly: h − k ≥ load × hosts/session, k ≥ h / domains.
 */
import loadHighs from "highs";
import { evaluate, P95_TAIL, type Placement } from "./evaluate";
import type { Solution } from "./heuristic";
import type { Instance } from "./instance";

let highs: ReturnType<typeof loadHighs> | undefined;

const num = (v: number) => {
  const text = Number(v.toPrecision(12)).toString();
  return text.includes("e") ? v.toFixed(12) : text;
};

/** Terms `c name`, a few per line: the LP reader has no line limit we want to find. */
function sum(terms: [number, string][]): string {
  const parts = terms
    .filter(([c]) => c !== 0)
    .map(([c, v], i) => `${c < 0 ? "-" : i === 0 ? "" : "+"} ${num(Math.abs(c))} ${v}`);
  const lines: string[] = [];
  for (let i = 0; i < parts.length; i += 8) lines.push(parts.slice(i, i + 8).join(" "));
  return lines.join("\n  ") || "0 y0";
}

export interface ExactResult {
  solution?: Solution;
  /** HiGHS's model status: `Optimal` means proved within its relative gap. */
  status: string;
  /** HiGHS's relative MIP gap tolerance used. */
  relativeGap: number;
}

export const EXACT_RELATIVE_GAP = 1e-6;

export async function solveExact(
  instance: Instance,
  options: { survive: boolean; timeLimitSec?: number },
): Promise<ExactResult> {
  const { metros, sites, rtt, budgetMs } = instance;
  const S = sites.length;
  const objective: [number, string][] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  const generals: string[] = [];
  const bounds: string[] = [];
  const tail = P95_TAIL * instance.totalSessions;
  // pairs[i]: (variable, primary site, fallback site or -1) for metro i.
  const pairs: { v: string; s: number; t: number }[][] = metros.map((_, i) => {
    const list: { v: string; s: number; t: number }[] = [];
    for (let s = 0; s < S; s++) {
      if (rtt[i][s] > instance.maxMs) continue;
      if (!options.survive) list.push({ v: `x${i}_${s}`, s, t: -1 });
      else
        for (let t = 0; t < S; t++)
          if (t !== s && rtt[i][t] <= instance.maxMs) list.push({ v: `w${i}_${s}_${t}`, s, t });
    }
    return list;
  });
  sites.forEach((site, s) => {
    objective.push([site.fixedMonthlyUsd, `y${s}`], [site.hostMonthlyUsd, `h${s}`]);
    binaries.push(`y${s}`);
    generals.push(`h${s}`, `k${s}`);
    bounds.push(`0 <= h${s} <= ${site.maxHosts}`, `0 <= k${s} <= ${site.maxHosts}`);
    rows.push(
      `min${s}: ${sum([
        [1, `h${s}`],
        [-site.minHosts, `y${s}`],
      ])} >= 0`,
    );
    rows.push(
      `max${s}: ${sum([
        [1, `h${s}`],
        [-site.maxHosts, `y${s}`],
      ])} <= 0`,
    );
    rows.push(
      site.domains >= 2
        ? `dom${s}: ${sum([
            [site.domains, `k${s}`],
            [-1, `h${s}`],
          ])} >= 0`
        : `dom${s}: ${sum([
            [1, `k${s}`],
            [-1, `y${s}`],
          ])} = 0`,
    );
  });
  metros.forEach((m, i) => {
    const d = m.peakSessions;
    for (const p of pairs[i]) {
      objective.push([d * sites[p.s].egressMonthlyUsdPerSession, p.v]);
      binaries.push(p.v);
    }
    rows.push(`one${i}: ${sum(pairs[i].map((p) => [1, p.v]))} = 1`);
    for (let s = 0; s < S; s++) {
      const asPrimary = pairs[i].filter((p) => p.s === s).map((p): [number, string] => [1, p.v]);
      rows.push(`open${i}_${s}: ${sum([...asPrimary, [-1, `y${s}`]])} <= 0`);
      if (options.survive) {
        const asFallback = pairs[i].filter((p) => p.t === s).map((p): [number, string] => [1, p.v]);
        rows.push(`fbopen${i}_${s}: ${sum([...asFallback, [-1, `y${s}`]])} <= 0`);
      }
    }
  });
  // Capacity: normally, and with each other site lost (its metros on their fallbacks).
  for (let t = 0; t < S; t++) {
    const a = sites[t].hostsPerSession;
    const normal: [number, string][] = metros.flatMap((m, i) =>
      pairs[i].filter((p) => p.s === t).map((p): [number, string] => [-a * m.peakSessions, p.v]),
    );
    rows.push(`cap${t}: ${sum([[1, `h${t}`], [-1, `k${t}`], ...normal])} >= 0`);
    if (!options.survive) continue;
    for (let s = 0; s < S; s++) {
      if (s === t) continue;
      const moved: [number, string][] = metros.flatMap((m, i) =>
        pairs[i]
          .filter((p) => p.s === s && p.t === t)
          .map((p): [number, string] => [-a * m.peakSessions, p.v]),
      );
      rows.push(
        `cap${t}_lost${s}: ${sum([[1, `h${t}`], [-1, `k${t}`], ...normal, ...moved])} >= 0`,
      );
    }
  }
  // Weighted p95 within the budget: at most the tail's sessions above it.
  const over: [number, string][] = metros.flatMap((m, i) =>
    pairs[i]
      .filter((p) => rtt[i][p.s] > budgetMs)
      .map((p): [number, string] => [m.peakSessions, p.v]),
  );
  rows.push(`p95: ${sum(over)} <= ${num(tail)}`);
  if (options.survive) {
    const bound = instance.lossBudgetMs!;
    for (let s = 0; s < S; s++) {
      const terms: [number, string][] = metros.flatMap((m, i) =>
        pairs[i]
          .filter((p) => rtt[i][p.s === s ? p.t : p.s] > bound)
          .map((p): [number, string] => [m.peakSessions, p.v]),
      );
      rows.push(`p95lost${s}: ${sum(terms)} <= ${num(tail)}`);
    }
  }
  const lp = [
    "Minimize",
    ` cost: ${sum(objective)}`,
    "Subject To",
    ...rows.map((r) => ` ${r}`),
    "Bounds",
    ...bounds.map((b) => ` ${b}`),
    "Binary",
    ` ${binaries.join(" ")}`,
    "General",
    ` ${generals.join(" ")}`,
    "End",
  ].join("\n");
  highs ??= loadHighs();
  const result = (await highs).solve(lp, {
    output_flag: false,
    mip_rel_gap: EXACT_RELATIVE_GAP,
    time_limit: options.timeLimitSec ?? 120,
  } as Parameters<Awaited<ReturnType<typeof loadHighs>>["solve"]>[1]);
  const status = result.Status;
  if (status !== "Optimal" && status !== "Time limit reached") {
    return { status, relativeGap: EXACT_RELATIVE_GAP };
  }
  const chosen = (v: string) => (result.Columns[v]?.Primal ?? 0) > 0.5;
  const primary: number[] = [];
  const fallback: number[] = [];
  for (let i = 0; i < metros.length; i++) {
    const p = pairs[i].find((q) => chosen(q.v));
    if (!p) return { status: `${status} (no solution)`, relativeGap: EXACT_RELATIVE_GAP };
    primary.push(p.s);
    fallback.push(p.t);
  }
  const placement: Placement = options.survive ? { primary, fallback } : { primary };
  return {
    solution: { placement, evaluation: evaluate(instance, placement) },
    status,
    relativeGap: EXACT_RELATIVE_GAP,
  };
}
