/**
 * npm run bench:gates — does the relative gate catch a +1 point packet-loss regression at 5 %
 * of traffic within one 10-minute bake, without rolling back healthy bakes? And a Flagger-style
 * fixed-threshold gate on the very same data. GATES_TRIALS=n changes the bakes per scenario.
 *
 * The model (seeded, so every run prints the same figures):
 * - A region with JOINS_PER_MIN joins a minute (the rehearsal world's afternoon), calls lasting
 *   CALL_MIN minutes on average (exponential). The source carries the steady state; the target
 *   starts the bake empty and receives its share of new joins: only new joins move.
 * - Each session has its own loss rate (gamma, shape SESSION_SHAPE: most calls are clean, a few
 *   on bad networks lose a lot), and reports once a minute the loss of its PACKETS_PER_MIN
 *   packets (binomial ≈ Poisson) into the per-session histogram, as the SFUs export it. A
 *   session's minutes are alike — the same call on the same network — so they are not
 *   independent samples: the "textbook" column is the test without compare.ts's per-session
 *   correction, to show what that costs.
 * - Gates run every minute on the window since the weight change, as the executor does; a
 *   rollback in any of the ten rounds counts.
 * - Relative gate: compare.ts on the histograms, exactly as it runs against Prometheus.
 * - Fixed threshold (Flagger): the target's mean loss over the window against the SLO's 1 %; a
 *   round with no data fails (Flagger errors on an empty query); rollback after
 *   FLAGGER_THRESHOLD failed rounds, as Flagger's `analysis.threshold`.
 * - An "incident" doubles both pools' loss at once: the region's networks, not the migration.
 */
import {
  COMPARE_DEFAULTS,
  COMPARISONS,
  judgeComparison,
  type CompareGate,
  type Histogram,
} from "../modules/migrate/compare";
import { SLOS } from "../modules/migrate/slo";

const TRIALS = Number(process.env.GATES_TRIALS ?? 1000);
const JOINS_PER_MIN = 320;
const CALL_MIN = 30;
const BAKE_MIN = 10;
const PACKETS_PER_MIN = 3000;
const SESSION_SHAPE = 0.5;
const BASE_LOSS = 0.005;
const REGRESSION = 0.01;
const FLAGGER_THRESHOLD = 5;

/** The relative gate with a runbook's defaults. */
const GATE: CompareGate = { slo: "packet-loss", critical: true, ...COMPARE_DEFAULTS };
const POOLS = { source: "metal", target: "cloud" };

/** A seeded stream of uniforms in (0, 1) (mulberry32). */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

function normal(u: () => number): number {
  return Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Poisson: inversion for small means, the normal approximation above 30. */
function poisson(u: () => number, mean: number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(u)));
  let k = 0;
  let p = Math.exp(-mean);
  let cdf = p;
  const x = u();
  while (x > cdf && k < 200) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

/** Gamma(shape < 1) via Marsaglia–Tsang on shape + 1, then the u^(1/shape) boost. */
function gamma(u: () => number, shape: number, scale: number): number {
  const d = shape + 1 - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(u);
    const v = (1 + c * x) ** 3;
    if (v > 0 && Math.log(u()) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
      return d * v * scale * u() ** (1 / shape);
    }
  }
}

const BOUNDS = [...COMPARISONS["packet-loss"].buckets, Infinity];
/** Histogram bucket of a minute with k lost packets: the same binning observe() does, precomputed. */
const BUCKET_OF = Array.from({ length: PACKETS_PER_MIN + 1 }, (_, k) =>
  BOUNDS.findIndex((le) => k / PACKETS_PER_MIN <= le),
);

interface Pool {
  rates: number[];
  /** Session-minutes per bucket (not cumulative) and their loss sum. */
  counts: number[];
  sum: number;
  /** Sessions seen in the bake: in progress at its start, and joined since. */
  sessions: number;
}

const newPool = (): Pool => ({ rates: [], counts: BOUNDS.map(() => 0), sum: 0, sessions: 0 });

/** The pool's histogram as Prometheus serves it: cumulative counts per upper bound. */
function histogram(pool: Pool): Histogram {
  let cumulative = 0;
  const buckets = BOUNDS.map((le, i) => ({ le, count: (cumulative += pool.counts[i]) }));
  return { buckets, sum: pool.sum, sessions: pool.sessions };
}

function join(u: () => number, pool: Pool, meanLoss: number, count: number): void {
  pool.sessions += count;
  for (let i = 0; i < count; i++)
    pool.rates.push(gamma(u, SESSION_SHAPE, meanLoss / SESSION_SHAPE));
}

/** One minute: calls end, the rest report their minute's loss into the histogram. */
function minute(u: () => number, pool: Pool): void {
  const end = 1 / CALL_MIN;
  pool.rates = pool.rates.filter(() => u() >= end);
  for (const rate of pool.rates) {
    const lost = Math.min(PACKETS_PER_MIN, poisson(u, PACKETS_PER_MIN * Math.min(rate, 1)));
    pool.counts[BUCKET_OF[lost]]++;
    pool.sum += lost / PACKETS_PER_MIN;
  }
}

interface Bake {
  /** The minute each gate rolled back at, if it did. */
  relative?: number;
  /** The relative gate without the per-session correction: the textbook test. */
  textbook?: number;
  threshold?: number;
  targetSamples: number;
  targetSessions: number;
}

interface Scenario {
  name: string;
  share: number;
  sourceLoss: number;
  targetLoss: number;
  /** What a rollback is here: detection (power) or a false rollback. */
  regression: boolean;
}

/** One bake of a scenario, from one seed. */
function bake(seed: number, { share, sourceLoss, targetLoss }: Scenario): Bake {
  const u = uniforms(seed);
  const source = newPool();
  const target = newPool();
  join(u, source, sourceLoss, Math.round(JOINS_PER_MIN * CALL_MIN * (1 - share)));
  const result: Bake = { targetSamples: 0, targetSessions: 0 };
  let failedChecks = 0;
  for (let m = 1; m <= BAKE_MIN; m++) {
    join(u, source, sourceLoss, poisson(u, JOINS_PER_MIN * (1 - share)));
    const joined = poisson(u, JOINS_PER_MIN * share);
    join(u, target, targetLoss, joined);
    result.targetSessions += joined;
    minute(u, source);
    minute(u, target);
    const judge = (h: (pool: Pool) => Histogram) =>
      judgeComparison(GATE, POOLS, {
        source: { query: "", histogram: h(source) },
        target: { query: "", histogram: h(target) },
      }).verdict === "fail";
    if (judge(histogram)) result.relative ??= m;
    if (judge((pool) => ({ ...histogram(pool), sessions: undefined }))) result.textbook ??= m;
    const n = target.counts.reduce((a, b) => a + b, 0);
    const mean = target.sum / n;
    if (!(n > 0 && mean < SLOS["packet-loss"].threshold)) failedChecks++;
    if (failedChecks >= FLAGGER_THRESHOLD) result.threshold ??= m;
  }
  result.targetSamples = target.counts.reduce((a, b) => a + b, 0);
  return result;
}

type Gate = "relative" | "textbook" | "threshold";

interface Rates {
  rollback: Record<Gate, number>;
  medianMinute: Record<Gate, number>;
  targetSamples: number;
  targetSessions: number;
}

function run(seedBase: number, scenario: Scenario): Rates {
  const bakes = Array.from({ length: TRIALS }, (_, i) => bake(seedBase + i, scenario));
  const gates: Gate[] = ["relative", "textbook", "threshold"];
  const median = (gate: Gate) => {
    const ms = bakes.flatMap((b) => b[gate] ?? []).sort((a, b) => a - b);
    return ms.length ? ms[Math.floor(ms.length / 2)] : NaN;
  };
  const mean = (pick: (b: Bake) => number) => bakes.reduce((a, b) => a + pick(b), 0) / TRIALS;
  return {
    rollback: Object.fromEntries(
      gates.map((g) => [g, bakes.filter((b) => b[g] !== undefined).length / TRIALS]),
    ) as Record<Gate, number>,
    medianMinute: Object.fromEntries(gates.map((g) => [g, median(g)])) as Record<Gate, number>,
    targetSamples: mean((b) => b.targetSamples),
    targetSessions: mean((b) => b.targetSessions),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const f3 = (x: number) => x.toFixed(3);
const lossPct = (x: number) => `${Number((x * 100).toFixed(2))} %`;

const SCENARIOS: Scenario[] = [
  {
    name: "no regression",
    share: 0.05,
    sourceLoss: BASE_LOSS,
    targetLoss: BASE_LOSS,
    regression: false,
  },
  {
    name: "regression",
    share: 0.05,
    sourceLoss: BASE_LOSS,
    targetLoss: BASE_LOSS + REGRESSION,
    regression: true,
  },
  {
    name: "incident, no regression",
    share: 0.05,
    sourceLoss: 2 * BASE_LOSS,
    targetLoss: 2 * BASE_LOSS,
    regression: false,
  },
  {
    name: "no regression",
    share: 0.01,
    sourceLoss: BASE_LOSS,
    targetLoss: BASE_LOSS,
    regression: false,
  },
  {
    name: "regression",
    share: 0.01,
    sourceLoss: BASE_LOSS,
    targetLoss: BASE_LOSS + REGRESSION,
    regression: true,
  },
];

function main(): void {
  const started = Date.now();
  const floor = COMPARISONS["packet-loss"].effectFloor;
  console.log(
    `gates bench: ${TRIALS} bakes per scenario, ${BAKE_MIN} min, ${JOINS_PER_MIN} joins/min, gates every minute; ` +
      `relative: alpha ${f3(1 - GATE.confidence)} per round, effect floor ${floor * 100} pt, at least ${GATE.minSamples} samples per pool; ` +
      `threshold (Flagger-style): target mean < ${SLOS["packet-loss"].threshold * 100} %, no data fails, rollback after ${FLAGGER_THRESHOLD} failed rounds`,
  );
  const results = SCENARIOS.map((sc, i) => ({ sc, r: run((i + 1) * 1_000_000, sc) }));
  for (const { sc, r } of results) {
    const what = sc.regression ? "power" : "false rollback";
    const cell = (g: Gate) =>
      `${g} ${pct(r.rollback[g]).padStart(7)}${Number.isNaN(r.medianMinute[g]) ? "" : ` (min ${r.medianMinute[g]})`}`;
    console.log(
      `  ${sc.share * 100} % traffic, ${sc.name}: ${lossPct(sc.sourceLoss)} → ${lossPct(sc.targetLoss)}; ` +
        `target ${r.targetSessions.toFixed(0)} sessions, ${r.targetSamples.toFixed(0)} samples; ${what}: ` +
        `${cell("relative")}, ${cell("threshold")}, ${cell("textbook")}`,
    );
  }
  const [healthy, regressed, incident] = results.map((x) => x.r);
  const ratio = (a: number, b: number) =>
    b === 0 ? (a === 0 ? "equal" : "∞") : (a / b).toFixed(2);
  console.log(
    `  relative/threshold at 5 %: power ${ratio(regressed.rollback.relative, regressed.rollback.threshold)}, ` +
      `false rollback ${ratio(healthy.rollback.relative, healthy.rollback.threshold)}, ` +
      `false rollback in an incident ${ratio(incident.rollback.relative, incident.rollback.threshold)}`,
  );
  const met = regressed.rollback.relative >= 0.95 && healthy.rollback.relative <= 0.01;
  console.log(
    `targets at 5 % (power ≥ 0.95, false rollback ≤ 0.01): ${met ? "met" : "NOT met"}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `gates: trials=${TRIALS} power=${f3(regressed.rollback.relative)} false_rollback=${f3(healthy.rollback.relative)} ` +
      `threshold_power=${f3(regressed.rollback.threshold)} threshold_false_rollback=${f3(healthy.rollback.threshold)}`,
  );
}

main();
