/**
 * The replay as a picture: one panel per policy, demand and serving capacity over the whole
 * trace (each pixel column the busiest minute it covers), overloaded minutes marked in red.
 * A standalone SVG, no library: it opens in a browser, a PR or the README.
 */
import type { Trace } from "../world/demand";
import type { FrontierPoint } from "./frontier";
import type { ReplayResult } from "./replay";

const WIDTH = 940;
const PANEL = 110;
const LEFT = 150;
// Room right of the panels for the y-axis labels (the left margin holds each policy's name).
const RIGHT = 60;
const COLUMNS = WIDTH - LEFT - RIGHT;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * Round tick values for an axis over [lo, hi]: about `count` steps of 1, 2 or 5 × a power of
 * ten, from the first multiple of the step at or above lo to the last at or below hi.
 */
export function axisTicks(lo: number, hi: number, count = 4): number[] {
  return hi > lo ? ticksOf(lo, hi, tickStep(hi - lo, count)) : [lo];
}

/** An axis from 0 that ends on a tick at or above `max` (> 0): its ticks, the last being its top. */
export function zeroAxis(max: number, count = 4): number[] {
  const step = tickStep(max, count);
  return ticksOf(0, Math.max(1, Math.ceil(max / step - 1e-9)) * step, step);
}

/**
 * The step nearest span/count among 1, 2, 5 × 10^k, switching at the geometric midpoints
 * (√2, √10, √50) as d3-array does (src/ticks.js, tickSpec), so 4 ticks over 48,000 step by
 * 10,000. Labels beside a y axis are lowered by 0.32em to centre on their tick, as d3-axis does
 * (src/axis.js); `dy` is plain SVG 1.1 text positioning.
 */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const unit = norm >= Math.sqrt(50) ? 10 : norm >= Math.sqrt(10) ? 5 : norm >= Math.SQRT2 ? 2 : 1;
  return unit * magnitude;
}

/** Multiples of step in [lo, hi], rounded so that 3 × 0.1 is 0.3 in a label. */
function ticksOf(lo: number, hi: number, step: number): number[] {
  const digits = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const out: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    out.push(Number((i * step).toFixed(digits)));
  }
  return out;
}

/** A tick's label: thousands separated, as many decimals as the ticks' step needs. */
export function tickLabel(value: number, ticks: number[]): string {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/** Each column's maximum over its slice of the series. */
function columns(series: Float64Array): number[] {
  const out: number[] = [];
  for (let c = 0; c < COLUMNS; c++) {
    const from = Math.floor((c * series.length) / COLUMNS);
    const to = Math.max(from + 1, Math.floor(((c + 1) * series.length) / COLUMNS));
    let max = 0;
    for (let m = from; m < to; m++) max = Math.max(max, series[m]);
    out.push(max);
  }
  return out;
}

function path(values: number[], top: number, scale: number): string {
  return values
    .map((v, c) => `${c ? "L" : "M"}${LEFT + c} ${(top + PANEL - 10 - v * scale).toFixed(1)}`)
    .join("");
}

export function replaySvg(trace: Trace, results: ReplayResult[], title: string): string {
  const demand = columns(trace.sessions);
  let top = 0;
  for (const r of results) for (const v of columns(r.series!.capacity)) top = Math.max(top, v);
  for (const v of demand) top = Math.max(top, v);
  // One scale for every panel, ending on a labelled tick, so panels compare by eye.
  const yTicks = zeroAxis(Math.max(1, top));
  const scale = (PANEL - 30) / yTicks[yTicks.length - 1];
  const height = 40 + results.length * PANEL + 30;
  const days = trace.sessions.length / 1440;
  const panels = results.map((r, i) => {
    const y = 40 + i * PANEL;
    const cap = columns(r.series!.capacity);
    // A column is red when, in one of its minutes, at least one join was refused.
    const overloaded = columns(r.series!.refused)
      .map((refused, c) =>
        refused >= 0.5
          ? `<rect x="${LEFT + c}" y="${y + 8}" width="1" height="${PANEL - 18}" fill="#f3b0b0"/>`
          : "",
      )
      .join("");
    const stats = `${Math.round(r.hostHours).toLocaleString("en-US")} host-h · overload ${r.totals.overloadMinutes} min · cut early ${Math.round(r.totals.callsCut)} · at drain limit ${Math.round(r.totals.callsCutAtLimit).toLocaleString("en-US")}`;
    const axis = yTicks.map((v) => {
      const ty = (y + PANEL - 10 - v * scale).toFixed(1);
      return (
        `<line x1="${LEFT}" y1="${ty}" x2="${LEFT + COLUMNS}" y2="${ty}" stroke="#e4e4e4"/>` +
        `<text x="${LEFT + COLUMNS + 4}" y="${ty}" font-size="9" fill="#555" dy="0.32em">${tickLabel(v, yTicks)}</text>`
      );
    });
    return [
      `<g>`,
      `<rect x="${LEFT}" y="${y + 8}" width="${COLUMNS}" height="${PANEL - 18}" fill="#fafafa" stroke="#ddd"/>`,
      ...axis,
      overloaded,
      `<path d="${path(cap, y, scale)}" fill="none" stroke="#2b6cb0" stroke-width="1.2"/>`,
      `<path d="${path(demand, y, scale)}" fill="none" stroke="#222" stroke-width="0.8"/>`,
      `<text x="10" y="${y + 30}" font-size="13" font-weight="bold">${escape(r.policy)}${r.warmPool ? " (warm)" : ""}</text>`,
      `<text x="10" y="${y + 48}" font-size="10" fill="#555">${escape(stats)}</text>`,
      `</g>`,
    ].join("");
  });
  const ticks = Array.from({ length: Math.floor(days / 7) + 1 }, (_, w) => {
    const x = LEFT + (w * 7 * COLUMNS) / days;
    return `<text x="${x.toFixed(0)}" y="${height - 12}" font-size="10" fill="#555">day ${w * 7}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${LEFT}" y="36" font-size="11" fill="#555">black: demand (sessions) · blue: serving capacity · red: minutes joins were refused</text>`,
    `<text x="${LEFT + COLUMNS + 4}" y="36" font-size="10" fill="#555">sessions</text>`,
    ...panels,
    ...ticks,
    `</svg>`,
    "",
  ].join("\n");
}

const FRONTIER_PANEL = { width: 280, height: 210, left: 50, bottom: 36 };

/**
 * Host-hours against calls cut at the drain limit, one panel per pool, a point per setting of
 * ours (labelled by its per-host budget and drain limit), the point ours runs at filled.
 */
/** A label's box: its text's baseline at (x, y), `w` wide and one 9-px line tall. */
interface Box {
  x: number;
  y: number;
  w: number;
}

/** A 9-px sans-serif character is at most ~5.5 px wide. */
const LABEL_CHAR_PX = 5.5;
const LABEL_LINE_PX = 10;

/**
 * Where a label goes beside its point without covering one already placed: its own spot, else
 * the nearest line above or below it that is free (points close together on the frontier, as
 * the longest drain limits are, would print their labels over each other).
 */
export function freeLabelBox(placed: Box[], x: number, y: number, chars: number): Box {
  const w = chars * LABEL_CHAR_PX;
  const clear = (b: Box) =>
    placed.every(
      (o) => b.x >= o.x + o.w || o.x >= b.x + b.w || Math.abs(b.y - o.y) >= LABEL_LINE_PX,
    );
  for (let step = 0; ; step++) {
    for (const sign of step ? [-1, 1] : [0]) {
      const box = { x, y: y + sign * step * LABEL_LINE_PX, w };
      if (clear(box)) {
        placed.push(box);
        return box;
      }
    }
  }
}

export function frontierSvg(
  pools: { name: string; points: FrontierPoint[] }[],
  title: string,
): string {
  const { width, height, left, bottom } = FRONTIER_PANEL;
  const perRow = 3;
  const rows = Math.ceil(pools.length / perRow);
  const panels = pools.map((p, i) => {
    const x0 = (i % perRow) * width;
    const y0 = 40 + Math.floor(i / perRow) * height;
    const hours = p.points.map((q) => q.hostHours);
    const [lo, hi] = [Math.min(...hours), Math.max(...hours)];
    const yTicks = zeroAxis(Math.max(0.01, ...p.points.map((q) => q.cutAtLimitPct)), 3);
    const top = yTicks[yTicks.length - 1];
    const xTicks = axisTicks(lo, hi, 4);
    const px = (h: number) => x0 + left + ((h - lo) / Math.max(1, hi - lo)) * (width - left - 30);
    const py = (c: number) => y0 + height - bottom - (c / top) * (height - bottom - 30);
    const base = y0 + height - bottom;
    const axisMiddle = ((y0 + 24 + base) / 2).toFixed(1);
    const placed: Box[] = [];
    const dots = p.points.map((q) => {
      const label = `${Number.isFinite(q.maxCutPerHost) ? `≤${q.maxCutPerHost}` : "any"}@${q.drainLimitMin}m`;
      const [x, y] = [px(q.hostHours), py(q.cutAtLimitPct)];
      const at = freeLabelBox(placed, x + 6, y - 4, label.length);
      return [
        `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="${q.chosen ? "#2b6cb0" : "white"}" stroke="#2b6cb0"/>`,
        `<text x="${at.x.toFixed(1)}" y="${at.y.toFixed(1)}" font-size="9" fill="#333">${escape(label)}</text>`,
      ].join("");
    });
    return [
      `<text x="${x0 + 10}" y="${y0 + 16}" font-size="12" font-weight="bold">${escape(p.name)}</text>`,
      `<line x1="${x0 + left}" y1="${base}" x2="${x0 + width - 20}" y2="${base}" stroke="#999"/>`,
      `<line x1="${x0 + left}" y1="${y0 + 24}" x2="${x0 + left}" y2="${base}" stroke="#999"/>`,
      ...xTicks.map(
        (h) =>
          `<line x1="${px(h).toFixed(1)}" y1="${base}" x2="${px(h).toFixed(1)}" y2="${base + 3}" stroke="#999"/>` +
          `<text x="${px(h).toFixed(1)}" y="${base + 13}" font-size="9" fill="#555" text-anchor="middle">${tickLabel(h, xTicks)}</text>`,
      ),
      `<text x="${x0 + width - 20}" y="${base + 25}" font-size="9" fill="#555" text-anchor="end">host-hours</text>`,
      ...yTicks.map(
        (c) =>
          `<line x1="${x0 + left - 3}" y1="${py(c).toFixed(1)}" x2="${x0 + left}" y2="${py(c).toFixed(1)}" stroke="#999"/>` +
          `<text x="${x0 + left - 5}" y="${py(c).toFixed(1)}" font-size="9" fill="#555" text-anchor="end" dy="0.32em">${tickLabel(c, yTicks)}</text>`,
      ),
      `<text x="${x0 + 14}" y="${axisMiddle}" font-size="9" fill="#555" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${axisMiddle})">% of calls</text>`,
      ...dots,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${perRow * width}" height="${40 + rows * height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="34" font-size="10" fill="#555">x: host-hours · y: calls cut at the drain limit (% of calls) · label: calls a scale-in may cut per host @ drain limit · filled: ours</text>`,
    ...panels,
    `</svg>`,
    "",
  ].join("\n");
}
