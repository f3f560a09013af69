/**
 * The per-session families on a rehearsed host's agent /metrics, against what the stand-in SFU
 * says it did: every ended call counted once (through the agent's kill -9 mid-drain), every
 * failed join in le="0", the ICE outcomes, nothing in progress once drained; and the stand-in's
 * answers checked against the contract's schema, the agent's whole /metrics against promtool.
 */
import { sessionsAnswerSchema } from "../../modules/config/sessions.schema";
import { formatProblem } from "../../modules/inputs/problems";
import { schemaProblems } from "../../modules/inputs/validate";
import { SESSION_FAMILIES } from "../../modules/host-series/sessions";
import { promtoolProblems } from "../../test/support/promtool";

export interface SessionsResult {
  /** The stand-in SFU's own counts (its /stats). */
  sfu: { joined: number; joinsFailed: number; ended: number };
  /** The agent's, read from its /metrics. */
  agent: {
    /** Per figure (loss, jitter, RTT): the ended calls' summary `_count`. */
    ended: number[];
    /** Session-minutes of the first figure. */
    minutes: number;
    joins: number;
    /** The join histogram's le="0": attempts that failed. */
    joinsFailed: number;
    ice: { connected: number; failed: number };
    /** Calls in progress by the first figure's gauge histogram. */
    open: number;
  };
  /** promtool's problems with the agent's whole /metrics (the type-in-name lint of the gates' names aside). */
  promtool: string[];
  /** The stand-in's answer to the sessions endpoint against the contract's schema. */
  contract: string[];
}

/** A series' value by its name and one label (host labels aside); NaN when there is none. */
function value(text: string, series: string, label = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series}{`) && l.includes(label));
  return line === undefined ? NaN : Number(line.split(" ").at(-1));
}

function agentCounts(text: string): SessionsResult["agent"] {
  const [first] = SESSION_FAMILIES.quality;
  const { join, ice } = SESSION_FAMILIES;
  return {
    ended: SESSION_FAMILIES.quality.map((q) => value(text, `${q.summary.name}_count`)),
    minutes: value(text, `${first.minute.name}_count`),
    joins: value(text, `${join.name}_count`),
    joinsFailed: value(text, `${join.name}_bucket`, 'le="0"'),
    ice: {
      connected: value(text, ice.name, 'outcome="connected"'),
      failed: value(text, ice.name, 'outcome="failed"'),
    },
    open: value(text, `${first.open.name}_count`),
  };
}

/**
 * Once the host has drained: gives the agent up to `ms` to count every call the SFU ended, then
 * reads both sides (a count that never matches is the result, not a timeout). `sessionsAnswer`
 * is the SFU's answer to a request without a cursor.
 */
export async function sessionsOnHost(
  metricsText: () => Promise<string | undefined>,
  stats: () => Promise<{ started: number; joinsFailed: number; ended: number } | undefined>,
  sessionsAnswer: () => unknown,
  ms = 15_000,
): Promise<SessionsResult> {
  const end = Date.now() + ms;
  let last:
    { text: string; s: { started: number; joinsFailed: number; ended: number } } | undefined;
  for (;;) {
    const [text, s] = [await metricsText(), await stats()];
    if (text && s) last = { text, s };
    const counted = last && agentCounts(last.text);
    const done = counted && counted.ended.every((n) => n === last!.s.ended) && counted.open === 0;
    if (done || Date.now() > end) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!last) throw new Error("neither the agent's /metrics nor the SFU's /stats answered");
  return {
    sfu: { joined: last.s.started, joinsFailed: last.s.joinsFailed, ended: last.s.ended },
    agent: agentCounts(last.text),
    promtool: promtoolProblems(last.text),
    contract: schemaProblems(sessionsAnswerSchema, sessionsAnswer()).map((p) =>
      formatProblem("GET /sessions", p),
    ),
  };
}
