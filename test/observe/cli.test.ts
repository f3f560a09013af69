/** The observe and diagnose commands' contract: what they write, usage errors, a dead Prometheus. */
import { test } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { avfleet, ROOT } from "../support/cli";

test("observe render --out DIR writes rules, tests and a dashboard per media region", (t) => {
  const out = mkdtempSync(join(tmpdir(), "observe-render-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = avfleet([
    "observe",
    "render",
    "--out",
    out,
    "--runbook-base",
    "https://wiki.example/avfleet",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.files, [
    "rules.yml",
    "tests.yml",
    "tests-long.yml",
    "dashboards/eu-west.json",
    "dashboards/us-west.json",
    "alertmanager/metal-ams.yml",
    "alertmanager/metal-sjc.yml",
    "prometheus/metal-ams.yml",
    "prometheus/metal-ams.targets.json",
    "prometheus/metal-sjc.yml",
    "prometheus/metal-sjc.targets.json",
  ]);
  for (const f of doc.files) assert.ok(existsSync(join(out, f)), f);
  assert.match(
    readFileSync(join(out, "rules.yml"), "utf8"),
    /runbook_url: https:\/\/wiki\.example\/avfleet#avfleetpacketlossburnpage/,
  );
  // what the stacks declare of each pool and no host knows, published by the rules
  const groups = YAML.parse(readFileSync(join(out, "rules.yml"), "utf8")).groups;
  assert.deepEqual(
    groups
      .find((g: { name: string }) => g.name === "avfleet-pools")
      .rules.map((r: any) => [r.record, r.expr, r.labels.pool, r.labels.region]),
    [
      ["avfleet_max_hosts", "vector(36)", "aws-euc1", "eu-central"],
      ["avfleet_max_hosts", "vector(100)", "aws-use1", "us-east"],
      ["avfleet_max_hosts", "vector(48)", "gcp-euw4", "eu-west"],
      // the traffic stacks' weights, by the pools' labels
      ["avfleet_traffic_weight", "vector(5)", "gcp-euw4", "eu-west"],
      ["avfleet_max_hosts", "vector(90)", "gcp-usw1", "us-west"],
      ["avfleet_traffic_weight", "vector(0)", "gcp-usw1", "us-west"],
      ["avfleet_traffic_weight", "vector(95)", "metal-ams", "eu-west"],
      ["avfleet_traffic_weight", "vector(100)", "metal-sjc", "us-west"],
    ],
  );
  assert.equal(doc.cases.length, 45);
});

test("observe render reads --stacks-dir like every command; --stacks still works, with a warning", (t) => {
  // One stack of one media region: its dashboard alone shows which directory was read.
  const stacks = mkdtempSync(join(tmpdir(), "observe-stacks-"));
  const out = mkdtempSync(join(tmpdir(), "observe-render-"));
  t.after(() => [stacks, out].forEach((d) => rmSync(d, { recursive: true, force: true })));
  copyFileSync(
    join(ROOT, "stacks/Pulumi.gcp-europe-west4.yaml"),
    join(stacks, "Pulumi.gcp-europe-west4.yaml"),
  );
  const dashboards = (r: { stdout: string }) =>
    JSON.parse(r.stdout).files.filter((f: string) => f.startsWith("dashboards/"));
  const current = avfleet(["observe", "render", "--out", out, "--stacks-dir", stacks, "--json"]);
  assert.equal(current.code, 0, current.stderr);
  assert.deepEqual(dashboards(current), ["dashboards/eu-west.json"]);
  assert.doesNotMatch(current.stderr, /deprecated/);
  const old = avfleet(["observe", "render", "--out", out, "--stacks", stacks, "--json"]);
  assert.equal(old.code, 0, old.stderr);
  assert.deepEqual(dashboards(old), ["dashboards/eu-west.json"]);
  assert.match(old.stderr, /--stacks is deprecated, use --stacks-dir/);
  const both = avfleet([
    "observe",
    "render",
    "--out",
    out,
    "--stacks",
    stacks,
    "--stacks-dir",
    "stacks",
  ]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /name two directories: give --stacks-dir alone/);
});

test("usage errors exit 2 and write nothing", () => {
  assert.equal(avfleet(["observe", "render"]).code, 2);
  const bad = avfleet(["diagnose", "--prometheus", "localhost:9090"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /--prometheus "localhost:9090" is not a URL, expected http\(s\):\/\/host:port/,
  );
  assert.match(
    avfleet(["diagnose", "--prometheus", "http://127.0.0.1:1", "--since", "1 hour"]).stderr,
    /is not a duration/,
  );
});

test("diagnose: a Prometheus that does not answer is a failure, exit 3", async () => {
  // a port that was free a moment ago: nothing listens there
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const r = avfleet(["diagnose", "--prometheus", `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^error: /);
});
