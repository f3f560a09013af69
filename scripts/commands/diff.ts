/** avfleet diff — what a change does to every stack, offline, for a reviewer. */
import { mergeShards, shardDocument } from "../../modules/diff/merge";
import { runDiff, type Shard } from "../../modules/diff/run";
import { renderMarkdown, renderText, reportJson, type DiffReport } from "../../modules/diff/report";
import { EXIT, UsageError, parseCommandArgs, progress, progressDone, type Command } from "../cli";

export const command: Command = {
  summary: "what a change does to every stack: resources, hosts, cost, traffic, policy (offline)",
  help: `
Usage: avfleet diff --base REV [--head REV] [--markdown | --json | --shard I/N] [--fail-on-violations]
       avfleet diff merge SHARD.json... [--markdown | --json] [--fail-on-violations]

Compares the Plans of every stack at two revisions, matched by URN: resources created,
updated (property paths, old → new, secrets redacted), replaced (a changed input forces a
new resource) and deleted; stacks added and removed. A summary comes first — per stack the
counts, hosts min/max, what the change does to the hosts running now (an instance refresh,
VMs replaced, a setup re-run over SSH, or none: by the provider's rules), monthly cost
(compute at min…max hosts, egress), traffic-weight changes (%), host state changes and new
policy violations — then the details of each stack. A changed script or boot payload reads
as a unified diff, decoded where avfleet encoded it (a payload's base64 files, AWS user
data's gzip+base64), with what it changes first (a package version, a sysctl).

The base (and --head, when given) is checked out into a temporary git worktree that reuses
this checkout's node_modules, and evaluated offline under Pulumi's mocks. Plans are cached
in .avfleet/cache by a hash of the files each stack's evaluation used (the modules its
program ran, its stack file, the stack files and inventory it read), tsconfig.json, the
lockfile and Node's version: a change to the AWS fleet module re-evaluates the AWS stacks
only, and a revision whose Plans are all cached is not checked out at all. After each run
the cache is pruned to its defaults (see avfleet cache prune).

When an estate outgrows one runner, split the stacks into N shards run anywhere (a CI
matrix): --shard I/N evaluates and compares every N-th stack (by name, from the I-th) and
writes a shard document (JSON) to stdout, each large text in it once, by sha256;
\`avfleet diff merge\` reads all N of them (up to 256 MiB each) and prints the one report a
single run would have printed.

Options:
  --base REV            the revision to compare against (branch, tag, commit; e.g. origin/main)
  --head REV            the changed revision (default: the working tree, uncommitted changes included)
  --markdown            a PR comment: the summary first (at most 100 table rows, the rest
                        counted), details cut to fit GitHub's 65,536-character comment (with
                        room for the workflow's lines), the stacks left out named
  --json                {"base","head","changed","stacks":[{"stack","status","created","updated",
                        "replaced","deleted","hosts","cost","weights","hostStates","policy","hostEffects",
                        "resources":[{"op","urn","type","name","changes":[{"path","before","after",
                        "replaces"}]}],"outputs","economics"}]}
  --shard I/N           only shard I of N (1 <= I <= N); stdout is a shard document for merge
  --fail-on-violations  exit 1 when the head has mandatory policy violations the base did not

Examples:
  avfleet diff --base origin/main
  avfleet diff --base origin/main --markdown > comment.md
  avfleet diff --base v1.4.0 --head HEAD --json
  avfleet diff --base origin/main --shard 2/4 > shard-2.json
  avfleet diff merge shard-*.json --markdown > comment.md`,
  async run(argv) {
    if (argv[0] === "merge") return merge(argv.slice(1));
    const { values, positionals } = parseCommandArgs(argv, {
      base: { type: "string" },
      head: { type: "string" },
      markdown: { type: "boolean" },
      json: { type: "boolean" },
      shard: { type: "string" },
      "fail-on-violations": { type: "boolean" },
    });
    if (!values.base) throw new UsageError("--base REV is required");
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals.join(" ")}`);
    if ([values.markdown, values.json, values.shard].filter(Boolean).length > 1) {
      throw new UsageError("--markdown, --json and --shard exclude each other");
    }
    const shard = values.shard === undefined ? undefined : parseShard(values.shard);
    const report = await runDiff({
      cwd: process.cwd(),
      base: values.base,
      head: values.head,
      shard,
      onProgress: progress,
    });
    progressDone();
    if (shard) {
      const stacks = report.stacks.map((s) => s.diff.stack);
      process.stdout.write(`${JSON.stringify(shardDocument(shard, stacks, report))}\n`);
      return outcome(report, values["fail-on-violations"]);
    }
    return print(report, values);
  },
};

function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!match || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard is "${text}", expected I/N with 1 <= I <= N, e.g. 2/4`);
  }
  return { index, count };
}

function outcome(report: DiffReport, failOnViolations: boolean | undefined): number {
  const violations = report.stacks.some((s) =>
    s.summary.policy.introduced.some((v) => v.level === "mandatory"),
  );
  return failOnViolations && violations ? EXIT.findings : EXIT.ok;
}

function print(
  report: DiffReport,
  values: { json?: boolean; markdown?: boolean; "fail-on-violations"?: boolean },
): number {
  process.stdout.write(
    values.json
      ? `${JSON.stringify(reportJson(report), null, 2)}\n`
      : values.markdown
        ? renderMarkdown(report)
        : renderText(report),
  );
  return outcome(report, values["fail-on-violations"]);
}

async function merge(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    markdown: { type: "boolean" },
    json: { type: "boolean" },
    "fail-on-violations": { type: "boolean" },
  });
  if (values.markdown && values.json) {
    throw new UsageError("--markdown and --json exclude each other");
  }
  return print(mergeShards(positionals), values);
}
