/**
 * A cloud pool's release: its id (from what the pool's hosts are handed) and what the pool's
 * group points at for a given `avfleet:rollout`. Pure: GcpFleet and AwsFleet declare what this
 * decides; the rollout executor (modules/rollout) moves `avfleet:rollout` along.
 *
 * An `up` alone never rolls a release out. It creates the new instance template (GCP) or launch
 * template version (AWS), which records the intent, and leaves the group pointing at what it
 * ran, so autohealing and scale-out keep launching the release that was vetted. Only a rollout
 * of exactly the rendered release moves the group (target `release`), or back (target `from`).
 */
import { createHash } from "node:crypto";
import type { RolloutConfig } from "../config/rollout";

/** JSON with the keys of every object sorted: the same value hashes the same in any key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * `r-` and 12 hex digits of the sha256 of what the pool's hosts are handed (gcp-args'
 * hostTemplate, aws-args' hostLaunchTemplate): it changes exactly when a new host would get
 * something different, and not for the template's bookkeeping (names, labels, descriptions).
 */
export function releaseId(hostInputs: unknown): string {
  return `r-${createHash("sha256").update(canonicalJson(hostInputs)).digest("hex").slice(0, 12)}`;
}

/**
 * What the group's template (GCP: the MIG's versions; AWS: the ASG's launch template version)
 * is after this `up`:
 * - `running`: what it is now. The program still passes the new one, which Pulumi uses only
 *   when it creates the group; on every later `up` the group's field is in `ignoreChanges`, so
 *   the engine keeps the state's value (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/).
 * - `release`: the template or version this `up` renders.
 * - `from`: the one the rollout recorded as what the pool ran before (`from.template`,
 *   `from.version`).
 */
export type GroupTarget = "running" | "release" | "from";

export interface GroupIntent {
  target: GroupTarget;
  /** Why, in one line, for preview and the stack output. */
  why: string;
}

export function groupIntent(rendered: string, rollout: RolloutConfig | undefined): GroupIntent {
  if (!rollout) {
    return { target: "running", why: `no rollout: ${rendered} is recorded, hosts keep theirs` };
  }
  if (rollout.release !== rendered) {
    return {
      target: "running",
      why: `the rollout is of ${rollout.release}, this up renders ${rendered}: hosts keep theirs`,
    };
  }
  return rollout.target === "release"
    ? { target: "release", why: `rolling ${rendered} forward: new and recreated hosts get it` }
    : {
        target: "from",
        why: `rolling ${rendered} back: new and recreated hosts get what the pool ran before`,
      };
}

/** The rollout as the stack output shows it: where it stands, not its limits. */
export function rolloutSummary(rollout: RolloutConfig | undefined) {
  if (!rollout) return undefined;
  const { release, target, updated, draining } = rollout;
  return { release, target, updated, draining };
}
