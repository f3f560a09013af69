import { test } from "node:test";
import assert from "node:assert/strict";
import { joinsFor, type Trace } from "../../modules/world/demand";
import type { FrontierPoint } from "../../modules/scaling/frontier";
import type { ReplayResult } from "../../modules/scaling/replay";
import {
  axisTicks,
  freeLabelBox,
  frontierSvg,
  replaySvg,
  tickLabel,
  zeroAxis,
} from "../../modules/scaling/plot";

/** Every `<text>` at an x, as [label, y]: the tick labels of an axis drawn at that x. */
function labelsAt(svg: string, x: number): [string, number][] {
  return [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)<\/text>/g)]
    .filter((m) => Number(m[1]) === x)
    .map((m) => [m[3], Number(m[2])]);
}

test("axis ticks are round steps of 1, 2 or 5 × 10^k within the range", () => {
  assert.deepEqual(axisTicks(0, 48_000), [0, 10_000, 20_000, 30_000, 40_000]);
  assert.deepEqual(axisTicks(14_972, 30_240, 3), [15_000, 20_000, 25_000, 30_000]);
  assert.deepEqual(axisTicks(0.1, 0.7, 3), [0.2, 0.4, 0.6]);
  assert.deepEqual(axisTicks(12_513, 12_513), [12_513]);
  // From 0, the axis ends on the first tick at or above the data's maximum.
  assert.deepEqual(zeroAxis(41_234), [0, 10_000, 20_000, 30_000, 40_000, 50_000]);
  assert.deepEqual(zeroAxis(0.108, 3), [0, 0.05, 0.1, 0.15]);
  assert.deepEqual(zeroAxis(2.928, 3), [0, 1, 2, 3]);
  assert.deepEqual(
    [0, 0.05, 0.1].map((v) => tickLabel(v, [0, 0.05, 0.1])),
    ["0.00", "0.05", "0.10"],
  );
  assert.equal(tickLabel(30_000, [0, 10_000]), "30,000");
});

test("the replay picture has a y axis in sessions whose ticks sit where those values are drawn", () => {
  const minutes = 2 * 1440;
  const sessions = new Float64Array(minutes).fill(10_000);
  const trace: Trace = {
    region: "r",
    utcOffsetHours: 0,
    sessions,
    joins: joinsFor(sessions),
    events: [],
  };
  const result = {
    policy: "ours",
    warmPool: false,
    hostHours: 480,
    totals: { overloadMinutes: 0, callsCut: 0, callsCutAtLimit: 0 },
    series: {
      capacity: new Float64Array(minutes).fill(12_000),
      refused: new Float64Array(minutes),
    },
  } as unknown as ReplayResult;
  const svg = replaySvg(trace, [result], "flat");
  // 12,000 sessions at most: steps of 2,000 up to 12,000, labelled right of the panel (x 884),
  // from its baseline (y 140) to its top (y 60); the unit above them.
  const ticks = labelsAt(svg, 884);
  assert.deepEqual(ticks, [
    ["sessions", 36],
    ["0", 140],
    ["2,000", 126.7],
    ["4,000", 113.3],
    ["6,000", 100],
    ["8,000", 86.7],
    ["10,000", 73.3],
    ["12,000", 60],
  ]);
  // The demand line (10,000) is drawn at the 10,000 tick, the capacity (12,000) at the top one.
  const lines = [...svg.matchAll(/<path d="M150 ([\d.]+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(lines, [60, 73.3]);
});

test("the frontier picture labels both axes with ticks and units", () => {
  const point = (hostHours: number, cutAtLimitPct: number, chosen = false): FrontierPoint => ({
    maxCutPerHost: 15,
    drainLimitMin: 30,
    hostHours,
    cutAtLimitPct,
    cutEarlyPct: 0,
    chosen,
  });
  const svg = frontierSvg(
    [
      {
        name: "gcp-us-west1",
        points: [point(15_000, 2.9), point(20_854, 0.108, true), point(30_000, 0)],
      },
    ],
    "frontier",
  );
  // x: host-hours 15,000 to 30,000 over the panel's 200 px from x 50; y: % of calls, 0 to 3.
  const xLabels = [
    ...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*text-anchor="middle">([^<]*)</g),
  ].map((m) => [m[3], Number(m[1])]);
  assert.deepEqual(xLabels, [
    ["15,000", 50],
    ["20,000", 116.7],
    ["25,000", 183.3],
    ["30,000", 250],
  ]);
  assert.deepEqual(
    labelsAt(svg, 45).map(([label]) => label),
    ["0", "1", "2", "3"],
  );
  // The y unit runs up the axis, halfway between its ends (y 64 and 214).
  assert.deepEqual(labelsAt(svg, 14), [["% of calls", 139]]);
  assert.match(svg, />host-hours</);
  // The 0 % tick is on the x axis (y 214: the panel's 250 − 36 px).
  assert.deepEqual(labelsAt(svg, 45)[0], ["0", 214]);
});

test("frontier labels of points close together do not print over each other", () => {
  const placed: { x: number; y: number; w: number }[] = [];
  // any@1440m and any@2880m, 16 px apart on the same line: the second goes a line up.
  assert.deepEqual(freeLabelBox(placed, 245, 206, 9), { x: 245, y: 206, w: 49.5 });
  assert.deepEqual(freeLabelBox(placed, 261, 206, 9), { x: 261, y: 196, w: 49.5 });
  // Its line taken too: the next goes below.
  assert.deepEqual(freeLabelBox(placed, 250, 206, 9), { x: 250, y: 216, w: 49.5 });
  // Clear of them: where it was asked.
  assert.deepEqual(freeLabelBox(placed, 60, 71, 7), { x: 60, y: 71, w: 38.5 });
});
