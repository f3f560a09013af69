/**
 * A bare-metal site's pages reach its receiver: the rendered alertmanager.yml passes amtool,
 * routes every rule's severity to the stack's receiver, and a real Alertmanager delivers a page
 * posted as Prometheus posts it to the webhook the page receiver names.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { loadStacks, listStacks } from "../../modules/stacks/stack";
import { renderAlertmanager } from "../../modules/observe/alertmanager";
import { alertmanagerSites } from "../../modules/observe/render";
import { ruleGroups } from "../../modules/observe/rules";
import { ALERTMANAGER, routesOf, startAlertmanager, startWebhook } from "../support/alertmanager";
import { avfleet, ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";
import { poll } from "../support/prometheus";

const STACKS = join(ROOT, "stacks");

/** Every alert rule's labels as Prometheus sends them: its own, its name, the pool's. */
const ruleAlerts = (pool: string): Record<string, string>[] =>
  ruleGroups()
    .flatMap((g) => g.rules)
    .filter((r) => r.alert)
    .map((r) => ({ alertname: r.alert!, ...r.labels!, pool, region: "us-west" }));

test("observe render: each metal stack's alertmanager.yml passes amtool and routes every rule by severity", (t) => {
  if (!prerequisite(t, missingCommands("amtool"))) return;
  const out = mkdtempSync(join(tmpdir(), "notify-render-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = avfleet(["observe", "render", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const { sites } = alertmanagerSites(loadStacks(STACKS, listStacks(STACKS)));
  assert.deepEqual(
    sites.map((s) => s.stack),
    ["metal-ams", "metal-sjc"],
  );
  assert.deepEqual(readdirSync(join(out, "alertmanager")), ["metal-ams.yml", "metal-sjc.yml"]);
  for (const site of sites) {
    const file = join(out, "alertmanager", `${site.stack}.yml`);
    const check = spawnSync("amtool", ["check-config", file], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const alerts = ruleAlerts(site.pool);
    assert.equal(alerts.length, 15);
    for (const labels of alerts) {
      assert.deepEqual(
        routesOf(file, labels),
        [`${site.pool}-${labels.severity}`],
        labels.alertname,
      );
    }
  }
});

test("a page posted as Prometheus posts it reaches the page webhook through a real Alertmanager; its SLO's ticket is inhibited", async (t) => {
  if (!prerequisite(t, missingCommands(ALERTMANAGER))) return;
  const hook = await startWebhook();
  const { deliveries } = hook;
  t.after(() => hook.close());
  const dir = mkdtempSync(join(tmpdir(), "notify-token-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "token"), "page-token\n");
  const config = renderAlertmanager(
    "metal-sjc",
    {
      page: {
        webhook: { url: hook.url("/page"), credentialsFile: join(dir, "token") },
      },
      ticket: { webhook: { url: hook.url("/ticket") } },
    },
    { groupWait: "1s" },
  );
  const am = await startAlertmanager(config);
  t.after(() => am.stop());

  const [page, ticket, pagedTicket, hostPage] = [
    "AvfleetPacketLossBurnPage",
    "AvfleetHostTuningDrift",
    "AvfleetPacketLossBurnTicket",
    "AvfleetHostUdpReceiveBufferDrops",
  ].map((name) => ruleAlerts("metal-sjc").find((a) => a.alertname === name)!);
  assert.equal(pagedTicket.slo, page.slo);
  assert.equal(page.severity, "page");
  assert.equal(ticket.severity, "ticket");
  // what Prometheus' notifier sends: labels, annotations, startsAt, generatorURL
  const posted = await fetch(`${am.url}/api/v2/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      [page, ticket, pagedTicket, hostPage].map((labels) => ({
        labels,
        annotations: { summary: `${labels.alertname} on metal-sjc` },
        startsAt: new Date().toISOString(),
        generatorURL: "http://prometheus.sjc.example:9090/graph",
      })),
    ),
  });
  assert.equal(posted.status, 200, await posted.text());

  await poll("three deliveries", 20, async () => (deliveries.length >= 3 ? true : undefined));
  const at = (path: string) => deliveries.filter((d) => d.path === path);
  assert.equal(at("/page").length, 2, am.log());
  const delivered = at("/page").find((d) => d.body.alerts[0].labels.slo)!;
  assert.equal(delivered.body.receiver, "metal-sjc-page");
  assert.equal(delivered.body.status, "firing");
  assert.equal(delivered.authorization, "Bearer page-token");
  assert.deepEqual(
    delivered.body.alerts.map((a) => [a.labels.alertname, a.labels.severity, a.labels.pool]),
    [["AvfleetPacketLossBurnPage", "page", "metal-sjc"]],
  );
  // the ticket went to its own receiver, not to the page's; the ticket of the SLO that
  // pages is held back by the page (inhibit_rules), a host's ticket is not held back by a
  // host's page (neither has an SLO)
  assert.deepEqual(
    at("/ticket").map((d) => [d.body.receiver, d.body.alerts[0].labels.alertname]),
    [["metal-sjc-ticket", "AvfleetHostTuningDrift"]],
  );
});
