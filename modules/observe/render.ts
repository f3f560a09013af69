/**
 * Everything `avfleet observe render` writes, as files: the rules, their generated promtool
 * tests (beside the rules: promtool resolves rule_files against the test file), and one
 * dashboard per media region.
 */
import type { LoadedStack } from "../config/stack";
import { regionDashboard } from "./dashboards";
import { ruleTests, type TestCase } from "./rule-tests";
import { renderRules, type RuleOptions } from "./rules";

export const RULES_FILE = "rules.yml";

/** The media regions the stacks serve, sorted. */
export function mediaRegions(stacks: LoadedStack[]): string[] {
  const regions = stacks.map((s) => s.fleet?.mediaRegion ?? s.traffic?.mediaRegion);
  return [...new Set(regions.filter((r): r is string => !!r))].sort();
}

export function observeFiles(
  regions: string[],
  options: RuleOptions = {},
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
    ],
    cases: tests.cases,
  };
}
