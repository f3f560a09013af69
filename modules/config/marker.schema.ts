/**
 * The marker `avfleet migrate` writes beside what it changes in a stack's config (a traffic
 * split's weights, a pool's minHosts): the change's position in the region's journal and
 * whether a rollback made it. The policy pack orders updates by it (policy/migration.ts).
 */
export const migrationMarkerSchema = <
  const Description extends string,
  const Seq extends string,
  const Rollback extends string,
>(
  description: Description,
  seq: Seq,
  rollback: Rollback,
) =>
  ({
    type: "object",
    description,
    required: ["seq", "rollback"],
    additionalProperties: false,
    properties: {
      seq: { type: "integer", minimum: 1, description: seq },
      rollback: { type: "boolean", description: rollback },
    },
  }) as const;
