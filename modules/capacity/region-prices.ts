/**
 * What a host-hour and a GB of egress cost in a given cloud region. The machine-type table
 * prices each type in one reference region; a region's row scales that and names the egress
 * schedule its traffic pays (APAC and South America pay more for both).
 */
import table from "./region-price-table.json";
import { machineType, type MachineType } from "../machines/machine-types";

export interface EgressTier {
  upToGb: number | null;
  usdPerGb: number;
}

export interface RegionPrice {
  provider: MachineType["provider"];
  region: string;
  computeFactor: number;
  egress: string;
  source: string;
  date: string;
}

const rows = table.regions as RegionPrice[];
const schedules = table.egressSchedules as Record<string, EgressTier[]>;

export function regionPrice(provider: MachineType["provider"], region: string): RegionPrice {
  const row = rows.find((r) => r.provider === provider && r.region === region);
  if (!row) {
    throw new Error(
      `${provider} region ${region} has no price row in modules/capacity/region-price-table.json`,
    );
  }
  return row;
}

/** Regions with a price row, per provider: the set a stack's region must come from. */
export function pricedRegions(provider: MachineType["provider"]): string[] {
  return rows.filter((r) => r.provider === provider).map((r) => r.region);
}

/** On-demand USD per hour of a machine type in a region. */
export function hourlyUsdIn(type: string, region: string): number {
  const t = machineType(type);
  return t.hourlyUsd * regionPrice(t.provider, region).computeFactor;
}

export function egressTiersIn(provider: MachineType["provider"], region: string): EgressTier[] {
  return schedules[regionPrice(provider, region).egress];
}
