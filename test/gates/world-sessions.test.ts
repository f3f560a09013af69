import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateComparison, type CompareGate } from "../../modules/gates/compare";
import { loadRunbook } from "../../modules/migrate/runbook";
import { advance, createWorld, parseFault, type WorldState } from "../../modules/migrate/world";
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

test("the world's per-session histograms: session-minutes, their mean, and the calls behind them", () => {
  const { state, from } = baked();
  const h = sessionHistogram(state, "packet-loss", POOLS.target, from, state.now)!;
  const window = state.minutes.filter((m) => m.t > from);
  const sessionMinutes = window.reduce((a, m) => a + m.sessions[POOLS.target], 0);
  const inf = h.buckets.at(-1)!;
  assert.equal(inf.le, Infinity);
  assert.ok(Math.abs(inf.count - sessionMinutes) < 1e-6);
  const meanLoss =
    window.reduce((a, m) => a + m.sessions[POOLS.target] * m.quality[POOLS.target][0], 0) /
    sessionMinutes;
  assert.ok(Math.abs(h.sum / inf.count - meanLoss) < 1e-12);
  // every call is counted once however many minutes it reported: fewer calls than samples
  assert.ok(h.sessions! > 50 && h.sessions! < inf.count / 3, `${h.sessions} calls`);
  // cumulative, and nothing lost at exactly 0
  assert.equal(h.buckets[0].count, 0);
  h.buckets.slice(1).forEach((b, i) => assert.ok(b.count >= h.buckets[i].count));
  assert.equal(
    sessionHistogram(state, "packet-loss", POOLS.target, state.now, state.now),
    undefined,
  );
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
    'sum by (le) (increase(avfleet_session_packet_loss_ratio_bucket{pool="gcp-us-west1",region="us-west"}[1800s]))',
  );
  const faulty = await gate(["target-loss=3@5"]);
  assert.equal(faulty.verdict, "fail", faulty.reason);
  assert.ok(faulty.effect! > 0.025);
});

test("the world's exposition carries every per-session histogram for every pool", () => {
  const { state } = baked();
  const lines = sessionExposition(state);
  assert.ok(lines.includes("# TYPE avfleet_session_packet_loss_ratio histogram"));
  for (const pool of Object.values(POOLS)) {
    for (const metric of ["packet_loss_ratio", "jitter_p95_seconds", "join_success"]) {
      assert.ok(
        lines.some((l) =>
          l.startsWith(`avfleet_session_${metric}_count{pool="${pool}",region="us-west"} `),
        ),
        `${metric} on ${pool}`,
      );
    }
  }
});
