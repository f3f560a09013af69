import { test } from "node:test";
import assert from "node:assert/strict";
import {
  COMPARISONS,
  evaluateComparison,
  judgeComparison,
  type CompareGate,
} from "../../modules/gates/compare";
import { loadRunbook } from "../../modules/runbook/runbook";
import { advance, createWorld, type WorldState } from "../../modules/rehearsal/world";
import { parseFault } from "../../modules/rehearsal/faults";
import type { Fetched } from "../../modules/gates/metrics";
import {
  sessionExposition,
  sessionHistogram,
  worldHistogram,
} from "../../modules/gates/world-sessions";
import { FIXTURE_STACKS, US_WEST } from "../migrate/support";

const POOLS = { source: "metal-sjc", target: "gcp-us-west1" };
const GATE: CompareGate = {
  slo: "packet-loss",
  critical: true,
  minSamples: 100,
  confidence: 0.999,
};

/** A us-west world 30 minutes into 5 % on the target, with the faults given already active. */
function baked(faults: string[] = []): { state: WorldState; from: number } {
  const state = createWorld(
    loadRunbook(US_WEST, FIXTURE_STACKS),
    1,
    faults.map((f) => parseFault(f)!),
  );
  const from = state.now;
  state.stacks[state.traffic].outputs!.weights = { [POOLS.source]: 95, [POOLS.target]: 5 };
  for (const f of state.faults) state.triggered[f.spec] = from;
  advance(state, from + 30 * 60_000);
  return { state, from };
}

test("the world's per-session summaries: every call of the window once, its mean, and the minutes' totals", () => {
  const { state, from } = baked();
  const { histogram: h, minutes } = sessionHistogram(
    state,
    "packet-loss",
    POOLS.target,
    from,
    state.now,
  )!;
  const window = state.minutes.filter((m) => m.t > from);
  const target = POOLS.target;
  // the calls in progress in the window's first minute, then every join
  const calls =
    window[0].sessions[target] + window.slice(1).reduce((a, m) => a + m.joins![target], 0);
  const inf = h.buckets.at(-1)!;
  assert.equal(inf.le, Infinity);
  assert.ok(Math.abs(inf.count - calls) < 1e-6);
  const sessionMinutes = window.reduce((a, m) => a + m.sessions[target], 0);
  assert.ok(calls > 50 && calls < sessionMinutes / 3, `${calls} calls`);
  // their mean is the pool's over the window, weighted by session-minutes
  const meanLoss =
    window.reduce((a, m) => a + m.sessions[target] * m.quality[target][0], 0) / sessionMinutes;
  assert.ok(Math.abs(h.sum / inf.count - meanLoss) < 1e-12);
  // one total per minute, the minute's figure shared by all of its session-minutes
  assert.equal(minutes.length, window.length);
  minutes.forEach((m, i) => {
    assert.equal(m.count, window[i].sessions[target]);
    assert.ok(Math.abs(m.sum - m.count * window[i].quality[target][0]) < 1e-12);
  });
  // cumulative, and nothing lost at exactly 0
  assert.equal(h.buckets[0].count, 0);
  h.buckets.slice(1).forEach((b, i) => assert.ok(b.count >= h.buckets[i].count));
  assert.equal(sessionHistogram(state, "packet-loss", target, state.now, state.now), undefined);
});

test("two congested minutes on the newcomer at 100 %: the old count of independent calls rolled back, the minutes keep it from it", () => {
  const state = createWorld(loadRunbook(US_WEST, FIXTURE_STACKS), 1, []);
  const weights = (source: number) =>
    (state.stacks[state.traffic].outputs!.weights = {
      [POOLS.source]: source,
      [POOLS.target]: 100 - source,
    });
  weights(75);
  advance(state, state.now + 2 * 3_600_000);
  const from = state.now;
  weights(0);
  const metric = COMPARISONS["packet-loss"].summaryMetric;
  const gate = { ...GATE, confidence: 0.99 };
  const verdicts = { now: new Set<string>(), independent: new Set<string>() };
  for (let m = 1; m <= 30; m++) {
    advance(state, from + m * 60_000);
    // a congested peering link triples the loss of every call on the target in minutes 1 and 2
    const q = state.minutes.at(-1)!.quality[POOLS.target];
    if (m <= 2) q[0] *= 3;
    const [source, target] = [POOLS.source, POOLS.target].map((p) =>
      worldHistogram(state, metric, p, from, state.now),
    );
    verdicts.now.add(judgeComparison(gate, POOLS, { source, target }).verdict);
    const alone = (f: Fetched) =>
      "histogram" in f ? { query: f.query, histogram: f.histogram } : f;
    verdicts.independent.add(
      judgeComparison(gate, POOLS, { source: alone(source), target: alone(target) }).verdict,
    );
  }
  assert.ok(verdicts.independent.has("fail"), "the calls taken as independent roll back");
  assert.ok(!verdicts.now.has("fail"), [...verdicts.now].join());
  assert.ok(verdicts.now.has("pass"), "and it still promotes once the minutes say so");
});

test("the relative gate against the world: healthy target passes, a 3 % loss fault fails", async () => {
  const gate = async (faults: string[]) => {
    const { state, from } = baked(faults);
    return evaluateComparison(
      GATE,
      POOLS,
      { histogram: async (metric, pool, f, t) => worldHistogram(state, metric, pool, f, t) },
      from,
      state.now,
    );
  };
  const healthy = await gate([]);
  assert.equal(healthy.verdict, "pass", healthy.reason);
  assert.equal(
    healthy.query,
    'sum by (le) (increase(avfleet_session_summary_packet_loss_ratio_bucket{pool="gcp-us-west1",region="us-west"}[1800s]))',
  );
  const faulty = await gate(["target-loss=3@5"]);
  assert.equal(faulty.verdict, "fail", faulty.reason);
  assert.ok(faulty.effect! > 0.025);
});

test("the world's exposition carries every per-session series the gates read, for every pool", () => {
  const { state } = baked();
  const lines = sessionExposition(state);
  assert.ok(lines.includes("# TYPE avfleet_session_packet_loss_ratio histogram"));
  assert.ok(lines.includes("# TYPE avfleet_session_summary_packet_loss_ratio histogram"));
  // calls in progress: a gauge histogram, as three gauges (the text format has no such type)
  assert.ok(lines.includes("# TYPE avfleet_session_open_packet_loss_ratio_bucket gauge"));
  for (const pool of Object.values(POOLS)) {
    for (const { summaryMetric, openMetric, sessionMetric } of Object.values(COMPARISONS)) {
      for (const metric of [summaryMetric, openMetric, sessionMetric].filter(Boolean)) {
        assert.ok(
          lines.some((l) => l.startsWith(`${metric}_count{pool="${pool}",region="us-west"} `)),
          `${metric} on ${pool}`,
        );
      }
    }
  }
});
