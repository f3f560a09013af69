/**
 * Demand → hosts, and monthly cost, per fleet stack. Pure functions over the stack's spec,
 * its machine type or inventory, and the price tables.
 */
import type { Demand, FleetSpec } from "../config/fleet.schema";
import type { Inventory } from "../inventory/inventory";
import { machineType } from "../machines/machine-types";
import { egressTiersIn, hourlyUsdIn } from "./region-prices";

/** Demand against capacity for a fleet stack, as its Plan carries it. */
export interface PlanCapacity {
  /** Peak concurrent media streams the stack must carry, headroom included. */
  demandStreams: number;
  /** Streams the stack carries at maxHosts (bare metal: its active hosts). */
  capacityStreams: number;
  /**
   * Hosts needed for the demand, N+1 across zones or racks included; bare metal: the active
   * hosts plus the shortfall.
   */
  hostsRequired: number;
  /** Hosts missing to cover the demand (0 when covered). */
  shortfallHosts: number;
  /** Bare metal: the host class the shortfall is counted in (the site's most common). */
  shortfallClass?: string;
}

/** Monthly cost of a fleet stack in USD, as its Plan carries it. */
export interface PlanCost {
  /** Compute at min and at max hosts (bare metal: amortized, min = max). */
  computeMonthlyUsd: { min: number; max: number };
  /** Egress for the stack's share of its region's demand; media is egress-heavy. */
  egressMonthlyUsd: number;
  /** Share of the media region's traffic the egress is costed at (traffic split weight). */
  trafficShare: number;
}

export const HOURS_PER_MONTH = 730;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

/** Concurrent streams to carry at the peak, headroom included. */
export function demandStreams(demand: Demand): number {
  return Math.ceil(demand.peakParticipants * demand.streamsPerParticipant * (1 + demand.headroom));
}

/** Egress at the peak, in Gbit/s, without headroom: what clients actually receive. */
export function peakEgressGbps(demand: Demand): number {
  return (demand.peakParticipants * demand.streamsPerParticipant * demand.avgStreamKbps) / 1e6;
}

/** Hosts the demand needs with no failure domain lost: streams or egress, whichever binds. */
export function baseHostsRequired(
  demand: Demand,
  host: { streamsPerHost: number; egressGbps: number },
): number {
  const byStreams = Math.ceil(demandStreams(demand) / host.streamsPerHost);
  const byEgress = Math.ceil((peakEgressGbps(demand) * (1 + demand.headroom)) / host.egressGbps);
  return Math.max(byStreams, byEgress);
}

/**
 * Hosts needed so that the demand still fits after losing the largest failure domain (a zone
 * or a rack), with hosts spread evenly over the domains; with one domain, one spare host.
 * The base is whichever binds first, media streams or egress.
 */
export function hostsRequired(
  demand: Demand,
  host: { streamsPerHost: number; egressGbps: number },
  failureDomains: number,
): number {
  const base = baseHostsRequired(demand, host);
  if (base === 0) return 0;
  if (failureDomains < 2) return base + 1;
  let hosts = base;
  while (hosts - Math.ceil(hosts / failureDomains) < base) hosts++;
  return hosts;
}

/** Price of a month's egress through volume tiers (each tier's price for its own slice). */
export function tieredEgressUsd(
  gb: number,
  tiers: { upToGb: number | null; usdPerGb: number }[],
): number {
  let usd = 0;
  let floor = 0;
  for (const tier of tiers) {
    const ceiling = tier.upToGb ?? Infinity;
    if (gb <= floor) break;
    usd += (Math.min(gb, ceiling) - floor) * tier.usdPerGb;
    floor = ceiling;
  }
  return usd;
}

/** GB a month of egress from the peak rate and the diurnal peak-to-average ratio. */
export function monthlyEgressGb(demand: Demand): number {
  return ((peakEgressGbps(demand) / demand.peakToAverage) * SECONDS_PER_MONTH) / 8;
}

const round = (usd: number) => Math.round(usd);

export interface Economics {
  capacity: PlanCapacity;
  cost: PlanCost;
}

/** Where a pool runs and how much of its media region's traffic it carries. */
export interface PoolPlace {
  /** The cloud region (prices differ by region); bare metal has its own prices. */
  region?: string;
  /** Share of the media region's joins the traffic split sends here, 0–1 (default 1). */
  trafficShare?: number;
}

/**
 * Streams one host forwards: the tighter of its CPU (streamsPerHost) and its network (egress
 * bandwidth over the stream bitrate): at high bitrates the NIC binds first.
 */
export function streamsPerHostAt(
  host: { streamsPerHost: number; egressGbps: number },
  demand: Demand,
): number {
  return Math.min(host.streamsPerHost, Math.floor((host.egressGbps * 1e6) / demand.avgStreamKbps));
}

function cloudEconomics(
  spec: FleetSpec & { kind: "gcp" | "aws" },
  type: string,
  zones: number,
  place: PoolPlace,
): Economics {
  const host = machineType(type);
  const region = place.region ?? (spec.kind === "gcp" ? "us-central1" : "us-east-1");
  const hourly = hourlyUsdIn(type, region);
  const share = place.trafficShare ?? 1;
  const required = hostsRequired(spec.demand, host, zones);
  const monthly = (hosts: number) => round(hourly * HOURS_PER_MONTH * hosts);
  return {
    capacity: {
      demandStreams: demandStreams(spec.demand),
      capacityStreams: streamsPerHostAt(host, spec.demand) * spec.maxHosts,
      hostsRequired: required,
      shortfallHosts: Math.max(0, required - spec.maxHosts),
    },
    cost: {
      computeMonthlyUsd: { min: monthly(spec.minHosts), max: monthly(spec.maxHosts) },
      egressMonthlyUsd: round(
        tieredEgressUsd(monthlyEgressGb(spec.demand) * share, egressTiersIn(spec.kind, region)),
      ),
      trafficShare: share,
    },
  };
}

/**
 * Hosts of one class to add to a bare-metal site so that it still carries the demand after
 * losing its largest rack (streams and egress both), each new host racked where there is
 * least capacity, as an operator would.
 */
export function metalShortfall(
  racks: { streams: number; egressGbps: number }[],
  added: { streamsPerHost: number; egressGbps: number },
  demand: Demand,
): number {
  const needStreams = demandStreams(demand);
  const needGbps = peakEgressGbps(demand) * (1 + demand.headroom);
  const per = racks.map((r) => ({ ...r }));
  const streams = streamsPerHostAt(added, demand);
  if (streams < 1 || added.egressGbps <= 0) {
    throw new Error("a host class that forwards no stream cannot cover any demand");
  }
  const covers = () => {
    const total = per.reduce(
      (t, r) => ({ streams: t.streams + r.streams, egressGbps: t.egressGbps + r.egressGbps }),
      { streams: 0, egressGbps: 0 },
    );
    // With one rack there is no rack to lose: one spare host of the class instead.
    const lost =
      per.length > 1
        ? per.reduce((w, r) => (r.streams > w.streams ? r : w))
        : { streams, egressGbps: added.egressGbps };
    return (
      total.streams - lost.streams >= needStreams && total.egressGbps - lost.egressGbps >= needGbps
    );
  };
  let k = 0;
  for (; !covers(); k++) {
    if (per.length === 0) per.push({ streams: 0, egressGbps: 0 });
    const emptiest = per.reduce((w, r) => (r.streams < w.streams ? r : w));
    emptiest.streams += streams;
    emptiest.egressGbps += added.egressGbps;
  }
  return k;
}

function metalEconomics(
  spec: FleetSpec & { kind: "metal" },
  inventory: Inventory,
  place: PoolPlace,
): Economics {
  const active = inventory.hosts.filter((h) => h.state === "active");
  const paidFor = inventory.hosts.filter((h) => h.state !== "retired");
  const classOf = (h: { class: string }) => inventory.hostClasses[h.class];
  const streamsOf = (h: { class: string }) => streamsPerHostAt(classOf(h), spec.demand);
  const capacityStreams = active.reduce((n, h) => n + streamsOf(h), 0);
  const byRack = new Map<string, { streams: number; egressGbps: number }>();
  for (const h of active) {
    const rack = byRack.get(h.rack) ?? { streams: 0, egressGbps: 0 };
    byRack.set(h.rack, {
      streams: rack.streams + streamsOf(h),
      egressGbps: rack.egressGbps + classOf(h).egressGbps,
    });
  }
  // A shortfall is counted in hosts of the class the site has most of: the one it would add.
  const counts = new Map<string, number>();
  for (const h of active) counts.set(h.class, (counts.get(h.class) ?? 0) + 1);
  const addedClass = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const added = addedClass
    ? inventory.hostClasses[addedClass]
    : Object.values(inventory.hostClasses)[0];
  const shortfall = metalShortfall([...byRack.values()], added, spec.demand);
  const compute = round(paidFor.reduce((usd, h) => usd + classOf(h).monthlyUsd, 0));
  return {
    capacity: {
      demandStreams: demandStreams(spec.demand),
      capacityStreams,
      hostsRequired: active.length + shortfall,
      shortfallHosts: shortfall,
      ...(addedClass ? { shortfallClass: addedClass } : {}),
    },
    cost: {
      computeMonthlyUsd: { min: compute, max: compute },
      // Transit is billed on the 95th percentile, which for media tracks the daily peak.
      egressMonthlyUsd: round(
        peakEgressGbps(spec.demand) * (place.trafficShare ?? 1) * inventory.egressUsdPerGbpsMonth,
      ),
      trafficShare: place.trafficShare ?? 1,
    },
  };
}

/** Capacity against demand and monthly cost of a fleet stack. */
export function fleetEconomics(
  spec: FleetSpec,
  inventory?: Inventory,
  place: PoolPlace = {},
): Economics {
  switch (spec.kind) {
    case "gcp":
      return cloudEconomics(spec, spec.machineType, spec.zones.length, place);
    case "aws":
      return cloudEconomics(spec, spec.instanceType, spec.subnets.length, place);
    case "metal":
      if (!inventory) throw new Error(`metal pool ${spec.pool} has no inventory loaded`);
      return metalEconomics(spec, inventory, place);
  }
}
