/**
 * Names across the seams: every query an alert, a dashboard panel, a scaling policy or a gate
 * sends reads a series (its name, and the pool it names) that something the same estate declares
 * publishes. Publishers: each fleet's host agent, as its config tells it what to serve (the
 * exposition as the references render it, which test/host holds line-equal to the agent), the
 * scrape job of the agents (`up`), and the rules' recorded series. A series read and published
 * nowhere fails here rather than as a silent alert on a real pool.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import YAML from "yaml";
import { listStacks, loadStacks, type LoadedStack } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { agentConfig } from "../../modules/host/agent";
import { HOST_JOB } from "../../modules/host/scrape";
import {
  HOST_LABELS,
  promqlReads,
  servedSeries,
  unpublished,
  unpublishedAlarmMetrics,
} from "../../modules/alerting/seams";
import { opsAgentConfig } from "../../modules/host/ops-agent";
import { autoscalingPolicy } from "../../modules/fleets/gcp-args";
import { hostPolicy } from "../../modules/fleets/aws-args";
import { compileAws } from "../../modules/scaling/compile";
import { terminationConfig } from "../../modules/aws-scale-in/termination";
import type { AwsFleetSpec } from "../../modules/config/fleet.schema";
import {
  alarmMetrics,
  awsAlarms,
  cloudwatchCounters,
  gcpAlertPolicies,
} from "../../modules/alerting/cloud";
import { awsDashboardBody } from "../../modules/alerting/cloudwatch-dashboard";
import { regionDashboard } from "../../modules/observe/dashboards";
import { prometheusSites, renderPrometheus } from "../../modules/observe/prometheus";
import { dashboardRegions, poolFacts } from "../../modules/observe/render";
import { renderRules } from "../../modules/observe/rules";
import { evaluateGates } from "../../modules/gates/gates";
import { prometheusProvider } from "../../modules/gates/prometheus";
import { ACTIVE_SESSIONS, HEALTHY_HOSTS, selector } from "../../modules/gates/slo";
import { loadRunbook } from "../../modules/runbook/runbook";
import { planUnits } from "../../modules/runbook/plan";
import { ROOT } from "../support/cli";

const STACKS = join(ROOT, "stacks");
const stacks = loadStacks(STACKS, listStacks(STACKS));
const fleets = stacks.filter((s): s is LoadedStack & { fleet: FleetSpec } => !!s.fleet);

const byPool = new Map(fleets.map((s) => [s.fleet.pool, s.fleet]));
const recorded = new Set(
  (YAML.parse(renderRules({ pools: poolFacts(stacks) })).groups as any[]).flatMap((g) =>
    g.rules.filter((r: any) => r.record).map((r: any) => r.record as string),
  ),
);

const allPools = new Set(byPool.keys());

const everyServed = new Set(fleets.flatMap((s) => [...servedSeries(s.fleet)]));

test("seams: every series the Prometheus rules and each region's dashboard read is served by that region's Prometheus-publishing hosts or recorded by a rule", () => {
  const rules = YAML.parse(renderRules({ pools: poolFacts(stacks) })).groups.flatMap((g: any) =>
    g.rules.map((r: any) => r.expr as string),
  );
  const metal = fleets.filter((s) => s.fleet.kind === "metal");
  const siteSeries = new Set([...metal.flatMap((s) => [...servedSeries(s.fleet)]), ...recorded]);
  // a site's Prometheus evaluates the rules over its own hosts' series
  assert.deepEqual(
    rules.flatMap((e: string) => unpublished(e, siteSeries, allPools)),
    [],
  );
  let panels = 0;
  for (const region of dashboardRegions(stacks)) {
    const local = fleets.filter((s) => s.fleet.mediaRegion === region && s.fleet.kind !== "aws");
    const publishers = new Set([...local.flatMap((s) => [...servedSeries(s.fleet)]), ...recorded]);
    const exprs = regionDashboard(region).panels.flatMap((p: any) =>
      (p.targets ?? []).map((t: any) => t.expr as string),
    );
    panels += exprs.length;
    assert.deepEqual(
      exprs.flatMap((e) => unpublished(e, publishers, allPools)),
      [],
      region,
    );
  }
  assert.ok(rules.length > 40 && panels > 20);
});

test("seams: a metal site's Prometheus and a GCP host's Ops Agent scrape the job the rules' up{} reads, keeping the series they read", () => {
  for (const site of prometheusSites(stacks)) {
    const config = YAML.parse(renderPrometheus(site, "rules.yml"));
    assert.deepEqual(
      config.scrape_configs.map((j: any) => j.job_name),
      [HOST_JOB],
    );
  }
  for (const gcp of fleets.filter((s) => s.fleet.kind === "gcp")) {
    const { receivers } = YAML.parse(opsAgentConfig(gcp.fleet)).metrics;
    const [job] = (Object.values(receivers) as any[])[0].config.scrape_configs;
    assert.equal(job.job_name, HOST_JOB);
    const keep = new RegExp(`^(?:${job.metric_relabel_configs[0].regex})$`);
    assert.deepEqual(
      [...servedSeries(gcp.fleet)].filter((n) => !keep.test(n)),
      [],
    );
  }
});

test("seams: each GCP pool's alert policies read series its own hosts send, by its own pool", () => {
  for (const { fleet } of fleets.filter((s) => s.fleet.kind === "gcp")) {
    const policies = gcpAlertPolicies({
      pool: fleet.pool,
      mediaRegion: fleet.mediaRegion,
      maxHosts: fleet.maxHosts,
    });
    const queries = policies.map(
      (p) => (p.args.conditions as any)[0].conditionPrometheusQueryLanguage.query as string,
    );
    assert.deepEqual(
      queries.flatMap((q) => unpublished(q, servedSeries(fleet), new Set([fleet.pool]))),
      [],
      fleet.pool,
    );
    // the autoscaler reads the load gauge the agent writes
    assert.equal(autoscalingPolicy(fleet as any).metrics[0].name, agentConfig(fleet).metric.type);
  }
});

test("seams: each AWS pool's alarms read what its hosts publish, and the counters they publish are ones the agent serves", () => {
  for (const { fleet } of fleets.filter((s) => s.fleet.kind === "aws")) {
    const table = cloudwatchCounters(fleet.pool);
    const config = agentConfig(fleet, undefined, table);
    const { alarms } = awsAlarms({ pool: fleet.pool, mediaRegion: fleet.mediaRegion });
    const read = alarms.flatMap(({ args }) => alarmMetrics(args));
    assert.ok(read.length >= 20);
    assert.deepEqual(unpublishedAlarmMetrics(fleet, table, read), [], fleet.pool);
    // the pool's dashboard: every graph's metric row ([namespace, name, dimension, value, …])
    const rows = awsDashboardBody(fleet, "us-east-1", []).widgets.flatMap((w) =>
      w.type === "metric"
        ? (w.properties.metrics as unknown[][]).filter((r) => typeof r[0] === "string")
        : [],
    );
    const shown = rows.map((r) => {
      const pairs = r.slice(2).filter((x) => typeof x === "string") as string[];
      const dimensions = Object.fromEntries(
        pairs.flatMap((_, i) => (i % 2 ? [] : [[pairs[i], pairs[i + 1]]])),
      );
      return { namespace: r[0] as string, metricName: r[1] as string, dimensions };
    });
    const load = shown.filter((m) => m.metricName === "MediaStreams");
    assert.equal(shown.length, 5 * 2 + 6, fleet.pool);
    assert.deepEqual(
      unpublishedAlarmMetrics(
        fleet,
        table,
        shown.filter((m) => m.metricName !== "MediaStreams"),
      ),
      [],
      fleet.pool,
    );
    // target tracking and the dashboard read the load the agent writes, in its group and its
    // pool's namespace
    assert.deepEqual(
      [config.metric.namespace, config.metric.name, config.metric.autoScalingGroup],
      [`AVFleet/Media/${fleet.pool}`, "MediaStreams", `${fleet.pool}-media`],
    );
    assert.deepEqual(load, [
      {
        namespace: config.metric.namespace,
        metricName: config.metric.name,
        dimensions: config.metric.dimensions,
      },
    ]);
    // ...the one namespace the hosts' role may write, where the alarms' counters are too
    const publish = hostPolicy(fleet as AwsFleetSpec, "arn").Statement.find(
      (st) => st.Action === "cloudwatch:PutMetricData",
    );
    assert.deepEqual(publish && "Condition" in publish && publish.Condition, {
      StringEquals: { "cloudwatch:namespace": config.metric.namespace },
    });
    assert.equal(table.namespace, config.metric.namespace);
    // ...and the termination policy reads each host's calls left at the drain limit under the
    // names the agent publishes them (aws.py left_at_limit: the load's dimensions and InstanceId)
    const termination = terminationConfig(fleet as AwsFleetSpec);
    assert.deepEqual(
      [termination.namespace, termination.metricName, termination.group],
      [
        config.metric.namespace,
        (config.metric.callsLeftAtLimit as Record<string, string>).name,
        (config.metric.dimensions as Record<string, string>).AutoScalingGroupName,
      ],
      fleet.pool,
    );
    // ...and predictive scaling's load queries read it too (beside AWS's own group metrics)
    const predictive = compileAws(fleet as AwsFleetSpec, "us-east-1").predictive;
    const reads = [...JSON.stringify(predictive ?? {}).matchAll(/"namespace":"([^"]*)"/g)]
      .map((m) => m[1])
      .filter((namespace) => !namespace.startsWith("AWS/"));
    assert.deepEqual([...new Set(reads)], predictive ? [config.metric.namespace] : []);
  }
});

test("seams: every query a migration's gates and checks send reads a series the pools' hosts serve, by the pools' own labels", async (t) => {
  const sent: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    sent.push(url.searchParams.get("query")!);
    const range = url.pathname.endsWith("query_range");
    res.end(
      JSON.stringify({
        status: "success",
        data: { resultType: range ? "matrix" : "vector", result: [] },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const region of ["us-west", "eu-west"]) {
    const loaded = loadRunbook(join(ROOT, "runbooks", `${region}.yaml`), STACKS);
    const provider = prometheusProvider({ url, region, retries: 0 });
    const pools = {
      source: loaded.traffic.poolLabels[loaded.runbook.source],
      target: loaded.traffic.poolLabels[loaded.runbook.target],
    };
    for (const unit of planUnits(loaded)) {
      if (unit.kind !== "shift") continue;
      await evaluateGates(unit.gates, pools, provider, 0, 600_000);
    }
    for (const metric of [HEALTHY_HOSTS, ACTIVE_SESSIONS])
      await provider.instant(selector(metric, pools.target), 600_000);
  }
  assert.ok(sent.length > 20, `${sent.length} queries`);
  assert.deepEqual(
    [...new Set(sent)].flatMap((q) => unpublished(q, everyServed, allPools)),
    [],
  );
  // a cohort of a pool's hosts is picked by a label they all carry
  const labels = new Set(sent.flatMap((q) => promqlReads(q).matchers.map(([l]) => l)));
  assert.deepEqual(
    [...labels].filter((l) => !HOST_LABELS.includes(l) && l !== "le"),
    [],
  );
});
