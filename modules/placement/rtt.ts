/**
 * The RTT model: great-circle distance × route inflation + a fixed term, fitted by least
 * squares to measured round trips, plus a last-mile term for the client's access network.
 */
import type { RttFile } from "./rtt.schema";

const EARTH_RADIUS_KM = 6371;
/** Light in fibre covers about 200 km per ms, so a straight round trip costs 0.01 ms per km. */
const FIBRE_RTT_MS_PER_KM = 0.01;

export interface Point {
  lat: number;
  lon: number;
}

export function greatCircleKm(a: Point, b: Point): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface RttModel {
  /** Measured path length over the great circle (1 = a straight fibre). */
  inflation: number;
  /** ms every backbone round trip pays regardless of distance (routers, serialization). */
  fixedMs: number;
  lastMileMs: number;
  /** How well the fit matches its measurements. */
  fit: { pairs: number; rmseMs: number; maxErrorMs: number };
  source: string;
  date: string;
  /** Measured client p95s `metro|site` → ms, which replace the model for that pair. */
  measured: Map<string, number>;
}

/** Fits inflation and the fixed term to the file's pairs within fitMaxKm (ordinary least squares). */
export function fitRttModel(file: RttFile): RttModel {
  const samples = file.pairs
    .map(([from, to, ms]) => ({ km: greatCircleKm(file.points[from], file.points[to]), ms }))
    .filter((p) => p.km <= (file.fitMaxKm ?? Infinity));
  const n = samples.length;
  const meanKm = samples.reduce((s, p) => s + p.km, 0) / n;
  const meanMs = samples.reduce((s, p) => s + p.ms, 0) / n;
  const sxy = samples.reduce((s, p) => s + (p.km - meanKm) * (p.ms - meanMs), 0);
  const sxx = samples.reduce((s, p) => s + (p.km - meanKm) ** 2, 0);
  const slope = sxy / sxx;
  // A negative fixed term would make short hops cheaper than light allows: clamp at zero.
  const fixedMs = Math.max(0, meanMs - slope * meanKm);
  const errors = samples.map((p) => slope * p.km + fixedMs - p.ms);
  return {
    inflation: slope / FIBRE_RTT_MS_PER_KM,
    fixedMs,
    lastMileMs: file.lastMileMs,
    fit: {
      pairs: n,
      rmseMs: Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / n),
      maxErrorMs: Math.max(...errors.map(Math.abs)),
    },
    source: file.source,
    date: file.date,
    measured: new Map((file.clientP95 ?? []).map(([metro, site, ms]) => [`${metro}|${site}`, ms])),
  };
}

/** A client's p95 RTT from a metro to a site: measured when known, else the model's. */
export function clientRttMs(
  model: RttModel,
  metro: Point & { name: string },
  site: Point & { name: string },
): number {
  const measured = model.measured.get(`${metro.name}|${site.name}`);
  if (measured !== undefined) return measured;
  const km = greatCircleKm(metro, site);
  return km * model.inflation * FIBRE_RTT_MS_PER_KM + model.fixedMs + model.lastMileMs;
}
