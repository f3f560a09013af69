import { test } from "node:test";
import assert from "node:assert/strict";
import { MEDIA_SESSIONS, type SessionMix } from "../../modules/world/demand";
import { Pool, removalOrder, type PoolSpec, type RemovalCandidate } from "../../modules/world/pool";

const SPEC: PoolSpec = {
  capacity: 1000,
  drainLimitMin: 30,
  coldBootMin: [4, 4],
  warmBootMin: 1,
  warmPool: false,
  seed: 1,
};
/** Calls of exactly one kind: a minute's survival of exp(-1/mean). */
const ONE_KIND = (meanMin: number): SessionMix => ({ phases: [{ share: 1, meanMin }] });

test("joins beyond every serving host's capacity are refused, and that minute is overloaded", () => {
  const pool = new Pool(SPEC, ONE_KIND(1e9), 2);
  const minute = pool.step(0, 2500);
  assert.equal(Math.round(minute.load), 2000);
  assert.equal(Math.round(minute.refused), 500);
  assert.equal(pool.totals.overloadMinutes, 1);
  pool.step(1, 0);
  assert.equal(pool.totals.overloadMinutes, 1, "a full pool with no joins is not overloaded");
});

test("joins go to the hosts with free capacity, in proportion to it", () => {
  const pool = new Pool(SPEC, ONE_KIND(1e9), 1);
  pool.step(0, 800);
  pool.scaleTo(1, 2, { kind: "drain", pick: "least-loaded" });
  for (let m = 1; m < 5; m++) pool.step(m, 0);
  assert.equal(pool.active(5).serving, 2, "the new host serves after its 4-minute boot");
  const minute = pool.step(5, 600);
  // Free: 200 and 1000 → the 600 joins split 100 / 500.
  assert.equal(Math.round(minute.load), 1400);
  assert.equal(minute.refused, 0);
});

test("a host boots cold in its boot time, from a warm pool in one minute", () => {
  for (const [warmPool, boot] of [
    [false, 4],
    [true, 1],
  ] as const) {
    const pool = new Pool({ ...SPEC, warmPool }, MEDIA_SESSIONS, 0);
    pool.scaleTo(0, 1, { kind: "drain", pick: "least-loaded" });
    assert.deepEqual(pool.active(boot - 1), {
      serving: 0,
      booting: 1,
      draining: 0,
      drainingSessions: [],
    });
    assert.deepEqual(pool.active(boot), {
      serving: 1,
      booting: 0,
      draining: 0,
      drainingSessions: [],
    });
  }
});

test("a draining host takes no joins, leaves once empty, and calls left at the drain limit are cut at the limit", () => {
  // Calls of 2 minutes drain well within 30; calls of 10 hours do not.
  const short = new Pool(SPEC, ONE_KIND(2), 2, 1000);
  short.scaleTo(0, 1, { kind: "drain", pick: "least-loaded" });
  assert.equal(short.active(0).draining, 1);
  let left = 2;
  for (let m = 0; m < 30 && left > 1; m++) {
    short.step(m, 100);
    left = short.active(m + 1).serving + short.active(m + 1).draining;
  }
  assert.equal(left, 1, "the drained host left before its limit");
  assert.equal(short.totals.callsCut + short.totals.callsCutAtLimit, 0);

  const long = new Pool(SPEC, ONE_KIND(600), 2, 1000);
  long.scaleTo(0, 1, { kind: "drain", pick: "least-loaded" });
  for (let m = 0; m <= 30; m++) long.step(m, 0);
  assert.equal(long.totals.callsCut, 0, "nothing is cut before the drain limit");
  assert.ok(Math.abs(long.totals.callsCutAtLimit - 500 * Math.exp(-31 / 600)) < 1e-6);
});

test("a deletion, or a drain shorter than the pool's limit, cuts calls short", () => {
  const deleted = new Pool(SPEC, ONE_KIND(600), 2, 1000);
  deleted.scaleTo(0, 1, { kind: "delete", pick: "least-loaded" });
  assert.equal(deleted.totals.callsCut, 500);

  const hurried = new Pool(SPEC, ONE_KIND(600), 2, 1000);
  hurried.scaleTo(0, 1, { kind: "drain", pick: "least-loaded", limitMin: 5 });
  for (let m = 0; m <= 5; m++) hurried.step(m, 0);
  assert.ok(hurried.totals.callsCut > 400);
  assert.equal(hurried.totals.callsCutAtLimit, 0);
});

test("scale-in order: booting hosts first, then by the pick", () => {
  const hosts: RemovalCandidate[] = [
    { createdAt: 0, booting: false, load: 900, leftAtLimit: 20 }, // busy with short calls
    { createdAt: 5, booting: false, load: 400, leftAtLimit: 300 }, // quiet, long calls
    { createdAt: 9, booting: true, load: 0, leftAtLimit: 0 },
    { createdAt: 3, booting: false, load: 600, leftAtLimit: 100 },
  ];
  assert.deepEqual(removalOrder(hosts, "least-loaded"), [2, 1, 3, 0]);
  assert.deepEqual(removalOrder(hosts, "fewest-left-at-limit"), [2, 0, 3, 1]);
  assert.deepEqual(removalOrder(hosts, "newest"), [2, 1, 3, 0]);
  assert.deepEqual(removalOrder(hosts, "oldest"), [2, 0, 3, 1]);
});

test("a cordoned host takes only the joins the hosts in rotation have no room for; the host taken first fills last", () => {
  const pool = new Pool(SPEC, ONE_KIND(1e9), 4);
  // Four empty hosts: two out of rotation (the newest first in "newest" order).
  pool.cordon(0, 2, "newest");
  let minute = pool.step(0, 1500);
  assert.equal(Math.round(minute.load), 1500);
  pool.scaleTo(1, 2, { kind: "delete", pick: "least-loaded" });
  assert.equal(Math.round(pool.totals.callsCut), 0, "the cordoned hosts took no joins");
  // Again: two hosts, one cordoned; 1,500 joins fill the other (1,000), the rest overflow.
  const again = new Pool(SPEC, ONE_KIND(1e9), 2);
  again.cordon(0, 1, "newest");
  minute = again.step(0, 1500);
  assert.equal(Math.round(minute.load), 1500);
  assert.equal(minute.refused, 0, "a cordoned host's capacity still counts");
  again.scaleTo(1, 1, { kind: "delete", pick: "newest" });
  assert.equal(Math.round(again.totals.callsCut), 500);
});

test("as deployed on GCP, a cordoned host takes no joins, and a cordon moves only by its count: a host cordoned stays so though another now comes first", () => {
  // Two hosts, one cordoned: of 1,500 joins, the 500 beyond the other's room are refused.
  const pair = new Pool(SPEC, ONE_KIND(1e9), 2);
  pair.cordon(0, 1, "newest", true);
  const minute = pair.step(0, 1500);
  assert.equal(Math.round(minute.load), 1000);
  assert.equal(Math.round(minute.refused), 500, "the balancer sends the cordoned host nothing");
  // Three hosts, one cordoned; a fourth boots and, newest, now comes first in line. Cordoning
  // one again keeps the first; the fourth takes its share of joins, cut when it is deleted.
  const cutOfNewest = (deployed: boolean) => {
    const pool = new Pool(SPEC, ONE_KIND(1e9), 3);
    pool.cordon(0, 1, "newest", deployed);
    pool.scaleTo(1, 4, { kind: "delete", pick: "newest" });
    const ready = 1 + SPEC.coldBootMin[0];
    assert.equal(pool.active(ready).serving, 4);
    pool.cordon(ready, 1, "newest", deployed);
    pool.step(ready, 300);
    pool.scaleTo(ready + 1, 3, { kind: "delete", pick: "newest" });
    return Math.round(pool.totals.callsCut);
  };
  assert.equal(cutOfNewest(true), 100, "the new host stayed in rotation");
  assert.equal(cutOfNewest(false), 0, "without it, the new host is the one cordoned");
});

test("a scale-in skips hosts that would hold more calls than allowed at the drain limit", () => {
  const pool = new Pool(SPEC, ONE_KIND(1e9), 2, 800);
  pool.scaleTo(0, 1, { kind: "drain", pick: "least-loaded", maxLeftAtLimit: 100 });
  assert.deepEqual(pool.active(0), { serving: 2, booting: 0, draining: 0, drainingSessions: [] });
  pool.scaleTo(0, 1, { kind: "drain", pick: "least-loaded", maxLeftAtLimit: 500 });
  // the drained host keeps its half of the 800 sessions while it drains
  assert.deepEqual(pool.active(0), {
    serving: 1,
    booting: 0,
    draining: 1,
    drainingSessions: [400],
  });
});
