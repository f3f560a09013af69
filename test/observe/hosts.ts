/**
 * Simulated media hosts for the live test and bench:observe: each keeps the kernel, NIC and CPU
 * counters a real host shows, in the files' own formats, and serves them through the real
 * exporter (modules/host-series/exporter.ts) on its own loopback port, as each host's agent would.
 */
import type { Server } from "node:http";
import { renderHostMetrics } from "../../modules/host-series/exporter";
import { close, serveText } from "../support/prometheus";

export type HostFault = "kernel-buffer" | "cloud-allowance" | "cpu-saturation" | "tuning-drift";

const PPS = 50_000;
const CPUS = 16;

export class SimHost {
  faults = new Set<HostFault>();
  port = 0;
  private server?: Server;
  private inDatagrams = 0;
  private rcvbufErrors = 0;
  private allowance = 0;
  private busy = 0;
  private idle = 0;

  constructor(readonly labels: { host: string; pool: string; zone: string; region: string }) {}

  /** `seconds` of traffic: 50 kpps, 1 % dropped by the kernel or 500 pps by the cloud when faulty. */
  tick(seconds: number): void {
    const packets = PPS * seconds;
    const dropped = this.faults.has("kernel-buffer") ? packets * 0.01 : 0;
    this.inDatagrams += packets - dropped;
    this.rcvbufErrors += dropped;
    if (this.faults.has("cloud-allowance")) this.allowance += 500 * seconds;
    const busyShare = this.faults.has("cpu-saturation") ? 0.97 : 0.35;
    this.busy += CPUS * seconds * busyShare * 100;
    this.idle += CPUS * seconds * (1 - busyShare) * 100;
  }

  readings() {
    const r = (x: number) => Math.round(x);
    const drift = this.faults.has("tuning-drift");
    return {
      labels: this.labels,
      snmp: [
        "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
        `Udp: ${r(this.inDatagrams)} 0 ${r(this.rcvbufErrors)} ${r(this.inDatagrams)} ${r(this.rcvbufErrors)} 0 0 0 0`,
      ].join("\n"),
      ethtool: {
        ens5: `NIC statistics:\n     bw_in_allowance_exceeded: 0\n     pps_allowance_exceeded: ${r(this.allowance)}\n`,
      },
      // user nice system idle iowait irq softirq steal: busy split between user and softirq
      stat: `cpu  ${r(this.busy * 0.6)} 0 0 ${r(this.idle)} 0 0 ${r(this.busy * 0.4)} 0 0 0\n`,
      tuneVerify: [
        "SETTING  WANTED  ACTUAL  STATUS",
        `sysctl net.core.rmem_max  10485760  ${drift ? "212992" : "10485760"}  ${drift ? "drift" : "ok"}`,
        `sysctl net.core.rmem_default  10485760  ${drift ? "212992" : "10485760"}  ${drift ? "drift" : "ok"}`,
      ].join("\n"),
    };
  }

  async serve(): Promise<void> {
    const { server, port } = await serveText(() => renderHostMetrics(this.readings()));
    this.server = server;
    this.port = port;
  }

  stop(): void {
    if (this.server) close(this.server);
  }
}
