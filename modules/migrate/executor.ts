/**
 * The executor: runs a runbook's units in order against drivers (Pulumi + metrics + clock,
 * real or the rehearsal world), recording everything in the journal before and after it
 * happens, so that a run killed at any moment resumes where it stood and converges:
 * a weight change is skipped when read-back shows it in place, a rollback recorded as intended
 * is finished first, and bakes, drains and waits keep the clocks they started with.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { InputError } from "../config/validate";
import type { Clock } from "./clock";
import { evaluateGates, roundVerdict, type GateEvaluation } from "./gates";
import {
  openJournal,
  readJournal,
  type Entry,
  type EntryOf,
  type HaltKind,
  type JournalWriter,
  type NewEntry,
} from "./journal";
import { acquireLock, LockedError } from "./lock";
import type { MetricsProvider } from "./metrics";
import type { Unit, UnitOf } from "./plan";
import {
  CONFLICT_RETRY,
  isConflict,
  MIN_HOSTS_PATH,
  pulumiArgs,
  setWeightsArgs,
  summarize,
  type CliResult,
  type PulumiRunner,
} from "./pulumi";
import { durationMs, formatDuration, type LoadedRunbook } from "./runbook";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, selector } from "./slo";
import {
  applyEntry,
  foldJournal,
  nextUnit,
  validApproval,
  type Approval,
  type MigrationState,
} from "./state";
import { formatWeights, sameWeights, shiftedWeights, type Weights } from "./weights";

export interface Drivers {
  pulumi: PulumiRunner;
  metrics: MetricsProvider;
  clock: Clock;
}

/** Where one runbook's journal, lock and abort request live. */
export interface StatePaths {
  dir: string;
  journal: string;
  lock: string;
  abort: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    journal: join(dir, "journal.jsonl"),
    lock: join(dir, "lock"),
    abort: join(dir, "abort-requested"),
  };
}

export interface ExecutorContext {
  loaded: LoadedRunbook;
  units: Unit[];
  paths: StatePaths;
  drivers: Drivers;
  /** A human line per journal entry, as it happens. */
  onEntry?: (entry: Entry, units: Unit[]) => void;
  mode: "migrate" | "rehearse";
  pid?: number;
  alive?: (pid: number) => boolean;
  /** Runs after each durable write (journal append): fault injection for the crash tests. */
  afterWrite?: (what: string) => void;
}

export type OutcomeKind = HaltKind | "stepped";

export interface Outcome {
  kind: OutcomeKind;
  reason: string;
  unit?: string;
}

/** The exit-code contract: stopping where the runbook says is fine; a stop it did not plan is a finding. */
export function exitCodeOf(kind: OutcomeKind): number {
  if (kind === "done" || kind === "waiting-approval" || kind === "stepped") return 0;
  if (kind === "tool-failed") return 3;
  return 1;
}

/** `dirty`: the failure came after config was set, so the stack may hold a partial change. */
/** A healthy-hosts reading for a message: `12 healthy hosts`, or why there is none. */
function hostsReading(value: number | string | undefined): string {
  return typeof value === "number" ? `${value} healthy hosts` : (value ?? "no data");
}

type Step = { ok: true } | { ok: false; kind: HaltKind; reason: string; dirty?: boolean };

class Execution {
  state: MigrationState;
  private journal?: JournalWriter;

  constructor(private readonly ctx: ExecutorContext) {
    this.state = foldJournal(readJournal(ctx.paths.journal));
  }

  get clock(): Clock {
    return this.ctx.drivers.clock;
  }

  private get runbook() {
    return this.ctx.loaded.runbook;
  }

  open(): void {
    this.journal = openJournal(this.ctx.paths.journal, this.ctx.afterWrite);
  }

  close(): void {
    this.journal?.close();
  }

  record(entry: NewEntry): void {
    const full = { ...entry, at: entry.at ?? this.clock.now() } as Entry;
    this.journal!.append(full);
    applyEntry(this.state, full);
    this.ctx.onEntry?.(full, this.ctx.units);
  }

  halt(kind: HaltKind, reason: string, unit?: string): Outcome {
    this.record({ type: "halt", kind, reason, unit });
    return { kind, reason, unit };
  }

  /** One CLI call, journaled; a 409 (another update on the stack) is waited out, boundedly. */
  async pulumi(unit: string, args: string[]): Promise<CliResult> {
    for (let attempt = 1, delay = CONFLICT_RETRY.firstDelayMs; ; attempt++, delay *= 2) {
      const result = await this.ctx.drivers.pulumi(args);
      this.record({
        type: "command",
        unit,
        argv: ["pulumi", ...args],
        exitCode: result.exitCode,
        summary: summarize(result),
      });
      if (!isConflict(result) || attempt === CONFLICT_RETRY.attempts) return result;
      this.record({
        type: "note",
        unit,
        message: `409 Conflict: another update holds ${args[args.indexOf("--stack") + 1]}; retry ${attempt}/${CONFLICT_RETRY.attempts - 1} in ${formatDuration(delay)}`,
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

  async readWeights(
    unit: string,
  ): Promise<{ ok: true; weights: Weights } | { ok: false; reason: string }> {
    const read = await this.outputs(unit, this.runbook.traffic);
    if (!read.ok) return read;
    const weights = read.outputs.weights;
    if (typeof weights !== "object" || weights === null) {
      return { ok: false, reason: `${this.runbook.traffic} has no weights output` };
    }
    return { ok: true, weights };
  }

  aborted(): { by: string; reason: string } | undefined {
    if (!existsSync(this.ctx.paths.abort)) return undefined;
    try {
      return JSON.parse(readFileSync(this.ctx.paths.abort, "utf8"));
    } catch {
      return { by: "unknown", reason: "abort requested" };
    }
  }

  /** Sleeps until `t` in slices, so an abort lands within a tick. False when aborted. */
  async sleepUntil(t: number): Promise<boolean> {
    for (let now = this.clock.now(); now < t; now = this.clock.now()) {
      if (this.aborted()) return false;
      await this.clock.sleep(Math.min(t - now, this.clock.tickMs));
    }
    return !this.aborted();
  }

  stopForAbort(unit?: string): Outcome {
    const request = this.aborted() ?? { by: "unknown", reason: "abort requested" };
    rmSync(this.ctx.paths.abort, { force: true });
    return this.halt("aborted", `aborted by ${request.by}: ${request.reason}`, unit);
  }

  /**
   * Makes the traffic stack's weights `weights`: set every pool, up, read back. Skipped when
   * `current` (just read back) already shows them (a resumed step), unless `force` (the
   * config may hold a failed change that must not linger for the next `up`).
   */
  async ensureWeights(
    unit: string,
    weights: Weights,
    current: Weights,
    force = false,
  ): Promise<Step> {
    const { traffic } = this.runbook;
    if (!force && sameWeights(current, weights)) {
      if (!this.state.applied.has(unit)) {
        this.record({ type: "weights-applied", unit, weights, changed: false });
      }
      return { ok: true };
    }
    this.record({ type: "weights-intent", unit, weights });
    for (const args of [
      ...setWeightsArgs(traffic, this.ctx.loaded.traffic.pools, weights),
      pulumiArgs.up(traffic),
    ]) {
      const result = await this.pulumi(unit, args);
      if (result.exitCode !== 0) {
        await this.unstage(unit, current);
        const reason = `pulumi ${args[0]} ${traffic}: ${summarize(result)}`;
        return { ok: false, kind: "tool-failed", reason, dirty: true };
      }
    }
    const back = await this.readWeights(unit);
    if (!back.ok) return { ok: false, kind: "tool-failed", reason: back.reason, dirty: true };
    if (!sameWeights(back.weights, weights)) {
      const reason = `read back ${formatWeights(back.weights)}, expected ${formatWeights(weights)}`;
      return { ok: false, kind: "tool-failed", reason, dirty: true };
    }
    this.record({
      type: "weights-applied",
      unit,
      weights,
      changed: !sameWeights(current, weights),
    });
    return { ok: true };
  }

  /**
   * After a failed `config set` or `up`: puts the stack's config back to the weights last read
   * from it, so the next `up` anyone runs (a teammate, CI) applies nothing this run staged.
   * Best effort: a failure here is journaled, and the next run's step sets every pool anyway.
   */
  async unstage(unit: string, weights: Weights): Promise<void> {
    const { traffic } = this.runbook;
    for (const args of setWeightsArgs(traffic, this.ctx.loaded.traffic.pools, weights)) {
      if ((await this.pulumi(unit, args)).exitCode !== 0) return;
    }
  }

  /**
   * The fast path to the last good weights: no gates, no bake. `failedAt`: the weights whose
   * gates failed. When the last good weights give the target as much (the run started at the
   * failing weight), they are not good: the target goes to 0 and the source takes its share.
   */
  async rollback(unit: string, reason: string, by: string, failedAt?: Weights): Promise<Outcome> {
    const { source, target } = this.runbook;
    const lastGood = this.state.lastGood;
    const failedToo =
      failedAt &&
      lastGood &&
      (lastGood[target] ?? 0) >= (failedAt[target] ?? 0) &&
      lastGood[target];
    const to =
      this.state.pendingRollback?.to ??
      (failedToo ? shiftedWeights(lastGood, source, target, 0) : lastGood);
    if (!to) return this.halt("tool-failed", "no last good weights recorded to roll back to", unit);
    const current = await this.readWeights(unit);
    if (!current.ok) return this.halt("tool-failed", `rollback: ${current.reason}`, unit);
    if (!this.state.pendingRollback) {
      this.record({ type: "rollback-intent", unit, from: current.weights, to, reason, by });
    }
    // A resumed rollback reports where it started, not where the kill left it.
    const intent = this.state.pendingRollback!;
    const done = await this.ensureWeights(`${unit}:rollback`, to, current.weights, true);
    if (!done.ok) return this.halt("tool-failed", `rollback: ${done.reason}`, unit);
    this.record({
      type: "rollback",
      unit,
      from: intent.from,
      to,
      reason: intent.reason,
      by: intent.by,
    });
    return { kind: "rolled-back", reason: intent.reason, unit };
  }

  /**
   * A weight change that failed after its config was set may have left the config (and some
   * DNS records) changed: go back to the last good weights rather than leave it for the next up.
   */
  async failedChange(unit: string, failure: Extract<Step, { ok: false }>): Promise<Outcome> {
    if (!failure.dirty) return this.halt(failure.kind, failure.reason, unit);
    return this.rollback(unit, `weight change failed: ${failure.reason}`, "executor");
  }

  async runUnit(unit: Unit): Promise<Outcome | undefined> {
    this.record({ type: "step-start", unit: unit.id, title: unit.title });
    switch (unit.kind) {
      case "preflight":
        return this.preflight(unit);
      case "scale":
        return this.scale(unit);
      case "shift":
        return this.shift(unit);
      case "drain":
        return this.drain(unit);
      case "approve":
        return this.approve(unit);
      case "decommission":
        return this.decommission(unit);
      case "wait":
        if (!(await this.sleepUntil(this.state.started.get(unit.id)! + unit.ms))) {
          return this.stopForAbort(unit.id);
        }
        this.record({ type: "step-end", unit: unit.id, summary: "waited" });
        return undefined;
    }
  }

  async preflight(unit: UnitOf<"preflight">): Promise<Outcome | undefined> {
    const { traffic, source, target } = this.runbook;
    const outputs: Record<string, any> = {};
    for (const stack of [traffic, source, target]) {
      const read = await this.outputs(unit.id, stack);
      if (!read.ok)
        return this.halt("check-failed", `stack ${stack} is not deployed: ${read.reason}`, unit.id);
      outputs[stack] = read.outputs;
    }
    const missing = this.ctx.loaded.traffic.pools.filter(
      (p) => typeof outputs[traffic].weights?.[p] !== "number",
    );
    if (missing.length > 0) {
      return this.halt(
        "check-failed",
        `${traffic} outputs no weight for ${missing.join(", ")}`,
        unit.id,
      );
    }
    const policies = await this.pulumi(unit.id, pulumiArgs.policies(target));
    if (policies.exitCode !== 0) {
      return this.halt(
        "check-failed",
        `policies fail on ${target}: ${summarize(policies)}`,
        unit.id,
      );
    }
    const want = Number(outputs[target].minHosts ?? 1);
    const healthy = await this.instant(HEALTHY_HOSTS, target);
    if (typeof healthy !== "number" || healthy < want) {
      const seen = hostsReading(healthy);
      return this.halt(
        "check-failed",
        `${target} is not healthy: ${seen}, expected at least ${want}`,
        unit.id,
      );
    }
    this.record({
      type: "step-end",
      unit: unit.id,
      summary: `stacks deployed, policies pass, ${target} has ${healthy}/${want} healthy hosts`,
    });
    return undefined;
  }

  /** A metric's latest value, or a string saying why there is none. */
  async instant(metric: string, pool: string): Promise<number | string | undefined> {
    try {
      return await this.ctx.drivers.metrics.instant(selector(metric, pool), this.clock.now());
    } catch (err) {
      return `query failed: ${(err as Error).message}`;
    }
  }

  async scale(unit: UnitOf<"scale">): Promise<Outcome | undefined> {
    const read = await this.outputs(unit.id, unit.stack);
    if (!read.ok) return this.halt("tool-failed", read.reason, unit.id);
    if (Number(read.outputs.minHosts) < unit.minHosts) {
      for (const args of [
        pulumiArgs.setConfig(unit.stack, MIN_HOSTS_PATH, unit.minHosts),
        pulumiArgs.up(unit.stack),
      ]) {
        const result = await this.pulumi(unit.id, args);
        if (result.exitCode !== 0) {
          const before = Number(read.outputs.minHosts);
          // Leave no staged minHosts behind for the next `up` of this stack.
          if (Number.isInteger(before)) {
            await this.pulumi(unit.id, pulumiArgs.setConfig(unit.stack, MIN_HOSTS_PATH, before));
          }
          return this.halt(
            "tool-failed",
            `pulumi ${args[0]} ${unit.stack}: ${summarize(result)}`,
            unit.id,
          );
        }
      }
      const back = await this.outputs(unit.id, unit.stack);
      if (!back.ok) return this.halt("tool-failed", back.reason, unit.id);
      if (Number(back.outputs.minHosts) !== unit.minHosts) {
        return this.halt(
          "tool-failed",
          `read back minHosts ${back.outputs.minHosts}, expected ${unit.minHosts}`,
          unit.id,
        );
      }
    }
    const deadline = this.state.started.get(unit.id)! + unit.healthyWithinMs;
    for (;;) {
      const healthy = await this.instant(HEALTHY_HOSTS, unit.stack);
      if (typeof healthy === "number" && healthy >= unit.minHosts) {
        this.record({
          type: "step-end",
          unit: unit.id,
          summary: `${unit.stack}: ${healthy} healthy hosts`,
        });
        return undefined;
      }
      if (this.clock.now() >= deadline) {
        const seen = hostsReading(healthy);
        return this.halt(
          "check-failed",
          `${unit.stack}: ${seen} after ${formatDuration(unit.healthyWithinMs)}, expected ${unit.minHosts}`,
          unit.id,
        );
      }
      if (!(await this.sleepUntil(Math.min(deadline, this.clock.now() + 60_000))))
        return this.stopForAbort(unit.id);
    }
  }

  async shift(unit: UnitOf<"shift">): Promise<Outcome | undefined> {
    const { target } = this.runbook;
    const current = await this.readWeights(unit.id);
    if (!current.ok) return this.halt("tool-failed", current.reason, unit.id);
    // After --restart, weights below where traffic already is are passed, never moved back to:
    // moving back is rollback's job.
    if ((current.weights[target] ?? 0) > unit.weights[target]) {
      this.record({
        type: "step-end",
        unit: unit.id,
        summary: `skipped: ${target} is already at ${current.weights[target]}`,
      });
      return undefined;
    }
    const change = await this.ensureWeights(unit.id, unit.weights, current.weights);
    if (!change.ok) return this.failedChange(unit.id, change);
    const approval = validApproval(this.state, unit.id, this.clock.now());
    if (approval) {
      this.record({
        type: "step-end",
        unit: unit.id,
        weights: unit.weights,
        summary: `held, then accepted by ${approval.by}`,
      });
      return undefined;
    }
    const appliedAt = this.state.applied.get(unit.id)!.at;
    // A resumed bake first acts on its last recorded round: the decision it led to may be
    // what the kill interrupted.
    let last = this.state.rounds.filter((r) => r.unit === unit.id).at(-1);
    for (;;) {
      if (last) {
        const outcome = await this.decide(unit, last, last.at - appliedAt);
        if (outcome !== "bake on") return outcome;
      }
      if (!(await this.sleepUntil((last?.at ?? appliedAt) + unit.intervalMs))) {
        return this.stopForAbort(unit.id);
      }
      const evaluations = await evaluateGates(
        unit.gates,
        { source: this.runbook.source, target },
        this.ctx.drivers.metrics,
        appliedAt,
        this.clock.now(),
      );
      const round = (last?.round ?? 0) + 1;
      this.record({
        type: "gates",
        unit: unit.id,
        round,
        verdict: roundVerdict(evaluations),
        evaluations,
      });
      last = this.state.rounds.at(-1)!;
    }
  }

  /** What a gate round after `baked` ms of bake leads to: done (undefined), a halt, or more bake. */
  async decide(
    unit: UnitOf<"shift">,
    round: EntryOf<"gates">,
    baked: number,
  ): Promise<Outcome | undefined | "bake on"> {
    const { target } = this.runbook;
    const { verdict, evaluations } = round;
    const describe = (e: GateEvaluation) => `${e.gate} on ${e.pool}: ${e.reason}`;
    if (verdict === "critical-fail") {
      const bad = evaluations.filter((e) => e.verdict === "fail" && e.critical);
      const at = unit.weights[target];
      const reason = bad.map((e) => `${e.gate} on ${e.pool} failed at weight ${at}: ${e.reason}`);
      return this.rollback(unit.id, reason.join("; "), "executor", unit.weights);
    }
    // The metrics provider failed too often in a row: a human decides, not a longer bake.
    const blind = evaluations.filter((e) => e.errorLimit);
    if (blind.length > 0)
      return this.hold(unit.id, `metrics provider failing: ${blind.map(describe).join("; ")}`);
    if (baked < unit.bakeMs) return "bake on";
    if (verdict === "pass") {
      const summary = `gates passed after ${formatDuration(baked)}`;
      this.record({ type: "step-end", unit: unit.id, weights: unit.weights, summary });
      return undefined;
    }
    if (verdict === "inconclusive" && baked < unit.maxBakeMs) return "bake on";
    const why =
      verdict === "fail"
        ? "non-critical gate failed"
        : `inconclusive after ${formatDuration(baked)}`;
    const failing = evaluations.filter((e) => e.verdict !== "pass").map(describe);
    return this.hold(unit.id, `${why}: ${failing.join("; ")}`);
  }

  hold(unit: string, reason: string): Outcome {
    this.record({ type: "approval-requested", unit, reason, hold: true });
    return this.halt("held", `${reason}; approve to accept this weight, or roll back`, unit);
  }

  async drain(unit: UnitOf<"drain">): Promise<Outcome | undefined> {
    const current = await this.readWeights(unit.id);
    if (!current.ok) return this.halt("tool-failed", current.reason, unit.id);
    const change = await this.ensureWeights(unit.id, unit.weights, current.weights);
    if (!change.ok) return this.failedChange(unit.id, change);
    const deadline = this.state.started.get(unit.id)! + unit.maxWaitMs;
    const { source } = this.runbook;
    for (;;) {
      const sessions = await this.instant(ACTIVE_SESSIONS, source);
      const count = typeof sessions === "number" ? sessions : null;
      this.record({
        type: "drain-poll",
        unit: unit.id,
        sessions: count,
        ...(count === null ? { reason: typeof sessions === "string" ? sessions : "no data" } : {}),
      });
      if (count !== null && count < unit.belowSessions) {
        this.record({
          type: "step-end",
          unit: unit.id,
          weights: unit.weights,
          summary: `drained: ${count} sessions left on ${source}`,
        });
        return undefined;
      }
      if (this.clock.now() >= deadline) {
        this.record({
          type: "step-end",
          unit: unit.id,
          weights: unit.weights,
          summary: `max wait reached with ${count ?? "unknown"} sessions left on ${source}`,
        });
        return undefined;
      }
      if (!(await this.sleepUntil(Math.min(deadline, this.clock.now() + unit.intervalMs)))) {
        return this.stopForAbort(unit.id);
      }
    }
  }

  approve(unit: UnitOf<"approve">): Outcome | undefined {
    const now = this.clock.now();
    const approval = validApproval(this.state, unit.id, now);
    if (approval) {
      this.record({
        type: "step-end",
        unit: unit.id,
        summary: `approved by ${approval.by} at ${new Date(approval.at).toISOString()}`,
      });
      return undefined;
    }
    const expired = this.state.approvals.get(unit.id);
    if (expired) {
      this.record({
        type: "note",
        unit: unit.id,
        message: `approval by ${expired.by} expired at ${new Date(expired.expiresAt).toISOString()}`,
      });
    }
    if (this.state.pendingApproval?.unit !== unit.id) {
      this.record({ type: "approval-requested", unit: unit.id, reason: unit.reason, hold: false });
    }
    return this.halt(
      "waiting-approval",
      `step ${unit.id} needs an approval: ${unit.reason}`,
      unit.id,
    );
  }

  async decommission(unit: UnitOf<"decommission">): Promise<Outcome | undefined> {
    const drained = this.ctx.units.some(
      (u) => u.kind === "drain" && this.state.completed.has(u.id),
    );
    if (!drained) return this.halt("check-failed", `${unit.stack} has no finished drain`, unit.id);
    const read = await this.outputs(unit.id, unit.stack);
    if (!read.ok) return this.halt("tool-failed", read.reason, unit.id);
    if (Object.keys(read.outputs).length > 0) {
      const result = await this.pulumi(unit.id, pulumiArgs.destroy(unit.stack));
      if (result.exitCode !== 0) {
        return this.halt(
          "tool-failed",
          `pulumi destroy ${unit.stack}: ${summarize(result)}`,
          unit.id,
        );
      }
    }
    this.record({ type: "step-end", unit: unit.id, summary: `${unit.stack} retired` });
    return undefined;
  }
}

export interface RunOptions {
  restart?: boolean;
  /** Run one unit, then stop. */
  step?: boolean;
}

function changedRunbook(ctx: ExecutorContext, journalHash: string): InputError {
  return new InputError([
    `${ctx.loaded.file}: (document): has changed since its journal's run (steps hash ${journalHash.slice(0, 12)} → ${ctx.loaded.hash.slice(0, 12)}), ` +
      `expected the runbook the journal was written for; run with --restart to start over (weights already in place are not applied again)`,
  ]);
}

/**
 * Regions go one at a time: the other regions under `root` whose real migration has started
 * and not finished, with where each stands. Rehearsals do not count.
 */
export function regionsInProgress(
  root: string,
  except: string,
): { region: string; state: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((region) => region !== except)
    .map((region) => ({
      region,
      state: foldJournal(readJournal(statePaths(join(root, region)).journal)),
    }))
    .filter(
      ({ state }) =>
        state.hash !== undefined && state.halt?.kind !== "done" && state.blocked?.kind !== "done",
    )
    .map(({ region, state }) => ({ region, state: state.halt?.kind ?? "interrupted" }));
}

/** Runs from where the journal stands until an approval, a halt or the end. */
export async function runMigration(
  ctx: ExecutorContext,
  options: RunOptions = {},
): Promise<Outcome> {
  const lock = acquireLock(ctx.paths.lock, ctx.pid, ctx.alive);
  const ex = new Execution(ctx);
  try {
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
      if (s.pendingApproval?.hold) {
        return {
          kind: "held",
          reason: `held at step ${s.pendingApproval.unit}: ${s.pendingApproval.reason}`,
          unit: s.pendingApproval.unit,
        };
      }
    }
    rmSync(ctx.paths.abort, { force: true });
    ex.open();
    ex.record({
      type: "start",
      hash: ctx.loaded.hash,
      pid: ctx.pid ?? process.pid,
      restart: Boolean(options.restart),
      mode: ctx.mode,
    });
    if (lock.takenFrom)
      ex.record({
        type: "note",
        message: `took over the lock of executor pid ${lock.takenFrom.pid}, which is gone`,
      });
    if (!ex.state.lastGood) {
      const start = await ex.readWeights("0");
      if (!start.ok) return ex.halt("tool-failed", start.reason);
      ex.record({ type: "baseline", weights: start.weights });
    }
    if (ex.state.pendingRollback) {
      return await ex.rollback(
        ex.state.pendingRollback.unit,
        ex.state.pendingRollback.reason,
        ex.state.pendingRollback.by,
      );
    }
    for (let unit = nextUnit(ctx.units, ex.state); unit; unit = nextUnit(ctx.units, ex.state)) {
      if (ex.aborted()) return ex.stopForAbort(unit.id);
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
    return ex.halt("done", "every step is complete");
  } finally {
    ex.close();
    lock.release();
  }
}

/** Operator rollback: stops a running executor (abort) and takes the fast path back. */
export async function rollbackMigration(
  ctx: ExecutorContext,
  by: string,
  waitMs = 30_000,
): Promise<Outcome> {
  requestAbort(ctx.paths, by, "rollback requested");
  let lock;
  for (const started = Date.now(); ;) {
    try {
      lock = acquireLock(ctx.paths.lock, ctx.pid, ctx.alive);
      break;
    } catch (err) {
      if (Date.now() - started > waitMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const ex = new Execution(ctx);
  try {
    rmSync(ctx.paths.abort, { force: true });
    if (!ex.state.lastGood)
      return { kind: "check-failed", reason: "nothing to roll back: the journal records no run" };
    ex.open();
    const unit = nextUnit(ctx.units, ex.state)?.id ?? "rollback";
    return await ex.rollback(unit, `operator rollback by ${by}`, by);
  } finally {
    ex.close();
    lock.release();
  }
}

/**
 * Abort at any moment: a running executor is asked to stop at its next check; otherwise the
 * journal records the abort at once, which also withdraws a pending approval request.
 */
export function abortMigration(ctx: ExecutorContext, by: string, reason: string): Outcome {
  let lock;
  try {
    lock = acquireLock(ctx.paths.lock, ctx.pid, ctx.alive);
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    requestAbort(ctx.paths, by, reason);
    const journal = openJournal(ctx.paths.journal);
    journal.append({ type: "abort", by, reason, at: ctx.drivers.clock.now() });
    journal.close();
    return {
      kind: "aborted",
      reason: `asked executor pid ${err.holder.pid} to stop at its next check`,
    };
  }
  const ex = new Execution(ctx);
  try {
    ex.open();
    ex.record({ type: "abort", by, reason });
    return ex.halt("aborted", `aborted by ${by}: ${reason}`);
  } finally {
    ex.close();
    lock.release();
  }
}

/** Records who approved the pending request, and until when the approval holds. */
export function approveMigration(ctx: ExecutorContext, by: string): Approval {
  const lock = acquireLock(ctx.paths.lock, ctx.pid, ctx.alive);
  const ex = new Execution(ctx);
  try {
    const pending = ex.state.pendingApproval;
    if (!pending) {
      throw new InputError([
        `${ctx.loaded.file}: (journal): has no pending approval, expected a run stopped at an approve step or a hold`,
      ]);
    }
    const unit = ctx.units.find((u) => u.id === pending.unit);
    const ttl =
      unit?.kind === "approve"
        ? unit.expiresAfterMs
        : durationMs(ctx.loaded.runbook.approvalsExpireAfter);
    const at = ex.clock.now();
    ex.open();
    ex.record({ type: "approved", unit: pending.unit, by, expiresAt: at + ttl, at });
    return { unit: pending.unit, by, at, expiresAt: at + ttl };
  } finally {
    ex.close();
    lock.release();
  }
}

/** Asks a running executor to stop at its next check. */
export function requestAbort(paths: StatePaths, by: string, reason: string): void {
  mkdirSync(dirname(paths.abort), { recursive: true });
  writeFileSync(paths.abort, JSON.stringify({ by, reason }));
}
