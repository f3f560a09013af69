/**
 * Pure: where a migration stands, folded from its journal. The executor resumes from it,
 * `status` prints it, and `approve`/`abort`/`rollback` decide from it.
 */
import type { Entry, EntryOf, HaltKind } from "./journal";
import { changesStack } from "../runbook/pulumi-args";
import type { Weights } from "../runbook/weights";

export interface Approval {
  unit: string;
  by: string;
  /** Who the state backend authenticated the approver as. */
  as?: string;
  at: number;
  expiresAt: number;
}

export interface MigrationState {
  /** The hash the current run epoch started with (undefined: never run). */
  hash?: string;
  /** Who the backend authenticated the latest run start as: whom an approval must not be. */
  startedAs?: string;
  /** Units finished in this epoch, with their step-end entries. */
  completed: Map<string, EntryOf<"step-end">>;
  /** When each unit first started in this epoch (bake, drain and wait clocks run from it). */
  started: Map<string, number>;
  /** The first weights-applied entry of each unit in this epoch: when its bake began. */
  applied: Map<string, EntryOf<"weights-applied">>;
  /** Every gate round of this epoch, in order. */
  rounds: EntryOf<"gates">[];
  approvals: Map<string, Approval>;
  pendingApproval?: EntryOf<"approval-requested">;
  /** A rollback recorded as intended but not finished: it comes before anything else. */
  pendingRollback?: EntryOf<"rollback-intent">;
  /** The weights to return to: the start's, or the last that passed their gates. */
  lastGood?: Weights;
  /** The most recent halt, if nothing has run since. */
  halt?: EntryOf<"halt">;
  /** A halt that keeps `run` from going on without --restart. */
  blocked?: EntryOf<"halt">;
  lastAbort?: EntryOf<"abort">;
  lastRollback?: EntryOf<"rollback">;
  /** A rollout's plan, as this epoch's begin recorded it. */
  plan?: EntryOf<"plan">;
  queryErrors: number;
}

const BLOCKING: HaltKind[] = ["rolled-back", "done"];

function emptyState(): MigrationState {
  return {
    completed: new Map(),
    started: new Map(),
    applied: new Map(),
    rounds: [],
    approvals: new Map(),
    queryErrors: 0,
  };
}

export function foldJournal(entries: Entry[]): MigrationState {
  const s = emptyState();
  for (const e of entries) applyEntry(s, e);
  return s;
}

/** Folds one more entry into `s` (in place): the executor's state after each write. */
export function applyEntry(s: MigrationState, e: Entry): void {
  switch (e.type) {
    case "start":
      if (e.restart || s.hash === undefined) {
        s.completed.clear();
        s.started.clear();
        s.applied.clear();
        s.rounds = [];
        s.approvals.clear();
        s.pendingApproval = undefined;
        s.blocked = undefined;
        s.plan = undefined;
      }
      s.hash = e.hash;
      s.startedAs = e.as;
      s.halt = undefined;
      break;
    case "baseline":
      s.lastGood ??= e.weights;
      break;
    case "step-start":
      if (!s.started.has(e.unit)) s.started.set(e.unit, e.at);
      break;
    case "weights-applied":
      if (!s.applied.has(e.unit)) s.applied.set(e.unit, e);
      break;
    case "gates":
      s.rounds.push(e);
      s.queryErrors += e.evaluations.filter((g) => g.queryError !== undefined).length;
      break;
    case "step-end":
      s.completed.set(e.unit, e);
      if (e.weights) s.lastGood = e.weights;
      if (s.pendingApproval?.unit === e.unit) s.pendingApproval = undefined;
      break;
    case "approval-requested":
      s.pendingApproval = e;
      break;
    case "approved":
      s.approvals.set(e.unit, {
        unit: e.unit,
        by: e.by,
        ...(e.as ? { as: e.as } : {}),
        at: e.at,
        expiresAt: e.expiresAt,
      });
      s.pendingApproval = undefined;
      break;
    case "rollback-intent":
      s.pendingRollback = e;
      break;
    case "rollback":
      // A finished rollback is itself the halt: nothing may go on from it but --restart.
      s.pendingRollback = undefined;
      s.lastGood = e.to;
      s.lastRollback = e;
      s.halt = { type: "halt", kind: "rolled-back", reason: e.reason, unit: e.unit, at: e.at };
      s.blocked = s.halt;
      break;
    case "abort":
      s.lastAbort = e;
      s.pendingApproval = undefined;
      break;
    case "abandoned":
      // As if never run: every field back to empty, the halt saying why.
      for (const key of Object.keys(s)) delete s[key as keyof MigrationState];
      Object.assign(s, emptyState(), {
        halt: { type: "halt", kind: "abandoned", reason: e.reason, at: e.at },
      });
      break;
    case "plan":
      s.plan = e;
      break;
    case "halt":
      s.halt = e;
      if (BLOCKING.includes(e.kind)) s.blocked = e;
      break;
    default:
      break;
  }
}

/** The first unit not completed in this epoch, or undefined when all are. */
export function nextUnit<U extends { id: string }>(
  units: U[],
  state: MigrationState,
): U | undefined {
  return units.find((u) => !state.completed.has(u.id));
}

/** The approval a unit may go on with at `now`: given after it was asked for, not expired. */
export function validApproval(
  state: MigrationState,
  unit: string,
  now: number,
): Approval | undefined {
  const approval = state.approvals.get(unit);
  return approval && now <= approval.expiresAt ? approval : undefined;
}

/**
 * What a journal shows was changed, or might have been (an attempt that failed half-way
 * counts), since its last abandon: undefined when nothing was.
 */
export function changedAnything(entries: Entry[]): string | undefined {
  const last = entries.map((e) => e.type).lastIndexOf("abandoned");
  const since = entries.slice(last + 1);
  for (const e of since) {
    if (e.type === "weights-intent" || e.type === "rollback-intent")
      return `step ${e.unit} set weights (${e.type})`;
    // An intent without its command entry: the call may have run before a kill.
    if ((e.type === "command" || e.type === "command-intent") && changesStack(e.argv.slice(1)))
      return `step ${e.unit} ran ${e.argv.slice(0, 3).join(" ")}`;
  }
  return undefined;
}
