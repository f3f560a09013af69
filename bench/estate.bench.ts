/**
 * The whole estate in seconds (issue 17): a generated estate of 41 stacks — 32 cloud pools,
 * the two example metal sites, a 5,000-host site, six traffic splits — previewed offline,
 * with per-phase figures (compile, worker start, evaluate, serialize), peak memory, and the
 * SDK floor for as many resources in the same run; then a 20,000-host site alone, and one
 * small stack through the CLI as a user runs it. Each preview runs in a fresh process, as
 * `avfleet preview` does (nothing parsed or checked carries over); the estate's and the
 * floor's figures are medians of three runs.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACKS_DIR, loadStacks } from "../modules/stacks/stack";
import { workerBundle } from "../modules/evaluation/bundle";
import { PLAN_CACHE_ROOT } from "../modules/evaluation/cache";
import { evaluateStacksWithReads } from "../modules/evaluation/evaluate";
import { jsonPieces, PREVIEW_JSON_DEPTH, previewJson } from "../modules/plan/render-preview";
import { tempProject } from "../test/diff/project";
import { floorSeconds, writeEstate, writeSite } from "./estate";

const CLOUD_POOLS = 32;
const BIG_SITE_HOSTS = 5000;
const HUGE_SITE_HOSTS = 20000;

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;
const parentMiB = () => process.resourceUsage().maxRSS / 1024;
const fixed = (n: number, digits = 2) => n.toFixed(digits);

/** What one preview in a fresh process measured (`--once`). */
interface Once {
  seconds: number;
  resources: number;
  serializeSeconds: number;
  jsonMiB: number;
  workersStart: number[];
  evaluateSum: number;
  slowest: { name: string; seconds: number; resources: number }[];
  workerPeakMiB: number;
  parentPeakMiB: number;
}

/**
 * One preview as `avfleet preview --json` runs it: every stack file checked first (nothing
 * evaluates when one has a problem) while the workers start, then the Plans, then the JSON
 * document, piece by piece, here into a byte count.
 */
async function once(dir: string, names: string[]): Promise<Once> {
  const stacksDir = join(dir, DEFAULT_STACKS_DIR);
  let started = process.hrtime.bigint();
  const evaluated = await evaluateStacksWithReads(
    { count: names.length, load: () => loadStacks(stacksDir, names) },
    { root: dir },
  );
  const estateSeconds = seconds(started);
  const plans = evaluated.map((e) => e.plan);
  started = process.hrtime.bigint();
  let jsonBytes = 0;
  for (const piece of jsonPieces(previewJson(plans), PREVIEW_JSON_DEPTH)) {
    jsonBytes += Buffer.byteLength(piece);
  }
  return {
    seconds: estateSeconds,
    resources: plans.reduce((n, p) => n + p.resources.length, 0),
    serializeSeconds: seconds(started),
    jsonMiB: jsonBytes / 1024 / 1024,
    workersStart: [...new Set(evaluated.map((e) => e.stats.startSeconds))],
    evaluateSum: evaluated.reduce((n, e) => n + e.stats.evaluateSeconds, 0),
    slowest: [...evaluated]
      .sort((a, b) => b.stats.evaluateSeconds - a.stats.evaluateSeconds)
      .slice(0, 3)
      .map((e) => ({
        name: e.plan.name,
        seconds: e.stats.evaluateSeconds,
        resources: e.plan.resources.length,
      })),
    workerPeakMiB: Math.max(...evaluated.map((e) => e.stats.peakMiB)),
    parentPeakMiB: parentMiB(),
  };
}

function runOnce(dir: string, names: string[]): Once {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", __filename, "--once", dir, ...names],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) throw new Error(result.stderr.split("\n").slice(0, 4).join(" "));
  return JSON.parse(result.stdout) as Once;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const RUNS = 3;

async function main(): Promise<void> {
  const project = tempProject();
  try {
    const names = writeEstate(project.dir, CLOUD_POOLS, BIG_SITE_HOSTS);
    writeSite(project.dir, "metal-huge", HUGE_SITE_HOSTS, "us-east");
    console.log(
      `estate bench: ${names.length} stacks (${CLOUD_POOLS} cloud pools, metal-sjc, metal-ams, a ${BIG_SITE_HOSTS}-host site, ${names.filter((n) => n.startsWith("traffic-")).length} traffic splits), ${availableParallelism()} cores`,
    );

    const bundle = await workerBundle(project.dir, join(project.dir, PLAN_CACHE_ROOT));
    console.log(
      `  compile (program + modules, once per source change): ${fixed(bundle.buildSeconds)} s`,
    );

    const runs = Array.from({ length: RUNS }, () => runOnce(project.dir, names));
    const estateSeconds = median(runs.map((r) => r.seconds));
    const run = runs.find((r) => r.seconds === estateSeconds)!;
    const floors = runs.map(() => floorSeconds(run.resources));
    const floor = median(floors);
    const peak = Math.max(...runs.map((r) => Math.max(r.workerPeakMiB, r.parentPeakMiB)));
    console.log(
      `  preview of ${names.length} stacks: ${fixed(estateSeconds)} s wall (median of ${runs.map((r) => fixed(r.seconds)).join(" / ")} s, each in a fresh process), ${run.resources} resources`,
    );
    console.log(
      `    start: ${run.workersStart.length} warm workers, ${run.workersStart.map((s) => fixed(s)).join(" s, ")} s each to load the SDK, providers and modules`,
    );
    console.log(
      `    evaluate: ${fixed(run.evaluateSum)} s summed over stacks; slowest ${run.slowest.map((e) => `${e.name} ${fixed(e.seconds)} s (${e.resources} resources)`).join(", ")}`,
    );
    console.log(
      `    serialize: ${fixed(run.serializeSeconds)} s for the --json document (${fixed(run.jsonMiB, 1)} MiB)`,
    );
    console.log(
      `    peak memory: ${fixed(run.workerPeakMiB, 0)} MiB largest worker, ${fixed(run.parentPeakMiB, 0)} MiB parent (holds every Plan)`,
    );
    console.log(
      `    SDK floor: ${run.resources} bare custom resources under mocks in one process: ${fixed(floor)} s (median of ${floors.map((f) => fixed(f)).join(" / ")} s); ratio ${fixed(estateSeconds / floor)}`,
    );

    let hugeSeconds = "failed";
    let hugePeak = "failed";
    try {
      const huge = runOnce(project.dir, ["metal-huge"]);
      hugeSeconds = fixed(huge.seconds);
      hugePeak = fixed(huge.workerPeakMiB, 0);
      console.log(
        `  ${HUGE_SITE_HOSTS}-host site alone: ${hugeSeconds} s wall, ${huge.resources} resources, worker peak ${hugePeak} MiB (start ${fixed(huge.workersStart[0])} s, evaluate ${fixed(huge.evaluateSum)} s)`,
      );
    } catch (err) {
      console.log(`  ${HUGE_SITE_HOSTS}-host site alone: failed: ${(err as Error).message}`);
    }

    const small = names.find((n) => n.startsWith("gcp-"))!;
    // As a user runs it (bin/avfleet); the first run builds the CLI's bundle and is not counted.
    const cliRuns = [0, 1, 2, 3].map(() => {
      const t = process.hrtime.bigint();
      const result = spawnSync(
        process.execPath,
        [join(project.dir, "bin/avfleet"), "preview", small, "--json"],
        { cwd: project.dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      );
      if (result.status !== 0) throw new Error(`preview ${small} failed:\n${result.stderr}`);
      return seconds(t);
    });
    const built = cliRuns.shift()!;
    const oneStack = median(cliRuns);
    const alone = runOnce(project.dir, [small]);
    console.log(
      `  one small stack (${small}): avfleet preview --json ${cliRuns.map((r) => fixed(r)).join(" / ")} s (median ${fixed(oneStack)}; ${fixed(built)} s building the CLI first); workers alone ${fixed(alone.seconds)} s (start ${fixed(alone.workersStart[0])} s, evaluate ${fixed(alone.evaluateSum)} s)`,
    );

    console.log(
      `estate: stacks=${names.length} resources=${run.resources} seconds=${fixed(estateSeconds)} peak_mib=${fixed(peak, 0)} floor_seconds=${fixed(floor)} ratio=${fixed(estateSeconds / floor)} big_hosts=${HUGE_SITE_HOSTS} big_seconds=${hugeSeconds} big_peak_mib=${hugePeak} one_stack_seconds=${fixed(oneStack)}`,
    );
  } finally {
    project.dispose();
  }
}

if (process.argv[2] === "--once") {
  const [dir, ...names] = process.argv.slice(3);
  once(dir, names).then((figures) => process.stdout.write(`${JSON.stringify(figures)}\n`));
} else {
  main();
}
