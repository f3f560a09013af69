/**
 * Profile + host facts → every value the host gets, each with a one-line reason, and the
 * files that persist them. Pure: the script, sysctl.d file and explain output are all
 * rendered from this one list.
 */
import { cpuMask, formatCpuList, parseCpuList } from "./cpus";
import { driverTraits, PROFILES, type ProfileName } from "./profiles";
import { bufferBytes, HEADROOM, PER_PACKET_COST_BYTES, ruleBytes } from "./rule";
import { DEFAULT_EPHEMERAL, ephemeralPorts, size } from "./ports";
import type { HostFacts } from "./schema";

export type Area = "file" | "sysctl" | "nic" | "conntrack" | "systemd";

export interface Setting {
  area: Area;
  /** e.g. `net.core.rmem_max`, `ring rx` (per tuned NIC), `sfu.service LimitNOFILE`. */
  name: string;
  /** The wanted value as a person reads it. */
  value: string;
  reason: string;
  /** The avfleet-tune function and arguments that apply it and read it back (NIC ones get the interface first). */
  check: readonly string[];
}

export interface InstalledFile {
  path: string;
  mode: "0644" | "0755";
  content: string;
  reason: string;
}

export interface TuningPlan {
  settings: Setting[];
  files: InstalledFile[];
  /** NICs to tune; absent: the script tunes the default route's interface. */
  interfaces?: readonly string[];
}

export const SCRIPT_PATH = "/usr/local/sbin/avfleet-tune";
export const BOOT_UNIT = "avfleet-tune.service";
const DROP_IN_NAME = "90-avfleet-tune.conf";

const sysctl = (key: string, value: number | string, reason: string): Setting => ({
  area: "sysctl",
  name: key,
  value: String(value),
  reason,
  check: ["sysctl_key", key, String(value)],
});

const nic = (name: string, value: string, reason: string, check: string[]): Setting => ({
  area: "nic",
  name,
  value,
  reason,
  check,
});

/** The media port range as the kernel and nft print it back: one port has no dash. */
function mediaPorts(facts: HostFacts): string {
  const { from, to } = facts.mediaUdpPorts;
  return from === to ? `${from}` : `${from}-${to}`;
}

function sysctlSettings(profileName: ProfileName, facts: HostFacts): Setting[] {
  const profile = PROFILES[profileName];
  const { packetsPerSecond: pps, stallMs } = facts;
  const buffer = bufferBytes(pps, stallMs);
  const rule = `${pps} pkt/s × ${stallMs} ms × ${PER_PACKET_COST_BYTES} B/pkt = ${ruleBytes(pps, stallMs)} B, +${Math.round((HEADROOM - 1) * 100)} % headroom, rounded up to a MiB`;
  const settings = [
    sysctl("net.core.rmem_max", buffer, `SO_RCVBUF cap: ${rule}`),
    sysctl(
      "net.core.wmem_max",
      buffer,
      "SO_SNDBUF cap, same rule: a send burst queued while the NIC's TX queue is full",
    ),
  ];
  if (profile.socketDefaults) {
    settings.push(
      sysctl(
        "net.core.rmem_default",
        buffer,
        "servers that never set SO_RCVBUF get the rule's buffer too; 212992 B lost 11.6 % at 100 kpps / 20 ms",
      ),
      sysctl(
        "net.core.wmem_default",
        buffer,
        "servers that never set SO_SNDBUF get the rule's buffer too",
      ),
    );
  }
  if (facts.unprivilegedPortStart !== undefined) {
    settings.push(
      sysctl(
        "net.ipv4.ip_unprivileged_port_start",
        facts.unprivilegedPortStart,
        "the media server binds this port from a user namespace with no capability: host networking's socket answers to the host's namespace, where only this sysctl lets it bind below 1024 (ip-sysctl.rst)",
      ),
    );
  }
  if (profile.packetPath) {
    const backlog = Math.max(10000, Math.ceil((pps * stallMs) / 1000));
    settings.push(
      sysctl(
        "net.core.netdev_max_backlog",
        backlog,
        "per-CPU input queue (RPS, veth) holds one stall of the host's packets, at least 10000 (Jitsi: 100000)",
      ),
      sysctl(
        "net.core.netdev_budget",
        600,
        "softirq takes up to 600 packets per round (default 300): bursts drain with fewer ksoftirqd hand-offs",
      ),
      sysctl(
        "net.ipv4.udp_rmem_min",
        16384,
        "under UDP memory pressure each socket still queues ~7 packets (default 4096: one)",
      ),
      sysctl(
        "net.ipv4.udp_wmem_min",
        16384,
        "under UDP memory pressure each socket can still send ~7 packets (default 4096: one)",
      ),
    );
  }
  if (profile.busyPollUs !== undefined) {
    const us = profile.busyPollUs;
    settings.push(
      sysctl(
        "net.core.busy_poll",
        us,
        `poll/epoll spin up to ${us} µs for packets before sleeping: lower latency for CPU (AWS ENA guide: 70)`,
      ),
      sysctl(
        "net.core.busy_read",
        us,
        `blocking reads spin up to ${us} µs before sleeping, as busy_poll`,
      ),
    );
  }
  settings.push(
    sysctl(
      "net.ipv4.ip_local_reserved_ports",
      mediaPorts(facts),
      "the kernel never gives a media port to an outgoing connection",
    ),
  );
  const ephemeral = ephemeralPorts(facts.mediaUdpPorts);
  if (ephemeral) {
    settings.push(
      sysctl(
        "net.ipv4.ip_local_port_range",
        `${ephemeral.from} ${ephemeral.to}`,
        `the media ports overlap the default ${DEFAULT_EPHEMERAL.from}-${DEFAULT_EPHEMERAL.to}: outgoing connections get the ${size(ephemeral)} ports beside them`,
      ),
    );
  }
  return settings;
}

function nicSettings(profileName: ProfileName, facts: HostFacts): Setting[] {
  const plan = PROFILES[profileName].nic;
  if (!plan) return [];
  const traits = driverTraits(facts.nicDriver);
  const workers = new Set(parseCpuList(facts.mediaWorkerCpus));
  const cpus = Array.from({ length: facts.cores }, (_, cpu) => cpu);
  const housekeeping = cpus.filter((cpu) => !workers.has(cpu));
  const hk = formatCpuList(housekeeping);
  const channels = Math.min(facts.rxQueues, facts.txQueues, housekeeping.length);
  const ring = String(plan.ringDescriptors);
  const settings = [
    nic(
      "ring rx",
      `${ring} (or the NIC's maximum)`,
      "RX descriptors absorb bursts while softirq is delayed; drops here never reach a socket counter",
      ["nic_ring", "rx", ring],
    ),
    nic(
      "ring tx",
      `${ring} (or the NIC's maximum)`,
      "TX descriptors absorb a burst of forwarded media without qdisc requeues",
      ["nic_ring", "tx", ring],
    ),
    nic(
      `channels ${traits.channels}`,
      `${channels} (or the NIC's maximum)`,
      `one queue per interrupt CPU (${hk}): more queues than CPUs serving them add interrupts, not parallelism`,
      ["nic_channels", traits.channels, String(channels)],
    ),
    nic(
      `coalesce ${traits.coalesce.param}`,
      traits.coalesce.value,
      traits.coalesce.param === "adaptive-rx"
        ? "adaptive moderation: few µs of latency at low rates, fewer interrupts at high rates"
        : `${facts.nicDriver} has no adaptive moderation: ${traits.coalesce.value} µs batches interrupts at high rates yet adds little latency`,
      ["nic_coalesce", traits.coalesce.param, traits.coalesce.value],
    ),
  ];
  if (traits.udpHashConfigurable) {
    for (const flow of ["udp4", "udp6"]) {
      settings.push(
        nic(
          `rx-flow-hash ${flow}`,
          "sdfn",
          "RSS hashes UDP on addresses and ports, so many media flows from one address spread over queues",
          ["nic_flow_hash", flow, "sdfn"],
        ),
      );
    }
  }
  const rps = channels < housekeeping.length ? cpuMask(housekeeping, facts.cores) : "0";
  settings.push(
    nic(
      "rps_cpus (every RX queue)",
      rps,
      rps === "0"
        ? "off: RSS already spreads packets over every interrupt CPU; RPS would only add IPIs"
        : `packet work spreads from ${channels} queue(s) over the interrupt CPUs ${hk}, never onto media workers`,
      ["nic_rps", rps],
    ),
  );
  const xps = Array.from({ length: channels }, (_, queue) =>
    cpuMask(
      cpus.filter((cpu) => cpu % channels === queue),
      facts.cores,
    ),
  );
  settings.push(
    nic(
      "xps_cpus (TX queue i: CPUs ≡ i mod queues)",
      xps.join(" "),
      "each CPU transmits on one fixed queue: no TX lock contention between CPUs, flows stay in order",
      ["nic_xps", ...xps],
    ),
    nic(
      "irq affinity",
      `round-robin over ${hk}`,
      `NIC interrupts stay off the media workers ${facts.mediaWorkerCpus}`,
      ["nic_irqs", housekeeping.join(",")],
    ),
  );
  return settings;
}

function hostSettings(profileName: ProfileName, facts: HostFacts): Setting[] {
  const profile = PROFILES[profileName];
  const unit = facts.mediaUnit;
  const settings: Setting[] = [];
  if (profile.notrack) {
    const ports = mediaPorts(facts);
    settings.push({
      area: "conntrack",
      name: "notrack udp",
      value: ports,
      reason:
        "media packets skip conntrack: no per-packet table lookups, no nf_conntrack_max drops",
      check: ["notrack", ports],
    });
  }
  if (profile.pinMedia) {
    settings.push(
      {
        area: "systemd",
        name: "irqbalance",
        value: "inactive",
        reason: "irqbalance would move NIC interrupts back onto media workers",
        check: ["service_inactive", "irqbalance.service"],
      },
      {
        area: "systemd",
        name: `${unit} CPUAffinity`,
        value: facts.mediaWorkerCpus,
        reason: "the media server runs on the workers, interrupts on the other CPUs",
        check: ["unit_property", unit, "CPUAffinity", facts.mediaWorkerCpus],
      },
    );
  }
  settings.push(
    {
      area: "systemd",
      name: `${unit} LimitNOFILE`,
      value: String(profile.nofile),
      reason: "one socket per media port and peer; systemd units ignore limits.d",
      check: ["unit_property", unit, "LimitNOFILE", String(profile.nofile)],
    },
    {
      area: "systemd",
      name: `${BOOT_UNIT} enabled`,
      value: "enabled",
      reason: "apply runs at every boot, before the media server starts",
      check: ["unit_enabled", BOOT_UNIT],
    },
  );
  return settings;
}

function files(profileName: ProfileName, facts: HostFacts, sysctls: Setting[]): InstalledFile[] {
  const profile = PROFILES[profileName];
  const unit = facts.mediaUnit;
  const nofile = profile.nofile;
  const header = `# avfleet-tune profile=${profileName}: rendered by avfleet (modules/tuning); change the profile, not this file.\n`;
  const service = [
    `LimitNOFILE=${nofile}`,
    ...(profile.pinMedia ? [`CPUAffinity=${facts.mediaWorkerCpus}`] : []),
  ];
  return [
    {
      path: "/etc/sysctl.d/90-avfleet-tune.conf",
      mode: "0644",
      content: header + sysctls.map((s) => `# ${s.reason}\n${s.name} = ${s.value}\n`).join(""),
      reason: "systemd-sysctl applies the kernel values at every boot, before the network",
    },
    {
      path: "/etc/security/limits.d/90-avfleet-tune.conf",
      mode: "0644",
      content:
        header +
        ["*", "root"]
          .flatMap((who) => ["soft", "hard"].map((kind) => `${who} ${kind} nofile ${nofile}\n`))
          .join(""),
      reason: "login sessions and tools run by hand get the media server's file limit",
    },
    {
      path: `/etc/systemd/system/${unit}.d/${DROP_IN_NAME}`,
      mode: "0644",
      content: `${header}[Unit]\nWants=${BOOT_UNIT}\nAfter=${BOOT_UNIT}\n\n[Service]\n${service.join("\n")}\n`,
      reason: `${unit} starts after the tuning, with its file limit${profile.pinMedia ? " and CPUs" : ""}`,
    },
    {
      path: `/etc/systemd/system/${BOOT_UNIT}`,
      mode: "0644",
      content:
        `${header}[Unit]\nDescription=avfleet host tuning for UDP media\nWants=network-online.target\nAfter=network-online.target\nBefore=${unit}\n\n` +
        `[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=${SCRIPT_PATH} apply\n\n[Install]\nWantedBy=multi-user.target\n`,
      reason:
        "runs avfleet-tune apply at every boot: NIC and runtime values do not survive a reboot",
    },
  ];
}

export function planTuning(profileName: ProfileName, facts: HostFacts): TuningPlan {
  const sysctls = sysctlSettings(profileName, facts);
  return {
    settings: [...sysctls, ...hostSettings(profileName, facts), ...nicSettings(profileName, facts)],
    files: files(profileName, facts, sysctls),
    interfaces: facts.interfaces,
  };
}
