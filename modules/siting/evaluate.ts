/**
 * What a placement costs and how it serves: hosts per site (the capacity module's sizing,
 * N+1 over the site's failure domains), monthly cost, weighted p95 RTT — normally and, with
 * fallbacks, with each site lost in turn. The one cost function every solver is judged by.
 */
import { hostsRequired } from "../capacity/capacity";
import type { Instance, Site } from "./instance";

/** The share of sessions that may be over the budget for the weighted p95 to stay within it. */
export const P95_TAIL = 0.05;

export interface Placement {
  /** Site index each metro's clients join normally. */
  primary: number[];
  /** Site index each metro fails over to when its primary is lost (site-loss survival). */
  fallback?: number[];
}

export interface Evaluation {
  feasible: boolean;
  /** Why not, when infeasible. */
  reasons: string[];
  monthlyUsd: number;
  /** Per site: sessions carried normally, sessions to size for (worst single-site loss), hosts, $/month. */
  sites: { load: number; sizedLoad: number; hosts: number; monthlyUsd: number }[];
  p95Ms: number;
  /** Worst weighted p95 over the single-site losses (site-loss survival only). */
  lossP95Ms?: number;
  /** The site whose loss gives lossP95Ms. */
  worstLoss?: number;
}

/** Hosts an open site runs for a load: the capacity module's N+1 sizing, at least minHosts. */
export function siteHosts(site: Site, load: number, instance: Instance): number {
  const required = hostsRequired(
    {
      peakParticipants: load,
      streamsPerParticipant: instance.session.streamsPerSession,
      avgStreamKbps: instance.session.avgStreamKbps,
      headroom: instance.session.headroom,
      peakToAverage: instance.session.peakToAverage,
    },
    { streamsPerHost: site.streamsPerHost, egressGbps: site.egressGbpsPerHost },
    site.domains,
  );
  return Math.max(site.minHosts, required);
}

export function siteMonthlyUsd(site: Site, hosts: number, load: number): number {
  return (
    site.fixedMonthlyUsd + hosts * site.hostMonthlyUsd + load * site.egressMonthlyUsdPerSession
  );
}

/** The session-weighted p95 of per-metro RTTs. */
export function weightedP95(rtts: number[], weights: number[]): number {
  const order = rtts.map((_, i) => i).sort((a, b) => rtts[a] - rtts[b]);
  const total = weights.reduce((s, w) => s + w, 0);
  let seen = 0;
  for (const i of order) {
    seen += weights[i];
    if (seen >= (1 - P95_TAIL) * total - 1e-9) return rtts[i];
  }
  return order.length ? rtts[order[order.length - 1]] : 0;
}

export function evaluate(instance: Instance, placement: Placement): Evaluation {
  const { metros, sites, rtt } = instance;
  const reasons: string[] = [];
  const load = sites.map(() => 0);
  const weights = metros.map((m) => m.peakSessions);
  metros.forEach((m, i) => (load[placement.primary[i]] += m.peakSessions));
  const sizedLoad = [...load];
  let lossP95Ms: number | undefined;
  let worstLoss: number | undefined;
  const { fallback } = placement;
  if (fallback) {
    const open = sites.map((_, s) => load[s] > 0);
    for (let lost = 0; lost < sites.length; lost++) {
      if (!open[lost]) continue;
      const moved = sites.map(() => 0);
      const rtts = metros.map((m, i) => {
        if (placement.primary[i] !== lost) return rtt[i][placement.primary[i]];
        moved[fallback[i]] += m.peakSessions;
        return rtt[i][fallback[i]];
      });
      moved.forEach((n, s) => (sizedLoad[s] = Math.max(sizedLoad[s], load[s] + n)));
      const p95 = weightedP95(rtts, weights);
      if (lossP95Ms === undefined || p95 > lossP95Ms) [lossP95Ms, worstLoss] = [p95, lost];
    }
    metros.forEach((m, i) => {
      if (fallback[i] === placement.primary[i]) reasons.push(`${m.name}: fallback is its primary`);
    });
  }
  const perSite = sites.map((site, s) => {
    if (sizedLoad[s] === 0) return { load: 0, sizedLoad: 0, hosts: 0, monthlyUsd: 0 };
    const hosts = siteHosts(site, sizedLoad[s], instance);
    if (hosts > site.maxHosts)
      reasons.push(`${site.name}: needs ${hosts} hosts, max ${site.maxHosts}`);
    return {
      load: load[s],
      sizedLoad: sizedLoad[s],
      hosts,
      monthlyUsd: siteMonthlyUsd(site, hosts, load[s]),
    };
  });
  const p95Ms = weightedP95(
    metros.map((_, i) => rtt[i][placement.primary[i]]),
    weights,
  );
  metros.forEach((m, i) => {
    const r = rtt[i][placement.primary[i]];
    if (r > instance.maxMs)
      reasons.push(`${m.name}: ${r.toFixed(0)} ms to its site, over the ${instance.maxMs} ms cap`);
    const f = placement.fallback?.[i];
    if (f !== undefined && rtt[i][f] > instance.maxMs) {
      reasons.push(
        `${m.name}: ${rtt[i][f].toFixed(0)} ms to its fallback, over the ${instance.maxMs} ms cap`,
      );
    }
  });
  if (p95Ms > instance.budgetMs + 1e-9) {
    reasons.push(`weighted p95 ${p95Ms.toFixed(1)} ms over the ${instance.budgetMs} ms budget`);
  }
  if (lossP95Ms !== undefined && lossP95Ms > instance.lossBudgetMs! + 1e-9) {
    reasons.push(
      `weighted p95 ${lossP95Ms.toFixed(1)} ms with ${sites[worstLoss!].name} lost, over ${instance.lossBudgetMs} ms`,
    );
  }
  return {
    feasible: reasons.length === 0,
    reasons,
    monthlyUsd: perSite.reduce((s, p) => s + p.monthlyUsd, 0),
    sites: perSite,
    p95Ms,
    lossP95Ms,
    worstLoss,
  };
}
