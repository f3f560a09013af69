/**
 * Shards of one diff, run on separate machines (`avfleet diff --shard i/n`), merged into the
 * report one run would have made: every shard of the set exactly once, all of the same two
 * revisions, each stack in one shard only.
 *
 * A shard keeps each large text once: a host class's payload or a boot script changed on every
 * host is a blob, named by its sha256, which the report refers to. A site's change stays a few
 * megabytes whatever its host count, and merge reads shards with a limit sized for them.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { assertNoProblems, InputError } from "../inputs/problems";
import { schemaProblems } from "../inputs/validate";
import type { DiffReport, Side } from "./report";
import type { Shard } from "./run";
import { BLOB_KEY, SHARD_FORMAT, SHARD_MAX_BYTES, shardSchema } from "./shard.schema";

/** Strings at least this long are blobs in a shard; shorter ones cost less than a reference. */
export const BLOB_MIN_CHARS = 1024;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function mapStrings(value: unknown, map: (s: string) => unknown): unknown {
  if (typeof value === "string") return map(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, map));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]));
  }
  return value;
}

/** What `avfleet diff --shard` writes: the report with each large text a blob. */
export function shardDocument(shard: Shard, stacks: string[], report: DiffReport): unknown {
  const blobs: Record<string, string> = {};
  const compact = mapStrings(report, (text) => {
    if (text.length < BLOB_MIN_CHARS) return text;
    const sha = createHash("sha256").update(text).digest("hex");
    blobs[sha] = text;
    return { [BLOB_KEY]: sha };
  });
  return { format: SHARD_FORMAT, shard, stacks, blobs, report: compact };
}

interface LoadedShard {
  file: string;
  shard: Shard;
  stacks: string[];
  report: DiffReport;
}

/** The report with its blobs back in place; a reference to a blob the shard lacks is refused. */
function inflate(file: string, report: unknown, blobs: Record<string, string>): DiffReport {
  const missing = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (!isRecord(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BLOB_KEY && typeof value[BLOB_KEY] === "string") {
      const sha = value[BLOB_KEY];
      if (!(sha in blobs)) missing.add(sha);
      return blobs[sha];
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
  };
  const inflated = walk(report) as DiffReport;
  if (missing.size > 0) {
    throw new InputError(
      [...missing].map(
        (sha) =>
          `${file}: blobs: has no "${sha}", which the report refers to, expected every blob the shard's report names`,
      ),
    );
  }
  return inflated;
}

const EXPECTED = "a shard written by avfleet diff --shard";

/**
 * A shard is JSON that avfleet wrote: JSON.parse reads a 7 MB one in a fraction of the time the
 * YAML reader takes once its scripts hold `&`, `*` or `!` (which send YAML the slow way).
 */
function readShard(file: string): unknown {
  const refuse = (message: string, expected = EXPECTED) =>
    assertNoProblems(file, [{ path: [], message, expected }]);
  let text = "";
  try {
    if (statSync(file).size > SHARD_MAX_BYTES) {
      refuse(`is larger than ${SHARD_MAX_BYTES} bytes`, `${EXPECTED}, at most 256 MiB`);
    }
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof InputError) throw err;
    refuse(`cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`, "a readable file");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    return refuse(`is not JSON (${(err as Error).message})`);
  }
}

function loadShard(file: string): LoadedShard {
  const document = readShard(file);
  assertNoProblems(file, schemaProblems(shardSchema, document));
  const { shard, stacks, blobs, report } = document as {
    shard: Shard;
    stacks: string[];
    blobs: Record<string, string>;
    report: unknown;
  };
  return { file, shard, stacks, report: inflate(file, report, blobs) };
}
const sideText = (side: Side) => JSON.stringify(side);

export function mergeShards(files: string[]): DiffReport {
  if (files.length === 0) {
    throw new InputError([
      "usage: diff merge needs the shard files, expected avfleet diff merge SHARD.json... (see --help)",
    ]);
  }
  // Every file's problems at once, not the first file's only.
  const unreadable: string[] = [];
  const shards = files.flatMap((file) => {
    try {
      return [loadShard(file)];
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      unreadable.push(...err.lines);
      return [];
    }
  });
  if (unreadable.length > 0) throw new InputError(unreadable);
  const [first] = shards;
  const lines: string[] = [];
  const seen = new Map<number, string>();
  const owner = new Map<string, string>();
  for (const s of shards) {
    if (s.shard.count !== first.shard.count) {
      lines.push(
        `${s.file}: shard.count: is ${s.shard.count}, expected ${first.shard.count} as in ${first.file}`,
      );
    }
    if (s.shard.index > s.shard.count) {
      lines.push(
        `${s.file}: shard.index: is ${s.shard.index}, expected an integer from 1 to ${s.shard.count}`,
      );
    }
    if (seen.has(s.shard.index)) {
      lines.push(
        `${s.file}: shard.index: is ${s.shard.index}, also the index of ${seen.get(s.shard.index)}, expected each shard once`,
      );
    }
    seen.set(s.shard.index, s.file);
    for (const key of ["base", "head"] as const) {
      if (sideText(s.report[key]) !== sideText(first.report[key])) {
        lines.push(
          `${s.file}: report.${key}: is ${sideText(s.report[key])}, expected ${sideText(first.report[key])} as in ${first.file} (shards of one diff)`,
        );
      }
    }
    for (const stack of s.stacks) {
      if (owner.has(stack)) {
        lines.push(
          `${s.file}: stacks: has ${stack}, also in ${owner.get(stack)}, expected each stack in one shard`,
        );
      }
      owner.set(stack, s.file);
    }
  }
  for (let index = 1; index <= first.shard.count; index++) {
    if (!seen.has(index)) {
      lines.push(
        `(shards): shard ${index}/${first.shard.count}: is missing, expected one file for each of the ${first.shard.count} shards`,
      );
    }
  }
  if (lines.length > 0) throw new InputError(lines);
  const stacks = shards
    .flatMap((s) => s.report.stacks)
    .sort((a, b) => (a.diff.stack < b.diff.stack ? -1 : a.diff.stack > b.diff.stack ? 1 : 0));
  return { base: first.report.base, head: first.report.head, stacks };
}
