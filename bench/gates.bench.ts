/**
 * npm run bench:gates — does us-west's relative packet-loss gate, a sequential test, catch a
 * +1 point regression (0.5 % → 1.5 %) at 1 %, 5 % and 25 % of traffic, without rolling back
 * healthy bakes, and how long does each bake take before it decides? And a Flagger-style
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
 *   independent samples; compare.ts counts a session's minutes as one sample.
 * - The shift step is us-west's (runbooks/us-west.yaml): its interval, minimum bake, maxBake and
 *   relative packet-loss gate, judged by compare.ts on the histograms exactly as it runs against
 *   Prometheus. A bake ends at the gate's first rollback, at its first pass once the minimum
 *   bake is over, or at maxBake (held for a human; counted as neither).
 * - Fixed threshold (Flagger): every minute for FLAGGER_BAKE_MIN minutes, the target's mean loss
 *   over the window against the SLO's 1 %; a round with no data fails (Flagger errors on an
 *   empty query); rollback after FLAGGER_THRESHOLD failed rounds, as Flagger's
 *   `analysis.threshold`.
 * - An "incident" doubles both pools' loss at once: the region's networks, not the migration.
 */
import { durationMs } from "../modules/config/duration";
import { COMPARISONS, judgeComparison, type Histogram } from "../modules/gates/compare";
import { loadRunbook } from "../modules/migrate/runbook";
import { SLOS } from "../modules/gates/slo";

const TRIALS = Number(process.env.GATES_TRIALS ?? 400);
const JOINS_PER_MIN = 320;
const CALL_MIN = 30;
const FLAGGER_BAKE_MIN = 10;
const PACKETS_PER_MIN = 3000;
const SESSION_SHAPE = 0.5;
const BASE_LOSS = 0.005;
const REGRESSION = 0.01;
const FLAGGER_THRESHOLD = 5;

/** us-west's first shift step and its relative packet-loss gate, as the runbook states them. */
function usWest() {
  const { runbook } = loadRunbook("runbooks/us-west.yaml");
  const shift = runbook.steps.find((s) => s.kind === "shift");
  const gate = shift?.gates.find((g) => g.compare === "source" && g.slo === "packet-loss");
  if (!shift || shift.kind !== "shift" || !gate?.compare) {
    throw new Error("runbooks/us-west.yaml: no shift step with a relative packet-loss gate");
  }
  const min = (d: string) => durationMs(d) / 60_000;
  const bakeMin = min(shift.bake);
  const step = {
    bakeMin,
    maxBakeMin: shift.maxBake ? min(shift.maxBake) : 2 * bakeMin,
    intervalMin: min(shift.interval),
  };
  return { step, gate: { ...gate, confidence: gate.confidence!, slo: "packet-loss" as const } };
}
const { step: STEP, gate: GATE } = usWest();
const FLOOR = GATE.effectFloor ?? COMPARISONS["packet-loss"].effectFloor;
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
  /** The minute the relative gate decided, or maxBake when it held for a human. */
  minute: number;
  outcome: "rollback" | "promote" | "hold";
  /** The minute the Flagger-style gate rolled back in its fixed window, if it did. */
  threshold?: number;
}

interface Scenario {
  name: string;
  share: number;
  sourceLoss: number;
  targetLoss: number;
  /** What a rollback is here: detection (power) or a false rollback. */
  regression: boolean;
}

/**
 * One bake of a scenario, from one seed, as the executor runs us-west's shift step: gates every
 * interval on the window since the weight change; a failed relative gate rolls back at once, a
 * passed one promotes once the minimum bake is over, an undecided one bakes on until maxBake
 * and then holds. The Flagger-style gate runs every minute over its fixed window.
 */
function bake(seed: number, { share, sourceLoss, targetLoss }: Scenario): Bake {
  const u = uniforms(seed);
  const source = newPool();
  const target = newPool();
  join(u, source, sourceLoss, Math.round(JOINS_PER_MIN * CALL_MIN * (1 - share)));
  let decided: Pick<Bake, "minute" | "outcome"> | undefined;
  let threshold: number | undefined;
  let failedChecks = 0;
  for (let m = 1; m <= Math.max(STEP.maxBakeMin, FLAGGER_BAKE_MIN); m++) {
    join(u, source, sourceLoss, poisson(u, JOINS_PER_MIN * (1 - share)));
    join(u, target, targetLoss, poisson(u, JOINS_PER_MIN * share));
    minute(u, source);
    minute(u, target);
    if (m <= FLAGGER_BAKE_MIN && threshold === undefined) {
      const n = target.counts.reduce((a, b) => a + b, 0);
      if (!(n > 0 && target.sum / n < SLOS["packet-loss"].threshold)) failedChecks++;
      if (failedChecks >= FLAGGER_THRESHOLD) threshold = m;
    }
    if (decided || m % STEP.intervalMin !== 0 || m > STEP.maxBakeMin) {
      if (decided && m >= FLAGGER_BAKE_MIN) break;
      continue;
    }
    const { verdict } = judgeComparison(GATE, POOLS, {
      source: { query: "", histogram: histogram(source) },
      target: { query: "", histogram: histogram(target) },
    });
    if (verdict === "fail") decided = { minute: m, outcome: "rollback" };
    else if (verdict === "pass" && m >= STEP.bakeMin) decided = { minute: m, outcome: "promote" };
    else if (m + STEP.intervalMin > STEP.maxBakeMin) decided = { minute: m, outcome: "hold" };
  }
  return { ...decided!, threshold };
}

interface Rates {
  /** Share of bakes the relative gate rolled back, promoted, held. */
  rollback: number;
  promote: number;
  hold: number;
  medianBakeMin: number;
  threshold: number;
}

function run(seedBase: number, scenario: Scenario): Rates {
  const bakes = Array.from({ length: TRIALS }, (_, i) => bake(seedBase + i, scenario));
  const share = (o: Bake["outcome"]) => bakes.filter((b) => b.outcome === o).length / TRIALS;
  const minutes = bakes.map((b) => b.minute).sort((a, b) => a - b);
  return {
    rollback: share("rollback"),
    promote: share("promote"),
    hold: share("hold"),
    medianBakeMin: minutes[Math.floor(minutes.length / 2)],
    threshold: bakes.filter((b) => b.threshold !== undefined).length / TRIALS,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const f3 = (x: number) => x.toFixed(3);
const lossPct = (x: number) => `${Number((x * 100).toFixed(2))} %`;

const WEIGHTS = [0.01, 0.05, 0.25];
const SCENARIOS: Scenario[] = [
  ...WEIGHTS.flatMap((share) => [
    {
      name: "no regression",
      share,
      sourceLoss: BASE_LOSS,
      targetLoss: BASE_LOSS,
      regression: false,
    },
    {
      name: "regression",
      share,
      sourceLoss: BASE_LOSS,
      targetLoss: BASE_LOSS + REGRESSION,
      regression: true,
    },
  ]),
  // H0's edge: the target worse by exactly the floor. The sequence's guarantee is about these:
  // rolled back at most 1 − confidence of the time.
  ...[0.01, 0.25].map((share) => ({
    name: "at the floor",
    share,
    sourceLoss: BASE_LOSS,
    targetLoss: BASE_LOSS * (1 + FLOOR),
    regression: false,
  })),
  {
    name: "incident, no regression",
    share: 0.05,
    sourceLoss: 2 * BASE_LOSS,
    targetLoss: 2 * BASE_LOSS,
    regression: false,
  },
];

function main(): void {
  const started = Date.now();
  console.log(
    `gates bench: ${TRIALS} bakes per scenario, ${JOINS_PER_MIN} joins/min, us-west's shift step: ` +
      `gates every ${STEP.intervalMin} min, promotion from ${STEP.bakeMin} min, hold at ${STEP.maxBakeMin} min; ` +
      `relative: sequential (mSPRT), confidence ${GATE.confidence}, floor +${100 * FLOOR} % of the source's mean, at least ${GATE.minSamples} samples per pool; ` +
      `threshold (Flagger-style): target mean < ${SLOS["packet-loss"].threshold * 100} % every minute for ${FLAGGER_BAKE_MIN} min, no data fails, rollback after ${FLAGGER_THRESHOLD} failed rounds`,
  );
  const results = SCENARIOS.map((sc, i) => {
    const r = run((i + 1) * 1_000_000, sc);
    const what = sc.regression ? "power" : "false rollback";
    console.log(
      `  ${String(sc.share * 100).padStart(2)} % traffic, ${sc.name}: ${lossPct(sc.sourceLoss)} → ${lossPct(sc.targetLoss)}; ` +
        `${what} ${pct(sc.regression ? r.rollback : r.rollback)}, promoted ${pct(r.promote)}, held ${pct(r.hold)}; ` +
        `median bake ${r.medianBakeMin} min; threshold ${what} ${pct(r.threshold)}`,
    );
    return { sc, r };
  });
  const at = (share: number, regression: boolean, name?: string) =>
    results.find(
      (x) =>
        x.sc.share === share && x.sc.regression === regression && (!name || x.sc.name === name),
    )!.r;
  const ratio = (a: number, b: number) =>
    b === 0 ? (a === 0 ? "equal" : "∞") : (a / b).toFixed(2);
  const healthy5 = at(0.05, false, "no regression");
  const regressed5 = at(0.05, true);
  const incident = at(0.05, false, "incident, no regression");
  console.log(
    `  relative/threshold at 5 %: power ${ratio(regressed5.rollback, regressed5.threshold)}, ` +
      `false rollback ${ratio(healthy5.rollback, healthy5.threshold)}, ` +
      `false rollback in an incident ${ratio(incident.rollback, incident.threshold)}`,
  );
  const misses = WEIGHTS.flatMap((w) => {
    const power = at(w, true).rollback;
    const falseRollback = at(w, false, "no regression").rollback;
    return [
      ...(power < 0.95 ? [`power at ${w * 100} % ${f3(power)} < 0.95`] : []),
      ...(falseRollback > 0.01
        ? [`false rollback at ${w * 100} % ${f3(falseRollback)} > 0.01`]
        : []),
    ];
  });
  const healthy1 = at(0.01, false, "no regression");
  const regressed1 = at(0.01, true);
  // the longer of the two: how long a 1 % step takes whichever way it goes
  const median1 = Math.max(healthy1.medianBakeMin, regressed1.medianBakeMin);
  if (median1 > 60) misses.push(`median bake at 1 % ${median1} min > 60`);
  console.log(
    `targets (power ≥ 0.95, false rollback ≤ 0.01 at 1, 5 and 25 %; median bake at 1 % ≤ 60 min): ` +
      `${misses.length ? `NOT met: ${misses.join("; ")}` : "met"}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `gates: trials=${TRIALS} power=${f3(regressed5.rollback)} false_rollback=${f3(healthy5.rollback)} ` +
      `threshold_power=${f3(regressed5.threshold)} threshold_false_rollback=${f3(healthy5.threshold)} ` +
      `power_1pct=${f3(regressed1.rollback)} false_rollback_1pct=${f3(healthy1.rollback)} median_bake_min_1pct=${median1}`,
  );
}

main();
