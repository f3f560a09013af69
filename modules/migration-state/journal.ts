/**
 * The journal: what the executor records, entry by entry. Locally one append-only JSON-lines
 * file per runbook (backend.ts writes it: one write and an fsync per entry, so a SIGKILL at any
 * moment leaves every earlier entry readable; a torn last line is ignored on read and cut off
 * before the next append); in PostgreSQL one row per entry.
 */
import { readNoFollow } from "./nofollow";
import type { GateEvaluation } from "../gates/verdict";
import type { Weights } from "../runbook/weights";

export type HaltKind =
  | "waiting-approval"
  | "held"
  | "rolled-back"
  | "aborted"
  | "check-failed"
  | "tool-failed"
  | "done"
  | "abandoned";

/**
 * Everything the executor records; `at` is the executor's clock (simulated in rehearsal).
 * `by` is who the operator says they are (--by, free text); `as` is who the state backend
 * authenticated (the OS user, or PostgreSQL's session_user): the one an approval policy checks.
 */
export type Entry = { at: number } & (
  | {
      type: "start";
      hash: string;
      pid: number;
      by?: string;
      as?: string;
      restart: boolean;
      mode: string;
    }
  | { type: "baseline"; weights: Weights }
  | { type: "note"; message: string; unit?: string }
  | { type: "step-start"; unit: string; title: string }
  | {
      type: "command";
      unit: string;
      argv: string[];
      exitCode: number;
      summary: string;
    }
  /**
   * Appended under the lease right before a call that changes a stack (pulumi.ts
   * changesStack): a writer whose lease is gone is refused here, before the call, not after.
   * `fence`: the lease's token.
   */
  | { type: "command-intent"; unit: string; argv: string[]; fence: number }
  | { type: "weights-intent"; unit: string; weights: Weights }
  | { type: "weights-applied"; unit: string; weights: Weights; changed: boolean }
  | {
      type: "gates";
      unit: string;
      round: number;
      verdict: string;
      evaluations: GateEvaluation[];
    }
  | { type: "drain-poll"; unit: string; sessions: number | null; reason?: string }
  /** A rollout's batches as its begin planned them: every later invocation goes by these. */
  | { type: "plan"; unit: string; release: string; batches: string[][] }
  | { type: "step-end"; unit: string; summary: string; weights?: Weights }
  | { type: "approval-requested"; unit: string; reason: string; hold: boolean }
  | { type: "approved"; unit: string; by: string; as?: string; expiresAt: number }
  | ({ type: "rollback-intent" } & RollbackFields)
  | ({ type: "rollback" } & RollbackFields)
  | { type: "abort"; by: string; as?: string; reason: string }
  /** Given up before it changed anything: the region is free, the next run starts over. */
  | { type: "abandoned"; by: string; as?: string; reason: string }
  | { type: "halt"; kind: HaltKind; reason: string; unit?: string }
);

/** A rollback as intended and as done: the same unit, weights, reason and who. */
interface RollbackFields {
  unit: string;
  from: Weights;
  to: Weights;
  reason: string;
  by: string;
  as?: string;
}

export type EntryOf<T extends Entry["type"]> = Extract<Entry, { type: T }>;

/** An entry as the executor writes it: `at` defaults to the clock's now. */
export type NewEntry = WithoutAt<Entry>;
type WithoutAt<E> = E extends unknown ? Omit<E, "at"> & { at?: number } : never;

/** Every whole entry of a journal file; a torn (unparseable) last line is left out. */
export function readJournal(file: string): Entry[] {
  return parseJournal(file, readNoFollow(file) ?? "");
}

/** Every whole entry of a journal's text; `file` names it in errors. */
export function parseJournal(file: string, text: string): Entry[] {
  const lines = text.split("\n");
  const entries: Entry[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === "") continue;
    try {
      entries.push(JSON.parse(line));
    } catch (err) {
      if (i === lines.length - 1) break; // the write a kill interrupted
      throw new Error(`${file}: line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
  }
  return entries;
}
