/**
 * Per machine type: vCPUs, egress and media capacity. Fleets size autoscaling targets and
 * tuning facts from this table; capacity and cost planning read it too.
 */
// Not machine-types.json: under a CommonJS require hook (the Pulumi CLI's ts-node) an
// extensionless import of "./machine-types" would load the .json sibling before this file.
import table from "./machine-type-table.json";

export interface MachineType {
  provider: "gcp" | "aws";
  vcpus: number;
  /** Default per-VM egress cap in Gbit/s. */
  egressGbps: number;
  /** Egress cap with GCP's TIER_1 networking, where the type supports it. */
  tier1EgressGbps?: number;
  /** Concurrent forwarded media streams one host carries at its target load. */
  streamsPerHost: number;
  hourlyUsd: number;
}

export const MACHINE_TYPES_SOURCE = { source: table.source, date: table.date };

const types = table.types as Record<string, MachineType>;

export function machineTypeNames(provider: MachineType["provider"]): string[] {
  return Object.keys(types).filter((name) => types[name].provider === provider);
}

export function machineType(name: string): MachineType {
  const found = types[name];
  if (!found)
    throw new Error(`machine type ${name} is not in modules/machines/machine-type-table.json`);
  return found;
}
