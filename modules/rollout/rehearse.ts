/**
 * A rollout rehearsed on a world: the executor, its journal and lease as a real run has them
 * (a local state directory), the world standing in for the pool's provider and metrics.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localBackend } from "../migration-state/backend";
import type { Entry } from "../migration-state/journal";
import { foldJournal } from "../migration-state/state";
import type { Outcome } from "../migrate/run";
import {
  rollbackRollout,
  runRollout,
  type RolloutContext,
  type RolloutRunOptions,
} from "./executor";
import {
  journaledPlan,
  rolloutUnits,
  ROLLOUT_DEFAULTS,
  type RolloutOptions,
  type RolloutUnit,
} from "./units";
import type { RolloutWorld } from "./world";

export interface Rehearsal {
  outcome: Outcome;
  units: RolloutUnit[];
  entries: Entry[];
}

/**
 * One rollout's journal and lease on a world, invoked as often as an operator would: each
 * invocation reads the pool again and plans its units again, as `avfleet rollout run` does.
 */
export class RolloutRehearsal {
  private readonly dir = mkdtempSync(join(tmpdir(), "avfleet-rollout-"));
  private readonly opts: RolloutOptions;
  readonly entries: Entry[] = [];
  units: RolloutUnit[] = [];

  constructor(
    private readonly world: RolloutWorld,
    options: Partial<RolloutOptions> = {},
    private readonly onEntry?: RolloutContext["onEntry"],
  ) {
    this.opts = { ...ROLLOUT_DEFAULTS, ...options };
  }

  private async context(): Promise<RolloutContext> {
    const { world, opts } = this;
    const pool = world.read();
    const backend = localBackend(this.dir);
    const key = `release/${pool.stack}`;
    const state = foldJournal(await backend.read(key));
    this.units = rolloutUnits(pool, opts, journaledPlan(state, pool.rendered));
    return {
      file: `stacks/Pulumi.${pool.stack}.yaml`,
      units: this.units,
      backend,
      key,
      by: "rehearsal",
      drivers: { pulumi: (args) => world.pulumi(args), metrics: world.metrics, clock: world.clock },
      mode: "rehearse",
      approvalTtlMs: () => opts.approvalTtlMs,
      pool,
      driver: world.driver,
      options: opts,
      onEntry: (entry, all) => {
        this.entries.push(entry);
        this.onEntry?.(entry, all);
      },
    };
  }

  async run(options: RolloutRunOptions = {}): Promise<Outcome> {
    return runRollout(await this.context(), options);
  }

  async rollback(): Promise<Outcome> {
    return rollbackRollout(await this.context());
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function rehearseRollout(
  world: RolloutWorld,
  options: Partial<RolloutOptions> = {},
  onEntry?: RolloutContext["onEntry"],
): Promise<Rehearsal> {
  const rehearsal = new RolloutRehearsal(world, options, onEntry);
  try {
    const outcome = await rehearsal.run();
    return { outcome, units: rehearsal.units, entries: rehearsal.entries };
  } finally {
    rehearsal.close();
  }
}
