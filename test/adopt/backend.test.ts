/**
 * Stack names per backend (organization/avfleet/<s> on DIY, <org>/avfleet/<s> on Cloud) and a
 * DIY store's layout, read as the CLI decides it (modules/adopt/backend.ts cites the source).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BackendError,
  diyLayout,
  findBackend,
  layoutProblem,
  stackNaming,
} from "../../modules/adopt/backend";
import { avfleet, ROOT } from "../support/cli";

/** A file:// state store with the given .pulumi contents. */
function store(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "avfleet-state-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, ".pulumi", path, ".."), { recursive: true });
    writeFileSync(join(root, ".pulumi", path), text);
  }
  return `file://${root}`;
}

test("a DIY store's layout: meta.yaml's version, else legacy if it holds stacks, else project mode", () => {
  assert.equal(diyLayout(store({ "meta.yaml": "version: 1\n" }), {}).version, 1);
  assert.equal(diyLayout(store({ "meta.yaml": "version: 0\n" }), {}).version, 0);
  assert.equal(diyLayout(store({ "stacks/metal-sjc.json": "{}" }), {}).version, 0);
  assert.equal(diyLayout(store({}), {}).version, 1);
  assert.equal(diyLayout(store({}), { PULUMI_DIY_BACKEND_LEGACY_LAYOUT: "true" }).version, 0);
  assert.equal(diyLayout("s3://media-pulumi-state", {}).version, "unknown");
  assert.throws(() => diyLayout(store({ "meta.yaml": "version: 7\n" }), {}), BackendError);
  assert.match(
    layoutProblem(diyLayout(store({ "meta.yaml": "version: 0\n" }), {}))!,
    /legacy layout \(state version 0: .*meta\.yaml says version: 0\): it refuses project-scoped names such as organization\/avfleet\/<stack>.*Run `pulumi state upgrade`/,
  );
  assert.equal(layoutProblem({ version: 1, why: "" }), undefined);
});

test("the backend comes from --backend, else PULUMI_BACKEND_URL, else Pulumi.yaml, else `pulumi login`'s", () => {
  const dir = mkdtempSync(join(tmpdir(), "avfleet-project-"));
  const project = join(dir, "Pulumi.yaml");
  writeFileSync(project, "name: avfleet\nbackend:\n  url: gs://media-state\n");
  const env = { PULUMI_BACKEND_URL: "s3://media-state" };
  assert.equal(findBackend("file://~", env, project)?.source, "--backend");
  assert.deepEqual(findBackend(undefined, env, project), {
    url: "s3://media-state",
    kind: "diy",
    source: "PULUMI_BACKEND_URL",
  });
  assert.equal(findBackend(undefined, {}, project)?.source, "Pulumi.yaml");
  const home = mkdtempSync(join(tmpdir(), "avfleet-pulumi-home-"));
  const none = join(dir, "none.yaml");
  assert.equal(findBackend(undefined, { PULUMI_HOME: home }, none), undefined);
  // What `pulumi login` stores: credentials.json's `current`, under PULUMI_HOME or
  // PULUMI_CREDENTIALS_PATH (which wins).
  writeFileSync(join(home, "credentials.json"), '{"current":"https://api.pulumi.com"}');
  assert.deepEqual(findBackend(undefined, { PULUMI_HOME: home }, none), {
    url: "https://api.pulumi.com",
    kind: "cloud",
    source: "credentials.json",
  });
  const creds = mkdtempSync(join(tmpdir(), "avfleet-pulumi-creds-"));
  writeFileSync(join(creds, "credentials.json"), '{"current":"s3://media-state"}');
  const both = { PULUMI_HOME: home, PULUMI_CREDENTIALS_PATH: creds };
  assert.equal(findBackend(undefined, both, none)?.url, "s3://media-state");
  assert.equal(findBackend(undefined, both, project)?.source, "Pulumi.yaml");
  assert.throws(
    () => findBackend("ftp://x", {}, project),
    /--backend: backend URL "ftp:\/\/x" is neither Pulumi Cloud/,
  );
});

test("names: organization/avfleet/<s> on DIY, <org>/avfleet/<s> on Cloud, which needs --org", () => {
  const none = join(tmpdir(), "no-Pulumi.yaml");
  assert.equal(
    stackNaming({ backend: "s3://b" }, {}, none, "avfleet").qualify("metal-sjc"),
    "organization/avfleet/metal-sjc",
  );
  assert.equal(
    stackNaming({ backend: "https://api.pulumi.com", org: "media" }, {}, none, "avfleet").qualify(
      "metal-sjc",
    ),
    "media/avfleet/metal-sjc",
  );
  assert.throws(
    () => stackNaming({ backend: "https://api.pulumi.com" }, {}, none, "avfleet"),
    /resolves in your default organization: give --org/,
  );
  assert.throws(
    () => stackNaming({ backend: "s3://b", org: "media" }, {}, none, "avfleet"),
    /a DIY backend's organization is always "organization"/,
  );
  assert.throws(() => stackNaming({}, {}, none, "avfleet"), /no backend given/);
});

test("avfleet backend: the traffic splits' references, and a legacy store is a finding", () => {
  const project = store({ "meta.yaml": "version: 1\n" });
  const ok = avfleet(["backend", "--backend", project, "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assert.deepEqual(
    report.stacks.find((s: { stack: string }) => s.stack === "traffic-us-west").references,
    ["organization/avfleet/traffic-us-west", "organization/avfleet/metal-sjc"],
  );
  const legacy = avfleet(["backend", "--backend", store({ "stacks/old.json": "{}" })]);
  assert.equal(legacy.code, 1);
  assert.match(legacy.stdout, /problem: the DIY store is in the legacy layout/);
  const adopt = avfleet([
    "adopt",
    "traffic-us-west",
    "--backend",
    store({ "meta.yaml": "version: 0\n" }),
  ]);
  assert.equal(adopt.code, 1);
  assert.match(adopt.stderr, /pulumi state upgrade/);
  const bad = avfleet(["backend", "--backend", "ftp://x"]);
  assert.equal(bad.code, 2);
});

test("avfleet backend: a stack file with an environment: is bad input on a DIY backend, not on Cloud", () => {
  const root = mkdtempSync(join(tmpdir(), "avfleet-backend-stacks-"));
  const dir = join(root, "stacks");
  cpSync(join(ROOT, "stacks"), dir, { recursive: true });
  cpSync(join(ROOT, "inventory"), join(root, "inventory"), { recursive: true });
  const file = join(dir, "Pulumi.traffic-eu-west.yaml");
  // The inline form counts as much as a list of names (project.go Environment.Definition).
  writeFileSync(file, `environment:\n  values: { a: 1 }\n${readFileSync(file, "utf8")}`);
  const diy = avfleet(["backend", "--stacks-dir", dir, "--backend", "gs://media-state"]);
  assert.equal(diy.code, 2, diy.stdout);
  assert.match(
    diy.stderr,
    /Pulumi\.traffic-eu-west\.yaml: environment: a DIY backend \(gs:\/\/media-state\)/,
  );
  const cloud = avfleet([
    "backend",
    "--stacks-dir",
    dir,
    "--backend",
    "https://api.pulumi.com",
    "--org",
    "m",
  ]);
  assert.equal(cloud.code, 0, cloud.stderr);
});
