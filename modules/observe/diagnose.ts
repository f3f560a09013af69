/**
 * `avfleet diagnose`: which pools burn their SLO budgets and which hosts misbehave, and why,
 * from the counters the spec names. A pool's cause is what most of its hosts show: kernel
 * buffer drops (fix by tuning), cloud allowance drops (fix by a larger type or TIER_1: tuning
 * cannot), CPU saturation (capacity); with no host cause, one zone much worse than the others.
 * Every verdict carries the queries and values it rests on.
 */
import { HOST_JOB, HOST_METRICS, HOST_THRESHOLDS, SLIS } from "./spec";

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** An instant vector query at "now". */
export type VectorQuery = (promql: string) => Promise<Sample[]>;

export type Cause =
  | "kernel-buffer"
  | "cloud-allowance"
  | "cpu-saturation"
  | "tuning-drift"
  | "agent-down"
  | "zone"
  | "unknown";

export const FIXES: Record<Cause, string> = {
  "kernel-buffer":
    "fixable by tuning: raise the UDP receive buffers (net.core.rmem_max and rmem_default, the media-udp profile sizes them from packets/s x stall), then run avfleet-tune apply",
  "cloud-allowance":
    "not fixable by tuning: move the pool to a larger machine type, or on GCP to TIER_1 networking (gVNIC, N2/N2D/C2/C2D/C3 with >= 30 vCPUs)",
  "cpu-saturation":
    "capacity: raise the pool's minHosts/maxHosts or lower streamsPerHost; shift weight to another pool meanwhile",
  "tuning-drift":
    "the host no longer holds its profile: run avfleet-tune apply, find what reverts it",
  "agent-down": "the host agent does not answer: its drops and drain go unseen; restart it",
  zone: "one zone is worse than the pool's others: drain that zone's hosts and check its network",
  unknown: "no host counter explains it: look at the SFU's own logs and the clients' networks",
};

export interface Evidence {
  query: string;
  value: number;
}

export interface HostFinding {
  host: string;
  pool: string;
  zone: string;
  causes: { cause: Cause; value: number; evidence: Evidence }[];
}

export interface PoolFinding {
  pool: string;
  region: string;
  /** Per SLI: burn rate (bad share over the budget) over the window. */
  burns: { slo: string; burn: number; badShare: number; objective: number; evidence: Evidence }[];
  worst: number;
  cause: Cause;
  /** Hosts behind the cause, or the zone. */
  culprits: string[];
  fix: string;
  evidence: Evidence[];
}

export interface Diagnosis {
  since: string;
  pools: PoolFinding[];
  hosts: HostFinding[];
  /** Pools burning budget or hosts with a cause. */
  wrong: boolean;
}

const HOST_BY = "region, pool, zone, host";
const CAUSE_ORDER: Cause[] = [
  "cloud-allowance",
  "kernel-buffer",
  "cpu-saturation",
  "tuning-drift",
  "agent-down",
];

function key(labels: Record<string, string>, names: string[]): string {
  return names.map((n) => labels[n] ?? "").join("\u0000");
}

/** The host-level queries over `w`, each with the test that makes a value a cause. */
function hostQueries(
  w: string,
  match: string,
): { cause: Cause; query: string; bad: (v: number) => boolean }[] {
  const m = HOST_METRICS;
  const sel = (metric: string, extra = "") =>
    `${metric}{${[match, extra].filter(Boolean).join(",")}}`;
  return [
    {
      cause: "kernel-buffer",
      query: `sum by (${HOST_BY}) (rate(${sel(m.rcvbufErrors)}[${w}])) / sum by (${HOST_BY}) (rate(${sel(m.inDatagrams)}[${w}]) + rate(${sel(m.rcvbufErrors)}[${w}]))`,
      bad: (v) => v > HOST_THRESHOLDS.rcvbufDropRatio,
    },
    {
      cause: "cloud-allowance",
      query: `sum by (${HOST_BY}) (rate(${sel(m.allowance)}[${w}]))`,
      bad: (v) => v > HOST_THRESHOLDS.allowancePerSecond,
    },
    {
      cause: "cpu-saturation",
      query: `1 - sum by (${HOST_BY}) (rate(${sel(m.cpu, 'mode=~"idle|iowait"')}[${w}])) / sum by (${HOST_BY}) (rate(${sel(m.cpu)}[${w}]))`,
      bad: (v) => v > HOST_THRESHOLDS.cpuBusy,
    },
    {
      cause: "tuning-drift",
      query: `max by (${HOST_BY}) (max_over_time(${sel(m.tuningDrift)}[${w}]))`,
      bad: (v) => v > 0,
    },
    {
      cause: "agent-down",
      query: `min by (${HOST_BY}, instance) (min_over_time(up{${[`job="${HOST_JOB}"`, match].filter(Boolean).join(",")}}[${w}]))`,
      bad: (v) => v === 0,
    },
  ];
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a one-unit Prometheus duration (30s, 15m, 1h, 1d, 1w). */
export function seconds(duration: string): number {
  const m = /^(\d+)([smhdw])$/.exec(duration);
  if (!m) throw new Error(`not a duration: ${duration}`);
  return Number(m[1]) * UNIT_S[m[2]];
}

export async function diagnose(
  query: VectorQuery,
  options: { since: string; pool?: string },
): Promise<Diagnosis> {
  const w = options.since;
  const match = options.pool ? `pool="${options.pool}"` : "";

  // Hosts: every cause any counter shows. A failed scrape's `up` carries only the target:
  // the host's own series say whose target it was, looking back 5 minutes further than the
  // window (an agent that died at its start last answered before it).
  const identity = new Map<string, Record<string, string>>();
  const lookback = `${seconds(w) + 300}s`;
  for (const s of await query(
    `max by (instance, ${HOST_BY}) (max_over_time(${HOST_METRICS.inDatagrams}[${lookback}]))`,
  ))
    identity.set(s.labels.instance, s.labels);
  const hosts = new Map<string, HostFinding>();
  for (const q of hostQueries(w, match)) {
    for (const sample of await query(q.query)) {
      if (!q.bad(sample.value)) continue;
      const s = {
        ...sample,
        labels: { ...identity.get(sample.labels.instance), ...sample.labels },
      };
      const host = s.labels.host ?? s.labels.instance ?? "?";
      const k = key({ ...s.labels, host }, ["pool", "host"]);
      const finding = hosts.get(k) ?? {
        host,
        pool: s.labels.pool ?? "",
        zone: s.labels.zone ?? "",
        causes: [],
      };
      finding.causes.push({
        cause: q.cause,
        value: s.value,
        evidence: { query: q.query, value: s.value },
      });
      hosts.set(k, finding);
    }
  }

  // Pools: burn per SLI over the window.
  const pools = new Map<string, PoolFinding>();
  for (const sli of SLIS) {
    const q = `${sli.bad(w, match)} / ${sli.total(w, match)}`;
    const budget = 1 - sli.objective;
    for (const s of await query(q)) {
      if (!Number.isFinite(s.value)) continue;
      const k = key(s.labels, ["region", "pool"]);
      const p = pools.get(k) ?? {
        pool: s.labels.pool ?? "",
        region: s.labels.region ?? "",
        burns: [],
        worst: 0,
        cause: "unknown" as Cause,
        culprits: [],
        fix: "",
        evidence: [],
      };
      const burn = s.value / budget;
      p.burns.push({
        slo: sli.name,
        burn,
        badShare: s.value,
        objective: sli.objective,
        evidence: { query: q, value: s.value },
      });
      p.worst = Math.max(p.worst, burn);
      pools.set(k, p);
    }
  }

  const bad = [...pools.values()].filter((p) => p.worst > 1).sort((a, b) => b.worst - a.worst);
  for (const p of bad) {
    const burning = p.burns.filter((b) => b.burn > 1).sort((a, b) => b.burn - a.burn);
    p.evidence.push(...burning.map((b) => b.evidence));
    const mine = [...hosts.values()].filter((h) => h.pool === p.pool);
    // The cause most of the pool's faulty hosts share; allowance first: tuning cannot fix it.
    const counts = CAUSE_ORDER.map((cause) => ({
      cause,
      hosts: mine.filter((h) => h.causes.some((c) => c.cause === cause)),
    })).filter((c) => c.hosts.length > 0 && c.cause !== "agent-down" && c.cause !== "tuning-drift");
    counts.sort((a, b) => b.hosts.length - a.hosts.length);
    if (counts.length > 0) {
      const top = counts[0];
      p.cause = top.cause;
      p.culprits = top.hosts.map((h) => h.host);
      p.evidence.push(
        ...top.hosts.flatMap((h) =>
          h.causes.filter((c) => c.cause === top.cause).map((c) => c.evidence),
        ),
      );
      const drifted = top.hosts.some((h) => h.causes.some((c) => c.cause === "tuning-drift"));
      p.fix =
        top.cause === "kernel-buffer" && drifted
          ? `${FIXES["tuning-drift"]}; ${FIXES[top.cause]}`
          : FIXES[top.cause];
    } else {
      const zone = await badZone(query, w, p, burning[0]?.slo);
      if (zone) {
        p.cause = "zone";
        p.culprits = [zone.zone];
        p.evidence.push(zone.evidence);
      }
      p.fix = FIXES[p.cause];
    }
  }
  // Worst first: hosts behind a burning pool (in the pools' order), then by how many causes.
  const rank = (h: HostFinding) => {
    const i = bad.findIndex((p) => p.pool === h.pool && p.culprits.includes(h.host));
    return i < 0 ? bad.length : i;
  };
  const hostList = [...hosts.values()].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      b.causes.length - a.causes.length ||
      a.pool.localeCompare(b.pool) ||
      a.host.localeCompare(b.host),
  );
  return { since: w, pools: bad, hosts: hostList, wrong: bad.length > 0 || hostList.length > 0 };
}

/** The one zone of a pool whose SLI burns while every other zone keeps it, if any. */
async function badZone(query: VectorQuery, w: string, p: PoolFinding, slo: string | undefined) {
  const sli = SLIS.find((s) => s.name === slo);
  if (!sli) return undefined;
  const by = "region, pool, zone";
  const match = `pool="${p.pool}"`;
  const q = `${sli.bad(w, match, by)} / ${sli.total(w, match, by)}`;
  const zones = (await query(q)).filter((s) => s.labels.zone && Number.isFinite(s.value));
  const budget = 1 - sli.objective;
  const burning = zones.filter((s) => s.value / budget > 1);
  if (zones.length < 2 || burning.length !== 1) return undefined;
  return { zone: burning[0].labels.zone, evidence: { query: q, value: burning[0].value } };
}

/** Instant vector queries against Prometheus' HTTP API. */
export function prometheusVectors(url: string, timeoutMs = 10_000): VectorQuery {
  const base = url.replace(/\/+$/, "");
  return async (promql) => {
    const response = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as {
      status?: string;
      error?: string;
      data?: {
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
    };
    if (!response.ok || body.status !== "success" || body.data?.resultType !== "vector") {
      throw new Error(
        `${base}: HTTP ${response.status}: ${body.error ?? "not a vector result"} (query ${promql})`,
      );
    }
    return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  };
}

function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))} %`;
}

/** The human report. */
export function renderDiagnosis(d: Diagnosis): string {
  const lines: string[] = [];
  if (!d.wrong) return `avfleet diagnose: nothing wrong over the last ${d.since}\n`;
  lines.push(
    `avfleet diagnose: ${d.pools.length} pool(s) burning error budget, ${d.hosts.length} host(s) with a cause, over the last ${d.since}`,
    "",
  );
  for (const p of d.pools) {
    const worst = [...p.burns].sort((a, b) => b.burn - a.burn)[0];
    lines.push(
      `POOL ${p.pool} (${p.region}): ${worst.slo} burns ${worst.burn.toFixed(1)}x its budget (${pct(worst.badShare)} of events bad, objective ${pct(worst.objective)})`,
      `  cause: ${p.cause}${p.culprits.length ? ` (${p.culprits.join(", ")})` : ""}`,
      `  fix:   ${p.fix}`,
      "  evidence:",
      ...p.evidence.map((e) => `    ${e.query}  =>  ${Number(e.value.toPrecision(4))}`),
      "",
    );
  }
  for (const h of d.hosts) {
    lines.push(
      `HOST ${h.host} (pool ${h.pool}${h.zone ? `, zone ${h.zone}` : ""}): ${h.causes.map((c) => `${c.cause} ${Number(c.value.toPrecision(3))}`).join(", ")}`,
      ...h.causes.map((c) => `  fix: ${FIXES[c.cause]}`),
    );
  }
  return `${lines.join("\n")}\n`;
}
