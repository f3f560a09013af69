/**
 * The media server's session records: its answer to `GET <workload.sessionsPath>?after=<cursor>`,
 * which the host agent reads every interval and turns into the per-session quality families the
 * gates and the SLO rules read (modules/host-series/sessions.ts). The workload contract
 * (docs/reference/hosts.md) says what each record means; this schema is its shape, the
 * TypeScript types follow from it, and the host rehearsal checks every answer of the stand-in
 * SFU against it.
 */
import type { FromSchema } from "json-schema-to-ts";

const ratio = { type: "number", minimum: 0, maximum: 1, description: "a ratio in 0–1" } as const;
const seconds = { type: "number", minimum: 0, description: "seconds, ≥ 0" } as const;
const id = { type: "string", minLength: 1, description: "the session's id" } as const;

/** A session's figures over a stretch of its call: one minute of it, all of it, or so far. */
const figures = {
  lossRatio: { ...ratio, description: "packets lost ÷ packets sent to and from the session" },
  jitterP95Seconds: { ...seconds, description: "the 95th percentile of its jitter, seconds" },
  rttP95Seconds: { ...seconds, description: "the 95th percentile of its round-trip time, seconds" },
} as const;
const figureKeys = ["lossRatio", "jitterP95Seconds", "rttP95Seconds"] as const;

export const sessionsAnswerSchema = {
  type: "object",
  description: "a mapping {cursor, lost, records, open}",
  required: ["cursor", "records", "open"],
  additionalProperties: false,
  properties: {
    cursor: {
      type: "string",
      minLength: 1,
      description:
        "opaque: the position after the last record returned; the next request sends it as `after`",
    },
    lost: {
      type: "integer",
      minimum: 0,
      description:
        "records after `after` the server no longer holds (it keeps them at least 10 minutes)",
    },
    records: {
      type: "array",
      description: "what happened since `after`, oldest first",
      items: {
        type: "object",
        required: ["kind", "id"],
        discriminator: { propertyName: "kind" },
        oneOf: [
          {
            description: "a join attempt, at the attempt",
            additionalProperties: false,
            required: ["kind", "id", "joined"],
            properties: {
              kind: { const: "join" },
              id,
              joined: { type: "boolean", description: "true when the participant joined" },
              ice: {
                enum: ["connected", "failed", null],
                description:
                  "connected | failed: the ICE outcome of the attempt; null when it never got to ICE",
              },
            },
          },
          {
            description: "a session's figures over one wall-clock minute it was in (or its part)",
            additionalProperties: false,
            required: ["kind", "id", ...figureKeys],
            properties: { kind: { const: "minute" }, id, ...figures },
          },
          {
            description: "a session that ended, with its figures over the whole call",
            additionalProperties: false,
            required: ["kind", "id", "durationSeconds", ...figureKeys],
            properties: { kind: { const: "end" }, id, durationSeconds: seconds, ...figures },
          },
        ],
      },
    },
    open: {
      type: "array",
      description: "the sessions in progress now, with their figures so far",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "durationSeconds", ...figureKeys],
        properties: { id, durationSeconds: seconds, ...figures },
      },
    },
  },
} as const;

export type SessionsAnswer = FromSchema<typeof sessionsAnswerSchema>;
export type SessionRecord = SessionsAnswer["records"][number];
export type OpenSession = SessionsAnswer["open"][number];
/** The record fields that hold a figure (the contract's names). */
export type FigureField = (typeof figureKeys)[number];
