/** A marker's `at`: an instant in UTC as Date.toISOString writes it (seconds, optional ms). */
export const MARKER_AT_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{3})?Z$";

/**
 * The marker `avfleet migrate` writes beside what it changes in a stack's config (a traffic
 * split's weights, a pool's minHosts): the change's position in the region's journal and
 * whether a rollback made it. The policy pack orders updates by it (policy/migration.ts).
 * `at` is optional, so markers written before it (#28) still load.
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
      at: {
        type: "string",
        pattern: MARKER_AT_PATTERN,
        description:
          "when the executor wrote the change, UTC like 2026-03-10T14:00:00.000Z: an AWS pool with scheduled floors sets its group's minimum at the up that carries a newer marker, to the floor its schedules hold at this time (absent: written before #28, the minimum is left to the schedules)",
      },
    },
  }) as const;
