/**
 * A migration's marker against the one the stack applied last (policy/migration.ts explains
 * the marker). The pack refuses stale weights and lets a staged rollback through the step
 * rule; the rehearsal world (modules/migrate) applies the same two rules to what it deploys.
 */
import type { MigrationMarker } from "./facts";

/**
 * Why this update's weights (a traffic stack) or minHosts (a fleet stack) are older than the
 * ones the stack applied last, or undefined. The same seq is the same change (an `up` run
 * again, a checkout with the migration's commit).
 */
export function staleWeights(
  config: MigrationMarker | undefined,
  deployed: MigrationMarker | undefined,
  what: "weights are" | "minHosts is" = "weights are",
): string | undefined {
  if (!deployed || (config && config.seq >= deployed.seq)) return undefined;
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
