/**
 * A bare-metal site's Prometheus as `avfleet observe render` writes it: prometheus.yml passes
 * promtool check config (which loads the rules it names), scrapes the host agents through the
 * site's targets file and sends to the site's Alertmanager; the targets file holds every host
 * the inventory does not retire, labelled with the pool, media region and site. A real
 * Prometheus scraping a real host is the host rehearsal's (test/host/rehearsal.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import YAML from "yaml";
import { listStacks, loadStacks } from "../../modules/stacks/stack";
import { prometheusSites } from "../../modules/observe/prometheus";
import { avfleet, ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const STACKS = join(ROOT, "stacks");

test("observe render: each metal site's prometheus.yml passes promtool, with its rules, targets and Alertmanager", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const out = mkdtempSync(join(tmpdir(), "observe-prometheus-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = avfleet(["observe", "render", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(join(out, "prometheus")), [
    "metal-ams.targets.json",
    "metal-ams.yml",
    "metal-sjc.targets.json",
    "metal-sjc.yml",
  ]);
  const stacks = loadStacks(STACKS, listStacks(STACKS));
  for (const site of prometheusSites(stacks)) {
    const file = join(out, "prometheus", `${site.stack}.yml`);
    const check = spawnSync("promtool", ["check", "config", file], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    // the rules it names are the ones render wrote, found and loaded
    assert.match(check.stdout, /SUCCESS: 1 rule files found/);
    assert.ok(
      check.stdout.includes(`Checking ${join(out, "rules.yml")}\n  SUCCESS: `),
      check.stdout,
    );

    const config = YAML.parse(readFileSync(file, "utf8"));
    assert.deepEqual(config.rule_files, ["../rules.yml"]);
    assert.deepEqual(config.alerting.alertmanagers, [
      { static_configs: [{ targets: ["127.0.0.1:9093"] }] },
    ]);
    const [job] = config.scrape_configs;
    assert.equal(job.job_name, "avfleet-host");
    assert.equal(job.metrics_path, "/metrics");
    assert.deepEqual(job.metric_relabel_configs, [
      { source_labels: ["__name__"], regex: "avfleet_.*", action: "keep" },
      { regex: "exported_(pool|region)", action: "labeldrop" },
    ]);
    assert.deepEqual(job.file_sd_configs, [{ files: [`${site.stack}.targets.json`] }]);

    const targets = JSON.parse(
      readFileSync(join(out, "prometheus", `${site.stack}.targets.json`), "utf8"),
    );
    const stack = stacks.find((s) => s.name === site.stack)!;
    const hosts = stack.inventory!.hosts.filter((h) => h.state !== "retired");
    assert.deepEqual(targets, [
      {
        targets: hosts.map((h) => `${h.privateIp}:8080`),
        labels: {
          pool: stack.fleet!.pool,
          region: stack.fleet!.mediaRegion,
          site: stack.inventory!.site,
        },
      },
    ]);
    assert.ok(
      hosts.some((h) => h.state === "draining"),
      "a draining host is scraped too",
    );
    assert.ok(targets[0].targets.length < stack.inventory!.hosts.length, "a retired host is not");
  }
});
