/**
 * `promtool test rules` files generated from the spec, never written by hand: for every burn
 * alert a must-fire case per window pair (a burn just over the pair's factor fires within the
 * pair's long window) and a must-not-fire case (a 1× burn over 30 days never pages; half the
 * budget never opens a ticket); for every host alert a firing and a quiet host.
 */
import { stringify } from "yaml";
import { HEALTHY_HOSTS } from "../gates/slo";
import { burnAnnotations, DEFAULT_RUNBOOK_BASE, hostGroup, num } from "./rules";
import {
  BURN_ALERTS,
  burnAlertName,
  duration,
  effectiveFactor,
  HOST_JOB,
  HOST_METRICS,
  MAX_HOSTS,
  PERIOD_S,
  SLIS,
  type Sli,
} from "./spec";

export const TEST_LABELS = { region: "test-region", pool: "test-pool" } as const;
const HOST_LABELS = { ...TEST_LABELS, host: "test-host", zone: "test-zone-a" };
/** Cases over longer windows evaluate hourly, in the long file. */
const FAST_MAX_S = 3600;
/** Events a minute in generated series: enough that ratios land on round numbers. */
const PER_MINUTE = 1000;

export interface TestCase {
  alert: string;
  kind: "must-fire" | "must-not-fire";
  /** What the case feeds, for humans and the bench. */
  what: string;
  file: string;
}

interface Series {
  series: string;
  values: string;
}

interface PromtoolTest {
  name: string;
  interval: string;
  input_series: Series[];
  alert_rule_test: {
    eval_time: string;
    alertname: string;
    exp_alerts: { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }[];
  }[];
}

export interface GeneratedTests {
  files: { name: string; text: string }[];
  cases: TestCase[];
}

function seriesText(metric: string, labels: Record<string, string>): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  return `${metric}{${body}}`;
}

/** Counters growing by `perMinute` for `minutes`, or a gauge held at `value` (step 0). */
function counter(
  metric: string,
  labels: Record<string, string>,
  perMinute: number,
  minutes: number,
) {
  return { series: seriesText(metric, labels), values: `0+${perMinute}x${minutes}` };
}

function gauge(metric: string, labels: Record<string, string>, value: number, minutes: number) {
  return { series: seriesText(metric, labels), values: `${value}+0x${minutes}` };
}

/** `n` host names, for series one per host. */
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `host-${i + 1}`);

function expand(text: string, labels: Record<string, string>): string {
  return text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? "");
}

/** Input series of an SLI burning `ratio` of its events bad for `minutes`. */
function burnSeries(sli: Sli, ratio: number, minutes: number): Series[] {
  const bad = Math.round(ratio * PER_MINUTE);
  return sli
    .feed(bad, PER_MINUTE)
    .map(([metric, extra, n]) => counter(metric, { ...TEST_LABELS, ...extra }, n, minutes));
}

function burnCases(sli: Sli, base: string) {
  const fast: PromtoolTest[] = [];
  const slow: PromtoolTest[] = [];
  const cases: (Omit<TestCase, "file"> & { slow: boolean })[] = [];
  const budget = 1 - sli.objective;
  for (const alert of BURN_ALERTS) {
    const name = burnAlertName(sli, alert.severity);
    const labels = { severity: alert.severity, slo: sli.name, ...TEST_LABELS };
    const annotations = burnAnnotations(sli, alert, base);
    const firing = [
      {
        exp_labels: labels,
        exp_annotations: Object.fromEntries(
          Object.entries(annotations).map(([k, v]) => [k, expand(v, labels)]),
        ),
      },
    ];
    for (const w of alert.windows) {
      const threshold = effectiveFactor(sli, w.factor) * budget;
      const ratio = Math.min(0.99, threshold * 1.1);
      const what = `${num(ratio / budget)}× burn (${num(ratio * 100)} % bad) for ${duration(w.long)}`;
      (w.long > FAST_MAX_S ? slow : fast).push({
        name: `${name} must fire: ${what}`,
        interval: "1m",
        input_series: burnSeries(sli, ratio, w.long / 60 + 5),
        alert_rule_test: [{ eval_time: duration(w.long), alertname: name, exp_alerts: firing }],
      });
      cases.push({ alert: name, kind: "must-fire", what, slow: w.long > FAST_MAX_S });
    }
    // Pages: the whole budget spent evenly over the period is no emergency. Tickets: half of it.
    const burn = alert.severity === "page" ? 1 : 0.5;
    const span =
      alert.severity === "page" ? PERIOD_S : Math.max(...alert.windows.map((w) => w.long));
    const what = `${burn}× burn for ${duration(span)}`;
    const checks = [3600, 6 * 3600, 86400, 3 * 86400, PERIOD_S].filter((t) => t <= span);
    slow.push({
      name: `${name} must not fire: ${what}`,
      interval: "1m",
      input_series: burnSeries(sli, burn * budget, span / 60),
      alert_rule_test: checks.map((t) => ({
        eval_time: duration(t),
        alertname: name,
        exp_alerts: [],
      })),
    });
    cases.push({ alert: name, kind: "must-not-fire", what, slow: true });
  }
  return { fast, slow, cases };
}

/** Per host alert: input series that fire it and that keep it quiet, over 40 minutes. */
function hostCases(base: string) {
  const m = HOST_METRICS;
  const minutes = 40;
  const h = HOST_LABELS;
  const { region, pool } = TEST_LABELS;
  const instance = { job: HOST_JOB, instance: "test-host:9100" };
  const inputs: Record<
    string,
    { fire: Series[]; quiet: Series[]; labels: Record<string, string>; what: [string, string] }
  > = {
    AvfleetHostUdpReceiveBufferDrops: {
      fire: [counter(m.inDatagrams, h, 60000, minutes), counter(m.rcvbufErrors, h, 600, minutes)],
      quiet: [counter(m.inDatagrams, h, 60000, minutes), counter(m.rcvbufErrors, h, 6, minutes)],
      labels: h,
      what: ["1 % of datagrams dropped", "0.01 % dropped"],
    },
    AvfleetHostNicAllowanceExceeded: {
      fire: [counter(m.allowance, { ...h, counter: "pps_allowance_exceeded" }, 60, minutes)],
      quiet: [counter(m.allowance, { ...h, counter: "pps_allowance_exceeded" }, 0, minutes)],
      labels: { ...h, counter: "pps_allowance_exceeded" },
      what: ["1 packet/s over the allowance", "a flat allowance counter"],
    },
    AvfleetHostTuningDrift: {
      fire: [gauge(m.tuningDrift, h, 2, minutes)],
      quiet: [gauge(m.tuningDrift, h, 0, minutes)],
      labels: h,
      what: ["2 settings in drift", "no drift"],
    },
    AvfleetHostAgentDown: {
      fire: [gauge("up", instance, 0, minutes)],
      quiet: [gauge("up", instance, 1, minutes)],
      labels: instance,
      what: ["scrapes failing", "scrapes answered"],
    },
    // as the agents publish it: 1 per serving host
    AvfleetPoolAtMaxHosts: {
      fire: [
        ...hosts(10).map((host) => gauge(HEALTHY_HOSTS, { region, pool, host }, 1, minutes)),
        gauge(MAX_HOSTS, { region, pool }, 10, minutes),
      ],
      quiet: [
        ...hosts(8).map((host) => gauge(HEALTHY_HOSTS, { region, pool, host }, 1, minutes)),
        gauge(MAX_HOSTS, { region, pool }, 10, minutes),
      ],
      labels: { region, pool },
      what: ["10 of at most 10 hosts", "8 of at most 10 hosts"],
    },
  };
  const tests: PromtoolTest[] = [];
  const cases: Omit<TestCase, "file">[] = [];
  for (const rule of hostGroup({ runbookBase: base }).rules) {
    const input = inputs[rule.alert!];
    const labels = { ...input.labels, ...rule.labels };
    const eval_time = `${minutes}m`;
    tests.push(
      {
        name: `${rule.alert} must fire: ${input.what[0]}`,
        interval: "1m",
        input_series: input.fire,
        alert_rule_test: [
          {
            eval_time,
            alertname: rule.alert!,
            exp_alerts: [
              {
                exp_labels: labels,
                exp_annotations: Object.fromEntries(
                  Object.entries(rule.annotations!).map(([k, v]) => [k, expand(v, labels)]),
                ),
              },
            ],
          },
        ],
      },
      {
        name: `${rule.alert} must not fire: ${input.what[1]}`,
        interval: "1m",
        input_series: input.quiet,
        alert_rule_test: [{ eval_time, alertname: rule.alert!, exp_alerts: [] }],
      },
    );
    cases.push(
      { alert: rule.alert!, kind: "must-fire", what: input.what[0] },
      { alert: rule.alert!, kind: "must-not-fire", what: input.what[1] },
    );
  }
  return { tests, cases };
}

/**
 * The test files for a rules file named `rulesFile` beside them. Cases over windows longer than
 * an hour evaluate hourly (minutely evaluations of day-long windows take promtool minutes);
 * their input stays minutely, so every window sees what Prometheus would.
 */
export function ruleTests(
  rulesFile: string,
  runbookBase = DEFAULT_RUNBOOK_BASE,
  only: (alert: string) => boolean = () => true,
): GeneratedTests {
  const fast: PromtoolTest[] = [];
  const slow: PromtoolTest[] = [];
  const cases: TestCase[] = [];
  const FAST = "tests.yml";
  const SLOW = "tests-long.yml";
  for (const sli of SLIS) {
    const b = burnCases(sli, runbookBase);
    fast.push(...b.fast);
    slow.push(...b.slow);
    cases.push(...b.cases.map(({ slow: s, ...c }) => ({ ...c, file: s ? SLOW : FAST })));
  }
  const host = hostCases(runbookBase);
  fast.push(...host.tests);
  cases.push(...host.cases.map((c) => ({ ...c, file: FAST })));
  const file = (evaluation_interval: string, tests: PromtoolTest[]) =>
    stringify(
      {
        rule_files: [rulesFile],
        evaluation_interval,
        tests: tests.filter((t) => only(t.alert_rule_test[0].alertname)),
      },
      { lineWidth: 0 },
    );
  return {
    files: [
      { name: FAST, text: file("1m", fast) },
      { name: SLOW, text: file("1h", slow) },
    ],
    cases: cases.filter((c) => only(c.alert)),
  };
}
