/** Human text for plan, run progress and status; `--json` prints the same objects raw. */
import type { GateEvaluation } from "../gates/verdict";
import type { Entry } from "../migration-state/journal";
import type { Unit } from "../runbook/plan";
import { commandLine } from "../runbook/pulumi-args";
import { formatDuration, settingsInForce, type LoadedRunbook } from "../runbook/runbook";
import type { MigrationState } from "../migration-state/state";
import { formatWeights, type Weights } from "../runbook/weights";

/** The date with the time: a soak of 24 h under HH:MM alone looked instant (#27). */
function timestamp(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function renderPlan(loaded: LoadedRunbook, units: Unit[]): string {
  const { runbook } = loaded;
  const lines = [
    `${loaded.file}: move ${runbook.region} from ${runbook.source} to ${runbook.target} through ${runbook.traffic} (${units.length} steps)`,
    "",
  ];
  for (const unit of units) {
    lines.push(`${unit.id.padStart(2)}. ${unit.title}`);
    if (unit.kind === "shift" || unit.kind === "drain") {
      lines.push(
        `    weights → ${formatWeights(unit.weights, loaded.traffic.pools)} (set and up skipped when the first read shows them)`,
      );
      for (const f of unit.floors)
        lines.push(
          `    floor first → ${f.stack} minHosts ≥ ${f.minHosts} (weight ${f.weight}), healthy within ${formatDuration(unit.floorWithinMs)}`,
        );
    }
    if (unit.kind === "shift" && units.find((u) => u.step === unit.step) === unit) {
      lines.push("    in force for every weight of this step:");
      for (const s of settingsInForce(loaded, unit.step)) {
        lines.push(
          `      ${s.key}${s.about ? ` (${s.about})` : ""} = ${s.value}  [${s.from === "runbook" ? "runbook" : `default: ${s.source}`}]`,
        );
      }
    }
    if (unit.kind === "shift") {
      const gates = unit.gates.map(
        (g) =>
          `${g.slo}${g.pool === "source" ? " (source)" : ""}${g.critical ? "" : " (non-critical)"}`,
      );
      lines.push(
        `    gates every ${unit.intervalMs / 60000} min: ${gates.join(", ")}; inconclusive extends up to ${unit.maxBakeMs / 60000} min`,
      );
    }
    if (unit.kind === "approve")
      lines.push("    stops until: avfleet migrate approve <runbook> --by <name>");
    for (const args of unit.commands) lines.push(`    $ ${commandLine(args)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** `packet-loss 0.0031 ok`, or the reason when it is not a pass. */
function gateText(e: GateEvaluation): string {
  const p = e.pValue === undefined ? "" : ` (p ${Number(e.pValue.toPrecision(2))})`;
  if (e.verdict === "pass") return `${e.gate} ${Number(e.value!.toPrecision(3))}${p} ok`;
  return `${e.gate} ${e.verdict.toUpperCase()} (${e.reason})`;
}

/** One progress line per journal entry worth a human's attention (reads stay in the journal). */
/** `alice`, or `alice (authenticated as root)` when the claim and the authentication differ. */
function byAs(e: { by: string; as?: string }): string {
  return e.as && e.as !== e.by ? `${e.by} (authenticated as ${e.as})` : e.by;
}

export function entryLine(entry: Entry, units: readonly { id: string }[]): string | undefined {
  const t = timestamp(entry.at);
  switch (entry.type) {
    case "start":
      return `${t} ${entry.restart ? "restart" : "run"} (${entry.mode}, pid ${entry.pid})`;
    case "step-start": {
      return `${t} step ${entry.unit}/${units.length}: ${entry.title}`;
    }
    case "command":
      return entry.exitCode === 0 && entry.argv[1] === "stack"
        ? undefined
        : `${t}   $ ${commandLine(entry.argv.slice(1))} → exit ${entry.exitCode}${entry.summary ? `: ${entry.summary}` : ""}`;
    case "weights-applied":
      return `${t}   weights ${entry.changed ? "applied" : "already in place"}: ${formatWeights(entry.weights)}`;
    case "gates":
      return `${t}   gates round ${entry.round} on ${entry.evaluations[0]?.pool}: ${entry.verdict} — ${entry.evaluations.map(gateText).join(", ")}`;
    case "drain-poll":
      return `${t}   drain: ${entry.sessions ?? entry.reason} active sessions`;
    case "step-end":
      return `${t}   done: ${entry.summary}`;
    case "approval-requested":
      return `${t}   ${entry.hold ? "HOLD" : "approval needed"}: ${entry.reason}`;
    case "approved":
      return `${t} approved step ${entry.unit} by ${byAs(entry)}, valid until ${new Date(entry.expiresAt).toISOString()}`;
    case "rollback-intent":
      return `${t} ROLLBACK to ${formatWeights(entry.to)}: ${entry.reason}`;
    case "rollback":
      return `${t} stopped (rolled-back) from ${formatWeights(entry.from)} to ${formatWeights(entry.to)}: ${entry.reason}`;
    case "abort":
      return `${t} abort by ${byAs(entry)}: ${entry.reason}`;
    case "halt":
      return `${t} stopped (${entry.kind}): ${entry.reason}`;
    case "note":
      return `${t} note: ${entry.message}`;
    case "plan":
      return `${t}   plan: ${entry.batches.map((b) => b.length).join(" + ")} host(s), the canary first`;
    default:
      return undefined;
  }
}

export interface Status {
  runbook: string;
  region: string;
  source: string;
  target: string;
  traffic: string;
  state: string;
  reason?: string;
  runningPid?: number;
  /** Who runs it, where and since when (the lease's holder). */
  runningBy?: string;
  weights?: Weights;
  weightsError?: string;
  lastGood?: Weights;
  steps: { id: string; title: string; status: "done" | "next" | "pending"; summary?: string }[];
  gates?: { unit: string; round: number; verdict: string; evaluations: GateEvaluation[] };
  queryErrors: number;
  pendingApproval?: { unit: string; reason: string; hold: boolean; requestedAt: string };
  /** `by`: what --by said; `as`: who the state backend authenticated. */
  approvals: { unit: string; by: string; as?: string; at: string; expiresAt: string }[];
}

export function statusOf(
  loaded: LoadedRunbook,
  units: Unit[],
  state: MigrationState,
  live: { weights?: Weights; weightsError?: string; runningPid?: number; runningBy?: string },
): Status {
  const { runbook } = loaded;
  const next = units.find((u) => !state.completed.has(u.id));
  const round = state.rounds.at(-1);
  const halt = state.halt;
  return {
    runbook: loaded.file,
    region: runbook.region,
    source: runbook.source,
    target: runbook.target,
    traffic: runbook.traffic,
    state: live.runningPid
      ? "running"
      : state.pendingRollback
        ? "rollback unfinished (run resumes it)"
        : (halt?.kind ?? (state.hash ? "interrupted (run resumes it)" : "not started")),
    ...(halt && !live.runningPid ? { reason: halt.reason } : {}),
    ...live,
    lastGood: state.lastGood,
    steps: units.map((u) => ({
      id: u.id,
      title: u.title,
      status: state.completed.has(u.id) ? "done" : u === next ? "next" : "pending",
      ...(state.completed.has(u.id) ? { summary: state.completed.get(u.id)!.summary } : {}),
    })),
    ...(round
      ? {
          gates: {
            unit: round.unit,
            round: round.round,
            verdict: round.verdict,
            evaluations: round.evaluations,
          },
        }
      : {}),
    queryErrors: state.queryErrors,
    ...(state.pendingApproval
      ? {
          pendingApproval: {
            unit: state.pendingApproval.unit,
            reason: state.pendingApproval.reason,
            hold: state.pendingApproval.hold,
            requestedAt: new Date(state.pendingApproval.at).toISOString(),
          },
        }
      : {}),
    approvals: [...state.approvals.values()].map((a) => ({
      unit: a.unit,
      by: a.by,
      ...(a.as ? { as: a.as } : {}),
      at: new Date(a.at).toISOString(),
      expiresAt: new Date(a.expiresAt).toISOString(),
    })),
  };
}

export function renderStatus(s: Status): string {
  const mark = { done: "✓", next: "→", pending: " " };
  const lines = [
    `${s.runbook}: ${s.region}, ${s.source} → ${s.target} via ${s.traffic}`,
    `state:     ${s.state}${s.runningBy ? ` (by ${s.runningBy})` : ""}${s.reason ? ` — ${s.reason}` : ""}`,
    `weights:   ${s.weights ? formatWeights(s.weights) : `unknown (${s.weightsError})`}`,
    `last good: ${s.lastGood ? formatWeights(s.lastGood) : "none recorded"}`,
    "",
    "steps:",
    ...s.steps.map(
      (step) =>
        `  ${mark[step.status]} ${step.id.padStart(2)}. ${step.title}${step.summary ? ` — ${step.summary}` : ""}`,
    ),
  ];
  if (s.gates) {
    lines.push(
      "",
      `gates (step ${s.gates.unit}, round ${s.gates.round}): ${s.gates.verdict}; query errors so far: ${s.queryErrors}`,
    );
    for (const e of s.gates.evaluations) {
      const values = e.values.map((v) => Number(v.toPrecision(3))).join(" ");
      lines.push(
        `  ${e.verdict.toUpperCase().padEnd(12)} ${e.gate} on ${e.pool}${e.critical ? " (critical)" : ""}: ${e.reason}`,
      );
      if (e.sourceQuery === undefined) {
        lines.push(`               ${e.query} ${e.bound} ${e.threshold}; samples [${values}]`);
        continue;
      }
      // a relative gate: what was compared, and the test's figures
      const figure = (x: number | undefined) => (x === undefined ? "-" : Number(x.toPrecision(3)));
      lines.push(
        `               ${e.sourceQuery}`,
        `               vs ${e.query}`,
        `               samples ${e.sourceSamples ?? 0} vs ${e.targetSamples ?? 0}; effect ${figure(e.effect)} in [${e.interval?.map(figure).join(", ") ?? "-"}] (floor ${e.threshold}); p ${figure(e.pValue)} (alpha ${figure(e.alpha)})`,
      );
    }
  }
  lines.push(
    "",
    s.pendingApproval
      ? `pending approval: step ${s.pendingApproval.unit} (${s.pendingApproval.hold ? "hold" : "approve step"}) since ${s.pendingApproval.requestedAt}: ${s.pendingApproval.reason}`
      : "pending approval: none",
  );
  for (const a of s.approvals)
    lines.push(`approved: step ${a.unit} by ${byAs(a)} at ${a.at}, expires ${a.expiresAt}`);
  const next = NEXT[s.state];
  if (next) lines.push(`next: ${next}`);
  return `${lines.join("\n")}\n`;
}

/** What an operator does from each stop. */
const NEXT: Record<string, string> = {
  "rolled-back": "fix the cause, then run with --restart (weights already in place stay)",
  held: "approve --by <name> to accept this weight and go on, or rollback",
  "waiting-approval": "approve --by <name>, then run",
  aborted: "run to go on from here, or rollback",
  "check-failed": "fix what the check found, then run",
  "tool-failed": "fix the tool's failure (see the journal's command output), then run",
};
