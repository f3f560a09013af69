/**
 * The placement as an SVG map: metros (area ∝ sessions), sites (open filled, closed hollow,
 * new ones marked), a solid line from each metro to its primary site, dashed to its fallback.
 * Equirectangular, cropped to the points, with a graticule — people look at placements.
 */
import type { Evaluation, Placement } from "../siting/evaluate";
import type { Instance } from "../siting/instance";

const WIDTH = 960;
const PALETTE = [
  "#1b9e77",
  "#d95f02",
  "#7570b3",
  "#e7298a",
  "#66a61e",
  "#e6ab02",
  "#a6761d",
  "#1f78b4",
  "#b2df8a",
  "#fb9a99",
  "#cab2d6",
  "#6a3d9a",
];

const esc = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function placementSvg(
  instance: Instance,
  placement: Placement,
  evaluation: Evaluation,
  title: string,
): string {
  const points = [...instance.metros, ...instance.sites];
  const pad = 3;
  const lon0 = Math.min(...points.map((p) => p.lon)) - pad;
  // More room east: labels are written to the right of their points.
  const lon1 = Math.max(...points.map((p) => p.lon)) + pad * 3;
  const lat0 = Math.min(...points.map((p) => p.lat)) - pad;
  const lat1 = Math.max(...points.map((p) => p.lat)) + pad;
  // Equirectangular with the mid-latitude's cosine, so shapes are right near the middle.
  const kx = Math.cos((((lat0 + lat1) / 2) * Math.PI) / 180);
  const scale = WIDTH / ((lon1 - lon0) * kx);
  const height = Math.round((lat1 - lat0) * scale) + 40;
  const x = (lon: number) => ((lon - lon0) * kx * scale).toFixed(1);
  const y = (lat: number) => ((lat1 - lat) * scale + 30).toFixed(1);
  const open = evaluation.sites.map((s) => s.hosts > 0);
  const colour = new Map<number, string>();
  instance.sites.forEach((_, s) => open[s] && colour.set(s, PALETTE[colour.size % PALETTE.length]));
  const maxSessions = Math.max(...instance.metros.map((m) => m.peakSessions), 1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#f8f9fb"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let lon = Math.ceil(lon0 / 10) * 10; lon <= lon1; lon += 10) {
    out.push(`<line x1="${x(lon)}" y1="30" x2="${x(lon)}" y2="${height - 10}" stroke="#e1e4ea"/>`);
    out.push(
      `<text x="${x(lon)}" y="${height - 2}" fill="#9aa0aa" text-anchor="middle">${lon}°</text>`,
    );
  }
  for (let lat = Math.ceil(lat0 / 10) * 10; lat <= lat1; lat += 10) {
    out.push(`<line x1="0" y1="${y(lat)}" x2="${WIDTH}" y2="${y(lat)}" stroke="#e1e4ea"/>`);
    out.push(`<text x="2" y="${y(lat)}" fill="#9aa0aa">${lat}°</text>`);
  }
  instance.metros.forEach((m, i) => {
    const p = instance.sites[placement.primary[i]];
    out.push(
      `<line x1="${x(m.lon)}" y1="${y(m.lat)}" x2="${x(p.lon)}" y2="${y(p.lat)}" stroke="${colour.get(placement.primary[i])}" stroke-width="1.5" opacity="0.8"/>`,
    );
    const f = placement.fallback?.[i];
    if (f !== undefined) {
      const q = instance.sites[f];
      out.push(
        `<line x1="${x(m.lon)}" y1="${y(m.lat)}" x2="${x(q.lon)}" y2="${y(q.lat)}" stroke="${colour.get(f) ?? "#888"}" stroke-width="1" stroke-dasharray="4 3" opacity="0.6"/>`,
      );
    }
  });
  instance.metros.forEach((m, i) => {
    const r = 2 + 8 * Math.sqrt(m.peakSessions / maxSessions);
    const rtt = instance.rtt[i][placement.primary[i]];
    const late = rtt > instance.budgetMs;
    out.push(
      `<circle cx="${x(m.lon)}" cy="${y(m.lat)}" r="${r.toFixed(1)}" fill="${colour.get(placement.primary[i])}" stroke="${late ? "#c00" : "#fff"}" stroke-width="${late ? 2 : 1}"><title>${esc(m.name)}: ${m.peakSessions} sessions, ${rtt.toFixed(0)} ms to ${esc(instance.sites[placement.primary[i]].name)}</title></circle>`,
      `<text x="${(Number(x(m.lon)) + r + 2).toFixed(1)}" y="${(Number(y(m.lat)) + 4).toFixed(1)}" fill="#333">${esc(m.name)}</text>`,
    );
  });
  instance.sites.forEach((site, s) => {
    const e = evaluation.sites[s];
    const fill = open[s] ? colour.get(s)! : "none";
    const size = open[s] ? 14 : 10;
    const isNew = !site.spec.exists;
    out.push(
      `<rect x="${(Number(x(site.lon)) - size / 2).toFixed(1)}" y="${(Number(y(site.lat)) - size / 2).toFixed(1)}" width="${size}" height="${size}" fill="${fill}" stroke="#222" stroke-width="${isNew ? 2.5 : 1.2}"${isNew ? ' stroke-dasharray="3 2"' : ""}><title>${esc(site.name)} (${site.spec.provider}${isNew ? ", new" : ""}): ${open[s] ? `${e.hosts} hosts, ${e.load} sessions` : "closed"}</title></rect>`,
      `<text x="${(Number(x(site.lon)) + size / 2 + 2).toFixed(1)}" y="${(Number(y(site.lat)) - size / 2).toFixed(1)}" font-weight="bold" fill="${open[s] ? "#111" : "#999"}">${esc(site.name)}${open[s] ? ` ×${e.hosts}` : ""}${isNew && open[s] ? " (new)" : ""}</text>`,
    );
  });
  const legendY = height - 24;
  out.push(
    `<text x="${WIDTH - 8}" y="${legendY}" text-anchor="end" fill="#555">■ open site ×hosts  □ closed  dashed border: new site  ● metro (area ∝ sessions, red ring: over budget)  — primary  - - fallback</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}
