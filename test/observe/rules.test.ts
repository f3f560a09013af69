/**
 * The rules and their generated tests through Debian's promtool: the rules load, every
 * generated case passes, and a rule whose threshold drifted from the spec fails its must-fire
 * case. Cases over longer windows (tests-long.yml, ~2 min) run in .ci/run, not here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ruleTests } from "../../modules/observe/rule-tests";
import { renderRules, ruleGroups, type Rule } from "../../modules/observe/rules";
import { SLIS } from "../../modules/observe/spec";
import { missingCommands, prerequisite } from "../support/prerequisites";

function promtool(dir: string, ...args: string[]) {
  const r = spawnSync("promtool", args, { cwd: dir, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "observe-promtool-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const alerts = (): Rule[] => ruleGroups().flatMap((g) => g.rules.filter((r) => r.alert));

test("burn thresholds are the spec's objectives times the SRE workbook factors", () => {
  const byName = Object.fromEntries(alerts().map((r) => [r.alert!, r]));
  const loss = byName.AvfleetPacketLossBurnPage.expr;
  // 5 % budget: 14.4x is 72 % bad over 1 h and 5 m; 6x is 30 % over 6 h and 30 m
  assert.match(
    loss,
    /rate1h\{slo="packet-loss"\} > 0\.72 and .*rate5m\{slo="packet-loss"\} > 0\.72/,
  );
  assert.match(
    loss,
    /rate6h\{slo="packet-loss"\} > 0\.3 and .*rate30m\{slo="packet-loss"\} > 0\.3\) or /,
  );
  // the outage pair: 10x is half the sessions bad over 5 m and 1 m
  assert.match(
    loss,
    /\(avfleet:slo_error_ratio:rate5m\{slo="packet-loss"\} > 0\.5 and avfleet:slo_error_ratio:rate1m\{slo="packet-loss"\} > 0\.5\)$/,
  );
  // 15 % budget cannot burn 14.4x: capped at 95 % bad so the page can still fire
  assert.match(byName.AvfleetJitterP95BurnPage.expr, /rate1h\{slo="jitter-p95"\} > 0\.95 /);
  assert.match(byName.AvfleetJoinSuccessBurnTicket.expr, /rate3d\{slo="join-success"\} > 0\.005 /);
  assert.equal(byName.AvfleetPacketLossBurnPage.labels?.severity, "page");
  assert.equal(
    byName.AvfleetHostUdpReceiveBufferDrops.annotations?.runbook_url,
    "README.md#avfleethostudpreceivebufferdrops",
  );
  assert.equal(alerts().length, SLIS.length * 2 + 5);
});

test("every alert has at least one must-fire and one must-not-fire generated case", () => {
  const { cases } = ruleTests("rules.yml");
  for (const rule of alerts()) {
    const mine = cases.filter((c) => c.alert === rule.alert);
    assert.ok(
      mine.some((c) => c.kind === "must-fire"),
      `${rule.alert}: no must-fire case`,
    );
    assert.ok(
      mine.some((c) => c.kind === "must-not-fire"),
      `${rule.alert}: no must-not-fire case`,
    );
  }
  const notPage = cases.find(
    (c) => c.alert === "AvfleetPacketLossBurnPage" && c.kind === "must-not-fire",
  );
  assert.equal(notPage?.what, "1× burn for 30d");
});

test("promtool: the rules load and every generated case up to 1 h windows passes", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const dir = tempDir(t);
  writeFileSync(join(dir, "rules.yml"), renderRules());
  const check = promtool(dir, "check", "rules", "rules.yml");
  assert.equal(check.status, 0, check.output);
  assert.match(check.output, /SUCCESS: 70 rules found/);
  const tests = ruleTests("rules.yml");
  const fast = tests.files.find((f) => f.name === "tests.yml")!;
  writeFileSync(join(dir, fast.name), fast.text);
  assert.equal((parse(fast.text).tests as unknown[]).length, 5 * 2 + 5 * 2);
  const run = promtool(dir, "test", "rules", fast.name);
  assert.equal(run.status, 0, run.output);
});

test("promtool: a rule whose threshold drifted from the spec fails its generated must-fire case", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const dir = tempDir(t);
  // packet loss objective 95 % -> 80 %: the page now needs 14.4 x 20 % (capped 95 %) bad
  const mutated = SLIS.map((s) => (s.name === "packet-loss" ? { ...s, objective: 0.8 } : s));
  writeFileSync(join(dir, "rules.yml"), renderRules({ slis: mutated }));
  const only = (alert: string) => alert === "AvfleetPacketLossBurnPage";
  const fast = ruleTests("rules.yml", undefined, only).files.find((f) => f.name === "tests.yml")!;
  writeFileSync(join(dir, fast.name), fast.text);
  const run = promtool(dir, "test", "rules", fast.name);
  assert.equal(run.status, 1, run.output);
  assert.match(
    run.output,
    /AvfleetPacketLossBurnPage must fire: 15\.84× burn \(79\.2 % bad\) for 1h/,
  );
  assert.match(run.output, /got:\[\]/);

  // the same cases against the spec's rules pass: the failure is the mutation's
  writeFileSync(join(dir, "rules.yml"), renderRules());
  assert.equal(promtool(dir, "test", "rules", fast.name).status, 0);
});
