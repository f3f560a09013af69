/**
 * Dashboards: one per media region, laid out on Grafana's 24-column grid without overlaps,
 * every query valid PromQL (promtool parses each as a recording rule) and every series it
 * reads written by someone: the rules, the host exporter or the fleet's exposition.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadStacks, listStacks } from "../../modules/stacks/stack";
import { EXPORTER_METRICS } from "../../modules/host-series/exporter";
import { renderExposition } from "../../modules/rehearsal/exposition";
import { loadWorld } from "../../modules/rehearsal/world";
import { regionDashboard } from "../../modules/observe/dashboards";
import { dashboardRegions } from "../../modules/observe/render";
import { ruleGroups } from "../../modules/observe/rules";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { ROOT } from "../support/cli";
import { newRehearsal, SHORT_RUNBOOK, tempDir, tempStacks, writeRunbook } from "../migrate/support";

const dashboard = regionDashboard("us-west");
const targets = dashboard.panels.flatMap((p) => (p.type === "timeseries" ? p.targets : []));

test("a dashboard per media region whose pools publish to Prometheus (not AWS's: CloudWatch)", () => {
  const dir = join(ROOT, "stacks");
  assert.deepEqual(dashboardRegions(loadStacks(dir, listStacks(dir))), ["eu-west", "us-west"]);
  assert.equal(dashboard.uid, "avfleet-us-west");
  assert.ok(targets.every((t) => t.expr.includes('region="us-west"')));
});

test("panels tile Grafana's 24-column grid: unique ids, inside the grid, no overlaps", () => {
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const boxes = dashboard.panels.map((p) => p.gridPos);
  for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24, JSON.stringify(b));
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `panels ${i} and ${j} overlap`);
    }
  // SLIs, burn rates, host drops by cause, capacity, traffic weights
  assert.deepEqual(
    dashboard.panels.filter((p) => p.type === "row").map((p) => p.title.split(" ")[0]),
    ["SLIs", "Error", "Host", "Capacity"],
  );
  assert.ok(targets.some((t) => t.expr.startsWith("sum by (pool) (avfleet_traffic_weight")));
});

test("every series a panel reads is written by the rules, the host exporter or the fleet", () => {
  const r = newRehearsal(writeRunbook(tempDir(), SHORT_RUNBOOK), tempStacks());
  const served = new Set(
    renderExposition(loadWorld(r.worldFile))
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
  );
  const written = new Set([
    ...served,
    ...Object.values(EXPORTER_METRICS),
    ...ruleGroups().flatMap((g) => g.rules.map((rule) => rule.record).filter(Boolean) as string[]),
  ]);
  for (const t of targets) {
    for (const [name] of t.expr.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{)/g)) {
      assert.ok(written.has(name), `${name} (in ${t.expr}) is written by nobody`);
    }
  }
});

test("promtool parses every panel query", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const dir = mkdtempSync(join(tmpdir(), "observe-dash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = targets.map((q, i) => ({ record: `dashboard:query${i}`, expr: q.expr }));
  writeFileSync(join(dir, "queries.yml"), stringify({ groups: [{ name: "dashboard", rules }] }));
  const r = spawnSync("promtool", ["check", "rules", join(dir, "queries.yml")], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
});
