/**
 * The spec's alerts for one pool as cloud alerting, so a stack brings its own (pure; the
 * PoolAlerting component declares them):
 * - GCP: Cloud Monitoring alert policies with PromQL conditions over Managed Service for
 *   Prometheus. A policy's condition runs one raw query (no recording rules there), so each
 *   burn condition inlines its windows' ratios, narrowed to the pool.
 * - AWS: CloudWatch has no PromQL. Per window a metric-math alarm on bad/total events the host
 *   agent publishes (cloudwatchCounters: the one table of what it publishes and the alarms
 *   read); per alert a composite alarm: any pair with both windows in ALARM. Period × evaluation periods stays within CloudWatch's limits
 *   (≤ 1 day under 1 h periods, ≤ 7 days otherwise): one evaluation period of the window.
 */
import type * as aws from "@pulumi/aws";
import type * as gcp from "@pulumi/gcp";
import type { Severity } from "../config/notify.schema";
import { autoScalingGroupName, type CloudWatchCounters, type CounterTerm } from "../host/agent";
import { HOST_METRIC_FAMILIES } from "../host-series/exporter";
import { awsMediaMetric } from "../host/metrics";
import { GROUP_METRICS } from "../fleets/aws-args";
import { burnAnnotations, DEFAULT_RUNBOOK_BASE, num, scaled } from "../observe/rules";
import {
  BURN_ALERTS,
  burnAlertName,
  duration,
  effectiveFactor,
  HEALTHY_HOSTS,
  hostAlerts,
  HOST_THRESHOLDS,
  SLIS,
  type BurnAlert,
  type Sli,
} from "../observe/spec";

export interface PoolRef {
  pool: string;
  mediaRegion: string;
  /** The pool's ceiling (its stack's maxHosts): the at-max policy compares healthy hosts with it. */
  maxHosts?: number;
  /** The pool's floor (its stack's minHosts): a pool that may scale to 0 hosts may fall silent. */
  minHosts?: number;
}

/**
 * A pool whose hosts publish nothing: every burn and host alert on it reads no data and stays
 * quiet (CloudWatch's `notBreaching`, an empty PromQL vector), so silence itself pages. Twenty
 * minutes without a point: long enough for a new pool's first hosts to boot and publish (a GCP
 * host also installs the Ops Agent), short next to the burn alerts' hour. Not for a pool that
 * may scale to zero, nor on metal, where Prometheus's own `up` of each target says it
 * (AvfleetHostAgentDown).
 */
export const POOL_SILENT = {
  alert: "AvfleetPoolSilent",
  silentSec: 1200,
  severity: "page" as Severity,
  summary: "Pool {{ $labels.pool }} publishes no metrics: every alert on it is blind",
  description:
    "No host of the pool has published a metric for 20 minutes. Either it has no serving host or its hosts' agents (or on GCP the Ops Agent) cannot write: check the hosts' agent journal and their role's write grant.",
};

const silenceWatched = (ref: PoolRef) => ref.minHosts !== 0;

/** The metrics the host agent publishes to CloudWatch on AWS besides its load. */
export const CLOUDWATCH = {
  events: "SessionEvents",
  badEvents: "SessionBadEvents",
  rcvbufErrors: "UdpRcvbufErrors",
  inDatagrams: "UdpInDatagrams",
  allowance: "NicAllowanceExceeded",
} as const;

const SEVERITY = { page: "CRITICAL", ticket: "WARNING" } as const;

/** A host family's counter, all of its series. */
const hostCounter = (key: keyof typeof HOST_METRIC_FAMILIES): CounterTerm[] => [
  { family: HOST_METRIC_FAMILIES[key].name, match: {}, sign: 1 },
];

/**
 * What an AWS pool's hosts publish and its alarms read: each SLI's bad and total events
 * ({Pool, Slo}) and the host drop counters ({Pool}), as the increase of the counters the spec
 * names over each period. The agent publishes one point per metric and period; an alarm's Sum
 * over a window adds the pool's hosts up.
 */
export function cloudwatchCounters(pool: string, periodSec = 60): CloudWatchCounters {
  const metric = (name: string, dimensions: Record<string, string>, terms: CounterTerm[]) => ({
    name,
    unit: "Count" as const,
    dimensions,
    terms,
  });
  return {
    // The load's namespace, the pool's own: the only one its hosts' role may write
    // (modules/fleets/aws-args.ts hostPolicy), so another pool's hosts cannot raise its alarms.
    namespace: awsMediaMetric(pool).namespace,
    periodSec,
    metrics: [
      ...SLIS.flatMap((sli) => {
        const dims = { Pool: pool, Slo: sli.name };
        return [
          metric(CLOUDWATCH.badEvents, dims, sli.events.bad),
          metric(CLOUDWATCH.events, dims, sli.events.total),
        ];
      }),
      metric(CLOUDWATCH.rcvbufErrors, { Pool: pool }, hostCounter("rcvbufErrors")),
      metric(CLOUDWATCH.inDatagrams, { Pool: pool }, hostCounter("inDatagrams")),
      metric(CLOUDWATCH.allowance, { Pool: pool }, hostCounter("allowance")),
    ],
  };
}

/** A metric the pool's group publishes itself (GROUP_METRICS: every pool's group collects them). */
export function groupMetric(
  pool: string,
  metricName: (typeof GROUP_METRICS)[number] = "GroupInServiceInstances",
) {
  return {
    namespace: "AWS/AutoScaling",
    metricName,
    dimensions: { AutoScalingGroupName: autoScalingGroupName(pool) },
  };
}

/** The table's metric of that name and dimensions: an alarm reads only what hosts publish. */
export function published(
  counters: CloudWatchCounters,
  name: string,
  dims: Record<string, string>,
): { namespace: string; metricName: string; dimensions: Record<string, string> } {
  const m = counters.metrics.find(
    (c) => c.name === name && JSON.stringify(c.dimensions) === JSON.stringify(dims),
  );
  if (!m) throw new Error(`no host publishes ${name} ${JSON.stringify(dims)}`);
  return { namespace: counters.namespace, metricName: m.name, dimensions: m.dimensions };
}

/** The burn condition of one alert on one pool, as one PromQL query. */
export function poolBurnQuery(sli: Sli, alert: BurnAlert, pool: string): string {
  const match = `pool="${pool}"`;
  const ratio = (seconds: number) => {
    const w = duration(seconds);
    return `${sli.bad(w, match)} / ${sli.total(w, match)}`;
  };
  return alert.windows
    .map((w) => {
      const threshold = num(effectiveFactor(sli, w.factor) * (1 - sli.objective));
      return `((${ratio(w.long)}) > ${threshold} and (${ratio(w.short)}) > ${threshold})`;
    })
    .join(" or ");
}

type PolicyArgs = Omit<gcp.monitoring.AlertPolicyArgs, "project">;

function policy(
  name: string,
  ref: PoolRef,
  severity: Severity,
  query: string,
  forSeconds: number,
  group: string,
  docs: { summary: string; description: string; runbook_url: string },
): { role: string; args: PolicyArgs; severity: Severity } {
  const expand = (text: string) =>
    text
      .replace(/\{\{ \$labels\.pool \}\}/g, ref.pool)
      .replace(/\{\{ \$labels\.region \}\}/g, ref.mediaRegion);
  return {
    severity,
    role: name
      .replace(/^Avfleet/, "")
      .replace(/[A-Z]/g, (c, i) => `${i ? "-" : ""}${c.toLowerCase()}`),
    args: {
      displayName: `${name} ${ref.pool}`,
      combiner: "OR",
      severity: SEVERITY[severity],
      conditions: [
        {
          displayName: name,
          conditionPrometheusQueryLanguage: {
            query,
            duration: `${forSeconds}s`,
            evaluationInterval: "60s",
            alertRule: name,
            ruleGroup: group,
            labels: { severity, pool: ref.pool, region: ref.mediaRegion },
            // Cloud Monitoring refuses a policy on a metric it has not received yet, and a new
            // pool's hosts publish theirs only once they run (hashicorp/terraform-provider-google
            // #20491; the field's own documentation: "disable metric existence validation").
            disableMetricValidation: true,
          },
        },
      ],
      documentation: {
        mimeType: "text/markdown",
        subject: expand(docs.summary),
        content: `${expand(docs.description)}\n\nRunbook: ${docs.runbook_url}`,
      },
      userLabels: { "media-region": ref.mediaRegion, pool: ref.pool, severity },
    },
  };
}

/** Every alert of the spec as a GCP alert policy on the pool. */
export function gcpAlertPolicies(
  ref: PoolRef,
  runbookBase = DEFAULT_RUNBOOK_BASE,
): { role: string; args: PolicyArgs; severity: Severity }[] {
  const burns = SLIS.flatMap((sli) =>
    BURN_ALERTS.map((alert) =>
      policy(
        burnAlertName(sli, alert.severity),
        ref,
        alert.severity,
        poolBurnQuery(sli, alert, ref.pool),
        alert.for,
        `avfleet-slo-${sli.name}`,
        burnAnnotations(sli, alert, runbookBase),
      ),
    ),
  );
  const hosts = hostAlerts(scaled(300), `pool="${ref.pool}"`, ref.maxHosts).map((a) =>
    policy(a.alert, ref, a.severity, a.expr, a.for, "avfleet-hosts", {
      summary: a.summary.replace(/\{\{ \$labels\.\w+ \}\}/g, "a host"),
      description: a.description,
      runbook_url: `${runbookBase}#${a.alert.toLowerCase()}`,
    }),
  );
  // absent_over_time (Prometheus ≥ 2.16; Managed Service for Prometheus is at parity with 2.44
  // but for staleness, which this does not need:
  // https://cloud.google.com/stackdriver/docs/managed-prometheus/promql-differences) is 1 once
  // the pool's series have had no sample for its window; `for` makes up the rest.
  const silentWindow = 300;
  const silent = silenceWatched(ref)
    ? [
        policy(
          POOL_SILENT.alert,
          ref,
          POOL_SILENT.severity,
          `absent_over_time(${HEALTHY_HOSTS}{pool="${ref.pool}"}[${duration(silentWindow)}])`,
          POOL_SILENT.silentSec - silentWindow,
          "avfleet-hosts",
          {
            summary: POOL_SILENT.summary,
            description: POOL_SILENT.description,
            runbook_url: `${runbookBase}#${POOL_SILENT.alert.toLowerCase()}`,
          },
        ),
      ]
    : [];
  return [...burns, ...hosts, ...silent];
}

type AlarmArgs = aws.cloudwatch.MetricAlarmArgs & { name: string };

function ratioAlarm(
  name: string,
  description: string,
  seconds: number,
  threshold: number,
  bad: ReturnType<typeof published>,
  total: ReturnType<typeof published>,
  tags?: Record<string, string>,
): AlarmArgs {
  const metric = (m: typeof bad) => ({ ...m, period: seconds, stat: "Sum" });
  return {
    name,
    ...(tags ? { tags } : {}),
    alarmDescription: description,
    comparisonOperator: "GreaterThanThreshold",
    threshold,
    evaluationPeriods: 1,
    // no sessions, no burn
    treatMissingData: "notBreaching",
    metricQueries: [
      { id: "bad", metric: metric(bad), returnData: false },
      { id: "total", metric: metric(total), returnData: false },
      { id: "ratio", expression: "bad / total", label: "bad share", returnData: true },
    ],
  };
}

/** A CloudWatch metric an alarm reads: its namespace, name and dimensions. */
export interface AlarmMetric {
  namespace?: string;
  metricName?: string;
  dimensions?: Record<string, string>;
}

/** The metrics one metric alarm reads: its metric-math queries' metrics, or its own metric. */
export function alarmMetrics(alarm: {
  metricQueries?: unknown;
  namespace?: unknown;
  metricName?: unknown;
  dimensions?: unknown;
}): AlarmMetric[] {
  const queries = (alarm.metricQueries ?? []) as { metric?: AlarmMetric }[];
  return [
    ...queries.flatMap((q) => (q.metric ? [q.metric] : [])),
    ...(alarm.metricName ? [alarm as AlarmMetric] : []),
  ];
}

export interface AwsAlarms {
  /**
   * `severity` marks an alarm that is an alert of its own and notifies; a window of a burn
   * alert has none: it notifies only through its composite, or each window would page alone.
   */
  alarms: { role: string; args: AlarmArgs; severity?: Severity }[];
  composites: {
    role: string;
    args: aws.cloudwatch.CompositeAlarmArgs;
    alarms: string[];
    severity: Severity;
  }[];
}

/** The burn alerts as composite alarms over per-window alarms, and the host drop alarms. */
export function awsAlarms(ref: PoolRef, runbookBase = DEFAULT_RUNBOOK_BASE): AwsAlarms {
  const out: AwsAlarms = { alarms: [], composites: [] };
  const prefix = `avfleet-${ref.pool}`;
  const counters = cloudwatchCounters(ref.pool);
  for (const sli of SLIS) {
    const dims = { Pool: ref.pool, Slo: sli.name };
    for (const alert of BURN_ALERTS) {
      const alertName = burnAlertName(sli, alert.severity);
      const pairs: string[] = [];
      const members: string[] = [];
      for (const w of alert.windows) {
        const threshold = Number(num(effectiveFactor(sli, w.factor) * (1 - sli.objective)));
        const names = [w.long, w.short].map((s) => {
          const name = `${prefix}-${sli.name}-${alert.severity}-${duration(w.long)}-${duration(s)}`;
          out.alarms.push({
            role: name.slice(prefix.length + 1),
            args: ratioAlarm(
              name,
              `${sli.name} bad share over ${duration(s)} above ${threshold} (${alertName}, pair ${duration(w.long)})`,
              s,
              threshold,
              published(counters, CLOUDWATCH.badEvents, dims),
              published(counters, CLOUDWATCH.events, dims),
            ),
          });
          return name;
        });
        members.push(...names);
        pairs.push(`(${names.map((n) => `ALARM("${n}")`).join(" AND ")})`);
      }
      const docs = burnAnnotations(sli, alert, runbookBase);
      out.composites.push({
        role: `${sli.name}-${alert.severity}`,
        alarms: members,
        severity: alert.severity,
        args: {
          alarmName: `${prefix}-${alertName}`,
          alarmRule: pairs.join(" OR "),
          alarmDescription: `${docs.summary.replace("{{ $labels.pool }}", ref.pool).replace("{{ $labels.region }}", ref.mediaRegion)}. Runbook: ${docs.runbook_url}`,
          tags: { "media-region": ref.mediaRegion, pool: ref.pool, severity: alert.severity },
        },
      });
    }
  }
  const pool = { Pool: ref.pool };
  const [drops, allowance] = hostAlerts(scaled(300));
  const tags = (severity: Severity) => ({
    "media-region": ref.mediaRegion,
    pool: ref.pool,
    severity,
  });
  out.alarms.push(
    {
      role: "udp-receive-buffer-drops",
      severity: drops.severity,
      args: ratioAlarm(
        `${prefix}-udp-receive-buffer-drops`,
        `${drops.summary.replace("{{ $labels.host }}", `a host of ${ref.pool}`)}. ${drops.description}`,
        300,
        HOST_THRESHOLDS.rcvbufDropRatio,
        published(counters, CLOUDWATCH.rcvbufErrors, pool),
        published(counters, CLOUDWATCH.inDatagrams, pool),
        tags(drops.severity),
      ),
    },
    {
      role: "nic-allowance-exceeded",
      severity: allowance.severity,
      args: {
        tags: tags(allowance.severity),
        name: `${prefix}-nic-allowance-exceeded`,
        alarmDescription: `${allowance.description}`,
        ...published(counters, CLOUDWATCH.allowance, pool),
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      },
    },
  );
  if (silenceWatched(ref)) {
    // Each serving host publishes UdpInDatagrams every period, zero or not (the agent's
    // count()), so its SampleCount counts the hosts publishing. Silence is a pool with hosts in
    // service (its group's GroupInServiceInstances, collected for every pool) and no point: a
    // new pool's alarm, or a pool between hosts, reads no host in service and stays OK.
    // FILL turns a period without a point into 0: missing data alone would be judged over
    // CloudWatch's wider evaluation range, where one old point keeps the alarm OK
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html;
    // FILL, IF, AND: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
    const period = 300;
    const points = {
      ...published(counters, CLOUDWATCH.inDatagrams, pool),
      period,
      stat: "SampleCount",
    };
    const inService = { ...groupMetric(ref.pool), period, stat: "Minimum" };
    out.alarms.push({
      role: "pool-silent",
      severity: POOL_SILENT.severity,
      args: {
        tags: tags(POOL_SILENT.severity),
        name: `${prefix}-pool-silent`,
        alarmDescription: `${POOL_SILENT.summary.replace("{{ $labels.pool }}", ref.pool)}. ${POOL_SILENT.description}`,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        evaluationPeriods: POOL_SILENT.silentSec / period,
        datapointsToAlarm: POOL_SILENT.silentSec / period,
        treatMissingData: "notBreaching",
        metricQueries: [
          { id: "points", metric: points, returnData: false },
          { id: "serving", metric: inService, returnData: false },
          {
            id: "silent",
            expression: "IF(FILL(serving, 0) > 0 AND FILL(points, 0) == 0, 1, 0)",
            label: "hosts in service, none publishing",
            returnData: true,
          },
        ],
      },
    });
  }
  return out;
}
