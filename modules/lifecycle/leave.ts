/**
 * What preview says of a pool: for each way a host leaves, fails or updates, one line of what
 * the providers do to it as rendered, and what that costs in calls — the matrix's scenarios run
 * on the pool's own rendering (those that need a variant rendering run in bench:lifecycle).
 */
import { renderedPools, type RenderedResource } from "./rendered";
import { applies, runScenario, SCENARIOS, type ScenarioResult } from "./scenarios";

export interface LeaveLine {
  scenario: string;
  title: string;
  /** What happened to the hosts that went, in a few words. */
  summary: string;
  callsCut: number;
  /** Calls still up at their host's drain limit, ended there (what the limit allows). */
  callsCutAtLimit: number;
  churnedHosts: number;
  secondsPastLimit: number;
}

function summary(r: ScenarioResult): string {
  const ways = [
    ...new Set(
      r.departures
        .filter((d) => !d.fault)
        .map((d) => (d.drain ? `drains (${d.drain}), then ${d.why}` : d.why)),
    ),
  ];
  if (ways.length) return ways.join("; ");
  // Nobody left: the scenario's last word says why.
  return r.story.at(-1)?.replace(/^\S+ /, "") ?? "nothing happens";
}

/** One line per scenario that applies to the stack's pool; none for a traffic stack. */
export function leaveLines(resources: (RenderedResource & { urn?: string; parent?: string })[]) {
  const lines: LeaveLine[] = [];
  for (const base of renderedPools(resources)) {
    for (const s of SCENARIOS.filter((x) => applies(x, { base }))) {
      const r = runScenario(s, { base });
      lines.push({
        scenario: s.id,
        title: s.title,
        summary: summary(r),
        callsCut: r.callsCut,
        callsCutAtLimit: r.callsCutAtLimit,
        churnedHosts: r.churnedHosts,
        secondsPastLimit: r.secondsPastLimit,
      });
    }
  }
  return lines;
}

export function formatLeaveLine(l: LeaveLine): string {
  const cost = [
    l.callsCut ? `${l.callsCut} call(s) CUT before the drain limit` : "",
    l.churnedHosts ? `${l.churnedHosts} host(s) CHURNED` : "",
    l.secondsPastLimit ? `${l.secondsPastLimit} s past the limit` : "",
  ].filter(Boolean);
  const limit = l.callsCutAtLimit ? `; ${l.callsCutAtLimit} still up at the drain limit` : "";
  return `${l.scenario}: ${l.summary}${cost.length ? ` — ${cost.join(", ")}` : ` — no call cut before its limit${limit}`}`;
}
