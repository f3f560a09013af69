/**
 * A release's rollout through one pool, on the migrations' journaled run (modules/migrate/
 * run.ts): the same lease, journal, approvals, holds, abort and resume. Each batch is drained
 * (its hosts take no new joins; their calls end or reach the pool's drain limit), updated by
 * the pool's driver, and verified (its hosts healthy again, on the release) before the next; the
 * canary is also baked under the relative gates, canary hosts against the rest of the pool. A
 * failed gate or verification returns every updated host to the release it ran, drained first.
 */
import { createHash } from "node:crypto";
import type { RolloutConfig } from "../config/rollout";
import { evaluateGates, roundVerdict } from "../gates/gates";
import type { GateEvaluation } from "../gates/verdict";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS } from "../gates/slo";
import type { Lease } from "../migration-state/backend";
import type { Entry } from "../migration-state/journal";
import type { CliResult } from "../migrate/pulumi";
import type { FenceToken } from "../migration-state/fence";
import {
  abortRun,
  approveRun,
  heldOutcome,
  JournaledRun,
  leased,
  type Outcome,
  type RunContext,
} from "../migrate/run";
import { formatDuration } from "../runbook/runbook";
import { nextUnit, type Approval } from "../migration-state/state";
import { planHash } from "../release/intent";
import type { PoolRead, RolloutOptions, RolloutUnit } from "./units";

/** One call a driver made (a `pulumi`, `gcloud` or `aws` command line) and how it went. */
export interface Action {
  argv: string[];
  exitCode: number;
  summary: string;
}

/**
 * How a driver makes each call: the executor journals it (JournaledRun.journaled), and one that
 * `changes` the pool (config, up, a drain mark, a recreate, a terminate; the default) after its
 * intent under the lease, so a rollout that lost its lease while paused is refused before the
 * call, never after it.
 */
export type Fence = (
  argv: string[],
  call: (lease: FenceToken) => Promise<CliResult>,
  changes?: boolean,
) => Promise<CliResult>;

/**
 * How a pool's hosts are drained and updated: bare metal through the program (avfleet:rollout,
 * then `pulumi up`, which runs exactly the changed hosts' commands), a cloud pool through its
 * own drain path and the group's recreation of drained instances.
 */
export interface PoolDriver {
  /** What the pool renders and runs now, and its hosts. */
  read(): Promise<PoolRead>;
  /** Makes `avfleet:rollout` the stack's (config set, up). */
  configure(config: RolloutConfig, fence: Fence): Promise<Action[]>;
  /** Takes a batch out of service: no new joins; its calls go on until they end or the limit. */
  drain(config: RolloutConfig, batch: number, hosts: string[], fence: Fence): Promise<Action[]>;
  /** Puts a drained batch on `config.target`'s release and back in service. */
  update(config: RolloutConfig, batch: number, hosts: string[], fence: Fence): Promise<Action[]>;
}

export interface RolloutContext extends RunContext<RolloutUnit> {
  pool: PoolRead;
  driver: PoolDriver;
  options: RolloutOptions;
  mode: "rollout" | "rehearse";
}

/** A run's identity: the pool, the two releases and the batches. A changed plan is a new run. */
export function rolloutHash(pool: PoolRead, units: RolloutUnit[]): string {
  const batches = units.flatMap((u) => (u.kind === "batch" ? [u.hosts] : []));
  return createHash("sha256")
    .update(JSON.stringify([pool.stack, pool.running, pool.rendered, batches]))
    .digest("hex")
    .slice(0, 12);
}

const hostCohort = (stack: string, hosts: string[]) => `${stack}/host=~${hosts.join("|")}`;
const releaseCohort = (stack: string, label: string) => `${stack}/release=~${label}`;

class Rollout extends JournaledRun<RolloutContext> {
  static open(ctx: RolloutContext, lease: Lease, entries: Entry[]): Rollout {
    return new Rollout(ctx, lease, entries);
  }

  /** The batches as planned (the begin unit holds them). */
  private get plan() {
    const begin = this.ctx.units.find((u) => u.kind === "begin");
    if (begin?.kind !== "begin") throw new Error("a rollout's units start with begin");
    return begin.plan;
  }

  private get pool() {
    return this.ctx.pool;
  }

  /** The config the rollout writes, with `updated`, `draining` and `target` as given. */
  config(updated: number, draining: number, target: RolloutConfig["target"]): RolloutConfig {
    const { canaryShare, maxUnavailable, domainsAtOnce } = this.ctx.options;
    return {
      release: this.pool.rendered,
      from: this.pool.from,
      plan: planHash(this.plan),
      updated,
      draining,
      target,
      canaryShare,
      maxUnavailable,
      domainsAtOnce,
    };
  }

  /**
   * A driver's calls, each journaled as it is made (fenced); the first failure is the step's.
   * A journal that refuses (a lost lease) is no failure of the step: it stops the run.
   */
  async act(unit: string, calls: (fence: Fence) => Promise<Action[]>): Promise<string | undefined> {
    let actions: Action[];
    let journal: { failed: unknown } | undefined;
    const fence: Fence = (argv, call, changes = true) =>
      this.journaled(unit, argv, call, changes).catch((err: unknown) => {
        journal ??= { failed: err };
        throw err;
      });
    try {
      actions = await calls(fence);
    } catch (err) {
      if (journal) throw journal.failed;
      return (err as Error).message;
    }
    const a = actions.find((a) => a.exitCode !== 0);
    return a && `${a.argv.slice(0, 3).join(" ")}: ${a.summary}`;
  }

  async runUnit(unit: RolloutUnit): Promise<Outcome | undefined> {
    await this.record({ type: "step-start", unit: unit.id, title: unit.title });
    if (unit.kind === "begin") {
      const { canary, batches } = this.plan;
      await this.record({
        type: "plan",
        unit: unit.id,
        release: this.pool.rendered,
        batches: [canary, ...batches],
      });
      const failed = await this.act(unit.id, (fence) =>
        this.ctx.driver.configure(this.config(0, -1, "release"), fence),
      );
      if (failed) return await this.halt("tool-failed", failed, unit.id);
      await this.record({
        type: "step-end",
        unit: unit.id,
        summary: `${this.pool.stack} records ${this.pool.rendered}; no host changed`,
      });
      return undefined;
    }
    const moved = await this.move(unit, "release");
    if (moved) return moved;
    if (unit.canary) return await this.bake(unit);
    await this.record({
      type: "step-end",
      unit: unit.id,
      summary: `${unit.hosts.length} host(s) on ${this.pool.rendered}, serving`,
    });
    return undefined;
  }

  /**
   * Drain, update, verify one batch toward `target`. Undefined when the batch serves on it;
   * otherwise how the rollout stopped (a failed update or verification rolls back first).
   */
  async move(
    unit: Extract<RolloutUnit, { kind: "batch" }>,
    target: RolloutConfig["target"],
  ): Promise<Outcome | undefined> {
    const forward = target === "release";
    // Resumed, a cloud batch may have hosts replaced already (on the release, under new names).
    const present = new Set(this.pool.hosts.map((h) => h.name));
    const hosts = forward ? unit.hosts.filter((h) => present.has(h)) : unit.hosts;
    const after = forward ? unit.index + 1 : unit.index;
    const step = forward ? unit.id : `${unit.id}:back`;
    const release = forward ? this.pool.rendered : this.pool.running;
    if (hosts.length === 0) {
      await this.record({
        type: "note",
        unit: step,
        message: "every host of the batch was replaced already",
      });
      const verified = await this.verify(step, unit, release);
      return verified === true ? undefined : this.failed(unit, verified, forward);
    }
    const drainConfig = this.config(forward ? unit.index : unit.index + 1, unit.index, target);
    const failedDrain = await this.act(step, (fence) =>
      this.ctx.driver.drain(drainConfig, unit.index, hosts, fence),
    );
    if (failedDrain) return this.failed(unit, `drain: ${failedDrain}`, forward);
    const drained = await this.awaitDrain(step, hosts);
    if (drained) return drained;
    const updateConfig = this.config(after, -1, target);
    const failedUpdate = await this.act(step, (fence) =>
      this.ctx.driver.update(updateConfig, unit.index, hosts, fence),
    );
    if (failedUpdate) return this.failed(unit, `update: ${failedUpdate}`, forward);
    const verified = await this.verify(step, unit, release);
    if (verified !== true) return this.failed(unit, verified, forward);
    return undefined;
  }

  /** Polls the batch's sessions until none are left or the pool's drain limit has passed. */
  async awaitDrain(step: string, hosts: string[]): Promise<Outcome | undefined> {
    const limitMs = this.pool.drainSeconds * 1000;
    const started = this.clock.now();
    const cohort = hostCohort(this.pool.pool, hosts);
    for (;;) {
      const sessions = await this.instant(ACTIVE_SESSIONS, cohort);
      const count = typeof sessions === "number" ? sessions : null;
      await this.record({
        type: "drain-poll",
        unit: step,
        sessions: count,
        ...(count === null ? { reason: typeof sessions === "string" ? sessions : "no data" } : {}),
      });
      // Past the limit the pool's promise is kept: a call still on the host may be ended, as
      // every other way a host leaves ends it (the provider's stop, the shutdown drain).
      if (count === 0 || this.clock.now() - started >= limitMs) return undefined;
      const next = Math.min(started + limitMs, this.clock.now() + this.ctx.options.intervalMs / 5);
      if (!(await this.sleepUntil(next))) return await this.stopForAbort(step);
    }
  }

  /** True once the batch's hosts serve again on `release`; otherwise why not, in time. */
  async verify(
    step: string,
    unit: Extract<RolloutUnit, { kind: "batch" }>,
    release: string,
  ): Promise<true | string> {
    const deadline = this.clock.now() + this.ctx.options.verifyWithinMs;
    const { pool } = this.pool;
    const total = this.pool.hosts.length;
    // Forward, the batches up to this one run the release; back, this one and every batch not
    // yet reached run the pool's old one again.
    const forward = release === this.pool.rendered;
    const need = this.ctx.units
      .filter(
        (u) => u.kind === "batch" && (forward ? u.index <= unit.index : u.index >= unit.index),
      )
      .reduce((n, u) => n + (u.kind === "batch" ? u.hosts.length : 0), 0);
    const label = forward ? this.pool.labels.rendered : this.pool.labels.running;
    for (;;) {
      const onRelease = await this.instant(HEALTHY_HOSTS, releaseCohort(pool, label));
      const healthy = await this.instant(HEALTHY_HOSTS, pool);
      if (typeof onRelease === "number" && onRelease >= need && healthy === total) return true;
      if (this.clock.now() >= deadline) {
        return `verify: ${onRelease ?? "no"} healthy host(s) on ${release} (expected ${need}), ${healthy ?? "no"} healthy of ${total} after ${formatDuration(this.ctx.options.verifyWithinMs)}`;
      }
      if (!(await this.sleepUntil(Math.min(deadline, this.clock.now() + 60_000)))) {
        return "aborted while verifying";
      }
      await this.record({
        type: "note",
        unit: step,
        message: `${onRelease ?? "no"} host(s) on ${release}, ${healthy ?? "no"} healthy of ${total}`,
      });
    }
  }

  /** The canary's bake: gate rounds until a pass, a critical failure (rollback) or a hold. */
  async bake(unit: Extract<RolloutUnit, { kind: "batch" }>): Promise<Outcome | undefined> {
    const { pool, rendered } = this.pool;
    if (await this.endIfAccepted(unit, (by) => `held, then accepted by ${by}`)) return undefined;
    const pools = {
      target: releaseCohort(pool, this.pool.labels.rendered),
      source: `${pool}/release!~${this.pool.labels.rendered}`,
    };
    const started = this.clock.now();
    const { bakeMs, maxBakeMs, intervalMs, gates } = this.ctx.options;
    for (let round = 1; ; round++) {
      if (!(await this.sleepUntil(started + round * intervalMs)))
        return await this.stopForAbort(unit.id);
      const evaluations = await evaluateGates(
        gates,
        pools,
        this.ctx.drivers.metrics,
        started,
        this.clock.now(),
        { maxBakeMs, intervalMs },
      );
      const verdict = roundVerdict(evaluations);
      await this.record({ type: "gates", unit: unit.id, round, verdict, evaluations });
      const baked = this.clock.now() - started;
      const describe = (e: GateEvaluation) => `${e.gate}: ${e.reason}`;
      if (verdict === "critical-fail") {
        const bad = evaluations.filter((e) => e.verdict === "fail").map(describe);
        return await this.rollBack(unit, `canary failed its gates: ${bad.join("; ")}`, "executor");
      }
      const blind = evaluations.filter((e) => e.errorLimit);
      if (blind.length > 0) {
        return await this.hold(
          unit.id,
          `metrics provider failing: ${blind.map(describe).join("; ")}`,
          HOLD_CHOICE,
        );
      }
      if (baked < bakeMs) continue;
      if (verdict === "pass") {
        await this.record({
          type: "step-end",
          unit: unit.id,
          summary: `canary on ${rendered} passed its gates after ${formatDuration(baked)}`,
        });
        return undefined;
      }
      if (baked < maxBakeMs) continue;
      const failing = evaluations.filter((e) => e.verdict !== "pass").map(describe);
      return await this.hold(
        unit.id,
        `canary ${verdict} after ${formatDuration(baked)}: ${failing.join("; ")}`,
        HOLD_CHOICE,
      );
    }
  }

  async failed(
    unit: Extract<RolloutUnit, { kind: "batch" }>,
    reason: string,
    forward: boolean,
  ): Promise<Outcome> {
    if (!forward) return await this.halt("tool-failed", `rollback stopped: ${reason}`, unit.id);
    return await this.rollBack(unit, `batch ${unit.index} failed: ${reason}`, "executor");
  }

  /** Every batch on the release, last first, drained and returned to the release it ran. */
  async rollBack(unit: RolloutUnit, reason: string, by: string): Promise<Outcome> {
    await this.record({ type: "note", unit: unit.id, message: `rolling back: ${reason} (${by})` });
    const reached = this.ctx.units.filter(
      (u): u is Extract<RolloutUnit, { kind: "batch" }> =>
        u.kind === "batch" &&
        // The unit that failed has started; an operator's rollback names the next, which has not.
        (this.state.completed.has(u.id) || (u.id === unit.id && this.state.started.has(u.id))),
    );
    // A cloud group replaces a host under a new name: a batch goes back by the hosts that now
    // run the release in its place (bare-metal names never change).
    const now = await this.ctx.driver.read();
    const names = new Set(now.hosts.map((h) => h.name));
    const spare = now.hosts
      .filter(
        (h) => h.release === this.pool.rendered && !reached.some((b) => b.hosts.includes(h.name)),
      )
      .map((h) => h.name);
    const back = reached.map((b) => ({
      ...b,
      hosts: b.hosts.map((h) => (names.has(h) ? h : (spare.shift() ?? h))),
    }));
    let hosts = 0;
    for (const batch of back.reverse()) {
      const moved = await this.move(batch, "from");
      if (moved) return moved;
      hosts += batch.hosts.length;
    }
    await this.record({
      type: "halt",
      kind: "rolled-back",
      reason: `${reason}; ${hosts} host(s) back on ${this.pool.running}`,
      unit: unit.id,
    });
    return {
      kind: "rolled-back",
      reason: `${reason}; ${hosts} host(s) back on ${this.pool.running}`,
      unit: unit.id,
    };
  }
}

const HOLD_CHOICE = "approve to go on with the next batch, or roll back";

export interface RolloutRunOptions {
  /** Run one unit, then stop. */
  step?: boolean;
}

/** Runs from where the journal stands until a hold, a rollback or the end. */
export function runRollout(ctx: RolloutContext, options: RolloutRunOptions = {}): Promise<Outcome> {
  return leased(ctx, Rollout.open, async (run, lease) => {
    const hash = rolloutHash(ctx.pool, ctx.units);
    const s = run.state;
    if (s.blocked?.kind === "done" && s.hash === hash)
      return { kind: "done", reason: "already complete" };
    if (s.blocked?.kind === "rolled-back" && s.hash === hash) {
      return {
        kind: "rolled-back",
        reason: `rolled back earlier (${s.blocked.reason})`,
        unit: s.blocked.unit,
      };
    }
    const held = heldOutcome(s);
    if (held) return held;
    // Recorded (under the lease) before the abort request is cleared: a stale rollout must
    // not swallow an operator's abort.
    await run.record({
      type: "start",
      hash,
      pid: process.pid,
      by: ctx.by,
      restart: s.hash !== undefined && s.hash !== hash,
      mode: ctx.mode,
    });
    await ctx.backend.clearAbort(ctx.key);
    if (lease.takenFrom) {
      await run.record({
        type: "note",
        message: `took over the lease of executor pid ${lease.takenFrom.pid}, which is gone`,
      });
    }
    for (let unit = nextUnit(ctx.units, run.state); unit; unit = nextUnit(ctx.units, run.state)) {
      if (await run.aborted()) return await run.stopForAbort(unit.id);
      const outcome = await run.runUnit(unit);
      if (outcome) return outcome;
      const following = nextUnit(ctx.units, run.state);
      if (options.step && following) {
        return {
          kind: "stepped",
          reason: `step ${unit.id} done; next: ${following.title}`,
          unit: unit.id,
        };
      }
    }
    return await run.halt("done", `every host of ${ctx.pool.stack} runs ${ctx.pool.rendered}`);
  });
}

/** An operator's rollback: every updated batch back to the release the pool ran, drained first. */
export function rollbackRollout(ctx: RolloutContext): Promise<Outcome> {
  return leased(ctx, Rollout.open, async (run) => {
    await ctx.backend.clearAbort(ctx.key);
    const unit = nextUnit(ctx.units, run.state) ?? ctx.units.at(-1)!;
    return await run.rollBack(unit, `operator rollback by ${ctx.by}`, ctx.by);
  });
}

export function abortRollout(ctx: RolloutContext, reason: string): Promise<Outcome> {
  return abortRun(ctx, Rollout.open, reason);
}

export function approveRollout(ctx: RolloutContext): Promise<Approval> {
  return approveRun(ctx, Rollout.open);
}
