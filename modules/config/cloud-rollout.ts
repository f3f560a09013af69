/**
 * Checks of `avfleet:rollout` against the fleet it rolls through, beyond its schema
 * (rollout.schema.ts).
 */
import type { RolloutConfig } from "./rollout.schema";
import type { KeyPath, Problem } from "../inputs/problems";

/**
 * A cloud pool's rollout must say what the pool ran before in its own provider's terms: a
 * rollback points the group at it, and it may be asked for at any batch.
 */
export function cloudRolloutProblems(
  kind: string,
  rollout: RolloutConfig | undefined,
  at: KeyPath,
): Problem[] {
  if (!rollout) return [];
  const from = rollout.from ?? {};
  if (kind === "gcp" && from.template === undefined) {
    return [
      {
        path: [...at, "from"],
        message: "has no template",
        expected: "from.template: the instance template's self link the MIG pointed at before",
      },
    ];
  }
  if (kind === "aws" && from.version === undefined) {
    return [
      {
        path: [...at, "from"],
        message: "has no version",
        expected: "from.version: the launch template version the group launched before",
      },
    ];
  }
  return [];
}
