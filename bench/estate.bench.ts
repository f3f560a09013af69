/**
 * The whole estate in seconds (issue 17): a generated estate of 41 stacks — 32 cloud pools,
 * the two example metal sites, a 5,000-host site, six traffic splits — previewed offline,
 * with per-phase figures (compile, worker start, evaluate, serialize), peak memory, and the
 * SDK floor for as many resources in the same run; then a 20,000-host site alone, and one
 * small stack through the CLI as a user runs it.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR, stackFileName } from "../modules/config/stack";
import { workerBundle } from "../modules/plan/bundle";
import { PLAN_CACHE_ROOT } from "../modules/plan/cache";
import { evaluateStacksWithReads, type Evaluated } from "../modules/plan/evaluate";
import { jsonPieces, PREVIEW_JSON_DEPTH, previewJson } from "../modules/plan/render-preview";
import { tempProject } from "../test/diff/project";
import { floorSeconds, writeEstate, writeSite } from "./estate";

const CLOUD_POOLS = 32;
const BIG_SITE_HOSTS = 5000;
const HUGE_SITE_HOSTS = 20000;

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;
const parentMiB = () => process.resourceUsage().maxRSS / 1024;
const fixed = (n: number, digits = 2) => n.toFixed(digits);

async function main(): Promise<void> {
  const project = tempProject();
  try {
    const names = writeEstate(project.dir, CLOUD_POOLS, BIG_SITE_HOSTS);
    writeSite(project.dir, "metal-huge", HUGE_SITE_HOSTS, "us-east");
    const stack = (name: string) => ({
      name,
      file: stackFileName(join(project.dir, DEFAULT_STACKS_DIR), name),
    });
    console.log(
      `estate bench: ${names.length} stacks (${CLOUD_POOLS} cloud pools, metal-sjc, metal-ams, a ${BIG_SITE_HOSTS}-host site, ${names.filter((n) => n.startsWith("traffic-")).length} traffic splits), ${availableParallelism()} cores`,
    );

    const bundle = await workerBundle(project.dir, join(project.dir, PLAN_CACHE_ROOT));
    console.log(
      `  compile (program + modules, once per source change): ${fixed(bundle.buildSeconds)} s`,
    );

    let started = process.hrtime.bigint();
    const estate = await evaluateStacksWithReads(names.map(stack), { root: project.dir });
    const estateSeconds = seconds(started);
    const plans = estate.map((e) => e.plan);
    started = process.hrtime.bigint();
    // As preview --json writes it: piece by piece, here into a byte count.
    let jsonBytes = 0;
    for (const piece of jsonPieces(previewJson(plans), PREVIEW_JSON_DEPTH)) {
      jsonBytes += Buffer.byteLength(piece);
    }
    const serializeSeconds = seconds(started);
    const resources = plans.reduce((n, p) => n + p.resources.length, 0);
    const workersStart = [...new Set(estate.map((e) => e.stats.startSeconds))];
    const evaluateSum = estate.reduce((n, e) => n + e.stats.evaluateSeconds, 0);
    const workerPeak = Math.max(...estate.map((e) => e.stats.peakMiB));
    const peak = Math.max(workerPeak, parentMiB());
    const floor = floorSeconds(resources);
    const slowest = [...estate].sort((a, b) => b.stats.evaluateSeconds - a.stats.evaluateSeconds);
    const describe = (e: Evaluated) =>
      `${e.plan.name} ${fixed(e.stats.evaluateSeconds)} s (${e.plan.resources.length} resources)`;
    console.log(
      `  preview of ${names.length} stacks: ${fixed(estateSeconds)} s wall, ${resources} resources`,
    );
    console.log(
      `    start: ${workersStart.length} warm workers, ${workersStart.map((s) => fixed(s)).join(" s, ")} s each to load the SDK, providers and modules`,
    );
    console.log(
      `    evaluate: ${fixed(evaluateSum)} s summed over stacks; slowest ${slowest.slice(0, 3).map(describe).join(", ")}`,
    );
    console.log(
      `    serialize: ${fixed(serializeSeconds)} s for the --json document (${fixed(jsonBytes / 1024 / 1024, 1)} MiB)`,
    );
    console.log(
      `    peak memory: ${fixed(workerPeak, 0)} MiB largest worker, ${fixed(parentMiB(), 0)} MiB parent (holds every Plan)`,
    );
    console.log(
      `    SDK floor: ${resources} bare custom resources under mocks in one process: ${fixed(floor)} s; ratio ${fixed(estateSeconds / floor)}`,
    );

    started = process.hrtime.bigint();
    let hugeSeconds = "failed";
    let hugePeak = "failed";
    try {
      const [huge] = await evaluateStacksWithReads([stack("metal-huge")], { root: project.dir });
      hugeSeconds = fixed(seconds(started));
      hugePeak = fixed(huge.stats.peakMiB, 0);
      console.log(
        `  ${HUGE_SITE_HOSTS}-host site alone: ${hugeSeconds} s wall, ${huge.plan.resources.length} resources, worker peak ${hugePeak} MiB (start ${fixed(huge.stats.startSeconds)} s, evaluate ${fixed(huge.stats.evaluateSeconds)} s)`,
      );
    } catch (err) {
      console.log(
        `  ${HUGE_SITE_HOSTS}-host site alone: failed after ${fixed(seconds(started))} s: ${String(err).split("\n").slice(0, 4).join(" ")}`,
      );
    }

    const small = names.find((n) => n.startsWith("gcp-"))!;
    // As a user runs it (bin/avfleet); the first run builds the CLI's bundle and is not counted.
    const runs = [0, 1, 2, 3].map(() => {
      const t = process.hrtime.bigint();
      const result = spawnSync(
        process.execPath,
        [join(project.dir, "bin/avfleet"), "preview", small, "--json"],
        { cwd: project.dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      );
      if (result.status !== 0) throw new Error(`preview ${small} failed:\n${result.stderr}`);
      return seconds(t);
    });
    const built = runs.shift()!;
    const oneStack = [...runs].sort((a, b) => a - b)[1];
    started = process.hrtime.bigint();
    const [inProcess] = await evaluateStacksWithReads([stack(small)], { root: project.dir });
    console.log(
      `  one small stack (${small}): avfleet preview --json ${runs.map((r) => fixed(r)).join(" / ")} s (median ${fixed(oneStack)}; ${fixed(built)} s building the CLI first); worker alone ${fixed(seconds(started))} s (start ${fixed(inProcess.stats.startSeconds)} s, evaluate ${fixed(inProcess.stats.evaluateSeconds)} s)`,
    );

    console.log(
      `estate: stacks=${names.length} resources=${resources} seconds=${fixed(estateSeconds)} peak_mib=${fixed(peak, 0)} floor_seconds=${fixed(floor)} ratio=${fixed(estateSeconds / floor)} big_hosts=${HUGE_SITE_HOSTS} big_seconds=${hugeSeconds} big_peak_mib=${hugePeak} one_stack_seconds=${fixed(oneStack)}`,
    );
  } finally {
    project.dispose();
  }
}

main();
