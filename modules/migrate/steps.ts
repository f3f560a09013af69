/**
 * A migration's steps as the executor runs them: preflight, scale, shift (with its bake and
 * gates), drain, approve, decommission and the rollback's fast path, each recorded in the
 * journal before and after it happens (executor.ts says how a run resumes).
 */
import type { Lease } from "../migration-state/backend";
import { evaluateGates, roundVerdict } from "../gates/gates";
import type { GateEvaluation } from "../gates/verdict";
import type { Entry, EntryOf } from "../migration-state/journal";
import type { Unit, UnitOf } from "../runbook/plan";
import { pulumiArgs, setWeightsArgs } from "../runbook/pulumi-args";
import { receivingFloors } from "../runbook/hosts-needed";
import { RAISE_FLOOR_DEFAULTS } from "../runbook/runbook.schema";
import { concurrentUpdate, summarize, type CliResult } from "./pulumi";
import { formatDuration } from "../runbook/runbook";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS } from "../gates/slo";
import { validApproval } from "../migration-state/state";
import { formatWeights, sameWeights, type Weights } from "../runbook/weights";
import { shiftedWeights } from "../traffic/weights";
import type { Outcome } from "./run";
import { hostsReading, PoolRun, type ExecutorContext, type Step } from "./pools";

export type { ExecutorContext } from "./pools";

export class Execution extends PoolRun {
  static open(ctx: ExecutorContext, lease: Lease, entries: Entry[]): Execution {
    return new Execution(ctx, lease, entries);
  }

  async readWeights(
    unit: string,
  ): Promise<{ ok: true; weights: Weights } | { ok: false; reason: string }> {
    const read = await this.outputs(unit, this.runbook.traffic);
    if (!read.ok) return read;
    const weights = read.outputs.weights;
    this.noteDeployed(read.outputs.migration);
    if (typeof weights !== "object" || weights === null) {
      return { ok: false, reason: `${this.runbook.traffic} has no weights output` };
    }
    return { ok: true, weights };
  }

  /**
   * Makes the traffic stack's weights `weights`: set every pool, up, read back. Skipped when
   * `current` (just read back) already shows them (a resumed step), unless a `rollback` (the
   * config may hold a failed change that must not linger for the next `up`). The config carries
   * the marker (nextSeq) and whether it is a rollback (pulumi-args.ts WeightChange).
   */
  async ensureWeights(
    unit: string,
    weights: Weights,
    current: Weights,
    rollback = false,
  ): Promise<Step> {
    const { traffic } = this.runbook;
    if (!rollback && sameWeights(current, weights)) {
      if (!this.state.applied.has(unit)) {
        await this.record({ type: "weights-applied", unit, weights, changed: false });
      }
      return { ok: true };
    }
    await this.record({ type: "weights-intent", unit, weights });
    for (const args of [
      setWeightsArgs(traffic, this.ctx.loaded.traffic.pools, weights, {
        seq: this.nextSeq,
        rollback,
      }),
      pulumiArgs.up(traffic),
    ]) {
      const result = await this.pulumi(unit, args);
      if (result.exitCode !== 0) return await this.failedCall(unit, args, result, current);
    }
    const back = await this.readWeights(unit);
    if (!back.ok) return { ok: false, kind: "tool-failed", reason: back.reason, dirty: true };
    if (!sameWeights(back.weights, weights)) {
      const reason = `read back ${formatWeights(back.weights)}, expected ${formatWeights(weights)}`;
      return { ok: false, kind: "tool-failed", reason, dirty: true };
    }
    await this.record({
      type: "weights-applied",
      unit,
      weights,
      changed: !sameWeights(current, weights),
    });
    await this.publish(unit, this.ctx.loaded.traffic.file);
    return { ok: true };
  }

  /**
   * A weight change's `config set-all` or `up` failed: the staged config goes back. An `up` that
   * another update kept out, retries and all, never started, so nothing deployed moved: the run
   * stops (the next `run` tries the step again) instead of rolling back.
   */
  private async failedCall(
    unit: string,
    args: string[],
    result: CliResult,
    current: Weights,
  ): Promise<Step> {
    await this.unstage(unit, current);
    const reason = `pulumi ${args[0]} ${this.runbook.traffic}: ${summarize(result)}`;
    const held = concurrentUpdate(result);
    if (held) {
      const why = `${reason} (${held}: another update held the stack through every retry; nothing was applied, run again)`;
      return { ok: false, kind: "tool-failed", reason: why };
    }
    return { ok: false, kind: "tool-failed", reason, dirty: true };
  }

  /**
   * After a failed `config set-all` or `up`: puts the stack's config back to the weights last
   * read from it, so the next `up` anyone runs (a teammate, CI) applies nothing this run staged.
   * Best effort: a failure here is journaled, and the next run's step sets every pool anyway.
   */
  async unstage(unit: string, weights: Weights): Promise<void> {
    const { traffic } = this.runbook;
    const change = { seq: this.nextSeq, rollback: false };
    const args = setWeightsArgs(traffic, this.ctx.loaded.traffic.pools, weights, change);
    if ((await this.pulumi(unit, args)).exitCode === 0)
      await this.publish(unit, this.ctx.loaded.traffic.file);
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
    if (!to)
      return await this.halt("tool-failed", "no last good weights recorded to roll back to", unit);
    const current = await this.readWeights(unit);
    if (!current.ok) return await this.halt("tool-failed", `rollback: ${current.reason}`, unit);
    if (!this.state.pendingRollback) {
      const as = this.actor;
      await this.record({
        type: "rollback-intent",
        unit,
        from: current.weights,
        to,
        reason,
        by,
        as,
      });
    }
    // A resumed rollback reports where it started, not where the kill left it.
    const intent = this.state.pendingRollback!;
    await this.rollbackFloors(`${unit}:rollback`, current.weights, to);
    const done = await this.ensureWeights(`${unit}:rollback`, to, current.weights, true);
    if (!done.ok) return await this.halt("tool-failed", `rollback: ${done.reason}`, unit);
    await this.record({
      type: "rollback",
      unit,
      from: intent.from,
      to,
      reason: intent.reason,
      by: intent.by,
      as: intent.as,
    });
    return { kind: "rolled-back", reason: intent.reason, unit };
  }

  /**
   * The pools a rollback returns joins to get the floor their share needs, marked as the
   * rollback's, but it is not waited for: the fast path must not sit out a boot on a pool whose
   * gates failed. A failure is noted, never a reason to stay on the failing weights.
   */
  private async rollbackFloors(unit: string, from: Weights, to: Weights): Promise<void> {
    if ((this.runbook.raiseFloor ?? RAISE_FLOOR_DEFAULTS).enabled === false) return;
    for (const floor of receivingFloors(this.ctx.loaded.stacksDir, from, to)) {
      const raised = await this.ensureMinHosts(unit, floor.stack, floor.minHosts, true);
      const message = raised.ok
        ? `floor: ${floor.stack} minHosts at least ${floor.minHosts} for weight ${floor.weight}, not waited for`
        : `floor: ${floor.stack} minHosts ${floor.minHosts} not raised (${raised.reason}); rolling back regardless`;
      await this.record({ type: "note", unit, message });
    }
  }

  /**
   * #28: before a weight change moves joins, each cloud pool it gives more weight gets the hosts
   * its new share needs, and they are up, so a failover's joins meet serving hosts rather than
   * an autoscaler a boot behind. Lowering a floor is left to a later explicit step.
   */
  async raiseFloors(unit: UnitOf<"shift" | "drain">): Promise<Outcome | undefined> {
    const healthy = await this.raiseAndWait(unit.id, unit.floors, unit.floorWithinMs);
    if (!Array.isArray(healthy)) return healthy;
    for (const [i, floor] of unit.floors.entries()) {
      await this.record({
        type: "note",
        unit: unit.id,
        message: `floor: ${floor.stack} has ${healthy[i]} healthy hosts (minHosts ${floor.minHosts} for weight ${floor.weight}) before its weight moves`,
      });
    }
    return undefined;
  }

  /**
   * A weight change that failed after its config was set may have left the config (and some
   * DNS records) changed: go back to the last good weights rather than leave it for the next up.
   */
  async failedChange(unit: string, failure: Extract<Step, { ok: false }>): Promise<Outcome> {
    if (!failure.dirty) return await this.halt(failure.kind, failure.reason, unit);
    return this.rollback(unit, `weight change failed: ${failure.reason}`, "executor");
  }

  async runUnit(unit: Unit): Promise<Outcome | undefined> {
    await this.record({ type: "step-start", unit: unit.id, title: unit.title });
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
          return await this.stopForAbort(unit.id);
        }
        await this.record({ type: "step-end", unit: unit.id, summary: "waited" });
        return undefined;
    }
  }

  async preflight(unit: UnitOf<"preflight">): Promise<Outcome | undefined> {
    const { traffic, source, target } = this.runbook;
    const outputs: Record<string, any> = {};
    for (const stack of [traffic, source, target]) {
      const read = await this.outputs(unit.id, stack);
      if (!read.ok)
        return await this.halt(
          "check-failed",
          `stack ${stack} is not deployed: ${read.reason}`,
          unit.id,
        );
      outputs[stack] = read.outputs;
      this.noteDeployed(read.outputs.migration);
    }
    const missing = this.ctx.loaded.traffic.pools.filter(
      (p) => typeof outputs[traffic].weights?.[p] !== "number",
    );
    if (missing.length > 0) {
      return await this.halt(
        "check-failed",
        `${traffic} outputs no weight for ${missing.join(", ")}`,
        unit.id,
      );
    }
    const policies = await this.pulumi(unit.id, pulumiArgs.policies(target));
    if (policies.exitCode !== 0) {
      return await this.halt(
        "check-failed",
        `policies fail on ${target}: ${summarize(policies)}`,
        unit.id,
      );
    }
    const want = Number(outputs[target].minHosts ?? 1);
    const healthy = await this.instant(HEALTHY_HOSTS, this.poolOf(target));
    if (typeof healthy !== "number" || healthy < want) {
      const seen = hostsReading(healthy);
      return await this.halt(
        "check-failed",
        `${target} is not healthy: ${seen}, expected at least ${want}`,
        unit.id,
      );
    }
    await this.record({
      type: "step-end",
      unit: unit.id,
      summary: `stacks deployed, policies pass, ${target} has ${healthy}/${want} healthy hosts`,
    });
    return undefined;
  }

  async scale(unit: UnitOf<"scale">): Promise<Outcome | undefined> {
    const healthy = await this.raiseAndWait(unit.id, [unit], unit.healthyWithinMs);
    if (!Array.isArray(healthy)) return healthy;
    await this.record({
      type: "step-end",
      unit: unit.id,
      summary: `${unit.stack}: ${healthy[0]} healthy hosts`,
    });
    return undefined;
  }

  async shift(unit: UnitOf<"shift">): Promise<Outcome | undefined> {
    const { target } = this.runbook;
    const current = await this.readWeights(unit.id);
    if (!current.ok) return await this.halt("tool-failed", current.reason, unit.id);
    // After --restart, weights below where traffic already is are passed, never moved back to:
    // moving back is rollback's job.
    if ((current.weights[target] ?? 0) > unit.weights[target]) {
      await this.record({
        type: "step-end",
        unit: unit.id,
        summary: `skipped: ${target} is already at ${current.weights[target]}`,
      });
      return undefined;
    }
    if (!sameWeights(current.weights, unit.weights)) {
      const floors = await this.raiseFloors(unit);
      if (floors) return floors;
    }
    const change = await this.ensureWeights(unit.id, unit.weights, current.weights);
    if (!change.ok) return this.failedChange(unit.id, change);
    if (await this.endIfAccepted(unit, (by) => `held, then accepted by ${by}`)) return undefined;
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
        return await this.stopForAbort(unit.id);
      }
      const evaluations = await evaluateGates(
        unit.gates,
        { source: this.poolOf(this.runbook.source), target: this.poolOf(target) },
        this.ctx.drivers.metrics,
        appliedAt,
        this.clock.now(),
        { maxBakeMs: unit.maxBakeMs, intervalMs: unit.intervalMs },
      );
      const round = (last?.round ?? 0) + 1;
      await this.record({
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
      return await this.hold(
        unit.id,
        `metrics provider failing: ${blind.map(describe).join("; ")}`,
      );
    if (baked < unit.bakeMs) return "bake on";
    if (verdict === "pass") {
      const summary = `gates passed after ${formatDuration(baked)}`;
      await this.record({ type: "step-end", unit: unit.id, weights: unit.weights, summary });
      return undefined;
    }
    if (verdict === "inconclusive" && baked < unit.maxBakeMs) return "bake on";
    const why =
      verdict === "fail"
        ? "non-critical gate failed"
        : `inconclusive after ${formatDuration(baked)}`;
    const failing = evaluations.filter((e) => e.verdict !== "pass").map(describe);
    return await this.hold(unit.id, `${why}: ${failing.join("; ")}`);
  }

  hold(
    unit: string,
    reason: string,
    choice = "approve to accept this weight, or roll back",
  ): Promise<Outcome> {
    return super.hold(unit, reason, choice);
  }

  async drain(unit: UnitOf<"drain">): Promise<Outcome | undefined> {
    const current = await this.readWeights(unit.id);
    if (!current.ok) return await this.halt("tool-failed", current.reason, unit.id);
    if (!sameWeights(current.weights, unit.weights)) {
      const floors = await this.raiseFloors(unit);
      if (floors) return floors;
    }
    const change = await this.ensureWeights(unit.id, unit.weights, current.weights);
    if (!change.ok) return this.failedChange(unit.id, change);
    const { source } = this.runbook;
    // A drain that ran out was held with its figure; an approval of that figure ends it.
    const accepted = (by: string) =>
      `ran out with sessions left on ${source} (the hold says how many); accepted by ${by}`;
    if (await this.endIfAccepted(unit, accepted)) return undefined;
    const deadline = this.state.started.get(unit.id)! + unit.maxWaitMs;
    for (;;) {
      const sessions = await this.instant(ACTIVE_SESSIONS, this.poolOf(source));
      const count = typeof sessions === "number" ? sessions : null;
      await this.record({
        type: "drain-poll",
        unit: unit.id,
        sessions: count,
        ...(count === null ? { reason: typeof sessions === "string" ? sessions : "no data" } : {}),
      });
      if (count !== null && count < unit.belowSessions) {
        await this.record({
          type: "step-end",
          unit: unit.id,
          weights: unit.weights,
          summary: `drained: ${count} sessions left on ${source}`,
        });
        return undefined;
      }
      if (this.clock.now() >= deadline) {
        // Not drained: whatever removes the source's hosts next would cut these calls, so a
        // person decides, seeing the figure.
        return await this.hold(
          unit.id,
          `drain ran out after ${formatDuration(unit.maxWaitMs)} with ${count ?? "an unknown number of"} sessions still on ${source} (drained means fewer than ${unit.belowSessions})`,
          `approve to go on (the steps after it retire ${source} and end those calls), or roll back`,
        );
      }
      if (!(await this.sleepUntil(Math.min(deadline, this.clock.now() + unit.intervalMs)))) {
        return await this.stopForAbort(unit.id);
      }
    }
  }

  async approve(unit: UnitOf<"approve">): Promise<Outcome | undefined> {
    const now = this.clock.now();
    const approval = validApproval(this.state, unit.id, now);
    if (approval) {
      await this.record({
        type: "step-end",
        unit: unit.id,
        summary: `approved by ${approval.by} at ${new Date(approval.at).toISOString()}`,
      });
      return undefined;
    }
    const expired = this.state.approvals.get(unit.id);
    if (expired) {
      await this.record({
        type: "note",
        unit: unit.id,
        message: `approval by ${expired.by} expired at ${new Date(expired.expiresAt).toISOString()}`,
      });
    }
    if (this.state.pendingApproval?.unit !== unit.id) {
      await this.record({
        type: "approval-requested",
        unit: unit.id,
        reason: unit.reason,
        hold: false,
      });
    }
    return await this.halt(
      "waiting-approval",
      `step ${unit.id} needs an approval: ${unit.reason}`,
      unit.id,
    );
  }

  async decommission(unit: UnitOf<"decommission">): Promise<Outcome | undefined> {
    const drained = this.ctx.units.some(
      (u) => u.kind === "drain" && this.state.completed.has(u.id),
    );
    if (!drained)
      return await this.halt("check-failed", `${unit.stack} has no finished drain`, unit.id);
    const read = await this.outputs(unit.id, unit.stack);
    if (!read.ok) return await this.halt("tool-failed", read.reason, unit.id);
    if (Object.keys(read.outputs).length > 0) {
      const result = await this.pulumi(unit.id, pulumiArgs.destroy(unit.stack));
      if (result.exitCode !== 0) {
        return await this.halt(
          "tool-failed",
          `pulumi destroy ${unit.stack}: ${summarize(result)}`,
          unit.id,
        );
      }
    }
    await this.record({ type: "step-end", unit: unit.id, summary: `${unit.stack} retired` });
    return undefined;
  }
}
