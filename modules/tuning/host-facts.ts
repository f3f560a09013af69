/**
 * Host facts derived from a fleet spec and a host's hardware (a machine type, or an
 * inventory's host class). The fleets render tuning from them; the stack loader checks them
 * with hostFactsProblems where the inputs are read, so evaluation never meets an impossible one.
 */
import type { FleetSpec } from "../config/fleet.schema";
import type { HostClass } from "../inventory/inventory";
import { machineType } from "../machines/machine-types";
import type { HostFacts } from "./schema";

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
export function receivedPacketsPerSecond(
  spec: Pick<FleetSpec, "demand">,
  hardware: Pick<HostHardware, "streamsPerHost">,
): number {
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

/** The ports below 1024 the media server binds, which take CAP_NET_BIND_SERVICE (capabilities(7)). */
export function privilegedPorts(spec: Pick<FleetSpec, "ports" | "workload">): number[] {
  const ports = [...spec.ports.signalingTcp, spec.ports.mediaUdp.from, spec.workload.adminPort];
  return ports.filter((port) => port < 1024);
}

/**
 * A container's server runs in a user namespace with no capability, and over host networking
 * its sockets answer to the host's namespace (modules/host/units.ts, containerPrivileges): it
 * binds a port below 1024 only when the host lowers ip_unprivileged_port_start to it
 * (https://docs.kernel.org/networking/ip-sysctl.html). A package's server gets the capability
 * from systemd instead, and the host keeps the kernel's 1024.
 */
function unprivilegedPortStart(spec: Pick<FleetSpec, "ports" | "workload">) {
  const low = privilegedPorts(spec);
  return spec.workload.image !== undefined && low.length > 0 ? Math.min(...low) : undefined;
}

export function hostFacts(
  spec: Pick<FleetSpec, "demand" | "tuning" | "ports" | "workload">,
  hardware: HostHardware,
): HostFacts {
  const portStart = unprivilegedPortStart(spec);
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
    ...(portStart === undefined ? {} : { unprivilegedPortStart: portStart }),
    ...(hardware.interfaces ? { interfaces: hardware.interfaces } : {}),
  };
}

/** A cloud VM's hardware facts; gVNIC and ENA give one queue pair per vCPU up to 16 and 32. */
export function cloudHardware(type: string, nicDriver: "gve" | "ena"): HostHardware {
  const { vcpus, streamsPerHost } = machineType(type);
  const queues = Math.min(vcpus, nicDriver === "gve" ? 16 : 32);
  return { cores: vcpus, nicDriver, rxQueues: queues, txQueues: queues, streamsPerHost };
}

/** A bare-metal host class's hardware facts. */
export function classHardware(c: HostClass): HostHardware {
  return {
    cores: c.cores,
    nicDriver: c.nicDriver,
    rxQueues: c.nicQueues,
    txQueues: c.nicQueues,
    streamsPerHost: c.streamsPerHost,
    interfaces: c.interfaces,
  };
}

/** The hardware every host of a fleet has, per host class (cloud fleets: one "class"). */
export function fleetHardware(
  spec: FleetSpec,
  hostClasses: Record<string, HostClass> = {},
): Map<string, HostHardware> {
  switch (spec.kind) {
    case "gcp":
      return new Map([[spec.machineType, cloudHardware(spec.machineType, "gve")]]);
    case "aws":
      return new Map([[spec.instanceType, cloudHardware(spec.instanceType, "ena")]]);
    case "metal":
      return new Map(Object.entries(hostClasses).map(([name, c]) => [name, classHardware(c)]));
  }
}
