/**
 * A GCP host's Ops Agent: its config.yaml as rendered (values), its scrape job through
 * Debian's promtool, the labels the alert policies read against the ones Managed Service for
 * Prometheus reserves, and the bootstrap's install step run with stand-in curl and apt-get:
 * installed from the pinned major's source, or the host left serving when Google is out of reach.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import YAML from "yaml";
import { loadStackFile } from "../../modules/stacks/stack";
import type { FleetSpec } from "../../modules/config/fleet.schema";
import { hostFiles } from "../../modules/host/bootstrap";
import {
  OPS_AGENT_CONFIG_PATH,
  OPS_AGENT_KEY_PATH,
  OPS_AGENT_SOURCE_PATH,
  OPS_AGENT_SOURCE_STAGED,
  opsAgentConfig,
  opsAgentInstall,
} from "../../modules/host/ops-agent";
import { hostTuning } from "../../modules/host-payloads/host-tuning";
import { gcpAlertPolicies } from "../../modules/alerting/cloud";
import { ROOT } from "../support/cli";
import { missingCommands, prerequisite } from "../support/prerequisites";

const stack = (name: string) =>
  loadStackFile(join(ROOT, `stacks/Pulumi.${name}.yaml`)).fleet as FleetSpec;
const gcp = stack("gcp-us-west1");
const hardware = { cores: 32, nicDriver: "gve", rxQueues: 16, txQueues: 16, streamsPerHost: 4800 };

test("the Ops Agent's config.yaml: one prometheus receiver scraping the agent on loopback each minute, avfleet_* only, the target labelled with the pool for up", () => {
  const text = opsAgentConfig(gcp);
  assert.match(text, /^# rendered by avfleet/);
  assert.deepEqual(YAML.parse(text), {
    metrics: {
      receivers: {
        avfleet: {
          type: "prometheus",
          config: {
            scrape_configs: [
              {
                job_name: "avfleet-host",
                scrape_interval: "15s",
                metrics_path: "/metrics",
                static_configs: [
                  {
                    targets: ["127.0.0.1:8080"],
                    labels: { pool: "gcp-usw1", region: "us-west" },
                  },
                ],
                metric_relabel_configs: [
                  { source_labels: ["__name__"], regex: "avfleet_.*", action: "keep" },
                  // the agent's pool and region, renamed under the target's equal ones
                  { regex: "exported_(pool|region)", action: "labeldrop" },
                ],
              },
            ],
          },
        },
      },
      service: { pipelines: { avfleet: { receivers: ["avfleet"] } } },
    },
  });
});

test("the receiver's scrape_configs pass promtool check config", (t) => {
  if (!prerequisite(t, missingCommands("promtool"))) return;
  const dir = mkdtempSync(join(tmpdir(), "ops-agent-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const receiver = YAML.parse(opsAgentConfig(gcp)).metrics.receivers.avfleet.config;
  writeFileSync(join(dir, "prometheus.yml"), YAML.stringify(receiver));
  const r = spawnSync("promtool", ["check", "config", join(dir, "prometheus.yml")], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("no label the alert policies read is one prometheus_target reserves, but job, which is the scrape job's", () => {
  const reserved = ["project_id", "location", "cluster", "namespace", "job", "instance"];
  const read = new Set<string>();
  for (const p of gcpAlertPolicies({ pool: gcp.pool, mediaRegion: gcp.mediaRegion })) {
    const [condition] = p.args.conditions as {
      conditionPrometheusQueryLanguage: { query: string };
    }[];
    const query = condition.conditionPrometheusQueryLanguage.query;
    for (const [, by] of query.matchAll(/\bby \(([^)]*)\)/g))
      for (const l of by.split(",")) read.add(l.trim());
    for (const [, name] of query.matchAll(/([a-z_]+)=~?"/g)) read.add(name);
  }
  assert.ok(read.has("pool") && read.has("host") && read.has("zone"), [...read].join(","));
  assert.deepEqual(
    [...read].filter((l) => reserved.includes(l)),
    ["job"],
  );
  assert.match(opsAgentConfig(gcp), /job_name: avfleet-host/);
});

test("a GCP host gets the Ops Agent's source (major 2, Google's key for it alone) and config; others do not", () => {
  const files = hostFiles(gcp, hostTuning(gcp, hardware));
  const source = files.find((f) => f.path === OPS_AGENT_SOURCE_STAGED)!;
  assert.equal(
    source.content,
    [
      "Types: deb",
      "URIs: https://packages.cloud.google.com/apt",
      "Suites: google-cloud-ops-agent-bookworm-2",
      "Components: main",
      `Signed-By: ${OPS_AGENT_KEY_PATH}`,
      "",
    ].join("\n"),
  );
  assert.equal(files.find((f) => f.path === OPS_AGENT_CONFIG_PATH)?.content, opsAgentConfig(gcp));
  for (const name of ["aws-us-east-1", "metal-sjc"]) {
    const spec = stack(name);
    const paths = hostFiles(spec, hostTuning(spec, hardware)).map((f) => f.path);
    assert.ok(!paths.some((p) => p.includes("google-cloud-ops-agent")), name);
  }
});

test("every apt source the bootstrap writes names a key it writes too: the workload's apt-get update runs before the Ops Agent's key is fetched", () => {
  for (const name of ["gcp-us-west1", "aws-us-east-1", "metal-sjc"]) {
    const spec = stack(name);
    const files = hostFiles(spec, hostTuning(spec, hardware));
    const written = new Set(files.map((f) => f.path));
    for (const source of files.filter((f) => f.path.startsWith("/etc/apt/sources.list.d/"))) {
      const key = /^Signed-By: (.+)$/m.exec(source.content)?.[1];
      assert.ok(key && written.has(key), `${name}: ${source.path} names ${key}, not written`);
    }
    assert.ok(!written.has(OPS_AGENT_SOURCE_PATH), name);
  }
});

/** The install step under sh -eu, with stand-ins for dpkg-query, curl and apt-get on PATH. */
function runInstall(curl: string) {
  const dir = mkdtempSync(join(tmpdir(), "ops-agent-install-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const stub = (name: string, body: string) =>
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  mkdirSync(join(dir, "root", posix.dirname(OPS_AGENT_SOURCE_STAGED)), { recursive: true });
  writeFileSync(join(dir, "root", OPS_AGENT_SOURCE_STAGED), "Types: deb\n");
  stub("dpkg-query", "exit 1");
  stub("curl", curl);
  stub("apt-get", `echo "$*" >>"${dir}/apt-get.calls"`);
  const script = [
    "set -eu",
    `ROOT=${dir}/root`,
    'w() { "$@"; }',
    ...opsAgentInstall("-o DPkg::Lock::Timeout=300"),
    "echo served",
  ].join("\n");
  const r = spawnSync("sh", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const calls = existsSync(join(dir, "apt-get.calls"))
    ? readFileSync(join(dir, "apt-get.calls"), "utf8").trim().split("\n")
    : [];
  const key = join(dir, "root", OPS_AGENT_KEY_PATH);
  const result = {
    ...r,
    calls,
    key: existsSync(key) ? readFileSync(key, "utf8") : undefined,
    sourceInPlace: existsSync(join(dir, "root", OPS_AGENT_SOURCE_PATH)),
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

const onBookworm =
  spawnSync("sh", ["-c", '. /etc/os-release && [ "$VERSION_CODENAME" = bookworm ]']).status === 0;

test("the bootstrap installs the Ops Agent with Google's armored key kept for its source", (t) => {
  if (!prerequisite(t, onBookworm ? undefined : "a Debian 12 (bookworm) machine")) return;
  const armored = [
    "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    "",
    "key",
    "-----END PGP PUBLIC KEY BLOCK-----",
  ];
  const r = runInstall(
    `while [ $# -gt 1 ]; do [ "$1" = -o ] && out=$2; shift; done; [ "$1" = https://packages.cloud.google.com/apt/doc/apt-key.gpg ] && printf '%s\\n' ${armored.map((l) => `'${l}'`).join(" ")} >"$out"`,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "served\n");
  assert.match(r.key!, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);
  assert.equal(r.sourceInPlace, true, "apt reads Google's source once its key is there");
  assert.deepEqual(r.calls, [
    "-o DPkg::Lock::Timeout=300 update -qq",
    "-o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends google-cloud-ops-agent",
  ]);
});

test("without Google (no route, or a key not armored) the host serves and the bootstrap says why", (t) => {
  if (!prerequisite(t, onBookworm ? undefined : "a Debian 12 (bookworm) machine")) return;
  for (const curl of [
    "exit 6",
    'while [ $# -gt 1 ]; do [ "$1" = -o ] && out=$2; shift; done; printf "\\231\\001binary" >"$out"',
  ]) {
    const r = runInstall(curl);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "served\n");
    assert.match(
      r.stderr,
      /google-cloud-ops-agent is not installed: this host's series do not reach Cloud Monitoring/,
    );
    assert.deepEqual(r.calls, [], curl);
    assert.equal(r.key, undefined, "no key kept that apt would refuse");
    assert.equal(
      r.sourceInPlace,
      false,
      "no source without its key: apt would refuse every update",
    );
  }
});
