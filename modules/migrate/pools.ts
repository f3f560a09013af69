/**
 * What a migration's steps do to its stacks' pools: set a pool's minHosts with the migration's
 * marker, wait for its hosts to turn healthy, publish a changed stack file, and the marker's
 * next seq across the region's stacks (steps.ts runs the steps on top of these).
 */
import { stackFileName } from "../stacks/stack";
import type { HaltKind } from "../migration-state/journal";
import type { Unit } from "../runbook/plan";
import { pulumiArgs, setMinHostsArgs } from "../runbook/pulumi-args";
import { summarize } from "./pulumi";
import { formatDuration, type LoadedRunbook } from "../runbook/runbook";
import { HEALTHY_HOSTS } from "../gates/slo";
import { JournaledRun, type Outcome, type RunContext } from "./run";

export interface ExecutorContext extends RunContext<Unit> {
  loaded: LoadedRunbook;
  mode: "migrate" | "rehearse";
}

/** A healthy-hosts reading for a message: `12 healthy hosts`, or why there is none. */
export function hostsReading(value: number | string | undefined): string {
  return typeof value === "number" ? `${value} healthy hosts` : (value ?? "no data");
}

/** `dirty`: the failure came after config was set, so the stack may hold a partial change. */
export type Step = { ok: true } | { ok: false; kind: HaltKind; reason: string; dirty?: boolean };

export class PoolRun extends JournaledRun<ExecutorContext> {
  /**
   * The highest migration marker's seq a stack of the region last applied, as its outputs say:
   * the traffic stack's (weights) and the pools' (minHosts) count in one journal.
   */
  protected deployedSeq = 0;

  protected noteDeployed(marker: { seq?: unknown } | null | undefined): void {
    if (typeof marker?.seq === "number") this.deployedSeq = Math.max(this.deployedSeq, marker.seq);
  }

  protected get runbook() {
    return this.ctx.loaded.runbook;
  }

  /**
   * The marker's seq for the next change (weights or a pool's minHosts): the journal's position,
   * which only grows, and never at or below what the stacks read so far last applied (a write
   * always reads its own stack first). A journal
   * begun afresh (the state moved from a directory to PostgreSQL mid-migration, say) would
   * otherwise count from 1 again, and the pack's traffic- and fleet-migration-order would refuse
   * every step as older than the running migration's.
   */
  protected get nextSeq(): number {
    return Math.max(this.position, this.deployedSeq + 1);
  }

  /** The `pool` label a pool stack's hosts export their series under: what is queried. */
  protected poolOf(stack: string): string {
    return this.ctx.loaded.traffic.poolLabels[stack];
  }

  /** The stack file a step changed, published for the team (publish.ts), the outcome noted. */
  async publish(unit: string, file: string): Promise<void> {
    const { publish } = this.ctx.drivers;
    if (!publish) return;
    const step = this.ctx.units.find((u) => u.id === unit.split(":")[0]);
    const what = unit.endsWith(":rollback") ? "rollback" : (step?.title ?? `step ${unit}`);
    const message = `avfleet migrate ${this.runbook.region}: ${what}`;
    await this.record({
      type: "note",
      unit,
      message: `publish: ${await publish([file], message)}`,
    });
  }

  /**
   * Makes a fleet stack's minHosts at least `minHosts`, with the change's marker (#30) in the same
   * write: set, up, read back. A stack that already has as many is left alone (a resumed step).
   * A failed `set-all` or `up` puts the config back, so no staged minHosts waits for the next `up`.
   */
  async ensureMinHosts(
    unit: string,
    stack: string,
    minHosts: number,
    rollback = false,
  ): Promise<Step> {
    const read = await this.outputs(unit, stack);
    if (!read.ok) return { ok: false, kind: "tool-failed", reason: read.reason };
    this.noteDeployed(read.outputs.migration);
    const before = Number(read.outputs.minHosts);
    if (before >= minHosts) return { ok: true };
    // The change's time rides in its marker: an AWS pool whose schedules move its minimum sets
    // it at this up to the floor its schedules hold then (modules/fleets/aws-args.ts groupMinSize).
    const change = { seq: this.nextSeq, rollback, at: new Date(this.clock.now()).toISOString() };
    for (const args of [setMinHostsArgs(stack, minHosts, change), pulumiArgs.up(stack)]) {
      const result = await this.pulumi(unit, args);
      if (result.exitCode !== 0) {
        if (Number.isInteger(before))
          await this.pulumi(unit, setMinHostsArgs(stack, before, change));
        const reason = `pulumi ${args[0]} ${stack}: ${summarize(result)}`;
        return { ok: false, kind: "tool-failed", reason };
      }
    }
    const back = await this.outputs(unit, stack);
    if (!back.ok) return { ok: false, kind: "tool-failed", reason: back.reason };
    this.noteDeployed(back.outputs.migration);
    if (Number(back.outputs.minHosts) !== minHosts) {
      const reason = `read back minHosts ${back.outputs.minHosts}, expected ${minHosts}`;
      return { ok: false, kind: "tool-failed", reason };
    }
    await this.publish(unit, stackFileName(this.ctx.loaded.stacksDir, stack));
    return { ok: true };
  }

  /**
   * Waits, from the unit's start, until `stack` has `minHosts` healthy hosts (the count its
   * hosts export): their number, or the halt when they are not up within `withinMs`.
   */
  async healthyHosts(
    unit: string,
    stack: string,
    minHosts: number,
    withinMs: number,
  ): Promise<number | Outcome> {
    const deadline = this.state.started.get(unit)! + withinMs;
    for (;;) {
      const healthy = await this.instant(HEALTHY_HOSTS, this.poolOf(stack));
      if (typeof healthy === "number" && healthy >= minHosts) return healthy;
      if (this.clock.now() >= deadline) {
        const seen = hostsReading(healthy);
        return await this.halt(
          "check-failed",
          `${stack}: ${seen} after ${formatDuration(withinMs)}, expected ${minHosts}`,
          unit,
        );
      }
      if (!(await this.sleepUntil(Math.min(deadline, this.clock.now() + 60_000))))
        return await this.stopForAbort(unit);
    }
  }

  /**
   * Raises each pool's minHosts (every one first, so their hosts boot together), then waits for
   * each one's healthy hosts from the unit's start: their counts, or the halt.
   */
  async raiseAndWait(
    unit: string,
    floors: { stack: string; minHosts: number }[],
    withinMs: number,
  ): Promise<number[] | Outcome> {
    for (const floor of floors) {
      const raised = await this.ensureMinHosts(unit, floor.stack, floor.minHosts);
      if (!raised.ok) return await this.halt(raised.kind, raised.reason, unit);
    }
    const counts: number[] = [];
    for (const floor of floors) {
      const healthy = await this.healthyHosts(unit, floor.stack, floor.minHosts, withinMs);
      if (typeof healthy !== "number") return healthy;
      counts.push(healthy);
    }
    return counts;
  }
}
