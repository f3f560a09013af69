/**
 * Reads RTT files through the shared reading path (YAML → JSON Schema → semantic checks):
 * each file on its own, then several as one matrix, every problem reported at once.
 */
import { resolve } from "node:path";
import {
  assertNoFileProblems,
  assertNoProblems,
  type FileProblem,
  type Problem,
} from "../inputs/problems";
import { readYamlFile } from "../inputs/yaml-read";
import { schemaProblems } from "../inputs/validate";
import { pairKey } from "./rtt";
import { rttSchema, type RttFile } from "./rtt.schema";

export function loadRtt(file: string): RttFile {
  const document = readYamlFile(file, "an RTT file {source, date, lastMileMs?, points, pairs}");
  assertNoProblems(file, schemaProblems(rttSchema, document));
  const rtt = document as RttFile;
  const names = Object.keys(rtt.points);
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  rtt.pairs.forEach(([from, to], i) => {
    [from, to].forEach((name, j) => {
      if (!names.includes(name)) {
        problems.push({
          path: ["pairs", i, j],
          message: `is "${name}", not a point`,
          expected: `one of ${names.join(", ")}`,
        });
      }
    });
    const key = pairKey(from, to);
    const first = seen.get(key);
    if (from === to) {
      problems.push({
        path: ["pairs", i],
        message: `joins ${from} to itself`,
        expected: "a pair of two different points",
      });
    } else if (first !== undefined) {
      problems.push({
        path: ["pairs", i],
        message: `is ${from}–${to} again (pairs[${first}])`,
        expected: "one figure per pair of points",
      });
    } else seen.set(key, i);
  });
  assertNoProblems(file, problems);
  return rtt;
}

/** The published matrices shipped with avfleet: AWS (2017), Azure P50 (2025), IBM Cloud VPC (2026). */
export const SHIPPED_RTT_FILES = [
  "rtt-aws-inter-region.yaml",
  "rtt-azure-p50.yaml",
  "rtt-ibm-vpc.yaml",
].map((file) => resolve(__dirname, file));

/**
 * Several RTT files as one matrix: point names unique across them, and the one last-mile
 * term stated by at least one of them (the same wherever stated).
 */
export function loadRttFiles(files: string[]): RttFile[] {
  const loaded = files.map(loadRtt);
  const problems: FileProblem[] = [];
  const owner = new Map<string, string>();
  loaded.forEach((rtt, f) => {
    for (const name of Object.keys(rtt.points)) {
      const first = owner.get(name);
      if (first === undefined) owner.set(name, files[f]);
      else
        problems.push({
          file: files[f],
          path: ["points", name],
          message: `is also a point of ${first}`,
          expected: "point names unique across the RTT files",
        });
    }
  });
  const stated = loaded
    .map((rtt, f) => ({ ms: rtt.lastMileMs, file: files[f] }))
    .filter((s) => s.ms !== undefined);
  if (stated.length === 0) {
    problems.push({
      file: files[0],
      path: ["lastMileMs"],
      message: "is missing from every RTT file",
      expected: "the client access-network p95 in ms, in one of the RTT files",
    });
  }
  for (const s of stated.slice(1)) {
    if (s.ms !== stated[0].ms)
      problems.push({
        file: s.file,
        path: ["lastMileMs"],
        message: `is ${s.ms}, but ${stated[0].file} says ${stated[0].ms}`,
        expected: "one last-mile term across the RTT files",
      });
  }
  assertNoFileProblems(problems);
  return loaded;
}
