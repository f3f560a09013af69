/**
 * The replay as a picture: one panel per policy, demand and serving capacity over the whole
 * trace (each pixel column the busiest minute it covers), overloaded minutes marked in red.
 * A standalone SVG, no library: it opens in a browser, a PR or the README.
 */
import type { Trace } from "../world/demand";
import type { ReplayResult } from "./replay";

const WIDTH = 900;
const PANEL = 110;
const LEFT = 150;
const COLUMNS = WIDTH - LEFT - 20;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

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
  const scale = (PANEL - 30) / Math.max(1, top);
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
    return [
      `<g>`,
      `<rect x="${LEFT}" y="${y + 8}" width="${COLUMNS}" height="${PANEL - 18}" fill="#fafafa" stroke="#ddd"/>`,
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
    ...panels,
    ...ticks,
    `</svg>`,
    "",
  ].join("\n");
}
