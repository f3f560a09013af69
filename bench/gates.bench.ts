/**
 * npm run bench:gates — does us-west's relative packet-loss gate, a sequential test, catch a
 * +1 point regression (0.5 % → 1.5 %) at 1 %, 5 % and 25 % of traffic, without rolling back
 * healthy bakes or promoting ones worse by the floor, and how long does each bake take before
 * it decides? And a Flagger-style fixed-threshold gate on the very same data.
 * GATES_TRIALS=n changes the bakes per scenario.
 *
 * The model (seeded, so every run prints the same figures):
 * - A region with JOINS_PER_MIN joins a minute (the rehearsal world's afternoon), calls lasting
 *   CALL_MIN minutes on average (geometric). The source carries the steady state; the target
 *   starts the bake empty (but for the last step, 75 → 100 %) and receives its share of new
 *   joins: only new joins move.
 * - Each session has its own loss rate (gamma, shape SESSION_SHAPE: most calls are clean, a few
 *   on bad networks lose a lot), times each minute's shock: lognormal, one factor the region's
 *   pools share (SHOCK_SHARED) and one each pool has alone (SHOCK_POOL) — a minute's calls
 *   share their network. A call loses Poisson packets of PACKETS_PER_MIN a minute.
 * - What the gate reads, as the host agents export it: one summary per session (its loss over
 *   its call so far: the calls ended in the window and those in progress at its end) and the
 *   pool's per-minute totals of session-minutes. The per-minute totals are drawn from the same
 *   rates and shocks but apart from the calls' packets (a pool's Poisson noise in a minute is
 *   negligible next to its shock).
 * - The shift steps are us-west's (runbooks/us-west.yaml), each weight its own: its minimum
 *   bake, maxBake and relative packet-loss gate, judged by compare.ts exactly as it runs against
 *   Prometheus with the bake's schedule (maxBake, interval) passed, half the bakes at us-west's
 *   interval and half at 1 minute. A bake ends at the gate's first rollback, at its first pass once the minimum bake is
 *   over, or at maxBake (held for a human; neither).
 * - Fixed threshold (Flagger): every minute for FLAGGER_BAKE_MIN minutes, the target's mean loss
 *   over the window against the SLO's 1 %; a round with no data fails (Flagger errors on an
 *   empty query); rollback after FLAGGER_THRESHOLD failed rounds, as Flagger's
 *   `analysis.threshold`.
 * - An "incident" doubles both pools' loss at once: the region's networks, not the migration.
 */
import { durationMs } from "../modules/inputs/duration";
import {
  COMPARISONS,
  type CompareGate,
  judgeComparison,
  PROMOTION_SPACING_MS,
} from "../modules/gates/compare";
import { loadRunbook } from "../modules/runbook/runbook";
import type { MinuteTotal, Samples } from "../modules/gates/metrics";
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
/** Minutes of shocks before the bake: the calls in progress at its start carry their past. */
const HISTORY_MIN = 240;
/** Per-minute shocks: lognormal σ of the region's (both pools) and of each pool's own. */
const SHOCK_SHARED = 0.2;
const SHOCK_POOL = 0.2;

interface Step {
  bakeMin: number;
  maxBakeMin: number;
  intervalMin: number;
  gate: CompareGate;
}

/**
 * us-west's shift steps by the weights they carry, each with its bake, maxBake, interval and
 * relative packet-loss gate, as the runbook states them.
 */
function usWest(): Map<number, Step> {
  const { runbook } = loadRunbook("runbooks/us-west.yaml");
  const min = (d: string) => durationMs(d) / 60_000;
  const steps = new Map<number, Step>();
  for (const shift of runbook.steps) {
    if (shift.kind !== "shift") continue;
    const gate = shift.gates.find((g) => g.compare === "source" && g.slo === "packet-loss");
    if (!gate?.compare) {
      throw new Error("runbooks/us-west.yaml: a shift step without a relative packet-loss gate");
    }
    const bakeMin = min(shift.bake);
    const step = {
      bakeMin,
      maxBakeMin: shift.maxBake ? min(shift.maxBake) : 2 * bakeMin,
      intervalMin: min(shift.interval),
      gate: { ...gate, confidence: gate.confidence!, slo: "packet-loss" as const },
    };
    for (const weight of shift.weights) steps.set(weight, step);
  }
  return steps;
}
const STEPS = usWest();
/** The step that carries a share of traffic. */
function stepOf(share: number): Step {
  const step = STEPS.get(Math.round(share * 100));
  if (!step) throw new Error(`runbooks/us-west.yaml: no shift step carries ${share * 100} %`);
  return step;
}
const FIRST = stepOf(0.01);
/** Each maxBake and the weights that hold at it: "105 min (1 %), 90 min (5, 25, 50, 75, 100 %)". */
function holds(): string {
  const weights = new Map<number, number[]>();
  for (const [w, step] of STEPS)
    weights.set(step.maxBakeMin, [...(weights.get(step.maxBakeMin) ?? []), w]);
  return [...weights].map(([min, ws]) => `${min} min (${ws.join(", ")} %)`).join(", ");
}
/** The gates' intervals the bakes run at, half each: a runbook's 1 minute and us-west's own. */
const intervalsOf = (step: Step) => [1, step.intervalMin];
const FLOOR = FIRST.gate.effectFloor ?? COMPARISONS["packet-loss"].effectFloor;
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
const bucketOf = (loss: number) => BOUNDS.findIndex((le) => loss <= le);

/** One pool over a bake: its calls (typed arrays: a 25 % bake sees ~40 000) and its minutes. */
interface Pool {
  n: number;
  rate: Float64Array;
  first: Int32Array;
  last: Int32Array;
  /** Packets lost up to and including minute `upto`. */
  lost: Float64Array;
  upto: Int32Array;
  /** The pool's shock factors summed over minutes up to m, at index m + HISTORY_MIN. */
  shock: Float64Array;
  /** The calls whose last minute is m (1 … the end of the bake). */
  endsAt: number[][];
  /** Calls ended in the bake so far, per bucket (not cumulative), and their loss sum. */
  ended: number[];
  endedSum: number;
  /** Per minute of the bake: the pool's session-minutes and their loss, as Prometheus sums them. */
  minutes: MinuteTotal[];
  /** Calls in progress and the sum of their loss rates. */
  active: { count: number; rate: number };
}

function newPool(capacity: number, shock: Float64Array, minutes: number): Pool {
  return {
    n: 0,
    rate: new Float64Array(capacity),
    first: new Int32Array(capacity),
    last: new Int32Array(capacity),
    lost: new Float64Array(capacity),
    upto: new Int32Array(capacity),
    shock,
    endsAt: Array.from({ length: minutes + 1 }, () => []),
    ended: BOUNDS.map(() => 0),
    endedSum: 0,
    minutes: [],
    active: { count: 0, rate: 0 },
  };
}

/** Minutes a call lasts: geometric, mean CALL_MIN (each minute a call ends with 1/CALL_MIN). */
const callMinutes = (u: () => number) => 1 + Math.floor(Math.log(u()) / Math.log(1 - 1 / CALL_MIN));

/** A call on `pool` over minutes first … last (last beyond the bake: still in progress at its end). */
function addCall(u: () => number, pool: Pool, meanLoss: number, first: number, last: number): void {
  const i = pool.n++;
  pool.rate[i] = gamma(u, SESSION_SHAPE, meanLoss / SESSION_SHAPE);
  pool.first[i] = first;
  pool.last[i] = last;
  pool.lost[i] = 0;
  pool.upto[i] = first - 1;
  if (last < pool.endsAt.length) pool.endsAt[last].push(i);
  pool.active.count++;
  pool.active.rate += pool.rate[i];
}

/** The call's loss ratio over its minutes up to `to`: its packets, drawn as the minutes pass. */
function lossUpTo(u: () => number, pool: Pool, i: number, to: number): number {
  const minutes = to - pool.upto[i];
  if (minutes > 0) {
    const exposure = pool.shock[to + HISTORY_MIN] - pool.shock[pool.upto[i] + HISTORY_MIN];
    const mean = Math.min(PACKETS_PER_MIN * minutes, PACKETS_PER_MIN * pool.rate[i] * exposure);
    pool.lost[i] = Math.min(
      pool.lost[i] + poisson(u, mean),
      PACKETS_PER_MIN * (to - pool.first[i] + 1),
    );
    pool.upto[i] = to;
  }
  return pool.lost[i] / (PACKETS_PER_MIN * (to - pool.first[i] + 1));
}

/** Minute m: the pool's session-minutes report (the minute's totals), then calls ending in m end. */
function minute(u: () => number, pool: Pool, m: number): void {
  const factor = pool.shock[m + HISTORY_MIN] - pool.shock[m - 1 + HISTORY_MIN];
  const lost = poisson(u, PACKETS_PER_MIN * factor * pool.active.rate);
  pool.minutes.push({ count: pool.active.count, sum: lost / PACKETS_PER_MIN });
  for (const i of pool.endsAt[m]) {
    const loss = lossUpTo(u, pool, i, m);
    pool.ended[bucketOf(loss)]++;
    pool.endedSum += loss;
    pool.active.count--;
    pool.active.rate -= pool.rate[i];
  }
}

/** What the gate reads at minute m: every call of the bake's summary, ended or in progress. */
function summaries(u: () => number, pool: Pool, m: number): Samples {
  const counts = [...pool.ended];
  let sum = pool.endedSum;
  for (let i = 0; i < pool.n; i++) {
    if (pool.last[i] <= m || pool.first[i] > m) continue;
    const loss = lossUpTo(u, pool, i, m);
    counts[bucketOf(loss)]++;
    sum += loss;
  }
  let cumulative = 0;
  const buckets = BOUNDS.map((le, i) => ({ le, count: (cumulative += counts[i]) }));
  return { histogram: { buckets, sum }, minutes: pool.minutes.slice(0, m) };
}

/**
 * Each pool's shock factors, summed: per minute the region's (shared) times the pool's own,
 * lognormal with mean 1, from HISTORY_MIN minutes before the bake (the calls in progress at its
 * start carry their past minutes in their summaries).
 */
function shocks(u: () => number, minutes: number): [Float64Array, Float64Array] {
  const length = HISTORY_MIN + minutes + 1;
  const pools: [Float64Array, Float64Array] = [new Float64Array(length), new Float64Array(length)];
  const drift = -(SHOCK_SHARED ** 2 + SHOCK_POOL ** 2) / 2;
  for (let k = 1; k < length; k++) {
    const shared = SHOCK_SHARED * normal(u);
    for (const p of pools) p[k] = p[k - 1] + Math.exp(drift + shared + SHOCK_POOL * normal(u));
  }
  return pools;
}

interface Bake {
  /** The minute the relative gate decided, or maxBake when it held for a human. */
  minute: number;
  outcome: "rollback" | "promote" | "hold";
  intervalMin: number;
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
  /** Each pool's share of the calls in progress at the start (default: the source all of its share). */
  inProgress?: { source: number; target: number };
}

/**
 * One bake of a scenario, from one seed, as the executor runs us-west's shift step at the given
 * interval: gates every interval on the window since the weight change; a failed relative gate
 * rolls back at once, a passed one promotes once the minimum bake is over, an undecided one
 * bakes on until maxBake and then holds. The Flagger-style gate runs every minute over its
 * fixed window.
 */
function bake(seed: number, intervalMin: number, sc: Scenario): Bake {
  const u = uniforms(seed);
  const step = stepOf(sc.share);
  const last = Math.max(step.maxBakeMin, FLAGGER_BAKE_MIN);
  const [sourceShock, targetShock] = shocks(u, last);
  const shares = sc.inProgress ?? { source: 1 - sc.share, target: 0 };
  const calls = (share: number) => Math.round(JOINS_PER_MIN * CALL_MIN * share);
  const capacity = (inProgress: number, share: number) =>
    Math.ceil((calls(inProgress) + JOINS_PER_MIN * last * share) * 1.2) + 100;
  const source = newPool(capacity(shares.source, 1 - sc.share), sourceShock, last);
  const target = newPool(capacity(shares.target, sc.share), targetShock, last);
  // The calls in progress: their age and what is left of them, both geometric.
  for (const [pool, share, loss] of [
    [source, shares.source, sc.sourceLoss],
    [target, shares.target, sc.targetLoss],
  ] as const) {
    for (let i = calls(share); i > 0; i--) {
      const first = Math.max(1 - HISTORY_MIN, 1 - callMinutes(u));
      addCall(u, pool, loss, first, callMinutes(u));
    }
  }
  let decided: Pick<Bake, "minute" | "outcome"> | undefined;
  let threshold: number | undefined;
  let failedChecks = 0;
  for (let m = 1; m <= last; m++) {
    for (const [pool, share, loss] of [
      [source, 1 - sc.share, sc.sourceLoss],
      [target, sc.share, sc.targetLoss],
    ] as const) {
      for (let k = poisson(u, JOINS_PER_MIN * share); k > 0; k--) {
        addCall(u, pool, loss, m, m + callMinutes(u) - 1);
      }
      minute(u, pool, m);
    }
    if (m <= FLAGGER_BAKE_MIN && threshold === undefined) {
      const seen = target.minutes.reduce(
        (a, x) => ({ count: a.count + x.count, sum: a.sum + x.sum }),
        {
          count: 0,
          sum: 0,
        },
      );
      if (!(seen.count > 0 && seen.sum / seen.count < SLOS["packet-loss"].threshold))
        failedChecks++;
      if (failedChecks >= FLAGGER_THRESHOLD) threshold = m;
    }
    if (decided || m % intervalMin !== 0 || m > step.maxBakeMin) {
      if (decided && m >= FLAGGER_BAKE_MIN) break;
      continue;
    }
    // the window since the weight change, and the schedule the executor passes
    const { verdict } = judgeComparison(
      step.gate,
      POOLS,
      {
        source: { query: "", ...summaries(u, source, m) },
        target: { query: "", ...summaries(u, target, m) },
      },
      {
        elapsedMs: m * 60_000,
        maxBakeMs: step.maxBakeMin * 60_000,
        intervalMs: intervalMin * 60_000,
      },
    );
    if (verdict === "fail") decided = { minute: m, outcome: "rollback" };
    else if (verdict === "pass" && m >= step.bakeMin) decided = { minute: m, outcome: "promote" };
    else if (m + intervalMin > step.maxBakeMin) decided = { minute: m, outcome: "hold" };
  }
  return { ...decided!, intervalMin, threshold };
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

/** A scenario's bakes, half at each of its step's intervalsOf (alternating seeds). */
function run(seedBase: number, scenario: Scenario): Rates & { bakes: Bake[] } {
  const intervals = intervalsOf(stepOf(scenario.share));
  const bakes = Array.from({ length: TRIALS }, (_, i) =>
    bake(seedBase + i, intervals[i % intervals.length], scenario),
  );
  const share = (o: Bake["outcome"], of = bakes) =>
    of.filter((b) => b.outcome === o).length / of.length;
  const minutes = bakes.map((b) => b.minute).sort((a, b) => a - b);
  return {
    bakes,
    rollback: share("rollback"),
    promote: share("promote"),
    hold: share("hold"),
    rollback1min: share(
      "rollback",
      bakes.filter((b) => b.intervalMin === 1),
    ),
    medianBakeMin: minutes[Math.floor(minutes.length / 2)],
    threshold: bakes.filter((b) => b.threshold !== undefined).length / TRIALS,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const f3 = (x: number) => x.toFixed(3);
const lossPct = (x: number) => `${Number((x * 100).toFixed(2))} %`;

const WEIGHTS = [0.01, 0.05, 0.25];
const healthy = (share: number, name = "no regression", loss = BASE_LOSS): Scenario => ({
  name,
  share,
  sourceLoss: loss,
  targetLoss: loss,
  regression: false,
});
const SCENARIOS: Scenario[] = [
  ...WEIGHTS.flatMap((share) => [
    healthy(share),
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
  healthy(0.05, "incident, no regression", 2 * BASE_LOSS),
  // The last step, 75 → 100 %: the source only drains, and every new call meets the target's
  // minutes, a shared bad one weighing on thousands of calls at once.
  { ...healthy(1, "last step, no regression"), inProgress: { source: 0.75, target: 0.25 } },
];

function main(): void {
  const started = Date.now();
  console.log(
    `gates bench: ${TRIALS} bakes per scenario, ${JOINS_PER_MIN} joins/min, us-west's shift steps: ` +
      `gates every ${intervalsOf(FIRST).join(" or ")} min (half the bakes each), promotion from ${FIRST.bakeMin} min, hold at ${holds()}; ` +
      `per-minute shocks: lognormal σ ${SHOCK_SHARED} shared by both pools × σ ${SHOCK_POOL} per pool; ` +
      `relative: sequential on the log of the ratio of means, confidence ${FIRST.gate.confidence} (rollback: mSPRT; promotion: alpha spent over maxBake, judged every ${PROMOTION_SPACING_MS / 60_000} min), floor +${100 * FLOOR} % of the source's mean, at least ${FIRST.gate.minSamples} sessions per pool; ` +
      `threshold (Flagger-style): target mean < ${SLOS["packet-loss"].threshold * 100} % every minute for ${FLAGGER_BAKE_MIN} min, no data fails, rollback after ${FLAGGER_THRESHOLD} failed rounds`,
  );
  const results = SCENARIOS.map((sc, i) => {
    const r = run((i + 1) * 1_000_000, sc);
    const what = sc.regression ? "power" : "false rollback";
    console.log(
      `  ${String(sc.share * 100).padStart(3)} % traffic, ${sc.name}: ${lossPct(sc.sourceLoss)} → ${lossPct(sc.targetLoss)}; ` +
        `${what} ${pct(r.rollback)} (1-min bakes ${pct(r.rollback1min)}), promoted ${pct(r.promote)}, held ${pct(r.hold)}; ` +
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
  if (floor1.promote > 0.01)
    misses.push(`promoted at the floor at 1 % ${f3(floor1.promote)} > 0.01`);
  if (healthy1.hold > 0.02) misses.push(`healthy held at 1 % ${f3(healthy1.hold)} > 0.02`);
  if (falseRollback1min > 0.01) {
    misses.push(`false rollback at 1-minute intervals ${f3(falseRollback1min)} > 0.01`);
  }
  // the longer of the two: how long a 1 % step takes whichever way it goes
  const median1 = Math.max(healthy1.medianBakeMin, regressed1.medianBakeMin);
  if (median1 > 60) misses.push(`median bake at 1 % ${median1} min > 60`);
  console.log(
    `targets (power ≥ 0.95, false rollback ≤ 0.01 at 1, 5 and 25 % and at 1-minute intervals; at 1 %: promoted at the floor ≤ 0.01, healthy held ≤ 0.02, median bake ≤ 60 min): ` +
      `${misses.length ? `NOT met: ${misses.join("; ")}` : "met"}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `gates: trials=${TRIALS} power=${f3(regressed5.rollback)} false_rollback=${f3(healthy5.rollback)} ` +
      `threshold_power=${f3(regressed5.threshold)} threshold_false_rollback=${f3(healthy5.threshold)} ` +
      `power_1pct=${f3(regressed1.rollback)} false_rollback_1pct=${f3(healthy1.rollback)} median_bake_min_1pct=${median1} ` +
      `promote_at_floor_1pct=${f3(floor1.promote)} hold_healthy_1pct=${f3(healthy1.hold)} false_rollback_1min=${f3(falseRollback1min)}`,
  );
}

main();
