/**
 * A migration's marker against the one the stack applied last (policy/migration.ts explains
 * the marker). The pack refuses stale weights and lets a staged rollback through the step
 * rule; the rehearsal world (modules/migrate) applies the same two rules to what it deploys.
 */
import type { MigrationMarker } from "./facts";

/** A marker as a stack output carries it (`migration`), if it is one: null before any migration. */
export function markerOf(value: unknown): MigrationMarker | undefined {
  const marker = value as Partial<MigrationMarker> | null | undefined;
  return typeof marker?.seq === "number" ? (marker as MigrationMarker) : undefined;
}

/**
 * Whether a config's marker is older than the one its stack last applied: a config without
 * one is older than any. The same seq is the same change (an `up` run again, a checkout with
 * the migration's commit). Any marker that only grows is judged so: a traffic stack's weights,
 * a fleet stack's minHosts.
 */
export function behindApplied(
  config: { seq: number } | undefined,
  deployed: { seq: number } | undefined,
): boolean {
  return deployed !== undefined && !(config && config.seq >= deployed.seq);
}

/** Why this update's weights are older than the ones the stack applied last, or undefined. */
export function staleWeights(
  config: MigrationMarker | undefined,
  deployed: MigrationMarker | undefined,
  what: "weights are" | "minHosts is" = "weights are",
): string | undefined {
  if (!deployed || !behindApplied(config, deployed)) return undefined;
  const have = config ? `migration step ${config.seq}` : "no migration step";
  return `the stack's config carries ${have}, but the stack last applied step ${deployed.seq}: this checkout's ${what} older than a running migration's`;
}

/** Whether this update is a rollback the executor staged after the stack's last update. */
export function stagedRollback(
  config: MigrationMarker | undefined,
  deployed: MigrationMarker | undefined,
): boolean {
  return config?.rollback === true && config.seq > (deployed?.seq ?? 0);
}

/**
 * When a fleet update carries a floor change its own stack has not applied yet: the `at` of a
 * config marker newer than the one the stack last applied (#28). An AWS pool whose schedules
 * move its group's minimum sets it at exactly such an up; a marker without `at` (written before
 * #28), the same marker again or none leave the minimum to the schedules.
 */
export function floorChangeAt(
  config: MigrationMarker | undefined,
  applied: MigrationMarker | undefined,
): string | undefined {
  if (!config?.at || config.seq <= (applied?.seq ?? 0)) return undefined;
  return config.at;
}
