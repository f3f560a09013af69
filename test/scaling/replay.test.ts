import { test } from "node:test";
import assert from "node:assert/strict";
import { curveTrace, joinsFor, MINUTES_PER_DAY, type Trace } from "../../modules/world/demand";
import {
  gcpAutoscaler,
  oursPolicy,
  OURS_HEADROOM,
  OURS_MAX_CUT_PER_HOST,
  staticPolicy,
  type Policy,
} from "../../modules/scaling/policies";
import {
  fileCalendar,
  OPEN_LOOP,
  replay,
  staticHostsFor,
  type ReplayPool,
} from "../../modules/scaling/replay";
import { frontier } from "../../modules/scaling/frontier";
import {
  DEFAULT_WORST_STEP,
  localMinute,
  spikePlan,
  withSteps,
} from "../../modules/scaling/spikes";

const POOL = {
  capacity: 1200,
  drainLimitMin: 30,
  coldBootMin: [3, 7] as [number, number],
  warmBootMin: 1,
  seed: 1,
};

function flat(sessions: number, minutes: number): Trace {
  const s = new Float64Array(minutes).fill(sessions);
  return { region: "flat", utcOffsetHours: 0, sessions: s, joins: joinsFor(s), events: [] };
}

function target(trace: Trace, extra: Partial<ReplayPool> = {}): ReplayPool {
  return {
    trace,
    pool: POOL,
    minHosts: 1,
    maxHosts: 500,
    hourlyUsd: 1,
    sizingPeak: 12000,
    ...extra,
  };
}

/** A policy that holds `hosts(now)` hosts and takes them out as told. */
function holding(
  hosts: (now: number) => number,
  removal: ReturnType<Policy["start"]>["removal"],
): Policy {
  return {
    name: "holding",
    summary: "test",
    start: () => ({ desired: (o) => hosts(o.now), removal }),
  };
}

const curve = (days: number, seed = 3) =>
  curveTrace(
    {
      region: "test",
      utcOffsetHours: -8,
      peakSessions: 12000,
      peakHour: 20,
      troughShare: 0.12,
      weekendFactor: 0.85,
      weeklyGrowth: 0.015,
      events: [],
      noise: 0.04,
      seed,
    },
    days,
  );

test("closed loop: refused joins try again, a share gives up, and the served demand counts what was lost", () => {
  // 6 hosts (7,200 sessions) under a curve that peaks at 12,000: evenings are refused.
  const small = holding(() => 6, { kind: "drain", pick: "least-loaded" });
  const closed = replay(target(curve(2)), small, { warmPool: false });
  const open = replay(target(curve(2)), small, { warmPool: false, retry: OPEN_LOOP });
  assert.ok(closed.totals.refusedJoins > 0);
  // 80 % of every refused attempt tries again a minute later; the other 20 % give up.
  assert.ok(Math.abs(closed.totals.gaveUp / closed.totals.refusedJoins - 0.2) < 1e-9);
  assert.equal(open.totals.gaveUp, open.totals.refusedJoins);
  // Retries that find room a minute later are demand served; the evenings still lose a fifth.
  assert.ok(closed.servedPct > open.servedPct);
  assert.ok(closed.servedPct > 75 && closed.servedPct < 85, `${closed.servedPct}`);
  // At the worst minute the 7,200 sessions of 6 hosts are all the pool carries.
  assert.ok(closed.worstMinuteServedPct < 60, `${closed.worstMinuteServedPct}`);
});

test("closed loop: a cut call's participants rejoin a minute later and carry on; a pool without limits serves 100 %", () => {
  const trace = flat(6000, 240);
  // Two of ten hosts deleted at minute 60: every call on them is cut.
  const cutting = holding((now) => (now < 60 ? 10 : 8), { kind: "delete", pick: "least-loaded" });
  const r = replay(target(trace), cutting, { warmPool: false });
  assert.ok(r.totals.callsCut > 500, `${r.totals.callsCut}`);
  assert.ok(Math.abs(r.totals.rejoins - 0.9 * r.totals.callsCut) < 1e-6);
  // Those who came back carry on with their calls: only the 10 % who did not, and one minute, are lost.
  assert.ok(r.servedPct > 99 && r.servedPct < 100, `${r.servedPct}`);
  const ample = replay(
    target(trace),
    holding(() => 10, { kind: "drain", pick: "least-loaded" }),
    {
      warmPool: false,
    },
  );
  assert.ok(Math.abs(ample.servedPct - 100) < 1e-9, `${ample.servedPct}`);
  assert.equal(ample.totals.callsCut + ample.totals.callsCutAtLimit, 0);
});

test("static: sized from the weeks before (+30 %, plus one) and never above maxHosts", () => {
  assert.equal(staticHostsFor(12000, 1200, 500), 14);
  assert.equal(staticHostsFor(100000, 1200, 90), 90);
  const r = replay(target(curve(2), { sizingPeak: 100000, maxHosts: 90 }), staticPolicy, {
    warmPool: false,
  });
  assert.equal(r.hostHours, 90 * 48);
  assert.equal(r.totals.peakHosts, 90);
});

test("maxHosts holds against a start above it and against draining hosts", () => {
  // The first minute asks for 50,000 sessions: 57 hosts, but the group stops at 20.
  const start = replay(target(flat(50000, 60), { maxHosts: 20 }), gcpAutoscaler, {
    warmPool: false,
  });
  assert.equal(start.totals.peakHosts, 20);
  // Up and down every 5 minutes with calls of hours: drained hosts linger, and still count.
  const flapping = holding((now) => (Math.floor(now / 5) % 2 ? 6 : 10), {
    kind: "drain",
    pick: "least-loaded",
  });
  const r = replay(target(flat(5000, 600), { maxHosts: 10 }), flapping, { warmPool: false });
  assert.ok(r.totals.scaleIns > 50);
  assert.equal(r.totals.peakHosts, 10);
});

test("ours' frontier: a smaller per-host cut budget cuts fewer calls at the limit and costs more host-hours", () => {
  const points = frontier(target(curve(10), { sizingPeak: 12000 }), false, 2880);
  const at30 = points.filter((p) => p.drainLimitMin === 30);
  for (let i = 1; i < at30.length; i++) {
    assert.ok(at30[i].cutAtLimitPct >= at30[i - 1].cutAtLimitPct, `${i}`);
    assert.ok(at30[i].hostHours <= at30[i - 1].hostHours, `${i}`);
  }
  assert.deepEqual(
    points.filter((p) => p.chosen).map((p) => [p.maxCutPerHost, p.drainLimitMin]),
    [[OURS_MAX_CUT_PER_HOST, 30]],
  );
  // Without a budget each longer drain limit, up to the platform's two days, cuts fewer calls
  // too, for more host-hours.
  const unbudgeted = points.filter((p) => !Number.isFinite(p.maxCutPerHost));
  assert.deepEqual(
    unbudgeted.map((p) => p.drainLimitMin),
    [30, 120, 240, 480, 1440, 2880],
  );
  for (let i = 1; i < unbudgeted.length; i++) {
    const [shorter, longer] = [unbudgeted[i - 1], unbudgeted[i]];
    assert.ok(longer.cutAtLimitPct <= shorter.cutAtLimitPct, `${longer.drainLimitMin} min`);
    assert.ok(longer.hostHours >= shorter.hostHours, `${longer.drainLimitMin} min`);
  }
  assert.ok(unbudgeted[5].cutAtLimitPct < unbudgeted[1].cutAtLimitPct);
  // A platform that takes at most 47 h 58 min (AWS) gets no two-day point.
  assert.deepEqual(
    frontier(target(curve(2), { sizingPeak: 12000 }), false, 2878)
      .filter((p) => !Number.isFinite(p.maxCutPerHost))
      .map((p) => p.drainLimitMin),
    [30, 120, 240, 480, 1440],
  );
  // The chosen point: every scale-in waits for long calls; ≤ 0.1 % of calls are cut.
  assert.ok(points.find((p) => p.chosen)!.cutAtLimitPct < 0.1);
});

test("spikes: the plan from boot times and the declared step; the split's notice keeps a ×2 failover to a minute", () => {
  const plan = spikePlan(DEFAULT_WORST_STEP, POOL, {
    headroom: OURS_HEADROOM,
    peakSessions: 12000,
    warmPool: false,
  });
  // ×2 with 25 % headroom leaves 75 % of the peak short: 9,000 sessions, 8 hosts; cold boot
  // takes up to 7 minutes, seen a minute late.
  assert.deepEqual(plan, {
    noticeMin: 7,
    warmHosts: 8,
    residual: { overloadMin: 8, sessionsShort: 9000 },
  });
  const warm = spikePlan(DEFAULT_WORST_STEP, POOL, {
    headroom: 0.25,
    peakSessions: 12000,
    warmPool: true,
  });
  assert.equal(warm.noticeMin, 1);
  assert.equal(warm.residual.overloadMin, 2);

  const quiet = curve(9);
  const at = localMinute(quiet, 7, 19.5);
  const stepped = withSteps(quiet, DEFAULT_WORST_STEP, [at]);
  assert.equal(stepped.sessions[at], 2 * quiet.sessions[at]);
  assert.equal(stepped.sessions[at - 1], quiet.sessions[at - 1]);
  assert.equal(stepped.sessions[at + 200], quiet.sessions[at + 200]);
  const failovers = [
    { start: at, end: at + 181, factor: 2, noticeMin: plan.noticeMin, headroom: OURS_HEADROOM },
  ];
  const announced = replay(target({ ...stepped }, { failovers }), oursPolicy, { warmPool: false });
  const unannounced = replay(target(stepped), oursPolicy, { warmPool: false });
  assert.ok(announced.totals.overloadMinutes <= 1, `${announced.totals.overloadMinutes}`);
  assert.ok(unannounced.totals.overloadMinutes > 1, `${unannounced.totals.overloadMinutes}`);
  // Static is fixed: the split cannot raise it.
  const fixed = replay(target(stepped, { failovers }), staticPolicy, { warmPool: false });
  assert.equal(fixed.totals.peakHosts, staticHostsFor(12000, 1200, 500));
});

test("a file's calendar: DAY counts local days from the first row's local date", () => {
  // First row 2026-11-02T10:00Z is 02:00 local at UTC-8: day 1 at 19:00 is 41 hours later.
  const first = Date.UTC(2026, 10, 2, 10) / 60000;
  const [event] = fileCalendar([{ day: 1, hour: 19, durationMin: 120, factor: 2 }], first, -8);
  assert.deepEqual(event, { start: 41 * 60, end: 41 * 60 + 120, factor: 2 });
  assert.equal(MINUTES_PER_DAY, 1440);
});
