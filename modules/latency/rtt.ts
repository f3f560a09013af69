/**
 * Round trips the placement assumes: a published figure wherever one exists for the pair
 * (data-centre to data-centre, from the providers' own tables), and only where none does, a
 * model — piecewise linear in the length of the route the traffic takes (routes.ts: the great
 * circle, or a detour through the hubs the backbones use) — fitted to the published figures.
 * A client adds its access network (lastMileMs) on top; measured client p95s replace both.
 */
import { greatCircleKm, type Point } from "./geo";
import { route, type Route } from "./routes";
import type { RttFile } from "./rtt.schema";

/** Light in fibre covers about 200 km per ms, so a round trip costs at least 0.01 ms per km. */
const FIBRE_RTT_MS_PER_KM = 0.01;
/**
 * Where the slope may change, route km: metro and regional hops (routers and the way into a
 * data centre dominate), continental spans, then oceans and detours where ms per km settles
 * near the fibre's. One line cannot fit both ends (London–Paris 11 ms over 340 km; 1.88× the
 * fibre's ms per km on short pairs against ~1.2× on long ones).
 */
export const KNOTS_KM = [500, 1500, 5000] as const;
/**
 * A point this close to a published point is taken to be there: published figures are between
 * regions, named by their metro, and a site or a metro within the same metro area is served
 * over the same backbone. 100 km of fibre is at most 1 ms of round trip.
 */
export const SNAP_KM = 100;

export interface Published {
  from: string;
  to: string;
  ms: number;
  /** Short name of the source, its full citation, and the date of the figures. */
  label: string;
  source: string;
  date: string;
}

export interface RttMatrix {
  points: Map<string, Point>;
  /** By pairKey(from, to). */
  pairs: Map<string, Published>;
}

export interface PiecewiseFit {
  knotsKm: readonly number[];
  /** [ms at 0 km, ms per km up to the first knot, change of slope at each knot]. */
  coef: number[];
}

export interface RttModel {
  fit: PiecewiseFit;
  /** Relative error of the model on the published pairs it was fitted to. */
  quality: { pairs: number; medianRelErr: number; p90RelErr: number };
  lastMileMs: number;
  sources: { label: string; source: string; date: string; pairs: number }[];
  matrix: RttMatrix;
  /** Measured client p95s `metro|site` → ms, which replace everything else for that pair. */
  measured: Map<string, number>;
}

export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function sourceLabel(file: RttFile): string {
  return file.label ?? file.source.split(",")[0];
}

export function publishedMatrix(files: RttFile[]): RttMatrix {
  const points = new Map<string, Point>();
  const pairs = new Map<string, Published>();
  for (const file of files) {
    for (const [name, p] of Object.entries(file.points)) points.set(name, p);
    const label = sourceLabel(file);
    for (const [from, to, ms] of file.pairs)
      pairs.set(pairKey(from, to), { from, to, ms, label, source: file.source, date: file.date });
  }
  return { points, pairs };
}

export interface Sample {
  published: Published;
  route: Route;
}

/** The published pairs with their routes; a file's fitMaxKm keeps its longer pairs out. */
export function samplesOf(files: RttFile[]): Sample[] {
  const matrix = publishedMatrix(files);
  return files.flatMap((file) =>
    file.pairs
      .map(([from, to]) => ({
        published: matrix.pairs.get(pairKey(from, to))!,
        route: route(file.points[from], file.points[to]),
      }))
      .filter((s) => s.route.greatCircleKm <= (file.fitMaxKm ?? Infinity)),
  );
}

function basis(km: number, knotsKm: readonly number[]): number[] {
  return [1, km, ...knotsKm.map((k) => Math.max(0, km - k))];
}

export function piecewiseMs(fit: PiecewiseFit, km: number): number {
  const value = basis(km, fit.knotsKm).reduce((s, x, i) => s + x * fit.coef[i], 0);
  return Math.max(value, FIBRE_RTT_MS_PER_KM * km);
}

/** Normal equations of a least-squares fit weighted by 1/ms², i.e. of the relative error. */
export interface NormalEquations {
  a: number[][];
  b: number[];
}

export function normalEquations(samples: Sample[], knotsKm = KNOTS_KM): NormalEquations {
  const p = knotsKm.length + 2;
  const eq = {
    a: Array.from({ length: p }, () => new Array<number>(p).fill(0)),
    b: new Array<number>(p).fill(0),
  };
  for (const s of samples) addSample(eq, s, knotsKm, 1);
  return eq;
}

/** Adds (sign 1) or removes (sign −1) one sample: leave-one-out without refitting from scratch. */
export function addSample(
  eq: NormalEquations,
  sample: Sample,
  knotsKm: readonly number[],
  sign: 1 | -1,
): void {
  const x = basis(sample.route.km, knotsKm);
  const y = sample.published.ms;
  const w = sign / y ** 2;
  x.forEach((xi, i) => {
    eq.b[i] += w * xi * y;
    x.forEach((xj, j) => (eq.a[i][j] += w * xi * xj));
  });
}

/** Solves the normal equations (Gaussian elimination with partial pivoting). */
export function solveFit(eq: NormalEquations, knotsKm = KNOTS_KM): PiecewiseFit {
  const p = eq.b.length;
  const m = eq.a.map((row, i) => [...row, eq.b[i]]);
  for (let col = 0; col < p; col++) {
    let pivot = col;
    for (let r = col + 1; r < p; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < 1e-300) {
      throw new Error(
        `the RTT fit is singular: too few published pairs beyond ${knotsKm.join("/")} km`,
      );
    }
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < p; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= p; c++) m[r][c] -= f * m[col][c];
    }
  }
  return { knotsKm, coef: m.map((row, i) => row[p] / row[i]) };
}

export function relativeError(predicted: number, published: number): number {
  return Math.abs(predicted - published) / published;
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Each pair's relative error when the model is fitted to every other pair and predicts it
 * (leave-one-out): how the model does on a pair it has not seen.
 */
export function leaveOneOutErrors(samples: Sample[], knotsKm = KNOTS_KM): number[] {
  const eq = normalEquations(samples, knotsKm);
  return samples.map((s) => {
    addSample(eq, s, knotsKm, -1);
    const fit = solveFit(eq, knotsKm);
    addSample(eq, s, knotsKm, 1);
    return relativeError(piecewiseMs(fit, s.route.km), s.published.ms);
  });
}

/** Fits the model to every published pair of the files (one model for all providers). */
export function fitRttModel(files: RttFile[]): RttModel {
  const samples = samplesOf(files);
  const fit = solveFit(normalEquations(samples));
  const errors = samples.map((s) => relativeError(piecewiseMs(fit, s.route.km), s.published.ms));
  // The loader refuses files that disagree, and a set where none states it.
  const lastMileMs = files.find((f) => f.lastMileMs !== undefined)!.lastMileMs!;
  return {
    fit,
    quality: {
      pairs: samples.length,
      medianRelErr: quantile(errors, 0.5),
      p90RelErr: quantile(errors, 0.9),
    },
    lastMileMs,
    sources: files.map((f) => ({
      label: sourceLabel(f),
      source: f.source,
      date: f.date,
      pairs: f.pairs.length,
    })),
    matrix: publishedMatrix(files),
    measured: new Map(
      files.flatMap((f) => f.clientP95 ?? []).map(([metro, site, ms]) => [`${metro}|${site}`, ms]),
    ),
  };
}

export type Backbone =
  | { ms: number; basis: "published"; published: Published; route: Route }
  | { ms: number; basis: "model"; route: Route };

/** A point, possibly named after a point of the RTT files. */
export type Place = Point & { name?: string };

/**
 * The published figure for (a, b): the named pair itself when both ends name points of the
 * files; else, among pairs whose ends are each within SNAP_KM, the most recent publication
 * (Frankfurt–Singapore is 157 ms in Azure's 2025 table and 326 ms in AWS's 2017 one), then
 * the nearest.
 */
function publishedNear(matrix: RttMatrix, a: Place, b: Place): Published | undefined {
  if (a.name && b.name && matrix.points.has(a.name) && matrix.points.has(b.name)) {
    const named = matrix.pairs.get(pairKey(a.name, b.name));
    if (named) return named;
  }
  const near = (p: Point) =>
    [...matrix.points]
      .map(([name, q]) => ({ name, km: greatCircleKm(p, q) }))
      .filter((c) => c.km <= SNAP_KM);
  const fromB = near(b);
  let best: { published: Published; km: number } | undefined;
  for (const pa of near(a))
    for (const pb of fromB) {
      const published =
        pa.name === pb.name ? undefined : matrix.pairs.get(pairKey(pa.name, pb.name));
      if (!published) continue;
      const km = pa.km + pb.km;
      if (
        !best ||
        published.date > best.published.date ||
        (published.date === best.published.date && km < best.km)
      )
        best = { published, km };
    }
  return best?.published;
}

/** Data-centre to data-centre round trip: published when known, else the model's. */
export function backboneRtt(model: RttModel, a: Place, b: Place): Backbone {
  const path = route(a, b);
  const published = publishedNear(model.matrix, a, b);
  if (published) return { ms: published.ms, basis: "published", published, route: path };
  return { ms: piecewiseMs(model.fit, path.km), basis: "model", route: path };
}

/** A client's p95 RTT from a metro to a site: measured when known, else backbone + last mile. */
export function clientRttMs(
  model: RttModel,
  metro: Point & { name: string },
  site: Point & { name: string },
): number {
  const measured = model.measured.get(`${metro.name}|${site.name}`);
  if (measured !== undefined) return measured;
  return backboneRtt(model, metro, site).ms + model.lastMileMs;
}

/** How many metro–site pairs a published figure prices (the rest are the model's). */
export function publishedPairs(model: RttModel, metros: Place[], sites: Place[]): number {
  return metros.reduce(
    (n, m) => n + sites.filter((s) => backboneRtt(model, m, s).basis === "published").length,
    0,
  );
}

/** One line on what the model is, for the command's output. */
export function describeModel(model: RttModel): string {
  const [c0, s0, ...changes] = model.fit.coef;
  let slope = s0;
  const slopes = [slope, ...changes.map((c) => (slope += c))];
  const pieces = slopes
    .map(
      (s, i) =>
        `${(s / FIBRE_RTT_MS_PER_KM).toFixed(2)}× fibre ${i === 0 ? `to ${model.fit.knotsKm[0]}` : i < slopes.length - 1 ? `${model.fit.knotsKm[i - 1]}–${model.fit.knotsKm[i]}` : `past ${model.fit.knotsKm[i - 1]}`} km`,
    )
    .join(", ");
  return `published RTTs first (${model.matrix.pairs.size} pairs from ${model.sources.length} sources); elsewhere ${c0.toFixed(1)} ms + ${pieces} along the route (detours through backbone hubs), fit median error ${(100 * model.quality.medianRelErr).toFixed(1)} %, p90 ${(100 * model.quality.p90RelErr).toFixed(1)} % over ${model.quality.pairs} pairs; + last mile ${model.lastMileMs} ms`;
}
