/**
 * JSON Schema of a diff shard — what `avfleet diff --shard i/n` writes and `avfleet diff
 * merge` reads: which shard of how many, the stacks it covered, and its report. The report's
 * stacks are the diff's own output, passed through unchanged.
 */
import type { FromSchema } from "json-schema-to-ts";

const side = {
  type: "object",
  description: "a revision {label, commit}",
  required: ["label"],
  additionalProperties: false,
  properties: {
    label: { type: "string", description: "the revision as the user named it" },
    commit: { type: "string", description: "its abbreviated commit" },
  },
} as const;

/** Bump when the shard document changes; merge refuses other formats. */
export const SHARD_FORMAT = 2;

/** The one key of an object that stands for a blob of the shard: `{"avfleet:blob": sha256}`. */
export const BLOB_KEY = "avfleet:blob";

/**
 * Largest shard merge reads. A shard holds each large text once (a 5,000-host site's package
 * bump is a few MB: test/diff/big-site.test.ts); V8 refuses strings past 512 MiB, so the limit
 * stays well below that, with room for the merged report beside it.
 */
export const SHARD_MAX_BYTES = 256 * 1024 * 1024;

export const shardSchema = {
  type: "object",
  description: "a diff shard {format, shard, stacks, blobs, report}",
  required: ["format", "shard", "stacks", "blobs", "report"],
  additionalProperties: false,
  properties: {
    format: {
      const: SHARD_FORMAT,
      description: `${SHARD_FORMAT} (written by this version of avfleet diff --shard)`,
    },
    shard: {
      type: "object",
      description: "which shard {index, count}",
      required: ["index", "count"],
      additionalProperties: false,
      properties: {
        index: { type: "integer", minimum: 1, description: "an integer from 1 to count" },
        count: { type: "integer", minimum: 1, description: "an integer of at least 1" },
      },
    },
    stacks: {
      type: "array",
      description: "the names of the stacks this shard covered",
      items: { type: "string", description: "a stack name" },
    },
    blobs: {
      type: "object",
      description: `the report's large texts by their sha256 (64 hex digits); the report holds {"${BLOB_KEY}": sha256} in their place`,
      propertyNames: { pattern: "^[0-9a-f]{64}$" },
      additionalProperties: { type: "string", description: "the text" },
    },
    report: {
      type: "object",
      description: "a diff report {base, head, stacks}",
      required: ["base", "head", "stacks"],
      additionalProperties: false,
      properties: {
        base: side,
        head: side,
        stacks: {
          type: "array",
          description: "the stacks' reports",
          items: {
            type: "object",
            description: "a stack's report {diff, summary}",
            required: ["diff", "summary"],
          },
        },
      },
    },
  },
} as const;

export type ShardDocument = FromSchema<typeof shardSchema>;
