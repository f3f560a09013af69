/**
 * The host agent's metrics, rendered from what the host shows: `/proc/net/snmp` (UDP drops the
 * kernel counts), `ethtool -S <iface>` (drops the cloud's packet allowance causes: not fixable by
 * tuning), `avfleet-tune verify` (settings in drift) and `/proc/stat` (CPU by mode). Output is
 * Prometheus text format 0.0.4, which node_exporter's textfile collector also reads (no
 * timestamps, one HELP/TYPE per family). Pure: the agent reads the files and runs the commands.
 */

/** Series names; modules/observe reads them through its spec (HOST_METRICS). */
export const EXPORTER_METRICS = {
  rcvbufErrors: "avfleet_host_udp_rcvbuf_errors_total",
  inDatagrams: "avfleet_host_udp_in_datagrams_total",
  inErrors: "avfleet_host_udp_in_errors_total",
  sndbufErrors: "avfleet_host_udp_sndbuf_errors_total",
  allowance: "avfleet_host_nic_allowance_exceeded_total",
  tuningDrift: "avfleet_host_tuning_drift_settings",
  tuningSetting: "avfleet_host_tuning_setting_drift",
  cpu: "avfleet_host_cpu_seconds_total",
} as const;

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

function labelText(labels: Record<string, string>): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(",");
  return body ? `{${body}}` : "";
}

type Family = {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: [Record<string, string>, number][];
};

/** Pure: the host's readings as exposition text; a reading not given is left out. */
export function renderHostMetrics(r: HostReadings): string {
  const m = EXPORTER_METRICS;
  const families: Family[] = [];
  const one = (name: string, help: string, type: Family["type"], value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value))
      families.push({ name, help, type, samples: [[{}, value]] });
  };
  if (r.snmp !== undefined) {
    const udp = parseSnmpUdp(r.snmp);
    one(
      m.inDatagrams,
      "UDP datagrams delivered to sockets (/proc/net/snmp InDatagrams).",
      "counter",
      udp.InDatagrams,
    );
    one(
      m.rcvbufErrors,
      "UDP datagrams dropped for a full socket receive buffer (RcvbufErrors).",
      "counter",
      udp.RcvbufErrors,
    );
    one(
      m.sndbufErrors,
      "UDP datagrams dropped for a full socket send buffer (SndbufErrors).",
      "counter",
      udp.SndbufErrors,
    );
    one(
      m.inErrors,
      "UDP datagrams the kernel failed to deliver (InErrors).",
      "counter",
      udp.InErrors,
    );
  }
  if (r.ethtool !== undefined) {
    const samples: Family["samples"] = [];
    for (const [iface, text] of Object.entries(r.ethtool)) {
      for (const [counter, value] of Object.entries(parseAllowance(text)))
        samples.push([{ interface: iface, counter }, value]);
    }
    families.push({
      name: m.allowance,
      help: "Packets the cloud shaped or dropped over the instance's allowance (ethtool -S).",
      type: "counter",
      samples,
    });
  }
  if (r.tuneVerify !== undefined) {
    const drift = parseTuneDrift(r.tuneVerify);
    one(m.tuningDrift, "Settings avfleet-tune verify reports in drift.", "gauge", drift.length);
    families.push({
      name: m.tuningSetting,
      help: "1 for each setting avfleet-tune verify reports in drift.",
      type: "gauge",
      samples: drift.map((setting) => [{ setting }, 1]),
    });
  }
  if (r.stat !== undefined) {
    const cpu = parseCpu(r.stat, r.userHz);
    families.push({
      name: m.cpu,
      help: "CPU seconds by mode, all CPUs (/proc/stat).",
      type: "counter",
      samples: Object.entries(cpu).map(([mode, s]) => [{ mode }, s]),
    });
  }
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [labels, value] of f.samples)
      lines.push(`${f.name}${labelText({ ...r.labels, ...labels })} ${value}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
