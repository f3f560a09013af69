/**
 * A rollout rehearsed on a world: the executor, its journal and lease as a real run has them
 * (a local state directory), the world standing in for the pool's provider and metrics.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localBackend } from "../migrate/backend";
import type { Entry } from "../migrate/journal";
import type { Outcome } from "../migrate/run";
import { runRollout, type RolloutContext } from "./executor";
import { rolloutUnits, ROLLOUT_DEFAULTS, type RolloutOptions, type RolloutUnit } from "./units";
import type { RolloutWorld } from "./world";

export interface Rehearsal {
  outcome: Outcome;
  units: RolloutUnit[];
  entries: Entry[];
}

export async function rehearseRollout(
  world: RolloutWorld,
  options: Partial<RolloutOptions> = {},
  onEntry?: RolloutContext["onEntry"],
): Promise<Rehearsal> {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-rollout-"));
  try {
    const opts = { ...ROLLOUT_DEFAULTS, ...options };
    const pool = world.read();
    const units = rolloutUnits(pool, opts);
    const entries: Entry[] = [];
    const ctx: RolloutContext = {
      file: `stacks/Pulumi.${pool.stack}.yaml`,
      units,
      backend: localBackend(dir),
      key: `release/${pool.stack}`,
      by: "rehearsal",
      drivers: { pulumi: (args) => world.pulumi(args), metrics: world.metrics, clock: world.clock },
      mode: "rehearse",
      approvalTtlMs: () => opts.approvalTtlMs,
      pool,
      driver: world.driver,
      options: opts,
      onEntry: (entry, all) => {
        entries.push(entry);
        onEntry?.(entry, all);
      },
    };
    return { outcome: await runRollout(ctx), units, entries };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
