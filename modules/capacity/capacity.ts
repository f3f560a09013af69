/**
 * Demand → hosts, and monthly cost, per fleet stack. Pure functions over the stack's spec,
 * its machine type or inventory, and the price tables.
 */
import type { Demand, FleetSpec } from "../config/fleet.schema";
import type { Inventory } from "../config/inventory.schema";
import type { PlanCapacity, PlanCost } from "../plan/plan";
import prices from "./egress-prices.json";
import { machineType } from "./machine-types";

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

function cloudEconomics(
  spec: FleetSpec & { kind: "gcp" | "aws" },
  type: string,
  zones: number,
): Economics {
  const host = machineType(type);
  const required = hostsRequired(spec.demand, host, zones);
  const monthly = (hosts: number) => round(host.hourlyUsd * HOURS_PER_MONTH * hosts);
  return {
    capacity: {
      demandStreams: demandStreams(spec.demand),
      capacityStreams: host.streamsPerHost * spec.maxHosts,
      hostsRequired: required,
      shortfallHosts: Math.max(0, required - spec.maxHosts),
    },
    cost: {
      computeMonthlyUsd: { min: monthly(spec.minHosts), max: monthly(spec.maxHosts) },
      egressMonthlyUsd: round(
        tieredEgressUsd(monthlyEgressGb(spec.demand), prices.tiers[spec.kind]),
      ),
    },
  };
}

function metalEconomics(spec: FleetSpec & { kind: "metal" }, inventory: Inventory): Economics {
  const active = inventory.hosts.filter((h) => h.state === "active");
  const paidFor = inventory.hosts.filter((h) => h.state !== "retired");
  const classOf = (h: { class: string }) => inventory.hostClasses[h.class];
  const capacityStreams = active.reduce((n, h) => n + classOf(h).streamsPerHost, 0);
  // Mixed hardware: size by the average active host.
  const average = {
    streamsPerHost: active.length ? capacityStreams / active.length : 1,
    egressGbps: active.length
      ? active.reduce((n, h) => n + classOf(h).egressGbps, 0) / active.length
      : 1,
  };
  const racks = new Set(active.map((h) => h.rack)).size;
  const required = hostsRequired(spec.demand, average, racks);
  const compute = round(paidFor.reduce((usd, h) => usd + classOf(h).monthlyUsd, 0));
  return {
    capacity: {
      demandStreams: demandStreams(spec.demand),
      capacityStreams,
      hostsRequired: required,
      shortfallHosts: Math.max(0, required - active.length),
    },
    cost: {
      computeMonthlyUsd: { min: compute, max: compute },
      // Transit is billed on the 95th percentile, which for media tracks the daily peak.
      egressMonthlyUsd: round(peakEgressGbps(spec.demand) * inventory.egressUsdPerGbpsMonth),
    },
  };
}

/** Capacity against demand and monthly cost of a fleet stack. */
export function fleetEconomics(spec: FleetSpec, inventory?: Inventory): Economics {
  switch (spec.kind) {
    case "gcp":
      return cloudEconomics(spec, spec.machineType, spec.zones.length);
    case "aws":
      return cloudEconomics(spec, spec.instanceType, spec.subnets.length);
    case "metal":
      if (!inventory) throw new Error(`metal pool ${spec.pool} has no inventory loaded`);
      return metalEconomics(spec, inventory);
  }
}
