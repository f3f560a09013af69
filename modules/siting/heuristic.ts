/**
 * The heuristic for large instances: start with every site open, close sites greedily while
 * the cost falls, then local search (add, drop, swap a site; move a metro) — every candidate
 * judged by the same evaluate() the exact solver's answer is.
 */
import {
  evaluate,
  P95_TAIL,
  siteHosts,
  siteMonthlyUsd,
  type Evaluation,
  type Placement,
} from "./evaluate";
import type { Instance } from "./instance";
import { rng } from "../world/demand";
import { greatCircleKm } from "../latency/geo";

/** $ a month one more peak session costs at a site: hosts with the domain spare, and egress. */
export function marginalUsdPerSession(instance: Instance): number[] {
  return instance.sites.map((s) => {
    const spare = s.domains >= 2 ? s.domains / (s.domains - 1) : 1;
    return s.hostMonthlyUsd * s.hostsPerSession * spare + s.egressMonthlyUsdPerSession;
  });
}

/**
 * Each metro to its cheapest open site within the budget; the p95 tail (5 % of sessions) goes
 * to the metros that save most by leaving the budget. Undefined when the metros that no open
 * site serves within the budget are more than the tail.
 */
function tailAssign(instance: Instance, open: number[], usd: number[]): number[] | undefined {
  const { metros, rtt, budgetMs, maxMs } = instance;
  const primary = new Array<number>(metros.length);
  let unserved = false;
  let allowance = P95_TAIL * instance.totalSessions;
  const options: { metro: number; to: number; saving: number }[] = [];
  metros.forEach((m, i) => {
    let inBudget = -1;
    let any = -1;
    // No closures in this loop: it runs for every metro of every candidate open set.
    const row = rtt[i];
    for (const s of open) {
      const r = row[s];
      const c = usd[s];
      if (
        r <= budgetMs &&
        (inBudget < 0 || c < usd[inBudget] || (c === usd[inBudget] && r < row[inBudget]))
      )
        inBudget = s;
      if (r <= maxMs && (any < 0 || c < usd[any] || (c === usd[any] && r < row[any]))) any = s;
    }
    if (any < 0) {
      unserved = true;
      return;
    }
    if (inBudget < 0) {
      primary[i] = any;
      allowance -= m.peakSessions;
    } else {
      primary[i] = inBudget;
      if (usd[any] < usd[inBudget])
        options.push({ metro: i, to: any, saving: usd[inBudget] - usd[any] });
    }
  });
  if (unserved || allowance < -1e-9) return undefined;
  options.sort((a, b) => b.saving - a.saving);
  for (const o of options) {
    const d = metros[o.metro].peakSessions;
    if (d <= allowance) {
      primary[o.metro] = o.to;
      allowance -= d;
    }
  }
  return primary;
}

/** Per site: the most sessions it carries within maxHosts (hosts grow with load, so bisect). */
export function sessionCapacity(instance: Instance): number[] {
  return instance.sites.map((site) => {
    let [lo, hi] = [0, 1];
    while (siteHosts(site, hi, instance) <= site.maxHosts) [lo, hi] = [hi, hi * 2];
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (siteHosts(site, mid, instance) <= site.maxHosts) lo = mid;
      else hi = mid;
    }
    return lo;
  });
}

function cheapestWithRoom(
  open: number[],
  usd: number[],
  room: number[],
  d: number,
  withinMs: number,
  rtt: number[],
): number {
  let best = -1;
  for (const s of open) {
    if (room[s] >= d && rtt[s] <= withinMs && (best < 0 || usd[s] < usd[best])) best = s;
  }
  return best;
}

/**
 * When the cheapest assignment overfills a site: metros in order of regret (what they lose if
 * they miss their cheapest allowed site, against their second), each to its cheapest allowed
 * site with room. A metro the tail already excuses may go anywhere; one with no room left
 * within the budget joins the tail while it lasts.
 */
function capacitated(
  instance: Instance,
  open: number[],
  usd: number[],
  capacity: number[],
  cheapest: number[],
): number[] | undefined {
  const { metros, rtt, budgetMs } = instance;
  let allowance = P95_TAIL * instance.totalSessions;
  const excused = metros.map((_, i) => rtt[i][cheapest[i]] > budgetMs);
  metros.forEach((m, i) => excused[i] && (allowance -= m.peakSessions));
  const within = (i: number) => (excused[i] ? instance.maxMs : budgetMs);
  const allowed = (i: number, s: number) => rtt[i][s] <= within(i);
  const regret = metros.map((_, i) => {
    const costs = open
      .filter((s) => allowed(i, s))
      .map((s) => usd[s])
      .sort((a, b) => a - b);
    return costs.length < 2 ? Infinity : (costs[1] - costs[0]) * metros[i].peakSessions;
  });
  const order = metros.map((_, i) => i).sort((a, b) => regret[b] - regret[a]);
  const room = [...capacity];
  const primary = new Array<number>(metros.length);
  for (const i of order) {
    const d = metros[i].peakSessions;
    let best = cheapestWithRoom(open, usd, room, d, within(i), rtt[i]);
    if (best < 0 && !excused[i] && d <= allowance) {
      excused[i] = true;
      allowance -= d;
      best = cheapestWithRoom(open, usd, room, d, within(i), rtt[i]);
    }
    if (best < 0) return undefined;
    primary[i] = best;
    room[best] -= d;
  }
  return primary;
}

export function assign(
  instance: Instance,
  open: number[],
  usd: number[],
  capacity: number[],
): Placement | undefined {
  const primary = tailAssign(instance, open, usd);
  if (!primary) return undefined;
  const load = instance.sites.map(() => 0);
  instance.metros.forEach((m, i) => (load[primary[i]] += m.peakSessions));
  if (open.every((s) => load[s] <= capacity[s])) return { primary };
  const fitted = capacitated(instance, open, usd, capacity, primary);
  return fitted && { primary: fitted };
}

/**
 * Fallbacks, largest metros first: the nearest other open site that still has room for the
 * metro when its primary is lost (what already fails over there from that primary counted),
 * else the nearest.
 */
function withFallbacks(
  instance: Instance,
  open: number[],
  placement: Placement,
  capacity: number[],
): Placement {
  const { metros, rtt } = instance;
  const load = instance.sites.map(() => 0);
  metros.forEach((m, i) => (load[placement.primary[i]] += m.peakSessions));
  const moved = new Map<string, number>();
  const fallback = new Array<number>(metros.length);
  const order = metros
    .map((_, i) => i)
    .sort((a, b) => metros[b].peakSessions - metros[a].peakSessions);
  for (const i of order) {
    const p = placement.primary[i];
    const d = metros[i].peakSessions;
    const others = open
      .filter((s) => s !== p && rtt[i][s] <= instance.maxMs)
      .sort((a, b) => rtt[i][a] - rtt[i][b]);
    const fits = others.find((t) => load[t] + (moved.get(`${p}>${t}`) ?? 0) + d <= capacity[t]);
    // No fallback within the cap: evaluate() refuses the placement.
    const t = fits ?? others[0] ?? p;
    fallback[i] = t;
    moved.set(`${p}>${t}`, (moved.get(`${p}>${t}`) ?? 0) + d);
  }
  return { ...placement, fallback };
}

export interface Solution {
  placement: Placement;
  evaluation: Evaluation;
}

function solveOpenSet(
  instance: Instance,
  open: number[],
  usd: number[],
  capacity: number[],
  survive: boolean,
): Solution | undefined {
  if (open.length === 0 || (survive && open.length < 2)) return undefined;
  let placement = assign(instance, open, usd, capacity);
  if (!placement) return undefined;
  if (survive) placement = withFallbacks(instance, open, placement, capacity);
  const evaluation = evaluate(instance, placement);
  return evaluation.feasible ? { placement, evaluation } : undefined;
}

const cheaper = (a: Solution | undefined, b: Solution | undefined) =>
  a !== undefined && (b === undefined || a.evaluation.monthlyUsd < b.evaluation.monthlyUsd - 1e-6);

/**
 * Moves single metros between open sites while that lowers the cost and stays feasible. A move
 * changes two sites and the tail only, so it is priced incrementally; with fallbacks a move
 * changes every loss scenario, so it is evaluated whole, on small instances only.
 */
function polish(
  instance: Instance,
  best: Solution,
  survive: boolean,
  capacity: number[],
): Solution {
  const open = [...new Set(best.placement.primary)];
  const { metros, sites, rtt, budgetMs, maxMs } = instance;
  if (survive) {
    if (metros.length * open.length > 2000) return best;
    for (let i = 0; i < metros.length; i++) {
      for (const s of open) {
        if (s === best.placement.primary[i]) continue;
        const primary = [...best.placement.primary];
        primary[i] = s;
        const placement = withFallbacks(instance, open, { primary }, capacity);
        const candidate = { placement, evaluation: evaluate(instance, placement) };
        if (candidate.evaluation.feasible && cheaper(candidate, best)) best = candidate;
      }
    }
    return best;
  }
  const primary = [...best.placement.primary];
  const load = sites.map(() => 0);
  let over = 0;
  metros.forEach((m, i) => {
    load[primary[i]] += m.peakSessions;
    if (rtt[i][primary[i]] > budgetMs) over += m.peakSessions;
  });
  const tail = P95_TAIL * instance.totalSessions;
  const cost = (s: number, l: number) =>
    l > 0 ? siteMonthlyUsd(sites[s], siteHosts(sites[s], l, instance), l) : 0;
  const isOver = (i: number, s: number) => Number(rtt[i][s] > budgetMs);
  const chains = metros.length * open.length <= 400;
  let moved = false;
  for (let pass = 0; pass < 3; pass++) {
    let improved = false;
    for (let i = 0; i < metros.length; i++) {
      const d = metros[i].peakSessions;
      const s = primary[i];
      for (const t of open) {
        if (t === s || load[t] + d > capacity[t] || rtt[i][t] > maxMs) continue;
        const overNext = over + d * (isOver(i, t) - isOver(i, s));
        if (overNext > tail + 1e-9) continue;
        const delta =
          cost(s, load[s] - d) + cost(t, load[t] + d) - cost(s, load[s]) - cost(t, load[t]);
        if (delta < -1e-6) {
          [load[s], load[t], over, primary[i]] = [load[s] - d, load[t] + d, overNext, t];
          improved = moved = true;
          break;
        }
      }
    }
    // Chains on small instances: i moves into a full site t after j leaves t for u.
    for (let i = 0; chains && i < metros.length; i++) {
      const di = metros[i].peakSessions;
      const s = primary[i];
      for (const t of open) {
        if (t === s || load[t] + di <= capacity[t] || rtt[i][t] > maxMs) continue;
        for (let j = 0; j < metros.length; j++) {
          if (primary[j] !== t || j === i) continue;
          const dj = metros[j].peakSessions;
          if (load[t] + di - dj > capacity[t]) continue;
          for (const u of open) {
            if (u === t || rtt[j][u] > maxMs) continue;
            const next = new Map([
              [s, load[s] - di],
              [t, load[t] + di - dj],
            ]);
            next.set(u, (next.get(u) ?? load[u]) + dj);
            if ([...next].some(([site, l]) => l > capacity[site])) continue;
            const overNext =
              over + di * (isOver(i, t) - isOver(i, s)) + dj * (isOver(j, u) - isOver(j, t));
            if (overNext > tail + 1e-9) continue;
            let delta = 0;
            for (const [site, l] of next) delta += cost(site, l) - cost(site, load[site]);
            if (delta < -1e-6) {
              for (const [site, l] of next) load[site] = l;
              [over, primary[i], primary[j]] = [overNext, t, u];
              improved = moved = true;
              break;
            }
          }
          if (primary[i] !== s) break;
        }
        if (primary[i] !== s) break;
      }
    }
    // Exchanges: two metros trade sites, which a full site cannot do one move at a time.
    for (let i = 0; i < metros.length; i++) {
      for (let j = i + 1; j < metros.length; j++) {
        const [s, t] = [primary[i], primary[j]];
        if (s === t || rtt[i][t] > maxMs || rtt[j][s] > maxMs) continue;
        const shift = metros[i].peakSessions - metros[j].peakSessions; // from s to t
        if (load[t] + shift > capacity[t] || load[s] - shift > capacity[s]) continue;
        const overNext =
          over +
          metros[i].peakSessions * (isOver(i, t) - isOver(i, s)) +
          metros[j].peakSessions * (isOver(j, s) - isOver(j, t));
        if (overNext > tail + 1e-9) continue;
        const delta =
          cost(s, load[s] - shift) + cost(t, load[t] + shift) - cost(s, load[s]) - cost(t, load[t]);
        if (delta < -1e-6) {
          [load[s], load[t], over, primary[i], primary[j]] = [
            load[s] - shift,
            load[t] + shift,
            overNext,
            t,
            s,
          ];
          improved = moved = true;
        }
      }
    }
    if (!improved) break;
  }
  if (!moved) return best;
  const placement = { primary };
  return { placement, evaluation: evaluate(instance, placement) };
}

/**
 * Greedy drop from all-open, then add/drop/swap local search and metro moves, then kicks
 * (iterated local search: swap two open sites for random closed ones and descend again).
 * Work is bounded by a number of open-set evaluations that shrinks with the instance.
 */
export function solveHeuristic(
  instance: Instance,
  options: { survive: boolean; maxEvaluations?: number; kicks?: number },
): Solution | undefined {
  const usd = marginalUsdPerSession(instance);
  const capacity = sessionCapacity(instance);
  const { survive } = options;
  const S = instance.sites.length;
  const budget =
    options.maxEvaluations ?? Math.max(400, Math.round(3e5 / (instance.metros.length * S)));
  let evaluations = 0;
  // Small instances afford the metro moves for every candidate set, which lets the search see
  // a site it could close only by reshuffling metros.
  const polishEach = !survive && instance.metros.length * S <= 2000;
  const trySet = (open: number[]) => {
    evaluations++;
    const solution = solveOpenSet(instance, open, usd, capacity, survive);
    return polishEach && solution ? polish(instance, solution, survive, capacity) : solution;
  };
  let open = instance.sites.map((_, s) => s);
  let best = trySet(open);
  if (!best) return undefined;
  // A site nobody was assigned to is closed already.
  open = open.filter((s) => best!.evaluation.sites[s].sizedLoad > 0);
  for (;;) {
    let step: { open: number[]; solution: Solution } | undefined;
    for (const s of open) {
      const next = open.filter((t) => t !== s);
      const solution = trySet(next);
      if (cheaper(solution, step?.solution ?? best)) step = { open: next, solution: solution! };
    }
    if (!step) break;
    [open, best] = [step.open, step.solution];
  }
  // On a large instance swaps look at each open site's nearest closed sites only: a far site
  // rarely replaces it, and the full neighbourhood is what makes 60 sites slow.
  const swapNeighbours = S <= 20 ? S : 6;
  const nearest = instance.sites.map((a) =>
    instance.sites
      .map((b, j) => ({ j, km: greatCircleKm(a, b) }))
      .sort((x, y) => x.km - y.km)
      .map((x) => x.j),
  );
  const neighbourhood = (open: number[]) => {
    const closed = instance.sites.map((_, s) => s).filter((s) => !open.includes(s));
    return [
      ...open.map((s) => open.filter((t) => t !== s)),
      ...closed.map((a) => [...open, a]),
      ...open.flatMap((s) =>
        nearest[s]
          .filter((a) => !open.includes(a))
          .slice(0, swapNeighbours)
          .map((a) => [...open.filter((t) => t !== s), a]),
      ),
    ];
  };
  // First improvement, resuming the scan where the last one was found rather than from the top.
  const descend = (open: number[], best: Solution) => {
    let moves = neighbourhood(open);
    let sinceImproved = 0;
    for (let cursor = 0; evaluations < budget && sinceImproved < moves.length; cursor++) {
      const next = moves[cursor % moves.length];
      const solution = trySet(next);
      if (cheaper(solution, best)) {
        [open, best] = [next, solution!];
        moves = neighbourhood(open);
        sinceImproved = 0;
      } else sinceImproved++;
    }
    return { open, best: polish(instance, best, survive, capacity) };
  };
  let champion = descend(open, best);
  const rand = rng(S * 7919 + instance.metros.length);
  for (let kick = 0; kick < (options.kicks ?? 30) && evaluations < budget; kick++) {
    const next = [...champion.open];
    const closed = instance.sites.map((_, s) => s).filter((s) => !next.includes(s));
    for (let n = 0; n < 2 && closed.length > 0; n++) {
      const [a] = closed.splice(Math.floor(rand() * closed.length), 1);
      next.splice(Math.floor(rand() * next.length), 1, a);
    }
    const start = trySet(next);
    if (!start) continue;
    const found = descend(next, start);
    if (cheaper(found.best, champion.best)) champion = found;
  }
  return champion.best;
}

/**
 * A lower bound on any feasible placement's cost: every session pays at least its cheapest
 * site's marginal $/session, and all but the p95 tail pay at least their cheapest site within
 * the budget. Ignores fixed costs, minimum hosts and integer rounding, so it is loose.
 */
export function lowerBoundUsd(instance: Instance): number {
  const usd = marginalUsdPerSession(instance);
  let bound = 0;
  const extras: { d: number; extra: number }[] = [];
  instance.metros.forEach((m, i) => {
    let any = Infinity;
    let inBudget = Infinity;
    instance.sites.forEach((_, s) => {
      if (instance.rtt[i][s] <= instance.maxMs) any = Math.min(any, usd[s]);
      if (instance.rtt[i][s] <= instance.budgetMs) inBudget = Math.min(inBudget, usd[s]);
    });
    bound += m.peakSessions * any;
    extras.push({ d: m.peakSessions, extra: inBudget - any });
  });
  // The tail goes, at best, to the metros with the largest extra; the rest pay it.
  extras.sort((a, b) => b.extra - a.extra);
  let tail = P95_TAIL * instance.totalSessions;
  for (const { d, extra } of extras) {
    const excused = Math.min(d, tail);
    tail -= excused;
    if (Number.isFinite(extra)) bound += (d - excused) * extra;
  }
  return bound;
}
