/**
 * The model bench:gates runs (bench/gates.bench.ts, over worker processes) — does us-west's relative packet-loss gate, a sequential test, catch a
 * +1 point regression (0.5 % → 1.5 %) at 1 %, 5 % and 25 % of traffic, without rolling back
 * healthy bakes or promoting ones worse by the floor, and how long does each bake take before
 * it decides? And a Flagger-style fixed-threshold gate on the very same data.
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
import { COMPARISONS, type CompareGate, judgeComparison } from "../modules/gates/compare";
import { loadRunbook } from "../modules/runbook/runbook";
import type { MinuteTotal, Samples } from "../modules/gates/metrics";
import { SLOS } from "../modules/gates/slo";

export const JOINS_PER_MIN = 320;
const CALL_MIN = 30;
export const FLAGGER_BAKE_MIN = 10;
const PACKETS_PER_MIN = 3000;
const SESSION_SHAPE = 0.5;
export const BASE_LOSS = 0.005;
export const REGRESSION = 0.01;
export const FLAGGER_THRESHOLD = 5;
/** Minutes of shocks before the bake: the calls in progress at its start carry their past. */
const HISTORY_MIN = 240;
/** Per-minute shocks: lognormal σ of the region's (both pools) and of each pool's own. */
export const SHOCK_SHARED = 0.2;
export const SHOCK_POOL = 0.2;

export interface Step {
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
export function stepOf(share: number): Step {
  const step = STEPS.get(Math.round(share * 100));
  if (!step) throw new Error(`runbooks/us-west.yaml: no shift step carries ${share * 100} %`);
  return step;
}
export const FIRST = stepOf(0.01);
/** Each maxBake and the weights that hold at it: "105 min (1 %), 90 min (5, 25, 50, 75, 100 %)". */
export function holds(): string {
  const weights = new Map<number, number[]>();
  for (const [w, step] of STEPS)
    weights.set(step.maxBakeMin, [...(weights.get(step.maxBakeMin) ?? []), w]);
  return [...weights].map(([min, ws]) => `${min} min (${ws.join(", ")} %)`).join(", ");
}
/** The gates' intervals the bakes run at, half each: a runbook's 1 minute and us-west's own. */
export const intervalsOf = (step: Step) => [1, step.intervalMin];
export const FLOOR = FIRST.gate.effectFloor ?? COMPARISONS["packet-loss"].effectFloor;
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
function bucketOf(loss: number): number {
  let i = 0;
  while (loss > BOUNDS[i]) i++;
  return i;
}

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
  /**
   * The calls not yet seen ended, ascending: summaries reads these, not every call of the
   * bake (at 1 % the source's ended calls outnumber its calls in progress four to one).
   */
  open: number[];
}

/**
 * Each role's call arrays, kept from bake to bake: a bake writes every call it reads, and
 * allocating ~2 MB of them per bake spent a third of the bench in the garbage collector.
 */
const kept: Pick<Pool, "rate" | "first" | "last" | "lost" | "upto" | "endsAt">[] = [];

function newPool(role: number, capacity: number, shock: Float64Array, minutes: number): Pool {
  if (!kept[role] || kept[role].rate.length < capacity) {
    kept[role] = {
      rate: new Float64Array(capacity),
      first: new Int32Array(capacity),
      last: new Int32Array(capacity),
      lost: new Float64Array(capacity),
      upto: new Int32Array(capacity),
      endsAt: [],
    };
  }
  const { endsAt } = kept[role];
  for (let m = 0; m <= minutes; m++) {
    if (endsAt[m]) endsAt[m].length = 0;
    else endsAt[m] = [];
  }
  return {
    ...kept[role],
    n: 0,
    shock,
    endsAt: endsAt.slice(0, minutes + 1),
    ended: BOUNDS.map(() => 0),
    endedSum: 0,
    minutes: [],
    active: { count: 0, rate: 0 },
    open: [],
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
  pool.open.push(i);
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
  let kept = 0;
  for (const i of pool.open) {
    if (pool.last[i] <= m) continue;
    pool.open[kept++] = i;
    const loss = lossUpTo(u, pool, i, m);
    counts[bucketOf(loss)]++;
    sum += loss;
  }
  pool.open.length = kept;
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

export interface Bake {
  /** The minute the relative gate decided, or maxBake when it held for a human. */
  minute: number;
  outcome: "rollback" | "promote" | "hold";
  intervalMin: number;
  /** The minute the Flagger-style gate rolled back in its fixed window, if it did. */
  threshold?: number;
}

export interface Scenario {
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
export function bake(seed: number, intervalMin: number, sc: Scenario): Bake {
  const u = uniforms(seed);
  const step = stepOf(sc.share);
  const last = Math.max(step.maxBakeMin, FLAGGER_BAKE_MIN);
  const [sourceShock, targetShock] = shocks(u, last);
  const shares = sc.inProgress ?? { source: 1 - sc.share, target: 0 };
  const calls = (share: number) => Math.round(JOINS_PER_MIN * CALL_MIN * share);
  const capacity = (inProgress: number, share: number) =>
    Math.ceil((calls(inProgress) + JOINS_PER_MIN * last * share) * 1.2) + 100;
  const source = newPool(0, capacity(shares.source, 1 - sc.share), sourceShock, last);
  const target = newPool(1, capacity(shares.target, sc.share), targetShock, last);
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

export const WEIGHTS = [0.01, 0.05, 0.25];
const healthy = (share: number, name = "no regression", loss = BASE_LOSS): Scenario => ({
  name,
  share,
  sourceLoss: loss,
  targetLoss: loss,
  regression: false,
});
export const SCENARIOS: Scenario[] = [
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

/**
 * Bakes `from` to `to` - 1 of scenario `index`: seed (index + 1) * 1 000 000 + k, half the bakes
 * at each of the step's intervalsOf (alternating seeds), so a bake's outcome is the same in
 * whichever process, chunk or order it runs.
 */
export function bakes(index: number, from: number, to: number): Bake[] {
  const scenario = SCENARIOS[index];
  const intervals = intervalsOf(stepOf(scenario.share));
  const out: Bake[] = [];
  for (let k = from; k < to; k++) {
    out.push(bake((index + 1) * 1_000_000 + k, intervals[k % intervals.length], scenario));
  }
  return out;
}
