/**
 * npm run bench:gates: us-west's relative packet-loss gate against a +1 point regression and at
 * its floor, at 1 %, 5 % and 25 % of traffic, and a Flagger-style fixed threshold on the same
 * data (the model and its assumptions: bench/gates-model.ts). GATES_TRIALS=n changes the bakes
 * per scenario (default 400), of which the two 1 % scenarios whose shares sit near their targets
 * (a healthy target held, one at the floor promoted) run four times as many: 1,600 put a share
 * near 1 % within 0.25 points (one standard error), and the rest, at 0 or 100 %, need no more.
 * GATES_WORKERS=n: the worker processes (default: one per core).
 * Each bake is seeded by its scenario and number, so the figures are the same for any workers.
 */
import { fork, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { PROMOTION_SPACING_MS } from "../modules/gates/compare";
import { SLOS } from "../modules/gates/slo";
import {
  type Bake,
  bakes,
  FIRST,
  FLAGGER_BAKE_MIN,
  FLAGGER_THRESHOLD,
  FLOOR,
  holds,
  intervalsOf,
  JOINS_PER_MIN,
  SCENARIOS,
  SHOCK_POOL,
  SHOCK_SHARED,
  WEIGHTS,
} from "./gates-model";

const TRIALS = Number(process.env.GATES_TRIALS ?? 400);
/** A scenario's bakes: four times TRIALS for the two whose figures sit near their targets. */
const trialsOf = (index: number) =>
  SCENARIOS[index].share === 0.01 && !SCENARIOS[index].regression ? 4 * TRIALS : TRIALS;
const TRIALS_1PCT = 4 * TRIALS;
const WORKERS = Number(process.env.GATES_WORKERS ?? availableParallelism());
/** Bakes per job handed to a worker: small enough to keep both cores busy to the end. */
const CHUNK = 50;

interface Job {
  index: number;
  from: number;
  to: number;
}

/** A worker: runs each job it is sent and answers with its bakes. */
function serve(): void {
  process.on("message", (job: Job) => {
    process.send!({ job, bakes: bakes(job.index, job.from, job.to) });
  });
}

/** Every scenario's bakes (trialsOf), run in chunks over WORKERS processes. */
async function runAll(): Promise<Bake[][]> {
  const jobs: Job[] = [];
  SCENARIOS.forEach((_, index) => {
    for (let from = 0; from < trialsOf(index); from += CHUNK) {
      jobs.push({ index, from, to: Math.min(trialsOf(index), from + CHUNK) });
    }
  });
  // the longest first, so that no worker is left with a long tail
  jobs.sort((a, b) => SCENARIOS[a.index].share - SCENARIOS[b.index].share);
  const results: Bake[][] = SCENARIOS.map((_, index) => new Array<Bake>(trialsOf(index)));
  let next = 0;
  const work = (child: ChildProcess) =>
    new Promise<void>((resolve, reject) => {
      const send = () => {
        if (next < jobs.length) child.send(jobs[next++]);
        else child.disconnect();
      };
      child.on("message", ({ job, bakes }: { job: Job; bakes: Bake[] }) => {
        bakes.forEach((b, k) => (results[job.index][job.from + k] = b));
        send();
      });
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`a gates bench worker exited with ${code}`)),
      );
      send();
    });
  const count = Math.max(1, Math.min(WORKERS, jobs.length));
  await Promise.all(Array.from({ length: count }, () => work(fork(__filename, ["--worker"]))));
  return results;
}

interface Rates {
  /** Share of bakes the relative gate rolled back, promoted, held. */
  rollback: number;
  promote: number;
  hold: number;
  /** Share of the 1-minute-interval bakes the relative gate rolled back. */
  rollback1min: number;
  medianBakeMin: number;
  threshold: number;
}

function rates(bakes: Bake[]): Rates {
  const share = (o: Bake["outcome"], of = bakes) =>
    of.filter((b) => b.outcome === o).length / of.length;
  const minutes = bakes.map((b) => b.minute).sort((a, b) => a - b);
  return {
    rollback: share("rollback"),
    promote: share("promote"),
    hold: share("hold"),
    rollback1min: share(
      "rollback",
      bakes.filter((b) => b.intervalMin === 1),
    ),
    medianBakeMin: minutes[Math.floor(minutes.length / 2)],
    threshold: bakes.filter((b) => b.threshold !== undefined).length / bakes.length,
  };
}

/** The binomial standard error of a share p over n bakes. */
const se = (p: number, n: number) => Math.sqrt((p * (1 - p)) / n);

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const f3 = (x: number) => x.toFixed(3);
const lossPct = (x: number) => `${Number((x * 100).toFixed(2))} %`;

async function main(): Promise<void> {
  const started = Date.now();
  console.log(
    `gates bench: ${TRIALS} bakes per scenario (${TRIALS_1PCT} for 1 % healthy and at the floor), ${JOINS_PER_MIN} joins/min, us-west's shift steps: ` +
      `gates every ${intervalsOf(FIRST).join(" or ")} min (half the bakes each), promotion from ${FIRST.bakeMin} min, hold at ${holds()}; ` +
      `per-minute shocks: lognormal σ ${SHOCK_SHARED} shared by both pools × σ ${SHOCK_POOL} per pool; ` +
      `relative: sequential on the log of the ratio of means, confidence ${FIRST.gate.confidence} (rollback: mSPRT; promotion: alpha spent over maxBake, judged every ${PROMOTION_SPACING_MS / 60_000} min), floor +${100 * FLOOR} % of the source's mean, at least ${FIRST.gate.minSamples} sessions per pool; ` +
      `threshold (Flagger-style): target mean < ${SLOS["packet-loss"].threshold * 100} % every minute for ${FLAGGER_BAKE_MIN} min, no data fails, rollback after ${FLAGGER_THRESHOLD} failed rounds`,
  );
  const all = await runAll();
  const results = SCENARIOS.map((sc, i) => {
    const r = { ...rates(all[i]), bakes: all[i] };
    const what = sc.regression ? "power" : "false rollback";
    console.log(
      `  ${String(sc.share * 100).padStart(3)} % traffic, ${sc.name}: ${lossPct(sc.sourceLoss)} → ${lossPct(sc.targetLoss)}; ` +
        `${all[i].length} bakes: ${what} ${pct(r.rollback)} (1-min bakes ${pct(r.rollback1min)}), promoted ${pct(r.promote)}, held ${pct(r.hold)}; ` +
        `median bake ${r.medianBakeMin} min; threshold ${what} ${pct(r.threshold)}`,
    );
    return { sc, r };
  });
  const at = (share: number, name: string) =>
    results.find((x) => x.sc.share === share && x.sc.name === name)!.r;
  const ratio = (a: number, b: number) =>
    b === 0 ? (a === 0 ? "equal" : "∞") : (a / b).toFixed(2);
  const healthy5 = at(0.05, "no regression");
  const regressed5 = at(0.05, "regression");
  const incident = at(0.05, "incident, no regression");
  console.log(
    `  relative/threshold at 5 %: power ${ratio(regressed5.rollback, regressed5.threshold)}, ` +
      `false rollback ${ratio(healthy5.rollback, healthy5.threshold)}, ` +
      `false rollback in an incident ${ratio(incident.rollback, incident.threshold)}`,
  );
  const healthy1 = at(0.01, "no regression");
  const regressed1 = at(0.01, "regression");
  const floor1 = at(0.01, "at the floor");
  // every healthy bake run at a 1-minute interval, at any weight
  const oneMinute = results
    .filter((x) => !x.sc.regression && x.sc.name !== "at the floor")
    .flatMap((x) => x.r.bakes.filter((b) => b.intervalMin === 1));
  const falseRollback1min =
    oneMinute.filter((b) => b.outcome === "rollback").length / oneMinute.length;
  const misses = WEIGHTS.flatMap((w) => {
    const power = at(w, "regression").rollback;
    const falseRollback = at(w, "no regression").rollback;
    return [
      ...(power < 0.95 ? [`power at ${w * 100} % ${f3(power)} < 0.95`] : []),
      ...(falseRollback > 0.01
        ? [`false rollback at ${w * 100} % ${f3(falseRollback)} > 0.01`]
        : []),
    ];
  });
  // the two shares the 1 % step's evidence limits must clear their targets by two standard
  // errors, so that a figure under its target is not the seeds' luck
  const sePromote = se(floor1.promote, TRIALS_1PCT);
  const seHold = se(healthy1.hold, TRIALS_1PCT);
  if (floor1.promote + 2 * sePromote > 0.01)
    misses.push(
      `promoted at the floor at 1 % ${f3(floor1.promote)} ± ${f3(sePromote)}: not 2 standard errors under 0.01`,
    );
  if (healthy1.hold + 2 * seHold > 0.02)
    misses.push(
      `healthy held at 1 % ${f3(healthy1.hold)} ± ${f3(seHold)}: not 2 standard errors under 0.02`,
    );
  if (falseRollback1min > 0.01) {
    misses.push(`false rollback at 1-minute intervals ${f3(falseRollback1min)} > 0.01`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  // the longer of the two: how long a 1 % step takes whichever way it goes
  const median1 = Math.max(healthy1.medianBakeMin, regressed1.medianBakeMin);
  if (median1 > 70) misses.push(`median bake at 1 % ${median1} min > 70`);
  console.log(
    `targets (power ≥ 0.95, false rollback ≤ 0.01 at 1, 5 and 25 % and at 1-minute intervals; at 1 %: promoted at the floor ≤ 0.01 and healthy held ≤ 0.02, each by 2 standard errors, median bake ≤ 70 min): ` +
      `${misses.length ? `NOT met: ${misses.join("; ")}` : "met"}; ${seconds} s on ${WORKERS} workers`,
  );
  console.log(
    `gates: trials=${TRIALS} power=${f3(regressed5.rollback)} false_rollback=${f3(healthy5.rollback)} ` +
      `threshold_power=${f3(regressed5.threshold)} threshold_false_rollback=${f3(healthy5.threshold)} ` +
      `power_1pct=${f3(regressed1.rollback)} false_rollback_1pct=${f3(healthy1.rollback)} median_bake_min_1pct=${median1} ` +
      `promote_at_floor_1pct=${f3(floor1.promote)} hold_healthy_1pct=${f3(healthy1.hold)} false_rollback_1min=${f3(falseRollback1min)} ` +
      `se_promote_at_floor_1pct=${f3(sePromote)} se_hold_healthy_1pct=${f3(seHold)} trials_1pct=${TRIALS_1PCT} trials_1min=${oneMinute.length} ` +
      `workers=${WORKERS} seconds=${seconds}`,
  );
}

if (process.argv.includes("--worker")) serve();
else
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
