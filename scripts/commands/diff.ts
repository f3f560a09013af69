/** avfleet diff — what a change does to every stack, offline, for a reviewer. */
import { runDiff } from "../../modules/diff/run";
import { renderMarkdown, renderText, reportJson } from "../../modules/diff/report";
import { EXIT, UsageError, parseCommandArgs, progress, progressDone, type Command } from "../cli";

export const command: Command = {
  summary: "what a change does to every stack: resources, hosts, cost, traffic, policy (offline)",
  help: `
Usage: avfleet diff --base REV [--head REV] [--markdown | --json] [--fail-on-violations]

Compares the Plans of every stack at two revisions, matched by URN: resources created,
updated (property paths, old → new, secrets redacted), replaced (a changed input forces a
new resource) and deleted; stacks added and removed. A summary comes first — per stack the
counts, hosts min/max, monthly cost (compute, egress), traffic-weight changes, host state
changes and new policy violations — then the details of each stack.

The base (and --head, when given) is checked out into a temporary git worktree that reuses
this checkout's node_modules, and evaluated offline under Pulumi's mocks. Plans are cached
in .avfleet/cache/plans by a hash of their inputs (program sources, stack files, lockfile,
Node version): a stack is evaluated once per distinct input, and a revision whose Plans are
all cached is not checked out at all.

Options:
  --base REV            the revision to compare against (branch, tag, commit; e.g. origin/main)
  --head REV            the changed revision (default: the working tree, uncommitted changes included)
  --markdown            a PR comment: the summary whole, details cut to fit GitHub's
                        65,536-character comment (with room for the workflow's lines)
  --json                {"base","head","changed","stacks":[{"stack","status","created","updated",
                        "replaced","deleted","hosts","cost","weights","hostStates","policy",
                        "resources":[{"op","urn","type","name","changes":[{"path","before","after",
                        "replaces"}]}],"outputs","economics"}]}
  --fail-on-violations  exit 1 when the head has mandatory policy violations the base did not

Examples:
  avfleet diff --base origin/main
  avfleet diff --base origin/main --markdown > comment.md
  avfleet diff --base v1.4.0 --head HEAD --json`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      base: { type: "string" },
      head: { type: "string" },
      markdown: { type: "boolean" },
      json: { type: "boolean" },
      "fail-on-violations": { type: "boolean" },
    });
    if (!values.base) throw new UsageError("--base REV is required");
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals.join(" ")}`);
    if (values.markdown && values.json) {
      throw new UsageError("--markdown and --json exclude each other");
    }
    const report = await runDiff({
      cwd: process.cwd(),
      base: values.base,
      head: values.head,
      onProgress: progress,
    });
    progressDone();
    process.stdout.write(
      values.json
        ? `${JSON.stringify(reportJson(report), null, 2)}\n`
        : values.markdown
          ? renderMarkdown(report)
          : renderText(report),
    );
    const violations = report.stacks.some((s) =>
      s.summary.policy.introduced.some((v) => v.level === "mandatory"),
    );
    return values["fail-on-violations"] && violations ? EXIT.findings : EXIT.ok;
  },
};
