/**
 * How large is a shard of a change to every host of a big bare-metal site, and how long do the
 * merge and the comment take? A synthetic report, as `avfleet diff --shard` would hold it: every
 * host's Command changed (its own ~700-character script, as a rollout hands each host a new
 * payload sha) and both host classes' ~95 KB payloads changed. Figures: the shard as format 1
 * wrote it (every text in full), as format 2 writes it (each large text once), the time to read
 * it back through `diff merge`, and the comment's size and render time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diffPlans } from "../modules/diff/diff";
import { mergeShards, shardDocument } from "../modules/diff/merge";
import { renderMarkdown, type DiffReport } from "../modules/diff/report";
import { summarizeStack } from "../modules/diff/summary";
import type { Plan, PlanResource } from "../modules/plan/plan";

const COMMAND = "command:local:Command";
const PAYLOAD = "avfleet:fleets:MetalPayload";

function payloadText(version: string, cls: string): string {
  const lines = Array.from({ length: 1250 }, (_, i) =>
    Buffer.from(`${cls} line ${i} of the host bootstrap, avfleet-sfu=${i === 7 ? version : "x"}`)
      .toString("base64")
      .slice(0, 76),
  );
  return [`# avfleet-workload package=avfleet-sfu=${version}`, ...lines].join("\n");
}

function sitePlan(hosts: number, version: string): Plan {
  const resource = (type: string, name: string, inputs: Record<string, unknown>): PlanResource => ({
    urn: `urn:pulumi:metal-big::avfleet::${type}::${name}`,
    type,
    name,
    custom: type === COMMAND,
    inputs,
  });
  const sha = (cls: string) => Buffer.from(`${cls}${version}`).toString("hex").padEnd(64, "0");
  const resources = ["r640", "r6525"].map((cls) =>
    resource(PAYLOAD, `payload-${cls}`, { payload: payloadText(version, cls), sha: sha(cls) }),
  );
  for (let i = 0; i < hosts; i++) {
    const host = `big-m${String(i).padStart(5, "0")}`;
    const cls = i % 2 ? "r6525" : "r640";
    const create = [
      `f=.avfleet/payloads/${sha(cls)}.sh;[ -f $f ]||f=/dev/null`,
      `sh .avfleet/ssh/metal-big.master&&ssh -F .avfleet/ssh/metal-big.config ${host} 's=${sha(cls)} p=/var/lib/avfleet/payload.sh`,
      `i(){ sudo -n /usr/bin/install -D -o root -g root -m 0700 /dev/stdin $p;}`,
      `c(){ [ "$(sudo -n /usr/bin/sha256sum $p)" = "$s  $p" ];}`,
      `mkdir -p \${l%/*};sudo -n /bin/sh $p >$l 2>&1||{ tail -n20 $l>&2;exit 1;}' <$f`,
    ].join("\n");
    resources.push(resource(COMMAND, `metal-big-${host}-tune`, { create }));
  }
  return { name: "metal-big", resources, outputs: { hosts: { active: hosts } } };
}

function main(): void {
  const hosts = Number(process.argv[2] ?? 5000);
  const base = sitePlan(hosts, "2.4.1-1");
  const head = sitePlan(hosts, "2.4.2-1");
  const diff = diffPlans(base, head);
  const none = { introduced: [], resolved: [] };
  const report: DiffReport = {
    base: { label: "HEAD^1", commit: "abc1234" },
    head: { label: "HEAD", commit: "def5678" },
    stacks: [{ diff, summary: summarizeStack(diff, base, head, none) }],
  };
  const shard = { index: 1, count: 1 };
  const v1 = JSON.stringify({ format: 1, shard, stacks: ["metal-big"], report });
  const v2 = JSON.stringify(shardDocument(shard, ["metal-big"], report));
  const dir = mkdtempSync(join(tmpdir(), "avfleet-shard-bench-"));
  try {
    const file = join(dir, "shard-1.json");
    writeFileSync(file, v2);
    let started = process.hrtime.bigint();
    const merged = mergeShards([file]);
    const mergeSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    started = process.hrtime.bigint();
    const md = renderMarkdown(merged);
    const renderSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const mb = (n: number) => (n / 1e6).toFixed(2);
    console.log(`diff shard bench: ${hosts} hosts, every host's command and both payloads changed`);
    console.log(`  shard, every text in full (format 1)   ${mb(v1.length).padStart(8)} MB`);
    console.log(`  shard, large texts once (format 2)     ${mb(v2.length).padStart(8)} MB`);
    console.log(
      `  diff merge of the shard                ${mergeSeconds.toFixed(2).padStart(8)} s`,
    );
    console.log(
      `  markdown comment                       ${String(md.length).padStart(8)} chars, ${renderSeconds.toFixed(2)} s`,
    );
    console.log(
      `diff-shard: hosts=${hosts} shard_v1_mb=${mb(v1.length)} shard_v2_mb=${mb(v2.length)} merge_seconds=${mergeSeconds.toFixed(2)} comment_chars=${md.length} render_seconds=${renderSeconds.toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
