import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  curveTrace,
  diurnalShare,
  joinsFor,
  MEDIA_SESSIONS,
  meanSessionMin,
  survivalPerMinute,
  type CurveSpec,
} from "../../modules/world/demand";

/** Expected concurrency when `joins` arrive under the session mix, from a steady start. */
function concurrency(joins: Float64Array, first: number): number[] {
  const survive = survivalPerMinute(MEDIA_SESSIONS);
  const mean = meanSessionMin(MEDIA_SESSIONS);
  const phase = MEDIA_SESSIONS.phases.map((p) => (first * p.share * p.meanMin) / mean);
  const out = [first];
  for (const j of joins.slice(0, -1)) {
    phase.forEach((n, k) => (phase[k] = n * survive[k] + j * MEDIA_SESSIONS.phases[k].share));
    out.push(phase.reduce((a, b) => a + b, 0));
  }
  return out;
}

test("the joins of a trace reproduce its concurrency wherever demand does not fall faster than calls end", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -0.01, max: 0.02, noNaN: true }), {
        minLength: 10,
        maxLength: 300,
      }),
      fc.integer({ min: 100, max: 100000 }),
      (steps, start) => {
        const sessions = new Float64Array(steps.length + 1);
        sessions[0] = start;
        steps.forEach((s, i) => (sessions[i + 1] = sessions[i] * (1 + s)));
        const got = concurrency(joinsFor(sessions), start);
        got.forEach((c, i) => assert.ok(Math.abs(c - sessions[i]) <= 1e-6 * start, `minute ${i}`));
      },
    ),
    { seed: 20261129, numRuns: 100 },
  );
});

test("when demand falls faster than calls end, nobody joins and calls end at their own pace", () => {
  const sessions = Float64Array.from([10000, 1000, 1000]);
  const joins = joinsFor(sessions);
  assert.equal(joins[0], 0);
  // After one minute the short phase loses a quarter and the long ones almost nothing.
  assert.ok(concurrency(joins, 10000)[1] > 8000);
});

test("sessions last 33 minutes on average, one in twelve for hours", () => {
  assert.equal(Math.round(meanSessionMin(MEDIA_SESSIONS) * 10) / 10, 32.8);
  assert.equal(MEDIA_SESSIONS.phases.find((p) => p.meanMin >= 120)?.share, 0.08);
});

test("the diurnal shape peaks at the local peak hour and bottoms at the trough 12 hours later", () => {
  const spec = { peakHour: 20, troughShare: 0.12 };
  assert.equal(diurnalShare(20, spec), 1);
  assert.ok(Math.abs(diurnalShare(8, spec) - 0.12) < 1e-12);
  assert.ok(diurnalShare(18, spec) > diurnalShare(14, spec));
});

const US_WEST: CurveSpec = {
  region: "us-west",
  utcOffsetHours: -8,
  peakSessions: 40000,
  peakHour: 20,
  troughShare: 0.12,
  weekendFactor: 0.85,
  weeklyGrowth: 0.02,
  events: [{ day: 3, hour: 19, durationMin: 120, factor: 2 }],
  noise: 0,
  seed: 1,
};

test("a trace follows local time, the weekend, growth and the calendar's events", () => {
  const trace = curveTrace(US_WEST, 14);
  const at = (day: number, utcHour: number) => trace.sessions[day * 1440 + utcHour * 60];
  // 20:00 in San Francisco is 04:00 UTC the next day.
  assert.ok(Math.abs(at(1, 4) / (40000 * 1.02 ** ((1440 + 240) / 10080)) - 1) < 1e-9);
  // Saturday evening (local) is 15 % quieter than Friday evening, growth aside.
  assert.ok(Math.abs(at(6, 4) / at(5, 4) / 1.02 ** (1 / 7) - 0.85) < 1e-9);
  // The event on day 3 at 19:00 local (03:00 UTC on day 4) doubles demand on its plateau.
  assert.equal(trace.events[0].start, 4 * 1440 + 3 * 60);
  const plateau = trace.sessions[trace.events[0].start + 60];
  const weekBefore = curveTrace({ ...US_WEST, events: [] }, 14).sessions[
    trace.events[0].start + 60
  ];
  assert.ok(Math.abs(plateau / weekBefore - 2) < 1e-9);
});

test("a trace is deterministic for a seed and differs across seeds", () => {
  const noisy = { ...US_WEST, noise: 0.04 };
  assert.deepEqual(curveTrace(noisy, 2).sessions, curveTrace(noisy, 2).sessions);
  assert.notDeepEqual(curveTrace(noisy, 2).sessions, curveTrace({ ...noisy, seed: 2 }, 2).sessions);
});
