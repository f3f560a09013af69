/**
 * A pool's share of its media region's traffic: the weight the traffic split that names it
 * gives it. Costs follow the share (a pool at weight 10 sends 10 % of the region's egress);
 * capacity does not (each pool must be able to carry its region alone once the move is done).
 */
import { readFileSync, statSync } from "node:fs";
import { listStacks, stackFileName } from "../stacks/stack";
import { DEFAULT_MAX_BYTES, readYamlFile } from "../inputs/yaml-read";

interface RawStack {
  config?: { "avfleet:traffic"?: { pools?: { stack?: unknown; weight?: unknown }[] } };
}

/**
 * The share (0–1) of `stack` in the traffic splits of `stacksDir`; 1 when no split names it
 * (a pool outside any split is costed as carrying its region, as capacity planning does).
 * The splits are validated where they are evaluated; a pool entry here is read as written.
 */
export function trafficShareOf(stacksDir: string, stack: string): number {
  let named = false;
  let weight = 0;
  for (const name of listStacks(stacksDir)) {
    const file = stackFileName(stacksDir, name);
    // Only a file that mentions the key can be a split (as the Plan cache keys them): the
    // fleets of a large directory are not parsed for every stack (0.16 s of 41 stacks').
    const small = statSync(file).size <= DEFAULT_MAX_BYTES;
    if (small && !readFileSync(file, "utf8").includes("avfleet:traffic")) continue;
    const doc = readYamlFile(file, "a Pulumi stack file") as RawStack;
    for (const pool of doc?.config?.["avfleet:traffic"]?.pools ?? []) {
      if (pool?.stack !== stack || typeof pool.weight !== "number") continue;
      named = true;
      weight += pool.weight;
    }
  }
  return named ? weight / 100 : 1;
}
