/**
 * Pure: a release's rollout through one pool as the units its journal marks complete — begin
 * (record the release as the pool's rollout), then the canary and every batch, each drained,
 * updated, verified and returned before the next; the canary also baked under the relative
 * gates, its hosts against the rest of the pool.
 */
import type { RolloutConfig } from "../config/rollout";
import type { Gate } from "../gates/gates";
import type { MigrationState } from "../migration-state/state";
import {
  planBatches,
  type BatchLimits,
  type RolloutBatches,
  type RolloutHost,
} from "../release/batches";

export type RolloutUnit = { id: string; title: string } &
  /** `plan`: the batches, as the program recomputes them from the same hosts and limits. */
  (
    | { kind: "begin"; plan: RolloutBatches }
    | { kind: "batch"; index: number; hosts: string[]; canary: boolean }
  );

/** What a pool is and runs, as its driver reads it before anything changes. */
export interface PoolRead {
  stack: string;
  /** The `pool` label the hosts' series carry: the fleet spec's pool, not the stack's name. */
  pool: string;
  kind: "metal" | "gcp" | "aws";
  /** The release the stack renders now (stack output release.rendered). */
  rendered: string;
  /** The release its hosts run (from its state), and what the rollout's config calls `from`. */
  running: string;
  from: RolloutConfig["from"];
  /**
   * The `release` label the hosts' series carry for each (alternatives joined by `|`): bare
   * metal, the 12-hex prefix of each class payload's sha256; GCP, the instance template's name
   * (the `instance-template` metadata GCE sets on a MIG's VMs); AWS, `v<launch template
   * version>`. The canary is `release=~<rendered>`, the rest `release!~<rendered>`.
   */
  labels: { rendered: string; running: string };
  /** Serving hosts by failure domain (rack or zone), each with the release it runs. */
  hosts: (RolloutHost & { release: string })[];
  /** The pool's drain limit: calls still on a host then may be ended (its stack's drainSeconds). */
  drainSeconds: number;
}

export interface RolloutOptions extends BatchLimits {
  gates: Gate[];
  bakeMs: number;
  maxBakeMs: number;
  intervalMs: number;
  /** How long an updated batch has to serve again on its release before the rollout stops. */
  verifyWithinMs: number;
  approvalTtlMs: number;
}

/** The canary's gates: the migrations' relative defaults, canary hosts against the rest. */
export const ROLLOUT_GATES: Gate[] = (["packet-loss", "jitter-p95", "join-success"] as const).map(
  (slo) => ({
    slo,
    pool: "target",
    critical: true,
    minSamples: 100,
    compare: "source",
    confidence: 0.99,
  }),
);

export const ROLLOUT_DEFAULTS: RolloutOptions = {
  canaryShare: 0.01,
  maxUnavailable: "10%",
  domainsAtOnce: 1,
  gates: ROLLOUT_GATES,
  bakeMs: 30 * 60_000,
  maxBakeMs: 2 * 60 * 60_000,
  intervalMs: 5 * 60_000,
  verifyWithinMs: 20 * 60_000,
  approvalTtlMs: 4 * 60 * 60_000,
};

/**
 * The rollout's units: the batches its begin recorded (`planned`, the canary first), or, before
 * it has begun, a plan of the pool as it is. A cloud pool's hosts change names as they are
 * replaced: planned again after its canary, the pool would make another canary of the hosts
 * left, and a held canary's approval would plan a third.
 */
export function rolloutUnits(
  pool: PoolRead,
  options: RolloutOptions,
  planned?: string[][],
): RolloutUnit[] {
  // A site's program batches every active host (its plan hash covers them all); a cloud pool's
  // plan is of the hosts not on the release yet.
  const hosts =
    pool.kind === "metal" ? pool.hosts : pool.hosts.filter((h) => h.release !== pool.rendered);
  const plan = planned
    ? { canary: planned[0] ?? [], batches: planned.slice(1) }
    : planBatches(hosts, options);
  const { canary, batches } = plan;
  const all = [canary, ...batches].filter((b) => b.length > 0);
  const domainOf = new Map(pool.hosts.map((h) => [h.name, h.domain]));
  // A planned host replaced since (a cloud batch done) is in no domain the pool knows now.
  const where = (hosts: string[]) =>
    [...new Set(hosts.map((h) => domainOf.get(h) ?? "hosts replaced since"))].join(", ");
  return [
    {
      id: "1",
      kind: "begin",
      plan,
      title: `record ${pool.rendered} as ${pool.stack}'s rollout over ${pool.running}`,
    },
    ...all.map((hosts, index) => ({
      id: String(index + 2),
      kind: "batch" as const,
      index,
      hosts,
      canary: index === 0,
      title: `${index === 0 ? "canary" : `batch ${index}/${all.length - 1}`}: ${hosts.length} host(s) in ${where(hosts)}`,
    })),
  ];
}

/** The batches this release's rollout began with, from its journal's state, if it has begun. */
export function journaledPlan(state: MigrationState, release: string): string[][] | undefined {
  return state.plan?.release === release ? state.plan.batches : undefined;
}
