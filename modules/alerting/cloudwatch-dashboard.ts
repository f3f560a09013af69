/**
 * An AWS pool's CloudWatch dashboard (pure; PoolAlerting declares it): the same figures the
 * Grafana dashboards show for Prometheus pools, read from what the pool's hosts publish to
 * CloudWatch — each SLI's bad share against its budget, kernel and NIC drops, the hosts
 * publishing, the load the group scales on — and the state of the pool's alarms.
 *
 * Body format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
 * (a metric is `[namespace, name, dimension name, value, …, {rendering}]`, an expression
 * `[{expression, id, label}]`; an alarm widget lists alarm ARNs).
 */
import { autoScalingGroupName } from "../host/agent";
import { awsMediaMetric } from "../host/metrics";
import { HOST_THRESHOLDS, SLIS } from "../observe/spec";
import { CLOUDWATCH, cloudwatchCounters, groupMetric, published, type PoolRef } from "./cloud";

/** What the pool's hosts publish, as a metric array row with its rendering options. */
type Row = (string | Record<string, unknown>)[];

interface Widget {
  type: "metric" | "alarm";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

/** A metric as a row of a widget's `metrics`: namespace, name, each dimension, its options. */
function asRow(
  m: { namespace: string; metricName: string; dimensions: Record<string, string> },
  options: Record<string, unknown>,
): Row {
  return [m.namespace, m.metricName, ...Object.entries(m.dimensions).flat(), options];
}

const WIDTH = 8;
const HEIGHT = 6;
/** A dashboard's period: the alarms' shortest window but one (5 minutes). */
const PERIOD = 300;

/** The dashboard's name: the pool's, within CloudWatch's alphanumerics, `-` and `_`. */
export function awsDashboardName(pool: string): string {
  return `avfleet-${pool}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

/**
 * The body of an AWS pool's dashboard; `alarmArns`: its alerts (the alarms that notify, at most
 * the status widget's 100), for the status widget.
 */
export function awsDashboardBody(
  ref: PoolRef,
  region: string,
  alarmArns: string[],
): { periodOverride: "inherit"; widgets: Widget[] } {
  const counters = cloudwatchCounters(ref.pool);
  const row = (name: string, dims: Record<string, string>, options: Record<string, unknown>) =>
    asRow(published(counters, name, dims), options);
  const graph = (
    title: string,
    metrics: Row[],
    extra: Record<string, unknown> = {},
  ): Omit<Widget, "x" | "y"> => ({
    type: "metric",
    width: WIDTH,
    height: HEIGHT,
    properties: {
      title,
      region,
      view: "timeSeries",
      stat: "Sum",
      period: PERIOD,
      metrics,
      ...extra,
    },
  });
  const budgetLine = (label: string, value: number) => ({
    annotations: { horizontal: [{ label, value: +value.toPrecision(6) }] },
    yAxis: { left: { min: 0 } },
  });

  const slis = SLIS.map((sli) => {
    const dims = { Pool: ref.pool, Slo: sli.name };
    return graph(
      `${sli.name}: bad share`,
      [
        row(CLOUDWATCH.badEvents, dims, { id: "bad", visible: false }),
        row(CLOUDWATCH.events, dims, { id: "total", visible: false }),
        [{ expression: "bad / total", id: "share", label: "bad share" }],
      ],
      budgetLine("budget", 1 - sli.objective),
    );
  });
  const pool = { Pool: ref.pool };
  const media = awsMediaMetric(ref.pool);
  const hosts = [
    graph(
      "UDP receive-buffer drops: share of datagrams",
      [
        row(CLOUDWATCH.rcvbufErrors, pool, { id: "drops", visible: false }),
        row(CLOUDWATCH.inDatagrams, pool, { id: "datagrams", visible: false }),
        // as the alarm divides
        [{ expression: "drops / datagrams", id: "share", label: "dropped per datagram" }],
      ],
      budgetLine("alert", HOST_THRESHOLDS.rcvbufDropRatio),
    ),
    graph("Packets over the NIC allowance", [
      row(CLOUDWATCH.allowance, pool, { label: "allowance exceeded" }),
    ]),
    // one UdpInDatagrams point per serving host and period (the silence alarm reads the same),
    // beside the hosts the group has in service
    graph("Hosts publishing, hosts in service", [
      row(CLOUDWATCH.inDatagrams, pool, { id: "points", stat: "SampleCount", visible: false }),
      [
        {
          expression: `points / (PERIOD(points) / ${counters.periodSec})`,
          id: "hosts",
          label: "publishing",
        },
      ],
      asRow(groupMetric(ref.pool), { stat: "Average", label: "in service" }),
    ]),
    graph(
      "Media streams (the group's scaling metric)",
      [
        [
          media.namespace,
          media.name,
          "AutoScalingGroupName",
          autoScalingGroupName(ref.pool),
          { stat: "Average", label: "average of the hosts' points" },
        ],
      ],
      { stat: "Average" },
    ),
  ];
  const alarms: Omit<Widget, "x" | "y"> = {
    type: "alarm",
    width: 24,
    height: 4,
    properties: { title: `${ref.pool}: alerts`, alarms: alarmArns },
  };
  // three graphs a row under the alarms' states
  const graphs = [...slis, ...hosts].map((w, i) => ({
    ...w,
    x: (i % 3) * WIDTH,
    y: alarms.height + Math.floor(i / 3) * HEIGHT,
  }));
  // each graph keeps its own period whatever the time range shown ("hosts" divides by it)
  return { periodOverride: "inherit", widgets: [{ ...alarms, x: 0, y: 0 }, ...graphs] };
}
