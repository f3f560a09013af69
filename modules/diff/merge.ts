/**
 * Shards of one diff, run on separate machines (`avfleet diff --shard i/n`), merged into the
 * report one run would have made: every shard of the set exactly once, all of the same two
 * revisions, each stack in one shard only.
 */
import { assertNoProblems, InputError, readYamlFile, schemaProblems } from "../config/validate";
import type { DiffReport, Side } from "./report";
import type { Shard } from "./run";
import { SHARD_FORMAT, shardSchema } from "./shard.schema";

/** What `avfleet diff --shard` writes. */
export function shardDocument(shard: Shard, stacks: string[], report: DiffReport): unknown {
  return { format: SHARD_FORMAT, shard, stacks, report };
}

interface LoadedShard {
  file: string;
  shard: Shard;
  stacks: string[];
  report: DiffReport;
}

function loadShard(file: string): LoadedShard {
  const document = readYamlFile(file, "a shard written by avfleet diff --shard");
  assertNoProblems(file, schemaProblems(shardSchema, document));
  const { shard, stacks, report } = document as {
    shard: Shard;
    stacks: string[];
    report: DiffReport;
  };
  return { file, shard, stacks, report };
}

const sideText = (side: Side) => JSON.stringify(side);

export function mergeShards(files: string[]): DiffReport {
  if (files.length === 0) {
    throw new InputError([
      "usage: diff merge needs the shard files, expected avfleet diff merge SHARD.json... (see --help)",
    ]);
  }
  const shards = files.map(loadShard);
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
