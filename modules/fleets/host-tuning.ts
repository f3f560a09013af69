/**
 * The host-tuning slot of every fleet's boot or provisioning payload. Cloud fleets put it in
 * cloud-init user-data; bare-metal hosts get it as the command their SSH provisioning runs,
 * with a hash that changes exactly when the payload does.
 */
import { createHash } from "node:crypto";
import type { FleetSpec } from "../config/fleet.schema";
import type { HostPayload } from "./metal";

export const TUNING_SLOT_BEGIN = "# --- avfleet host tuning slot: begin ---";
export const TUNING_SLOT_END = "# --- avfleet host tuning slot: end ---";

/** The hardware facts tuning is sized from. */
export interface HostHardware {
  cores: number;
  nicDriver: string;
  rxQueues: number;
  txQueues: number;
  streamsPerHost: number;
}

function slot(spec: FleetSpec, hardware: HostHardware): string[] {
  return [
    TUNING_SLOT_BEGIN,
    `# profile=${spec.tuning.profile} cores=${hardware.cores} nic=${hardware.nicDriver} queues=${hardware.rxQueues}`,
    TUNING_SLOT_END,
  ];
}

export function cloudInitUserData(spec: FleetSpec, hardware: HostHardware): string {
  return [
    "#cloud-config",
    `# avfleet media host: pool=${spec.pool} media-region=${spec.mediaRegion}`,
    ...slot(spec, hardware),
    "",
  ].join("\n");
}

export function hostPayload(spec: FleetSpec, hardware: HostHardware): HostPayload {
  const create = ["#!/bin/sh", "set -eu", ...slot(spec, hardware), ""].join("\n");
  return { create, hash: createHash("sha256").update(create).digest("hex") };
}
