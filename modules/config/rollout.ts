/**
 * JSON Schema of `avfleet:rollout`: where a release's rollout stands in a fleet stack. The
 * rollout (modules/release) writes it with `pulumi config set --path`, one field at a time, and
 * the program reads it to decide what each host runs; nobody writes it by hand. Without it, or
 * with a release other than the one the stack renders now, an `up` only records the new
 * release (new hosts get it; every existing host keeps what it runs).
 *
 * Checks of `avfleet:rollout` against the fleet it rolls through, beyond its schema
 * (its schema, above).
 */
import type { FromSchema } from "json-schema-to-ts";
import type { KeyPath, Problem } from "../inputs/problems";

/** A release id: `r-` and 12 hex digits of the sha256 of what the pool's hosts are handed. */
export const RELEASE_ID = "^r-[0-9a-f]{12}$";

export const rolloutSchema = {
  type: "object",
  description:
    "a rollout's progress, written by `avfleet rollout run` (release, from, plan, updated, draining, target, limits)",
  required: [
    "release",
    "from",
    "plan",
    "updated",
    "draining",
    "target",
    "canaryShare",
    "maxUnavailable",
    "domainsAtOnce",
  ],
  additionalProperties: false,
  properties: {
    release: {
      type: "string",
      pattern: RELEASE_ID,
      description:
        "the release this rollout applies: the stack output release.rendered it started for",
    },
    from: {
      type: "object",
      description:
        "what the pool ran before (its state): bare metal, each host class's payload sha256; GCP, the instance template; AWS, the launch template version",
      additionalProperties: false,
      properties: {
        id: { type: "string", pattern: RELEASE_ID, description: "the release id it had" },
        classes: {
          type: "object",
          description: "host class → sha256 of the payload its hosts ran",
          additionalProperties: { type: "string", pattern: "^[0-9a-f]{64}$" },
        },
        template: {
          type: "string",
          description: "the instance template's self link (GCP)",
          minLength: 1,
          maxLength: 512,
        },
        version: {
          type: "integer",
          minimum: 1,
          description: "the launch template's version number (AWS)",
        },
      },
    },
    plan: {
      type: "string",
      pattern: "^[0-9a-f]{12}$",
      description:
        "12 hex digits of the sha256 of the batches the rollout started with: a changed inventory mid-rollout is refused",
    },
    updated: {
      type: "integer",
      minimum: 0,
      description: "batches on the release, the canary being batch 0; later batches keep `from`",
    },
    draining: {
      type: "integer",
      minimum: -1,
      description: "the batch draining now (its hosts get a drain request and leave DNS), -1 none",
    },
    target: {
      enum: ["release", "from"],
      description:
        "which release new and recreated cloud hosts get: release (rolling forward) or from (rolling back)",
    },
    canaryShare: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 0.5,
      description: "share of the pool in the canary (batch 0), at least one host",
    },
    maxUnavailable: {
      description: "hosts out of service at once: a count, or a share like 10%",
      oneOf: [
        { type: "integer", minimum: 1 },
        { type: "string", pattern: "^([1-9][0-9]?|100)%$" },
      ],
    },
    domainsAtOnce: {
      type: "integer",
      minimum: 1,
      description: "racks (bare metal) or zones (clouds) one batch may span",
    },
  },
} as const;

export type RolloutConfig = FromSchema<typeof rolloutSchema>;

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
