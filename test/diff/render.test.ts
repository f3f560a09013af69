/**
 * What the reviewer reads, issue #29: changed scripts as decoded unified diffs with what they
 * change first, what a change does to running hosts (from the provider model), a summary that
 * fits any estate, and the small things that misled: unlabelled cost and weights, mixed minus
 * signs, cost-only stacks counted as changes, GitHub's colours, stacks dropped from the details
 * without a word, a raised step limit.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { awsUserData } from "../../modules/host/bootstrap";
import { renderPayload } from "../../modules/host-payloads/metal-payload";
import { GITHUB_COMMENT_LIMIT, renderMarkdown, renderText } from "../../modules/diff/report";
import { textChange } from "../../modules/diff/text";
import type { Plan } from "../../modules/plan/plan";
import { plan, report, resource } from "./plans";

const COMMAND = "command:local:Command";
const PAYLOAD = "avfleet:fleets:MetalPayload";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const GROUP = "aws:autoscaling/group:Group";
const INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const RECORD = "aws:route53/record:Record";

/** A bare-metal payload as the fleet renders it: files in base64 heredocs, a pinned package. */
function payload(rmem: number, version: string): string {
  const sysctl = [
    "# avfleet-tune media-udp",
    "net.core.netdev_max_backlog = 250000",
    `net.core.rmem_max = ${rmem}`,
    "net.core.wmem_max = 16777216",
    "net.ipv4.udp_mem = 65536 131072 262144",
  ].join("\n");
  return renderPayload([
    {
      header: [`# avfleet-workload package=avfleet-sfu=${version}`],
      files: [{ path: "/etc/sysctl.d/60-avfleet.conf", mode: "0644", content: `${sysctl}\n` }],
      commands: [["/usr/bin/apt-get", "install", "-y", `avfleet-sfu=${version}`]],
    },
  ]).text;
}

const fleet = (name: string, resources: Plan["resources"], hosts = 24) =>
  plan(name, resources, { minHosts: hosts, maxHosts: hosts });

test("a changed payload: what it changes first, then a unified diff of its decoded files", () => {
  const before = payload(12582912, "2.4.1-1");
  const after = payload(16777216, "2.4.2-1");
  const t = textChange(before, after);
  assert.equal(t.encoding, "base64 heredocs");
  assert.deepEqual(t.summary, [
    "avfleet-sfu 2.4.1-1 → 2.4.2-1",
    "net.core.rmem_max 12582912 → 16777216",
  ]);
  // Removed and added side by side in their hunk, with context, not every removal first.
  const at = t.lines.indexOf("-  | net.core.rmem_max = 12582912");
  assert.ok(at > 0, t.lines.join("\n"));
  assert.equal(t.lines[at + 1], "+  | net.core.rmem_max = 16777216");
  assert.equal(t.lines[at - 1], "   | net.core.netdev_max_backlog = 250000");
  assert.match(t.lines[0], /^@@ -\d+,\d+ \+\d+,\d+ @@$/);
  assert.ok(t.lines.filter((l) => l.startsWith("@@")).length >= 2, "one hunk per place");

  const r = report([
    {
      before: plan("metal-sjc", [resource("metal-sjc", PAYLOAD, "p", { payload: before })]),
      after: plan("metal-sjc", [resource("metal-sjc", PAYLOAD, "p", { payload: after })]),
    },
  ]);
  const text = renderText(r);
  assert.match(
    text,
    /payload: \(decoded from base64 heredocs\)\n +changes: avfleet-sfu 2\.4\.1-1 → 2\.4\.2-1; net\.core\.rmem_max 12582912 → 16777216\n/,
  );
  assert.ok(text.indexOf("changes: avfleet-sfu") < text.indexOf("\n  -"));
});

test("AWS user data is read as the cloud-config it gzips", () => {
  const config = (v: string) =>
    `#cloud-config\nwrite_files:\n  - path: /etc/avfleet/release\n    content: ${v}\n`;
  const t = textChange(awsUserData(config("r-1")), awsUserData(config("r-2")));
  assert.equal(t.encoding, "gzip+base64");
  const at = t.lines.indexOf("-    content: r-1");
  assert.equal(t.lines[at + 1], "+    content: r-2", t.lines.join("\n"));
  assert.deepEqual(t.summary, ["content r-1 → r-2"]);
});

test("a new drain command's script is shown, every line added", () => {
  const drain =
    "ssh -F ssh_config sjc-m002 'run' <<'AVFLEET_PAYLOAD'\n#!/bin/sh\necho drain\nAVFLEET_PAYLOAD";
  const r = report([
    {
      before: plan("metal-sjc", []),
      after: plan("metal-sjc", [
        resource("metal-sjc", COMMAND, "metal-sjc-sjc-m002-drain", { create: drain }),
      ]),
    },
  ]);
  const text = renderText(r);
  assert.match(
    text,
    /\+ +metal-sjc-sjc-m002-drain .*\n +create:\n +@@ -0,0 \+1,4 @@\n +\+ +ssh -F ssh_config sjc-m002/,
  );
  assert.match(text, /\+ +echo drain\n/);
  assert.match(text, /hands 1 host a drain request/);
});

test("running hosts: an instance refresh, a template no host takes, re-run setups, replaced VMs, none", () => {
  const lt = (tag: string) =>
    resource("aws", LAUNCH_TEMPLATE, "lt", { tags: { "cost-center": tag } });
  const group = (opts: { refresh: boolean; ignore: boolean }) => ({
    ...resource("aws", GROUP, "asg", {
      launchTemplate: { id: "lt-1", version: "1" },
      ...(opts.refresh ? { instanceRefresh: { strategy: "Rolling" } } : {}),
    }),
    ...(opts.ignore ? { ignoreChanges: ["launchTemplate.version"] } : {}),
  });
  const label = (opts: { refresh: boolean; ignore: boolean }) =>
    report([
      {
        before: fleet("aws", [lt("a"), group(opts)]),
        after: fleet("aws", [lt("b"), group(opts)]),
      },
    ]).stacks[0].summary.hostEffects.map((e) => e.text);
  // A cost-center label is a new template version; with a refresh the group rolls every host.
  assert.deepEqual(label({ refresh: true, ignore: false }), [
    "rolls 24 hosts through instance refresh",
  ]);
  // avfleet's own group: no refresh, the version pinned until a rollout names the new one.
  assert.deepEqual(label({ refresh: false, ignore: true }), [
    "no running host touched: a new launch template version, which hosts get once the group names it (a rollout)",
  ]);

  const tune = (host: string, stallMs: number) =>
    resource("metal", COMMAND, `metal-${host}-tune`, { create: `ssh ${host}\nstallMs=${stallMs}` });
  const hosts = Array.from({ length: 68 }, (_, i) => `m${i}`);
  const metal = report([
    {
      before: fleet(
        "metal",
        hosts.map((h) => tune(h, 200)),
      ),
      after: fleet(
        "metal",
        hosts.map((h) => tune(h, 400)),
      ),
    },
  ]);
  assert.deepEqual(
    metal.stacks[0].summary.hostEffects.map((e) => e.text),
    ["re-runs the setup over SSH on 68 live hosts"],
  );
  const md = renderMarkdown(metal);
  assert.match(
    md,
    /> ⚠️ \*\*Running hosts in metal: re-runs the setup over SSH on 68 live hosts\*\*/,
  );
  // 68 Commands updated: the row says what happens on the hosts, not "68 machines".
  assert.match(
    md,
    /\| \*\*metal\*\* \| 0 \| 68 \| 0 \| 0 \| {2}\| re-runs the setup over SSH on 68 live hosts \|/,
  );
  assert.match(md, / · running hosts touched in 1 stack\*\*\n/);

  const gcp = (policy: string, action: string, image: string) =>
    fleet("gcp", [
      resource("gcp", INSTANCE_TEMPLATE, "tpl", { machineType: "c2d", image }),
      resource("gcp", MIG, "mig", { updatePolicy: { type: policy, minimalAction: action } }),
    ]);
  const effect = (policy: string, action: string) =>
    report([{ before: gcp(policy, action, "a"), after: gcp(policy, action, "b") }]).stacks[0]
      .summary.hostEffects[0];
  assert.equal(effect("PROACTIVE", "REPLACE").text, "replaces 24 VMs (PROACTIVE update policy)");
  assert.equal(effect("OPPORTUNISTIC", "REFRESH").touches, false);

  const dns = report([
    {
      before: fleet("metal", [resource("metal", RECORD, "r", { ttl: 300 })]),
      after: fleet("metal", [resource("metal", RECORD, "r", { ttl: 60 })]),
    },
  ]);
  assert.deepEqual(dns.stacks[0].summary.hostEffects, []);
  assert.match(renderMarkdown(dns), /· no running host touched/);
});

test("400 changed stacks: a capped table, the rest counted, within GitHub's limit", () => {
  const pairs = Array.from({ length: 400 }, (_, i) => {
    const name = `gcp-pool-${String(i).padStart(3, "0")}`;
    const fw = (range: string) =>
      resource(name, "gcp:compute/firewall:Firewall", "fw", { sourceRanges: [range] });
    return { before: plan(name, [fw("a")]), after: plan(name, [fw("b")]) };
  });
  const md = renderMarkdown(report(pairs));
  assert.ok(md.length <= GITHUB_COMMENT_LIMIT, `${md.length}`);
  assert.equal(md.split("\n").filter((l) => l.startsWith("| **gcp-pool-")).length, 100);
  assert.match(
    md,
    /_… and 300 more stacks change: the full diff is the run's `avfleet-diff` artifact/,
  );
  assert.ok(md.indexOf("300 more stacks") < md.indexOf("<details>"), "the summary first");
});

test("small things: labelled cost and weights, one minus sign, cost-only stacks, colours, cut stacks named, raised step limit", () => {
  const cost = (max: number) => ({
    computeMonthlyUsd: { min: 1000, max },
    egressMonthlyUsd: 500,
    trafficShare: 0.5,
  });
  const priced = (name: string, max: number, extra: Partial<Plan> = {}): Plan => ({
    ...plan(name, [], { minHosts: 2, maxHosts: 10 }),
    cost: cost(max),
    ...extra,
  });
  const traffic = (weights: Record<string, number>, maxStepPct: number) =>
    plan(
      "traffic-us-west",
      [
        resource("traffic-us-west", "avfleet:index:StackFacts", "facts", {
          traffic: { maxStepPct },
        }),
      ],
      { weights },
    );
  const r = report([
    { before: priced("gcp-a", 9000), after: priced("gcp-a", 7000) },
    {
      before: traffic({ "metal-sjc": 100, "gcp-us-west1": 0 }, 20),
      after: traffic({ "metal-sjc": 40, "gcp-us-west1": 60 }, 60),
    },
    {
      before: plan("gcp-b", [
        resource("gcp-b", "gcp:compute/firewall:Firewall", "fw", { name: "a" }),
      ]),
      after: plan("gcp-b", [
        resource("gcp-b", "gcp:compute/firewall:Firewall", "fw", { name: "b" }),
      ]),
    },
  ]);
  const md = renderMarkdown(r);
  // gcp-a's cost moved with prices, none of its inputs: not a changed stack.
  assert.match(md, /\*\*2 of 3 stacks change · 1 with cost only \(prices or demand moved\) · /);
  assert.match(md, /compute -\$2,000 \(min…max hosts\)|compute ±\$0…-\$2,000 \(min…max hosts\)/);
  assert.ok(!md.includes("−"), "ASCII minus, as plus is ASCII");
  assert.match(md, /metal-sjc 100% → 40%/);
  assert.match(
    md,
    /> ⚠️ \*\*Step limit raised in traffic-us-west: maxStepPct 20 → 60; this PR's traffic move is judged by the raised limit\*\*/,
  );
  // GitHub colours "-" red and "+" green: a replacement starts with "!".
  assert.match(md, /\n!\+- fw  gcp:compute:Firewall  replace/);

  const tight = renderMarkdown(r, md.indexOf("<details>") + 600);
  assert.match(tight, /_Details cut to fit GitHub's comment limit \(not shown: [a-z0-9-, ]+\)/);
});
