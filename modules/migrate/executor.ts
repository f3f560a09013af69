/**
 * The executor: runs a runbook's units in order against drivers (Pulumi + metrics + clock,
 * real or the rehearsal world), recording everything in the journal before and after it
 * happens, so that a run killed at any moment resumes where it stood and converges:
 * a weight change is skipped when read-back shows it in place, a rollback recorded as intended
 * is finished first, and bakes, drains and waits keep the clocks they started with.
 * Every write goes through the state backend under this executor's lease (modules/migration-state/backend.ts).
 */
import { InputError } from "../inputs/problems";
import { LockedError, type Lease } from "../migration-state/backend";
import type { Entry } from "../migration-state/journal";
import { durationMs } from "../runbook/runbook";
import { changedAnything, foldJournal, nextUnit, type Approval } from "../migration-state/state";
import { abortRun, approveRun, heldOutcome, leased as leasedRun, type Outcome } from "./run";
import { Execution, type ExecutorContext } from "./steps";

export { exitCodeOf, type Drivers, type Outcome, type OutcomeKind } from "./run";
export type { ExecutorContext } from "./steps";

/** A migration's context: the run's file and approval lifetimes come from its runbook. */
export function migrationContext(
  fields: Omit<ExecutorContext, "file" | "approvalTtlMs">,
): ExecutorContext {
  return {
    ...fields,
    file: fields.loaded.file,
    approvers: fields.loaded.runbook.approvers,
    approvalTtlMs(unit) {
      const step = fields.units.find((u) => u.id === unit);
      return step?.kind === "approve"
        ? step.expiresAfterMs
        : durationMs(fields.loaded.runbook.approvalsExpireAfter);
    },
  };
}

export interface RunOptions {
  restart?: boolean;
  /** Run one unit, then stop. */
  step?: boolean;
  /** Runs once the lease is held, before anything is read: a rehearsal saves its new world here. */
  leased?: () => void | Promise<void>;
}

function changedRunbook(ctx: ExecutorContext, journalHash: string): InputError {
  return new InputError([
    `${ctx.loaded.file}: (document): has changed since its journal's run (steps hash ${journalHash.slice(0, 12)} → ${ctx.loaded.hash.slice(0, 12)}), ` +
      `expected the runbook the journal was written for; run with --restart to start over (weights already in place are not applied again)`,
  ]);
}

/** Whether a region's journal leaves the region free for another: finished, abandoned or never run. */
export function migrationFinished(entries: Entry[]): boolean {
  const state = foldJournal(entries);
  return state.hash === undefined || state.halt?.kind === "done" || state.blocked?.kind === "done";
}

/** Runs `work` holding the runbook's lease; the lease is released however it ends. */
function leased<T>(
  ctx: ExecutorContext,
  work: (ex: Execution, lease: Lease) => Promise<T>,
  before?: () => void | Promise<void>,
): Promise<T> {
  return leasedRun(ctx, Execution.open, work, before);
}

/** Runs from where the journal stands until an approval, a halt or the end. */
export function runMigration(ctx: ExecutorContext, options: RunOptions = {}): Promise<Outcome> {
  return leased(
    ctx,
    async (ex, lease) => {
      const s = ex.state;
      if (s.hash !== undefined && s.hash !== ctx.loaded.hash && !options.restart)
        throw changedRunbook(ctx, s.hash);
      if (!options.restart && !s.pendingRollback) {
        if (s.blocked?.kind === "rolled-back") {
          return {
            kind: "rolled-back",
            reason: `rolled back earlier (${s.blocked.reason}); fix the cause, then run with --restart`,
            unit: s.blocked.unit,
          };
        }
        if (s.blocked?.kind === "done") return { kind: "done", reason: "already complete" };
        const held = heldOutcome(s);
        if (held) return held;
      }
      // Recorded (under the lease) before the abort request is cleared: a stale executor
      // must not swallow an operator's abort.
      await ex.record({
        type: "start",
        hash: ctx.loaded.hash,
        pid: process.pid,
        by: ctx.by,
        as: lease.as,
        restart: Boolean(options.restart),
        mode: ctx.mode,
      });
      await ctx.backend.clearAbort(ctx.key);
      if (lease.takenFrom)
        await ex.record({
          type: "note",
          message: `took over the lease of executor pid ${lease.takenFrom.pid}, which is gone`,
        });
      if (!ex.state.lastGood) {
        const start = await ex.readWeights("0");
        if (!start.ok) return await ex.halt("tool-failed", start.reason);
        await ex.record({ type: "baseline", weights: start.weights });
      }
      if (ex.state.pendingRollback) {
        return await ex.rollback(
          ex.state.pendingRollback.unit,
          ex.state.pendingRollback.reason,
          ex.state.pendingRollback.by,
        );
      }
      for (let unit = nextUnit(ctx.units, ex.state); unit; unit = nextUnit(ctx.units, ex.state)) {
        if (await ex.aborted()) return await ex.stopForAbort(unit.id);
        const outcome = await ex.runUnit(unit);
        if (outcome) return outcome;
        if (options.step) {
          const following = nextUnit(ctx.units, ex.state);
          if (following)
            return {
              kind: "stepped",
              reason: `step ${unit.id} done; next: ${following.title}`,
              unit: unit.id,
            };
        }
      }
      return await ex.halt("done", "every step is complete");
    },
    options.leased,
  );
}

/** Operator rollback: stops a running executor (abort) and takes the fast path back. */
export async function rollbackMigration(ctx: ExecutorContext, waitMs = 30_000): Promise<Outcome> {
  await ctx.backend.requestAbort(ctx.key, { by: ctx.by, reason: "rollback requested" });
  for (const started = Date.now(); ;) {
    try {
      return await leased(ctx, async (ex) => {
        await ctx.backend.clearAbort(ctx.key);
        if (!ex.state.lastGood)
          return {
            kind: "check-failed",
            reason: "nothing to roll back: the journal records no run",
          };
        const unit = nextUnit(ctx.units, ex.state)?.id ?? "rollback";
        return await ex.rollback(unit, `operator rollback by ${ctx.by}`, ctx.by);
      });
    } catch (err) {
      if (!(err instanceof LockedError) || Date.now() - started > waitMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Abort at any moment (run.ts): a running executor stops at its next check. */
export function abortMigration(ctx: ExecutorContext, reason: string): Promise<Outcome> {
  return abortRun(ctx, Execution.open, reason);
}

/** Records who approved the pending request, and until when the approval holds. */
export function approveMigration(ctx: ExecutorContext): Promise<Approval> {
  return approveRun(ctx, Execution.open);
}

/**
 * Gives up a migration that never changed anything (its first call failed, or it stopped
 * before any weight or host count moved), so the region no longer blocks the others. One that
 * changed something is finished, rolled back or restarted instead.
 */
export function abandonMigration(ctx: ExecutorContext, reason: string): Promise<Outcome> {
  return leased(ctx, async (ex) => {
    if (ex.state.hash === undefined) {
      throw new InputError([
        `${ctx.loaded.file}: (journal): has no migration to abandon, expected a started one`,
      ]);
    }
    const change = changedAnything(await ctx.backend.read(ctx.key));
    if (change) {
      throw new InputError([
        `${ctx.loaded.file}: (journal): ${change}, expected a migration that changed nothing; finish it, roll it back, or run with --restart`,
      ]);
    }
    await ex.record({ type: "abandoned", by: ctx.by, as: ex.actor, reason });
    return { kind: "abandoned", reason: `abandoned by ${ctx.by}: ${reason}` };
  });
}
