import { spawnSync } from "node:child_process";
import { COMPARISONS } from "../../modules/gates/compare";
import { SLO_NAMES } from "../../modules/gates/slo";

/**
 * What promtool finds wrong in an exposition, a line each (parse errors exit 1, lint problems
 * 3; anything but 0 or 3 is a problem of its own). The one
 * problem it may report is the name the gates read the ended calls by: its lint refuses "summary"
 * in a name (a metric type's name), and `avfleet_session_summary_<figure>` is the name every
 * reader of the fleet (gates, rules, dashboards, the rehearsal world) uses.
 */
export function promtoolProblems(text: string): string[] {
  const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (lint.status !== 0 && lint.status !== 3)
    return [`promtool exited ${lint.status}: ${lint.stdout}${lint.stderr}`];
  const named = new Set(SLO_NAMES.map((slo) => COMPARISONS[slo].summaryMetric));
  return `${lint.stdout}${lint.stderr}`
    .split("\n")
    .filter(Boolean)
    .filter((line) => {
      const [name, ...rest] = line.split(" ");
      return !(
        named.has(name) && rest.join(" ") === "metric name should not include type 'summary'"
      );
    });
}
