/**
 * The host agent's metrics, rendered from what the host shows: `/proc/net/snmp` (UDP drops the
 * kernel counts), `ethtool -S <iface>` (drops the cloud's packet allowance causes: not fixable by
 * tuning), `avfleet-tune verify` (settings in drift) and `/proc/stat` (CPU by mode). Output is
 * Prometheus text format 0.0.4, which node_exporter's textfile collector also reads (no
 * timestamps, one HELP/TYPE per family). Pure, and the reference: hosts run the same parse and
 * render in modules/host-agent (counters.py; no Node there), held line-for-line equal by test/host; the
 * simulated hosts of test/observe and bench:observe serve this one.
 */

/**
 * The host series, named and explained once: renderHostMetrics and the agent (which gets this
 * table in its JSON config) both take names, help and types from here.
 */
export const HOST_METRIC_FAMILIES = {
  rcvbufErrors: {
    name: "avfleet_host_udp_rcvbuf_errors_total",
    help: "UDP datagrams dropped for a full socket receive buffer (RcvbufErrors).",
    type: "counter",
  },
  inDatagrams: {
    name: "avfleet_host_udp_in_datagrams_total",
    help: "UDP datagrams delivered to sockets (/proc/net/snmp InDatagrams).",
    type: "counter",
  },
  inErrors: {
    name: "avfleet_host_udp_in_errors_total",
    help: "UDP datagrams the kernel failed to deliver (InErrors).",
    type: "counter",
  },
  sndbufErrors: {
    name: "avfleet_host_udp_sndbuf_errors_total",
    help: "UDP datagrams dropped for a full socket send buffer (SndbufErrors).",
    type: "counter",
  },
  allowance: {
    name: "avfleet_host_nic_allowance_exceeded_total",
    help: "Packets the cloud shaped or dropped over the instance's allowance (ethtool -S).",
    type: "counter",
  },
  tuningDrift: {
    name: "avfleet_host_tuning_drift_settings",
    help: "Settings avfleet-tune verify reports in drift.",
    type: "gauge",
  },
  tuningSetting: {
    name: "avfleet_host_tuning_setting_drift",
    help: "1 for each setting avfleet-tune verify reports in drift.",
    type: "gauge",
  },
  cpu: {
    name: "avfleet_host_cpu_seconds_total",
    help: "CPU seconds by mode, all CPUs (/proc/stat).",
    type: "counter",
  },
} as const;

type HostMetricKey = keyof typeof HOST_METRIC_FAMILIES;

/**
 * The agent's gauges of the host as a server, labelled like the host series (pool, host, zone,
 * region, release): what a rollout and a migration count (modules/gates/slo.ts names them so).
 */
export const SERVING_SERIES = {
  /** Sessions in progress on the host's media server, from its stats. */
  activeSessions: "avfleet_active_sessions",
  /** 1 while the host's readiness answers 200, else 0. */
  healthyHosts: "avfleet_healthy_hosts",
} as const;

/** Series names; modules/observe reads them through its spec (HOST_METRICS). */
export const EXPORTER_METRICS = Object.fromEntries(
  Object.entries(HOST_METRIC_FAMILIES).map(([k, f]) => [k, f.name]),
) as { [K in HostMetricKey]: (typeof HOST_METRIC_FAMILIES)[K]["name"] };

export interface HostReadings {
  /** Labels on every series: the agent knows its host, pool, zone and region. */
  labels: Record<string, string>;
  /** Text of /proc/net/snmp. */
  snmp?: string;
  /** Per interface, the text of `ethtool -S <iface>`. */
  ethtool?: Record<string, string>;
  /** stdout of `avfleet-tune verify` (rows: SETTING WANTED ACTUAL STATUS). */
  tuneVerify?: string;
  /** Text of /proc/stat. */
  stat?: string;
  /** USER_HZ of /proc/stat's counters (100 on Linux). */
  userHz?: number;
}

/** The `Udp:` header and value lines of /proc/net/snmp as a record. */
export function parseSnmpUdp(text: string): Record<string, number> {
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"));
  if (lines.length < 2) return {};
  const keys = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

/**
 * `ethtool -S` counters named *_allowance_exceeded (ENA: bw_in, bw_out, pps, conntrack,
 * linklocal). Counters of other drivers are not the cloud's limits and stay out.
 */
export function parseAllowance(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^\s*([a-z0-9_]+_allowance_exceeded):\s*(\d+)\s*$/gm)) {
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * Settings whose STATUS (the last column) reads `drift`. Columns are two or more spaces apart,
 * and an empty ACTUAL leaves only padding: a row can show three columns.
 */
export function parseTuneDrift(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s{2,}/))
    .filter((cols) => cols.length >= 3 && cols.at(-1) === "drift")
    .map((cols) => cols[0]);
}

const CPU_MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

/** The aggregate `cpu` line of /proc/stat, in seconds per mode. */
export function parseCpu(text: string, userHz = 100): Record<string, number> {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) return {};
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(CPU_MODES.map((mode, i) => [mode, (ticks[i] ?? 0) / userHz]));
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `{k="v",…}` with values escaped as the text format asks; empty labels, nothing. */
export function labelText(labels: Record<string, string>): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(",");
  return body ? `{${body}}` : "";
}

type Sample = [Record<string, string>, number];

/**
 * Pure: the host's readings as exposition text; a reading not given is left out. The agent's
 * host_metrics (avfleet_agent/counters.py) renders the same lines; test/host/exporter.test.ts holds
 * them equal.
 */
export function renderHostMetrics(r: HostReadings): string {
  const families: [HostMetricKey, Sample[]][] = [];
  const one = (key: HostMetricKey, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) families.push([key, [[{}, value]]]);
  };
  if (r.snmp !== undefined) {
    const udp = parseSnmpUdp(r.snmp);
    one("inDatagrams", udp.InDatagrams);
    one("rcvbufErrors", udp.RcvbufErrors);
    one("sndbufErrors", udp.SndbufErrors);
    one("inErrors", udp.InErrors);
  }
  if (r.ethtool !== undefined) {
    const samples: Sample[] = [];
    for (const [iface, text] of Object.entries(r.ethtool)) {
      for (const [counter, value] of Object.entries(parseAllowance(text)))
        samples.push([{ interface: iface, counter }, value]);
    }
    families.push(["allowance", samples]);
  }
  if (r.tuneVerify !== undefined) {
    const drift = parseTuneDrift(r.tuneVerify);
    one("tuningDrift", drift.length);
    families.push(["tuningSetting", drift.map((setting) => [{ setting }, 1])]);
  }
  if (r.stat !== undefined) {
    const cpu = parseCpu(r.stat, r.userHz);
    families.push(["cpu", Object.entries(cpu).map(([mode, s]) => [{ mode }, s])]);
  }
  const lines: string[] = [];
  for (const [key, samples] of families) {
    const { name, help, type } = HOST_METRIC_FAMILIES[key];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples)
      lines.push(`${name}${labelText({ ...r.labels, ...labels })} ${value}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
