/** avfleet observe render — alert rules, their generated tests and dashboards, from the SLO spec. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEFAULT_STACKS_DIR, listStacks, loadStacks } from "../../modules/stacks/stack";
import {
  alertmanagerSites,
  dashboardRegions,
  observeFiles,
  poolFacts,
} from "../../modules/observe/render";
import { prometheusSites } from "../../modules/observe/prometheus";
import { DEFAULT_RUNBOOK_BASE } from "../../modules/observe/rules";
import { EXIT, UsageError, parseCommandArgs, progress, type Command } from "../cli";

export const command: Command = {
  summary: "render Prometheus alert rules, their promtool tests and Grafana dashboards",
  help: `
Usage: avfleet observe render --out DIR [--stacks-dir DIR] [--runbook-base URL] [--json]

Writes, from the media SLOs (modules/gates/slo.ts) and the spec in modules/observe:
  DIR/rules.yml             recording rules per SLI and window; page and ticket burn-rate
                            alerts per SLI; host alerts (UDP buffer drops, cloud allowance,
                            tuning drift, agent down, pool at its host ceiling)
  DIR/tests.yml             promtool tests: must-fire cases up to 1 h windows, host alerts
  DIR/tests-long.yml        promtool tests over 6 h to 30-day windows (a few minutes)
  DIR/dashboards/<r>.json   a Grafana dashboard per media region whose pools publish to Prometheus (metal, GCP)
  DIR/alertmanager/<s>.yml  per bare-metal stack with alerting.notify: Alertmanager routing
                            severity page and ticket to the stack's receivers
  DIR/prometheus/<s>.yml    per bare-metal stack: the site's Prometheus, scraping its hosts'
                            agents, loading DIR/rules.yml, sending to its Alertmanager on
                            127.0.0.1:9093 (when it has alerting.notify)
  DIR/prometheus/<s>.targets.json  its hosts (file_sd: every host not retired, private address,
                            labels pool, region, site)

Check them with: promtool check rules DIR/rules.yml && promtool test rules DIR/tests*.yml
                 amtool check-config DIR/alertmanager/*.yml
                 promtool check config DIR/prometheus/<s>.yml

Options:
  --out DIR            where to write (created)
  --stacks-dir DIR     stack files whose media regions get dashboards (default ${DEFAULT_STACKS_DIR});
                       --stacks DIR is its old name, still accepted with a warning
  --runbook-base URL   alerts link <URL>#<alert name in lower case> (default ${DEFAULT_RUNBOOK_BASE},
                       whose "Observe runbooks" section has one entry per alert)
  --json               print {"files":[...],"cases":[{"alert","kind","what","file"}]}`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      out: { type: "string" },
      "stacks-dir": { type: "string" },
      stacks: { type: "string" },
      "runbook-base": { type: "string" },
      json: { type: "boolean" },
    });
    const [action, ...extra] = positionals;
    if (action !== "render")
      throw new UsageError(`expected "render", got ${JSON.stringify(action ?? "")}`);
    if (extra.length > 0) throw new UsageError(`unexpected argument(s) ${extra.join(" ")}`);
    if (!values.out) throw new UsageError("--out DIR is required");
    const dir = stacksDir(values["stacks-dir"], values.stacks);
    const stacks = loadStacks(dir, listStacks(dir));
    const regions = dashboardRegions(stacks);
    const { sites, without } = alertmanagerSites(stacks);
    const { files, cases } = observeFiles(
      regions,
      { runbookBase: values["runbook-base"], pools: poolFacts(stacks) },
      sites,
      prometheusSites(stacks),
    );
    for (const f of files) {
      const path = join(values.out, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.text);
      progress(`wrote ${path}`);
    }
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ files: files.map((f) => f.path), cases, withoutReceivers: without }, null, 2)}\n`,
      );
    } else {
      const fire = cases.filter((c) => c.kind === "must-fire").length;
      process.stdout.write(
        `${files.length} files in ${values.out}: ${cases.length} generated rule tests (${fire} must-fire, ${cases.length - fire} must-not-fire), ${regions.length} dashboard(s): ${regions.join(", ")}; ${sites.length} Alertmanager configuration(s), ${prometheusSites(stacks).length} Prometheus configuration(s)${without.length ? ` (none for ${without.join(", ")}: no alerting.notify, nothing would receive their alerts)` : ""}\n`,
      );
    }
    return EXIT.ok;
  },
};

/**
 * Every other command names the stacks directory --stacks-dir; --stacks stays for scripts
 * written against the old name, with a warning, until it is removed.
 */
function stacksDir(current: string | undefined, old: string | undefined): string {
  if (old === undefined) return current ?? DEFAULT_STACKS_DIR;
  if (current !== undefined && current !== old) {
    throw new UsageError(
      `--stacks ${old} and --stacks-dir ${current} name two directories: give --stacks-dir alone`,
    );
  }
  process.stderr.write("avfleet observe: --stacks is deprecated, use --stacks-dir\n");
  return old;
}
