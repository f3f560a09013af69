/**
 * A placement instance: the demand, sites and RTT files turned into numbers the solvers share
 * — sessions per metro, per-site cost and capacity coefficients, RTT per metro × site.
 */
import prices from "../capacity/egress-prices.json";
import { HOURS_PER_MONTH } from "../capacity/capacity";
import { machineType } from "../machines/machine-types";
import type { DemandFile, Metro, SessionProfile } from "./demand.schema";
import type { SiteSpec } from "./sites.schema";
import { clientRttMs, type RttModel } from "../latency/rtt";

export interface Site {
  spec: SiteSpec;
  name: string;
  lat: number;
  lon: number;
  hostHourlyUsd: number;
  egressUsdPerGb: number;
  streamsPerHost: number;
  egressGbpsPerHost: number;
  domains: number;
  minHosts: number;
  maxHosts: number;
  fixedMonthlyUsd: number;
  /** $ a month per host. */
  hostMonthlyUsd: number;
  /** Hosts one peak session needs before the failure-domain spare (streams or NIC, whichever binds). */
  hostsPerSession: number;
  /** $ a month of egress per peak session. */
  egressMonthlyUsdPerSession: number;
}

export interface Instance {
  metros: Metro[];
  sites: Site[];
  session: SessionProfile;
  /** rtt[m][s]: client p95 RTT in ms from metro m to site s. */
  rtt: number[][];
  totalSessions: number;
  /** The weighted p95 budget, ms. */
  budgetMs: number;
  /** No metro's primary site may be further than this, ms: the p95 tail is not a licence to send a city across an ocean. */
  maxMs: number;
  /** With site-loss survival: the p95 bound while one site is lost, ms. */
  lossBudgetMs?: number;
}

const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

/**
 * Media sites move petabytes a month, far past the first price tiers: the marginal price is
 * the provider's last (highest-volume) tier.
 */
export function defaultEgressUsdPerGb(provider: "gcp" | "aws"): number {
  const tiers = prices.tiers[provider];
  return tiers[tiers.length - 1].usdPerGb;
}

export function siteFromSpec(spec: SiteSpec, session: SessionProfile): Site {
  const type = spec.machineType ? machineType(spec.machineType) : undefined;
  // The loader guarantees that a site without a machine type states all three.
  const hostHourlyUsd = spec.hostHourlyUsd ?? type!.hourlyUsd;
  const streamsPerHost = spec.streamsPerHost ?? type!.streamsPerHost;
  const egressGbpsPerHost = spec.egressGbpsPerHost ?? type!.egressGbps;
  const egressUsdPerGb =
    spec.egressUsdPerGb ?? defaultEgressUsdPerGb(spec.provider as "gcp" | "aws");
  const grow = 1 + session.headroom;
  const streams = session.streamsPerSession;
  const peakGbps = (streams * session.avgStreamKbps) / 1e6;
  return {
    spec,
    name: spec.name,
    lat: spec.lat,
    lon: spec.lon,
    hostHourlyUsd,
    egressUsdPerGb,
    streamsPerHost,
    egressGbpsPerHost,
    domains: spec.failureDomains ?? 3,
    minHosts: spec.minHosts ?? 3,
    maxHosts: spec.maxHosts,
    fixedMonthlyUsd: spec.fixedMonthlyUsd ?? 0,
    hostMonthlyUsd: hostHourlyUsd * HOURS_PER_MONTH,
    hostsPerSession: Math.max(
      (streams * grow) / streamsPerHost,
      (peakGbps * grow) / egressGbpsPerHost,
    ),
    egressMonthlyUsdPerSession:
      ((peakGbps / session.peakToAverage) * SECONDS_PER_MONTH * egressUsdPerGb) / 8,
  };
}

export function buildInstance(
  demand: DemandFile,
  sites: SiteSpec[],
  model: RttModel,
  budgetMs: number,
  lossBudgetMs?: number,
  maxMs = 2 * budgetMs,
): Instance {
  // The schema's defaults fill every key when the file is validated.
  const session = demand.session as SessionProfile;
  return {
    metros: demand.metros,
    sites: sites.map((s) => siteFromSpec(s, session)),
    session,
    rtt: demand.metros.map((m) => sites.map((s) => clientRttMs(model, m, s))),
    totalSessions: demand.metros.reduce((n, m) => n + m.peakSessions, 0),
    budgetMs,
    maxMs,
    lossBudgetMs,
  };
}
