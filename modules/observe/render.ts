/**
 * Everything `avfleet observe render` writes, as files: the rules, their generated promtool
 * tests (beside the rules: promtool resolves rule_files against the test file), one
 * dashboard per media region, and each bare-metal site's Alertmanager configuration and
 * Prometheus (its prometheus.yml and the targets file of its hosts).
 */
import type { MetalReceiver, Severity } from "../config/notify.schema";
import type { LoadedStack } from "../stacks/stack";
import { renderAlertmanager, type AlertmanagerOptions } from "./alertmanager";
import { regionDashboard } from "./dashboards";
import {
  prometheusFile,
  renderPrometheus,
  siteTargets,
  targetsFile,
  type PrometheusOptions,
  type PrometheusSite,
} from "./prometheus";
import { ruleTests, type TestCase } from "./rule-tests";
import { renderRules, type PoolFacts, type RuleOptions } from "./rules";

export const RULES_FILE = "rules.yml";

/**
 * The media regions whose pools' hosts publish Prometheus series, sorted: a dashboard each. A
 * metal site's go to its Prometheus, a GCP pool's to Managed Service for Prometheus; an AWS
 * pool's go to CloudWatch, so a region of AWS pools alone would get a dashboard of empty panels.
 */
export function dashboardRegions(stacks: LoadedStack[]): string[] {
  const regions = stacks.flatMap((s) =>
    s.fleet && s.fleet.kind !== "aws" ? [s.fleet.mediaRegion] : [],
  );
  return [...new Set(regions)].sort();
}

/** A bare-metal site whose Prometheus rules Alertmanager routes. */
export interface AlertmanagerSite {
  stack: string;
  pool: string;
  notify: Record<Severity, MetalReceiver>;
}

/**
 * What the stacks declare of each pool that its hosts do not know: an autoscaled pool's ceiling,
 * and every pool's weight in its region's traffic split (by the pool's label, not its stack).
 */
export function poolFacts(stacks: LoadedStack[]): PoolFacts[] {
  const fleets = new Map(stacks.flatMap((s) => (s.fleet ? [[s.name, s.fleet] as const] : [])));
  const weights = new Map(
    stacks.flatMap((s) => s.traffic?.pools.map((p) => [p.stack, p.weight] as const) ?? []),
  );
  return [...fleets].map(([stack, fleet]) => ({
    pool: fleet.pool,
    region: fleet.mediaRegion,
    ...(fleet.kind !== "metal" ? { maxHosts: fleet.maxHosts } : {}),
    ...(weights.has(stack) ? { weight: weights.get(stack) } : {}),
  }));
}

export const alertmanagerFile = (stack: string) => `alertmanager/${stack}.yml`;

/** The bare-metal stacks and where each sends its alerts; a stack that says nowhere has none. */
export function alertmanagerSites(stacks: LoadedStack[]): {
  sites: AlertmanagerSite[];
  without: string[];
} {
  const metal = stacks.filter((s) => s.fleet?.kind === "metal");
  return {
    sites: metal.flatMap((s) =>
      s.fleet?.kind === "metal" && s.fleet.alerting
        ? [{ stack: s.name, pool: s.fleet.pool, notify: s.fleet.alerting.notify }]
        : [],
    ),
    without: metal.filter((s) => !s.fleet?.alerting).map((s) => s.name),
  };
}

export function observeFiles(
  regions: string[],
  options: RuleOptions & AlertmanagerOptions & PrometheusOptions = {},
  sites: AlertmanagerSite[] = [],
  prometheus: PrometheusSite[] = [],
): { files: { path: string; text: string }[]; cases: TestCase[] } {
  const tests = ruleTests(RULES_FILE, options.runbookBase);
  return {
    files: [
      { path: RULES_FILE, text: renderRules(options) },
      ...tests.files.map((f) => ({ path: f.name, text: f.text })),
      ...regions.map((r) => ({
        path: `dashboards/${r}.json`,
        text: `${JSON.stringify(regionDashboard(r), null, 2)}\n`,
      })),
      ...sites.map((s) => ({
        path: alertmanagerFile(s.stack),
        text: renderAlertmanager(s.pool, s.notify, options),
      })),
      ...prometheus.flatMap((s) => [
        { path: prometheusFile(s.stack), text: renderPrometheus(s, RULES_FILE, options) },
        { path: targetsFile(s.stack), text: `${JSON.stringify(siteTargets(s), null, 2)}\n` },
      ]),
    ],
    cases: tests.cases,
  };
}
