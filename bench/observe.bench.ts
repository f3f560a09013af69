/**
 * bench:observe — the generated rule tests through promtool, then six fault kinds injected at
 * once into a live loopback fleet scraped by Debian's Prometheus with the rules loaded (every
 * duration scaled 20x). Prints how long each pool fault
 * took to page (in fleet time: real seconds x 20) and whether `diagnose` named each fault.
 * And how many alerts of every stack reach a receiver: CloudWatch alarms and composites, GCP
 * policies (as the program declares them) and each metal site's rules through its rendered
 * Alertmanager routes (amtool).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { parse } from "yaml";
import { listStacks, loadStacks } from "../modules/stacks/stack";
import { evaluateStacks } from "../modules/evaluation/evaluate";
import { renderAlertmanager } from "../modules/observe/alertmanager";
import { alertmanagerSites, poolFacts } from "../modules/observe/render";
import { alarmMetrics, cloudwatchCounters, type AlarmMetric } from "../modules/alerting/cloud";
import { servedSeries, unpublished, unpublishedAlarmMetrics } from "../modules/alerting/seams";
import { ruleGroups } from "../modules/observe/rules";
import { routesOf } from "../test/support/alertmanager";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPARISONS } from "../modules/gates/compare";
import type { Histogram } from "../modules/gates/metrics";
import { emptyHistogram, observe, renderHistogram } from "../modules/gates/prometheus";
import { diagnose, prometheusVectors, type Cause } from "../modules/observe/diagnose";
import { observeFiles, RULES_FILE } from "../modules/observe/render";
import { renderRules } from "../modules/observe/rules";
import { SimHost, type HostFault } from "../test/observe/hosts";
import { alerts, close, serveText, startPrometheus } from "../test/support/prometheus";

const SCALE = 20;
const REGION = "bench";
const ZONES = ["a", "b", "c"];
const WARMUP_S = Number(process.env.OBSERVE_WARMUP_S ?? 20);

function promtool(dir: string, file: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("promtool", ["test", "rules", file], { cwd: dir });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", () => resolve(out));
  });
}

/** Generated cases through promtool; a case is ok unless promtool names it failed. */
async function ruleTestFigures() {
  const dir = mkdtempSync(join(tmpdir(), "observe-bench-"));
  try {
    const { files, cases } = observeFiles([]);
    for (const f of files) writeFileSync(join(dir, f.path), f.text);
    const started = Date.now();
    const outputs = await Promise.all(
      files.filter((f) => f.path !== RULES_FILE).map((f) => promtool(dir, f.path)),
    );
    const output = outputs.join("\n");
    const failed = new Set([...output.matchAll(/name: (.+?),\n/g)].map((m) => m[1]));
    const ok = (kind: string) =>
      cases.filter(
        (c) =>
          c.kind === kind && ![...failed].some((f) => f.startsWith(c.alert) && f.includes(c.what)),
      ).length;
    return {
      alerts: new Set(cases.map((c) => c.alert)).size,
      tests: cases.length,
      mustFire: ok("must-fire"),
      mustNotFire: ok("must-not-fire"),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Alerts of every stack, those that reach a receiver (an alarm whose actions name topics, a
 * topic the stack creates having a subscription; a policy with channels; a metal rule that
 * Alertmanager routes to a receiver with an integration) and those whose every read has a
 * source (modules/alerting/seams.ts: a series the pool's own hosts publish, by its own pool, or
 * one the rules record).
 */
async function receiverFigures() {
  const stacks = loadStacks("stacks", listStacks("stacks"));
  const plans = await evaluateStacks(stacks);
  const fleetOf = new Map(stacks.flatMap((s) => (s.fleet ? [[s.name, s.fleet] as const] : [])));
  const facts = poolFacts(stacks);
  const recorded = new Set(
    ruleGroups({ pools: facts })
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.record ? [r.record] : [])),
  );
  let alerts = 0;
  let routed = 0;
  let sourced = 0;
  for (const plan of plans) {
    const fleet = fleetOf.get(plan.name)!;
    const inputs = (type: string) =>
      plan.resources.filter((r) => r.type === type).map((r) => ({ ...r, i: r.inputs as any }));
    const alarms = new Map(
      inputs("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.i.name as string, a.i]),
    );
    // a composite reads its member alarms' metrics
    const reads = (a: any): AlarmMetric[] =>
      a.alarmRule
        ? [...a.alarmRule.matchAll(/ALARM\("([^"]+)"\)/g)].flatMap((m: string[]) =>
            alarmMetrics(alarms.get(m[1])),
          )
        : alarmMetrics(a);
    const subscribed = new Set(
      inputs("aws:sns/topicSubscription:TopicSubscription").map((s) => s.i.topic),
    );
    const created = inputs("aws:sns/topic:Topic").map((t) => String(t.name));
    const reaches = (arn: string) =>
      subscribed.has(arn) || !created.some((name) => arn.endsWith(`:${name}`));
    for (const a of [
      ...inputs("aws:cloudwatch/metricAlarm:MetricAlarm"),
      ...inputs("aws:cloudwatch/compositeAlarm:CompositeAlarm"),
    ].filter((a) => a.i.tags?.severity)) {
      alerts++;
      if (a.i.alarmActions?.length && a.i.alarmActions.every(reaches)) routed++;
      const table = cloudwatchCounters(fleet.pool);
      if (unpublishedAlarmMetrics(fleet, table, reads(a.i)).length === 0) sourced++;
    }
    for (const p of inputs("gcp:monitoring/alertPolicy:AlertPolicy")) {
      alerts++;
      if (p.i.notificationChannels?.length && p.i.notificationChannels.every(Boolean)) routed++;
      const query = p.i.conditions[0].conditionPrometheusQueryLanguage.query;
      if (unpublished(query, servedSeries(fleet), new Set([fleet.pool])).length === 0) sourced++;
    }
  }
  const rules = ruleGroups()
    .flatMap((g) => g.rules)
    .filter((r) => r.alert);
  const { sites, without } = alertmanagerSites(stacks);
  alerts += without.length * rules.length;
  // a metal site's Prometheus evaluates every rule over its own hosts' series
  const pools = new Set(facts.map((f) => f.pool));
  for (const fleet of fleetOf.values()) {
    if (fleet.kind !== "metal") continue;
    const published = new Set([...servedSeries(fleet), ...recorded]);
    sourced += rules.filter((r) => unpublished(r.expr, published, pools).length === 0).length;
  }
  const dir = mkdtempSync(join(tmpdir(), "observe-bench-am-"));
  try {
    for (const site of sites) {
      const text = renderAlertmanager(site.pool, site.notify);
      const file = join(dir, `${site.stack}.yml`);
      writeFileSync(file, text);
      const integrations = new Map<string, number>(
        parse(text).receivers.map((r: Record<string, unknown>) => [
          r.name,
          Object.keys(r).filter((k) => k.endsWith("_configs")).length,
        ]),
      );
      for (const r of rules) {
        alerts++;
        const to = routesOf(file, { alertname: r.alert!, ...r.labels, pool: site.pool });
        if (to.length > 0 && to.every((name) => (integrations.get(name) ?? 0) > 0)) routed++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { alerts, routed, sourced };
}

interface Fault {
  pool: string;
  kind: Cause;
  /** Host faults on these zones' hosts. */
  hostFault?: HostFault;
  hostZones?: string[];
  /** Share of sessions with bad loss and jitter, per zone. */
  bad?: Record<string, number>;
  /** Stop this zone's host agent. */
  agentDownZone?: string;
}

const FAULTS: Fault[] = [
  {
    pool: "p-kernel",
    kind: "kernel-buffer",
    hostFault: "kernel-buffer",
    hostZones: ["a", "b", "c"],
    bad: { a: 0.95, b: 0.95, c: 0.95 },
  },
  {
    pool: "p-allowance",
    kind: "cloud-allowance",
    hostFault: "cloud-allowance",
    hostZones: ["a", "b", "c"],
    bad: { a: 0.95, b: 0.95, c: 0.95 },
  },
  {
    pool: "p-cpu",
    kind: "cpu-saturation",
    hostFault: "cpu-saturation",
    hostZones: ["a", "b", "c"],
    bad: { a: 0.95, b: 0.95, c: 0.95 },
  },
  { pool: "p-zone", kind: "zone", bad: { c: 0.95 } },
  { pool: "p-drift", kind: "tuning-drift", hostFault: "tuning-drift", hostZones: ["b"] },
  { pool: "p-agent", kind: "agent-down", agentDownZone: "a" },
];
const POOLS = [...FAULTS.map((f) => f.pool), "p-healthy"];

/** Per pool and zone: session loss and jitter histograms, 20 sessions a zone per tick. */
class Sessions {
  bad: Record<string, Record<string, number>> = {};
  private h: Record<string, { loss: Histogram; jitter: Histogram }> = {};

  constructor() {
    for (const pool of POOLS)
      for (const z of ZONES)
        this.h[`${pool}/${z}`] = {
          loss: emptyHistogram(COMPARISONS["packet-loss"].buckets),
          jitter: emptyHistogram(COMPARISONS["jitter-p95"].buckets),
        };
  }

  tick(): void {
    for (const pool of POOLS)
      for (const z of ZONES) {
        const badShare = this.bad[pool]?.[z] ?? 0.01;
        const h = this.h[`${pool}/${z}`];
        for (let i = 0; i < 20; i++) {
          const bad = i < Math.round(badShare * 20);
          observe(h.loss, bad ? 0.05 : 0.002);
          observe(h.jitter, bad ? 0.05 : 0.01);
        }
      }
  }

  render(): string {
    const series = (k: "loss" | "jitter") =>
      Object.entries(this.h).map(([key, h]) => {
        const [pool, zone] = key.split("/");
        return { labels: { pool, region: REGION, zone }, histogram: h[k] };
      });
    return `${[
      ...renderHistogram(COMPARISONS["packet-loss"].sessionMetric, "loss", series("loss")),
      ...renderHistogram(COMPARISONS["jitter-p95"].sessionMetric, "jitter", series("jitter")),
    ].join("\n")}\n`;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

async function live() {
  const sessions = new Sessions();
  const hosts = POOLS.flatMap((pool) =>
    ZONES.map((z) => new SimHost({ host: `${pool}-${z}`, pool, zone: z, region: REGION })),
  );
  const sessionServer = await serveText(() => sessions.render());
  for (const h of hosts) await h.serve();
  const timer = setInterval(() => {
    sessions.tick();
    for (const h of hosts) h.tick(0.25);
  }, 250);
  const prometheus = await startPrometheus(
    { avfleet: [sessionServer.port], "avfleet-host": hosts.map((h) => h.port) },
    renderRules({ scale: SCALE }),
  );
  try {
    process.stderr.write(
      `bench:observe: ${WARMUP_S} s healthy (the outage pair's window of history)\n`,
    );
    await new Promise((resolve) => setTimeout(resolve, WARMUP_S * 1000));
    const injected = Date.now();
    for (const f of FAULTS) {
      if (f.bad) sessions.bad[f.pool] = f.bad;
      for (const h of hosts.filter((h) => h.labels.pool === f.pool)) {
        if (f.hostFault && f.hostZones?.includes(h.labels.zone)) h.faults.add(f.hostFault);
        if (f.agentDownZone === h.labels.zone) h.stop();
      }
    }
    const paging = FAULTS.filter((f) => f.bad).map((f) => f.pool);
    const paged: Record<string, number> = {};
    while (Date.now() - injected < 60_000 && Object.keys(paged).length < paging.length) {
      for (const a of await alerts(prometheus.url)) {
        if (
          a.state === "firing" &&
          a.labels.severity === "page" &&
          a.labels.slo &&
          paging.includes(a.labels.pool)
        )
          paged[a.labels.pool] ??= (Date.now() - injected) / 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // what an operator runs once paged: the window since the fault
    const since = `${Math.ceil((Date.now() - injected) / 1000)}s`;
    const d = await diagnose(prometheusVectors(prometheus.url), { since });
    const verdicts = FAULTS.map((f) => {
      const pool = d.pools.find((p) => p.pool === f.pool);
      const hostCauses = d.hosts
        .filter((h) => h.pool === f.pool)
        .flatMap((h) => h.causes.map((c) => c.cause));
      const named = f.bad ? pool?.cause : hostCauses.find((c) => c === f.kind);
      const seen = JSON.stringify({ pool, hosts: d.hosts.filter((h) => h.pool === f.pool) });
      return { fault: f.kind, pool: f.pool, named: named ?? "(none)", ok: named === f.kind, seen };
    });
    const falseAlarm =
      d.pools.some((p) => p.pool === "p-healthy") || d.hosts.some((h) => h.pool === "p-healthy");
    return { paged, paging, verdicts, falseAlarm };
  } finally {
    clearInterval(timer);
    close(sessionServer.server);
    for (const h of hosts) h.stop();
    await prometheus.stop();
  }
}

async function main() {
  // one after the other: promtool's CPU would delay the live fleet's scrapes and pages
  const run = await live();
  const rules = await ruleTestFigures();
  const receivers = await receiverFigures();
  console.log(
    `receivers: ${receivers.routed} of ${receivers.alerts} alerts of every stack reach one (CloudWatch, Cloud Monitoring, Alertmanager)`,
  );
  console.log(
    `sources: ${receivers.sourced} of ${receivers.alerts} alerts of every stack read only series their pool's hosts publish (or the rules record)`,
  );
  console.log(
    `rule tests: ${rules.tests} cases over ${rules.alerts} alerts through promtool in ${rules.seconds.toFixed(1)} s: must-fire ${rules.mustFire}, must-not-fire ${rules.mustNotFire}`,
  );
  for (const pool of run.paging) {
    const s = run.paged[pool];
    console.log(
      `page ${pool}: ${s === undefined ? "not within 60 s" : `${s.toFixed(1)} s real = ${((s * SCALE) / 60).toFixed(1)} min of fleet time`}`,
    );
  }
  for (const v of run.verdicts)
    console.log(
      `diagnose ${v.pool}: injected ${v.fault}, named ${v.named} ${v.ok ? "ok" : `WRONG: saw ${v.seen}`}`,
    );
  console.log(`healthy pool reported: ${run.falseAlarm ? "yes (false alarm)" : "no"}`);
  const latencies = run.paging.map((p) => run.paged[p]).filter((s) => s !== undefined);
  console.log(
    `paged: ${latencies.length} of ${run.paging.length} degraded pools within 60 s; latency is their median`,
  );
  const latency = latencies.length ? (median(latencies) * SCALE).toFixed(0) : "NaN";
  const correct = run.verdicts.filter((v) => v.ok).length;
  console.log(
    `observe: alerts=${rules.alerts} tests=${rules.tests} must_fire_ok=${rules.mustFire} must_not_fire_ok=${rules.mustNotFire} page_latency_s=${latency} diagnose_correct=${correct}/${run.verdicts.length} alerts_with_source=${receivers.sourced}/${receivers.alerts} alerts_with_receiver=${receivers.routed}/${receivers.alerts}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 3;
});
