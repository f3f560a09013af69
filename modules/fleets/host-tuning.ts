/**
 * The host tuning of every fleet: host facts derived from the fleet spec and the hardware,
 * rendered by modules/tuning; modules/host carries it in each host's boot payload.
 */
import type { FleetSpec } from "../config/fleet.schema";
import { renderTuning, type HostFacts, type TuningArtifacts } from "../tuning";

/** The hardware facts tuning is sized from. */
export interface HostHardware {
  cores: number;
  nicDriver: string;
  /** Queues of one media NIC. */
  rxQueues: number;
  txQueues: number;
  streamsPerHost: number;
  /** The media NICs; default: the one the default route uses, found on the host. */
  interfaces?: string[];
}

/** The systemd unit of the media server (the SFU) on every host image. */
export const MEDIA_UNIT = "sfu.service";

/**
 * Streams a participant sends up: audio plus simulcast video layers, in units of the
 * average forwarded stream. A host's received packets come from its participants' uplinks.
 */
const UPSTREAM_STREAMS_PER_PARTICIPANT = 2.5;
const MEDIA_PACKET_BITS = 1200 * 8;

/** Packets per second one host receives at its target load. */
export function receivedPacketsPerSecond(spec: FleetSpec, hardware: HostHardware): number {
  const participants = hardware.streamsPerHost / spec.demand.streamsPerParticipant;
  const bitsPerSecond =
    participants * UPSTREAM_STREAMS_PER_PARTICIPANT * spec.demand.avgStreamKbps * 1000;
  return Math.ceil(bitsPerSecond / MEDIA_PACKET_BITS);
}

/**
 * Media workers run on every CPU but the first eighth (at least two), which keeps NIC
 * interrupts and softirq work off the workers.
 */
export function mediaWorkerCpus(cores: number): string {
  const reserved = Math.max(2, Math.ceil(cores / 8));
  return `${reserved}-${cores - 1}`;
}

export function hostFacts(spec: FleetSpec, hardware: HostHardware): HostFacts {
  return {
    cores: hardware.cores,
    nicDriver: hardware.nicDriver,
    rxQueues: hardware.rxQueues,
    txQueues: hardware.txQueues,
    packetsPerSecond: receivedPacketsPerSecond(spec, hardware),
    stallMs: spec.tuning.stallMs,
    mediaUdpPorts: { from: spec.ports.mediaUdp.from, to: spec.ports.mediaUdp.to },
    mediaWorkerCpus: mediaWorkerCpus(hardware.cores),
    mediaUnit: MEDIA_UNIT,
    ...(hardware.interfaces ? { interfaces: hardware.interfaces } : {}),
  };
}

/** The tuning of one host class; modules/host carries it in the boot payload. */
export function hostTuning(spec: FleetSpec, hardware: HostHardware): TuningArtifacts {
  return renderTuning(spec.tuning.profile, hostFacts(spec, hardware));
}
