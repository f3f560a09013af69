import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  COMPARISONS,
  judgeComparison,
  mannWhitney,
  type CompareGate,
  type Fetched,
  type Group,
} from "../../modules/migrate/compare";
import { noise } from "../../modules/migrate/world";

const pools = { source: "metal-sjc", target: "gcp-us-west1" };
const gate = (over: Partial<CompareGate> = {}): CompareGate => ({
  slo: "packet-loss",
  critical: true,
  minSamples: 5,
  confidence: 0.99,
  ...over,
});
const raw = (values: number[], query = "q"): Fetched => ({ query, values });
const judge = (g: CompareGate, source: number[], target: number[]) =>
  judgeComparison(g, pools, { source: raw(source, "s"), target: raw(target, "t") });

/** Groups of untied raw samples, as judgeComparison builds them. */
function groups(source: number[], target: number[]): Group[] {
  const all = [
    ...source.map((value) => ({ value, source: 1, target: 0 })),
    ...target.map((value) => ({ value, source: 0, target: 1 })),
  ];
  return all.sort((a, b) => a.value - b.value);
}

test("Mann–Whitney U matches the textbook asymptotic values, with and without ties", () => {
  // scipy.stats.mannwhitneyu([6..10], [1..5], alternative="greater", method="asymptotic")
  const apart = mannWhitney(groups([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), "greater");
  assert.equal(apart.u, 25);
  assert.ok(Math.abs(apart.pValue - 0.006093) < 1e-5, `p ${apart.pValue}`);
  // ties: ranks 1.5,1.5 | 4.5×4 | 7.5,7.5; U = 14; tie-corrected variance 10.2857
  const tied: Group[] = [
    { value: 1, source: 2, target: 0 },
    { value: 2, source: 2, target: 2 },
    { value: 3, source: 0, target: 2 },
  ];
  const t = mannWhitney(tied, "greater");
  assert.equal(t.u, 14);
  assert.ok(Math.abs(t.z - 5.5 / Math.sqrt((16 / 12) * (9 - 72 / 56))) < 1e-12);
  assert.ok(Math.abs(t.pValue - 0.04318) < 1e-4, `p ${t.pValue}`);
  // the other direction asks the opposite question
  assert.ok(mannWhitney(tied, "less").pValue > 0.95);
  // all tied: no evidence either way
  assert.equal(mannWhitney([{ value: 0, source: 9, target: 9 }], "greater").pValue, 1);
});

test("a target clearly worse by more than the floor fails, with the figures journaled", () => {
  const source = [0.002, 0.003, 0.004, 0.005, 0.006, 0.004, 0.003, 0.005];
  const target = source.map((v) => v + 0.01);
  const e = judge(gate(), source, target);
  assert.equal(e.verdict, "fail");
  assert.equal(e.gate, "packet-loss vs source");
  assert.equal(e.pool, "gcp-us-west1");
  assert.equal(e.query, "t");
  assert.equal(e.sourceQuery, "s");
  assert.equal(e.sourceSamples, 8);
  assert.equal(e.targetSamples, 8);
  assert.equal(e.statistic, 64);
  assert.ok(e.pValue! < 0.01);
  assert.ok(Math.abs(e.effect! - 0.01) < 1e-12);
  assert.equal(e.threshold, COMPARISONS["packet-loss"].effectFloor);
  assert.match(e.reason, /^target worse: mean 0.014 vs 0.004, effect 0.01 ≥ floor 0.0025, p /);
});

test("significant but below the effect floor passes; large but not significant passes", () => {
  const source = Array.from({ length: 400 }, (_, i) => 0.005 + (i % 20) * 0.0001);
  const slightly = source.map((v) => v + 0.0005);
  const small = judge(gate(), source, slightly);
  assert.ok(small.pValue! < 0.01, "significant");
  assert.equal(small.verdict, "pass");
  assert.match(small.reason, /effect 0.0005 < floor 0.0025/);
  const noisy = judge(gate(), [0, 0, 0.05, 0, 0], [0, 0.05, 0, 0, 0.05]);
  assert.ok(noisy.effect! > 0.0025);
  assert.equal(noisy.verdict, "pass");
});

test("the direction follows the SLO: join success must not fall", () => {
  const source = Array.from({ length: 2000 }, (_, i) => (i % 500 === 0 ? 0 : 1));
  const target = Array.from({ length: 2000 }, (_, i) => (i % 50 === 0 ? 0 : 1));
  const worse = judge(gate({ slo: "join-success" }), source, target);
  assert.equal(worse.verdict, "fail", worse.reason);
  assert.equal(worse.bound, "above");
  const better = judge(gate({ slo: "join-success" }), target, source);
  assert.equal(better.verdict, "pass");
});

test("no data, partial data, too few samples, NaN or a query error is inconclusive, never a pass", () => {
  const ok = [0.001, 0.002, 0.003, 0.004, 0.005];
  assert.equal(judge(gate(), [], []).verdict, "inconclusive");
  assert.equal(judge(gate(), ok, []).verdict, "inconclusive");
  const few = judge(gate(), ok, [0.001, 0.002]);
  assert.equal(few.verdict, "inconclusive");
  assert.equal(
    few.reason,
    "5 metal-sjc and 2 gcp-us-west1 samples, fewer than the 5 per pool a comparison needs",
  );
  const nan = judge(gate(), ok, [NaN, NaN, 0.001, Infinity, 0.002, 0.001, NaN]);
  assert.equal(nan.verdict, "inconclusive");
  assert.equal(nan.dropped, 4);
  assert.match(nan.reason, /3 gcp-us-west1 samples \(4 NaN or infinite left out\)/);
  const missing = judgeComparison(gate(), pools, {
    source: raw(ok),
    target: { query: "t", missing: "series stale at the window's end" },
  });
  assert.equal(missing.verdict, "inconclusive");
  assert.equal(missing.reason, "no data: gcp-us-west1: series stale at the window's end");
  const error = judgeComparison(gate(), pools, { error: "timeout", errorLimit: true });
  assert.equal(error.verdict, "inconclusive");
  assert.equal(error.queryError, "timeout");
  assert.equal(error.errorLimit, true);
});

test("histograms: buckets rank as ties, the mean comes from the sum; NaN counts are no data", () => {
  const h = (counts: number[], sum: number): Fetched => ({
    query: "h",
    histogram: {
      buckets: [0.005, 0.01, 0.02, Infinity].map((le, i) => ({ le, count: counts[i] })),
      sum,
    },
  });
  // sessions: source 80 at ≤0.005, 20 at ≤0.01; target 20 / 30 / 50 at ≤0.02
  const e = judgeComparison(gate(), pools, {
    source: h([80, 100, 100, 100], 0.4),
    target: h([19.6, 50.2, 100.4, 100.4], 1.5),
  });
  assert.equal(e.verdict, "fail");
  assert.equal(e.sourceSamples, 100);
  assert.equal(e.targetSamples, 100);
  assert.deepEqual(e.buckets, [
    { le: 0.005, source: 80, target: 20 },
    { le: 0.01, source: 20, target: 30 },
    { le: 0.02, source: 0, target: 50 },
    { le: Infinity, source: 0, target: 0 },
  ]);
  // the same sessions as raw values at their buckets' bounds give the same U
  const same = judge(
    gate(),
    [...Array(80).fill(0.005), ...Array(20).fill(0.01)],
    [...Array(20).fill(0.005), ...Array(30).fill(0.01), ...Array(50).fill(0.02)],
  );
  assert.equal(same.statistic, e.statistic);
  assert.equal(same.pValue, e.pValue);
  const nan = judgeComparison(gate(), pools, {
    source: h([80, 100, 100, 100], NaN),
    target: h([NaN, 50, 100, 100], 1.5),
  });
  assert.equal(nan.verdict, "inconclusive");
  assert.equal(nan.dropped, 2);
  const mismatched = judgeComparison(gate(), pools, {
    source: h([80, 100, 100, 100], 0.4),
    target: { query: "h", histogram: { buckets: [{ le: Infinity, count: 100 }], sum: 1 } },
  });
  assert.equal(mismatched.verdict, "inconclusive");
});

test("property: pools drawn from one distribution fail at about alpha, not more", () => {
  const trials = 1000;
  let failures = 0;
  for (let seed = 1; seed <= trials; seed++) {
    // skewed like packet loss, with many exact zeros (ties); noise() is in [0, 1)
    const draw = (key: string) =>
      noise(seed, `${key}a`) < 0.4 ? 0 : -0.005 * Math.log(1 - noise(seed, `${key}b`));
    const source = Array.from({ length: 60 }, (_, i) => draw(`s${i}`));
    const target = Array.from({ length: 30 }, (_, i) => draw(`t${i}`));
    const e = judge(gate({ confidence: 0.95, effectFloor: 0 }), source, target);
    if (e.verdict === "fail") failures++;
  }
  // 5 % expected: 50 of 1000, binomial sd 6.9
  assert.ok(failures <= 70, `${failures} of ${trials} failed at alpha 0.05`);
});

test("property: shifting the target worse can only lower the p-value", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 4, maxLength: 60 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 500 }),
      (values, cut, shift) => {
        const k = Math.max(1, Math.min(values.length - 1, Math.floor(values.length / (cut + 1))));
        const source = values.slice(0, k);
        const target = values.slice(k);
        // +0.5 keeps shifted targets off every source value: no new ties, same variance
        const before = mannWhitney(groups(source, target), "greater");
        const after = mannWhitney(
          groups(
            source,
            target.map((v) => v + shift + 0.5),
          ),
          "greater",
        );
        return after.u >= before.u && after.pValue <= before.pValue + 1e-12;
      },
    ),
  );
});

test("property: fewer finite samples than the minimum, on either side, never pass", () => {
  const sample = fc.oneof(
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.constantFrom(NaN, Infinity, -Infinity),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.array(sample, { maxLength: 40 }),
      fc.array(sample, { maxLength: 40 }),
      (minSamples, source, target) => {
        const finite = (xs: number[]) => xs.filter(Number.isFinite).length;
        fc.pre(finite(source) < minSamples || finite(target) < minSamples);
        return judge(gate({ minSamples }), source, target).verdict === "inconclusive";
      },
    ),
  );
});

test("samples of one session count as one: the per-session correction widens the p-value", () => {
  const h = (counts: number[], sum: number, sessions?: number): Fetched => ({
    query: "h",
    histogram: {
      buckets: [0.005, 0.01, Infinity].map((le, i) => ({ le, count: counts[i] })),
      sum,
      ...(sessions === undefined ? {} : { sessions }),
    },
  });
  const judgeWith = (sourceSessions?: number, targetSessions?: number) =>
    judgeComparison(gate({ confidence: 0.999 }), pools, {
      source: h([900, 1000, 1000], 4, sourceSessions),
      target: h([60, 90, 100], 0.9, targetSessions),
    });
  const textbook = judgeWith();
  assert.equal(judgeWith(1000, 100).pValue, textbook.pValue, "one sample per session");
  // 100 target samples from 10 calls: the evidence of 10, not 100
  const clustered = judgeWith(1000, 10);
  assert.equal(textbook.verdict, "fail");
  assert.equal(clustered.verdict, "pass");
  assert.ok(clustered.pValue! > textbook.pValue!);
  assert.match(clustered.reason, /, 1 and 10 per session\)$/);
});
