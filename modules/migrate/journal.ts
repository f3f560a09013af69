/**
 * The journal: what the executor records, entry by entry. Locally one append-only JSON-lines
 * file per runbook (backend.ts writes it: one write and an fsync per entry, so a SIGKILL at any
 * moment leaves every earlier entry readable; a torn last line is ignored on read and cut off
 * before the next append); in PostgreSQL one row per entry.
 */
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { InputError } from "../config/validate";
import type { GateEvaluation } from "../gates/gates";
import type { Weights } from "./weights";

export type HaltKind =
  | "waiting-approval"
  | "held"
  | "rolled-back"
  | "aborted"
  | "check-failed"
  | "tool-failed"
  | "done"
  | "abandoned";

/** Everything the executor records; `at` is the executor's clock (simulated in rehearsal). */
export type Entry = { at: number } & (
  | { type: "start"; hash: string; pid: number; by?: string; restart: boolean; mode: string }
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
  | { type: "approved"; unit: string; by: string; expiresAt: number }
  | {
      type: "rollback-intent";
      unit: string;
      from: Weights;
      to: Weights;
      reason: string;
      by: string;
    }
  | { type: "rollback"; unit: string; from: Weights; to: Weights; reason: string; by: string }
  | { type: "abort"; by: string; reason: string }
  /** Given up before it changed anything: the region is free, the next run starts over. */
  | { type: "abandoned"; by: string; reason: string }
  | { type: "halt"; kind: HaltKind; reason: string; unit?: string }
);

export type EntryOf<T extends Entry["type"]> = Extract<Entry, { type: T }>;

/** An entry as the executor writes it: `at` defaults to the clock's now. */
export type NewEntry = WithoutAt<Entry>;
type WithoutAt<E> = E extends unknown ? Omit<E, "at"> & { at?: number } : never;

/**
 * Opens a state file without following a symbolic link in its last component (O_NOFOLLOW: a
 * link there fails with ELOOP, open(2)): whoever can plant a link in a state directory must
 * not make an executor read or append to a file it points at. A link is bad input (exit 2).
 */
export function openNoFollow(file: string, flags: number, mode = 0o600): number {
  try {
    return openSync(file, flags | constants.O_NOFOLLOW, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOOP") throw err;
    throw new InputError([
      `${file}: (state file): is a symbolic link, expected a regular file; remove the link`,
    ]);
  }
}

/** A state file's text, or undefined when there is none; never through a symbolic link. */
export function readNoFollow(file: string): string | undefined {
  let fd: number;
  try {
    fd = openNoFollow(file, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

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
