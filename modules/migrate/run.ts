/**
 * What every journaled run shares — a migration's executor and a release's rollout alike: a
 * lease on its key, every step recorded in the journal before and after it happens (so a run
 * killed at any moment resumes where it stood), approvals and holds, an abort that lands
 * within a clock tick, and the Pulumi and metrics calls, each journaled. A run's own steps
 * live in its subclass.
 */
import { InputError } from "../inputs/problems";
import {
  LockedError,
  thisHolder,
  type AbortRequest,
  type Lease,
  type StateBackend,
} from "../migration-state/backend";
import type { Clock } from "./clock";
import { describeHolder } from "../migration-state/lock";
import type { FenceToken } from "../migration-state/fence";
import type { Entry, HaltKind, NewEntry } from "../migration-state/journal";
import type { MetricsProvider } from "../gates/metrics";
import type { Publish } from "./publish";
import { changesStack, pulumiArgs } from "../runbook/pulumi-args";
import {
  concurrentUpdate,
  CONFLICT_RETRY,
  summarize,
  type CliResult,
  type PulumiRunner,
} from "./pulumi";
import { formatDuration } from "../runbook/runbook";
import { selector } from "../gates/slo";
import {
  applyEntry,
  foldJournal,
  validApproval,
  type Approval,
  type MigrationState,
} from "../migration-state/state";
import type { Weights } from "../runbook/weights";

export interface Drivers {
  pulumi: PulumiRunner;
  metrics: MetricsProvider;
  clock: Clock;
  /** Where a real run's changed stack files go for the team (`--publish`, publish.ts). */
  publish?: Publish;
}

/** A journaled run's identity and its drivers; a unit is what the journal marks complete. */
export interface RunContext<
  U extends { id: string; title: string } = { id: string; title: string },
> {
  /** The file the run was planned from: errors name it. */
  file: string;
  units: U[];
  backend: StateBackend;
  /** The run's key in the backend: `<region>`, `<region>/rehearsal`, `release/<stack>`. */
  key: string;
  /** Who acts: a validated operator identity (identity.ts), recorded with the lease. */
  by: string;
  drivers: Drivers;
  /** A human line per journal entry, as it happens. */
  onEntry?: (entry: Entry, units: U[]) => void;
  mode: string;
  /** How long an approval of `unit` holds. */
  approvalTtlMs(unit: string): number;
  /** Who may approve (a runbook's `approvers`); anyone when absent. */
  approvers?: ApproverPolicy;
}

/** Who may approve, checked against identities the state backend authenticated. */
export interface ApproverPolicy {
  /** An OS group (local state) or PostgreSQL role (shared state) the approver belongs to. */
  group?: string;
  /** The approver is not who started the run being approved. */
  distinctFromStarter?: boolean;
}

export type OutcomeKind = HaltKind | "stepped";

export interface Outcome {
  kind: OutcomeKind;
  reason: string;
  unit?: string;
}

/** The exit-code contract: stopping where the runbook says is fine; a stop it did not plan is a finding. */
export function exitCodeOf(kind: OutcomeKind): number {
  if (kind === "done" || kind === "waiting-approval" || kind === "stepped" || kind === "abandoned")
    return 0;
  if (kind === "tool-failed") return 3;
  return 1;
}

/** A run stopped at a hold stays there until someone approves or rolls back. */
export function heldOutcome(state: MigrationState): Outcome | undefined {
  const pending = state.pendingApproval;
  if (!pending?.hold) return undefined;
  return {
    kind: "held",
    reason: `held at step ${pending.unit}: ${pending.reason}`,
    unit: pending.unit,
  };
}

export class JournaledRun<C extends RunContext<any> = RunContext> {
  /** Entries in the journal as this run last saw it: the next append's condition. */
  private seen: number;

  constructor(
    protected readonly ctx: C,
    private readonly lease: Lease,
    entries: Entry[],
    public state: MigrationState = foldJournal(entries),
  ) {
    this.seen = entries.length;
  }

  /** How many entries the journal holds: the position of the last one, which only grows. */
  get position(): number {
    return this.seen;
  }

  get clock(): Clock {
    return this.ctx.drivers.clock;
  }

  /** Who the state backend authenticated this run's lease holder as. */
  get actor(): string {
    return this.lease.as;
  }

  /** Durable before it counts: appended under the lease, then folded into the state. */
  async record(entry: NewEntry): Promise<void> {
    const full = { ...entry, at: entry.at ?? this.clock.now() } as Entry;
    await this.ctx.backend.append(this.lease, this.seen, full);
    this.seen++;
    applyEntry(this.state, full);
    this.ctx.onEntry?.(full, this.ctx.units);
  }

  async halt(kind: HaltKind, reason: string, unit?: string): Promise<Outcome> {
    await this.record({ type: "halt", kind, reason, unit });
    return { kind, reason, unit };
  }

  /**
   * A command line run and journaled. One that `changes` something is preceded by its intent,
   * appended under the lease: an executor that was paused (SIGSTOP, a sleeping laptop, a frozen
   * VM) while another took its lease over is refused at that append and never makes the call,
   * where checking only at the entry after it would leave the call's change behind unrecorded.
   */
  async journaled(
    unit: string,
    argv: string[],
    call: (fence: FenceToken) => Promise<CliResult>,
    changes: boolean,
  ): Promise<CliResult> {
    if (changes) await this.record({ type: "command-intent", unit, argv, fence: this.lease.token });
    // The token also goes with the call, for the program to check at an update (modules/migration-state/fence.ts).
    const result = await call({ key: this.ctx.key, token: this.lease.token });
    const summary = summarize(result);
    await this.record({ type: "command", unit, argv, exitCode: result.exitCode, summary });
    return result;
  }

  /**
   * A Pulumi call, journaled; one that changes a stack (changesStack) is fenced. Another update
   * holding the stack (a teammate's `up`, CI) is waited out, each retry journaled, within
   * CONFLICT_RETRY.
   */
  async pulumi(unit: string, args: string[]): Promise<CliResult> {
    const { retries, firstDelayMs, maxDelayMs } = CONFLICT_RETRY;
    for (let retry = 1, delay = firstDelayMs; ; retry++, delay = Math.min(2 * delay, maxDelayMs)) {
      const call = (fence: FenceToken) => this.ctx.drivers.pulumi(args, fence);
      const result = await this.journaled(unit, ["pulumi", ...args], call, changesStack(args));
      const backend = concurrentUpdate(result);
      if (!backend || retry > retries) return result;
      await this.record({
        type: "note",
        unit,
        message: `another update holds ${args[args.indexOf("--stack") + 1]} (${backend}); retry ${retry}/${retries} in ${formatDuration(delay)}`,
      });
      await this.clock.sleep(delay);
    }
  }

  async outputs(
    unit: string,
    stack: string,
  ): Promise<{ ok: true; outputs: any } | { ok: false; reason: string }> {
    const result = await this.pulumi(unit, pulumiArgs.outputs(stack));
    if (result.exitCode !== 0)
      return { ok: false, reason: `pulumi stack output ${stack}: ${summarize(result)}` };
    try {
      return { ok: true, outputs: JSON.parse(result.stdout || "{}") };
    } catch {
      return { ok: false, reason: `pulumi stack output ${stack}: not JSON: ${summarize(result)}` };
    }
  }

  /** A metric's latest value on a pool (or a query), or a string saying why there is none. */
  async instant(metric: string, pool: string, query = selector(metric, pool)) {
    try {
      return await this.ctx.drivers.metrics.instant(query, this.clock.now());
    } catch (err) {
      return `query failed: ${(err as Error).message}`;
    }
  }

  aborted(): Promise<AbortRequest | undefined> {
    return this.ctx.backend.abortRequest(this.ctx.key);
  }

  /** Sleeps until `t` in slices, so an abort lands within a tick. False when aborted. */
  async sleepUntil(t: number): Promise<boolean> {
    for (let now = this.clock.now(); now < t; now = this.clock.now()) {
      if (await this.aborted()) return false;
      await this.clock.sleep(Math.min(t - now, this.clock.tickMs));
    }
    return !(await this.aborted());
  }

  /** Stops for an abort request: records who asked, which also withdraws a pending approval. */
  async stopForAbort(unit?: string): Promise<Outcome> {
    const request = (await this.aborted()) ?? { by: "unknown", reason: "abort requested" };
    // Cleared once recorded under the lease: a stale executor leaves the request standing.
    await this.record({ type: "abort", ...request });
    await this.ctx.backend.clearAbort(this.ctx.key);
    return await this.halt("aborted", `aborted by ${request.by}: ${request.reason}`, unit);
  }

  /** A held unit someone approved ends here, saying who accepted what. */
  async endIfAccepted(
    unit: { id: string; weights?: Weights },
    summary: (by: string) => string,
  ): Promise<boolean> {
    const approval = validApproval(this.state, unit.id, this.clock.now());
    if (!approval) return false;
    await this.record({
      type: "step-end",
      unit: unit.id,
      ...(unit.weights ? { weights: unit.weights } : {}),
      summary: summary(approval.by),
    });
    return true;
  }

  async hold(unit: string, reason: string, choice: string): Promise<Outcome> {
    await this.record({ type: "approval-requested", unit, reason, hold: true });
    return await this.halt("held", `${reason}; ${choice}`, unit);
  }
}

/** Runs `work` holding the run's lease; the lease is released however it ends. */
export async function leased<C extends RunContext<any>, R extends JournaledRun<C>, T>(
  ctx: C,
  open: (ctx: C, lease: Lease, entries: Entry[]) => R,
  work: (run: R, lease: Lease) => Promise<T>,
  before?: () => void | Promise<void>,
): Promise<T> {
  const lease = await ctx.backend.acquire(ctx.key, thisHolder(ctx.by));
  try {
    await before?.();
    return await work(open(ctx, lease, await ctx.backend.read(ctx.key)), lease);
  } finally {
    await lease.release();
  }
}

/**
 * Abort at any moment: a running executor is asked to stop at its next check (and records the
 * abort then); otherwise the journal records it at once, which also withdraws a pending
 * approval request.
 */
export async function abortRun<C extends RunContext<any>>(
  ctx: C,
  open: (ctx: C, lease: Lease, entries: Entry[]) => JournaledRun<C>,
  reason: string,
): Promise<Outcome> {
  try {
    return await leased(ctx, open, async (run) => {
      await run.record({ type: "abort", by: ctx.by, as: run.actor, reason });
      return await run.halt("aborted", `aborted by ${ctx.by}: ${reason}`);
    });
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    await ctx.backend.requestAbort(ctx.key, {
      by: ctx.by,
      as: await ctx.backend.identity(),
      reason,
    });
    return {
      kind: "aborted",
      reason: `asked ${describeHolder(err.holder)} to stop at its next check`,
    };
  }
}

/** Records who approved the pending request, and until when the approval holds. */
export function approveRun<C extends RunContext<any>>(
  ctx: C,
  open: (ctx: C, lease: Lease, entries: Entry[]) => JournaledRun<C>,
): Promise<Approval> {
  return leased(ctx, open, async (run) => {
    const pending = run.state.pendingApproval;
    if (!pending) {
      throw new InputError([
        `${ctx.file}: (journal): has no pending approval, expected a run stopped at an approve step or a hold`,
      ]);
    }
    await refuseApprover(ctx, run);
    const ttl = ctx.approvalTtlMs(pending.unit);
    const at = run.clock.now();
    const as = run.actor;
    await run.record({
      type: "approved",
      unit: pending.unit,
      by: ctx.by,
      as,
      expiresAt: at + ttl,
      at,
    });
    return { unit: pending.unit, by: ctx.by, as, at, expiresAt: at + ttl };
  });
}

/**
 * Throws (exit 2, nothing recorded) when the runbook's `approvers` rule out this approver,
 * judged by the identity the state backend authenticated, never by --by.
 */
async function refuseApprover<C extends RunContext<any>>(
  ctx: C,
  run: JournaledRun<C>,
): Promise<void> {
  const { group, distinctFromStarter } = ctx.approvers ?? {};
  const who = `${run.actor} (as the state backend ${ctx.backend.where} authenticated you; --by ${ctx.by} is not checked)`;
  if (distinctFromStarter && (run.state.startedAs ?? run.actor) === run.actor) {
    const starter = run.state.startedAs
      ? "who started this run"
      : "and the journal names no starter";
    throw new InputError([
      `${ctx.file}: approvers.distinctFromStarter: is ${who}, ${starter}, expected an approver other than the one who started it; nothing recorded`,
    ]);
  }
  if (group !== undefined && !(await ctx.backend.memberOf(group))) {
    throw new InputError([
      `${ctx.file}: approvers.group: is ${who}, not a member of ${group}, expected a member of ${group}; nothing recorded`,
    ]);
  }
}
