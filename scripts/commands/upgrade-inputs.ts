/** avfleet upgrade-inputs — input files from the previous format, and what is left for a human. */
import { DEFAULT_STACKS_DIR } from "../../modules/stacks/stack";
import { formatProblems } from "../../modules/inputs/problems";
import { projectInputs, upgradeInputs, type FileResult } from "../../modules/upgrade/upgrade";
import { writeAll } from "../../modules/upgrade/write";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../cli";

export const command: Command = {
  summary: "rewrite stack files, inventories and runbooks from the previous format",
  help: `
Usage: avfleet upgrade-inputs [FILE...] [--write] [--json] [--stacks-dir DIR]

Reads stack files, inventories and runbooks (by default every Pulumi.<stack>.yaml in the
stacks directory, inventory/*.yaml and runbooks/*.yaml beside it) and rewrites each where a
change listed in CHANGELOG.md has a mechanical fix: a metal fleet's minHosts/maxHosts removed,
an absolute inventory path inside the project made relative, YAML merge keys (<<) written out,
a UTF-16 file converted to UTF-8, and in a scale replay --demand CSV (named as a FILE) a
hexadecimal or exponent count written in decimal and a third column dropped. Only the changed
keys' text changes: comments, key order and flow style stay byte for byte. Then the current loaders read the rewritten files (in a staging
copy) and what they still refuse, and what the mandatory policies a change introduced would
refuse, is listed with the Changelog's fix: those need you.

By default a dry run: prints per file each change (key path: old → new) and each problem left.
--write writes the rewritten files, all or none, and only when every rewritten file loads.

Options:
  --write           write the rewritten files (atomically: all of them or none)
  --json            {"files":[{"file","kind","changes":[{"path","from","to","entry"}],
                    "remaining":[{"path","message","expected","entry","fix","refused"}],
                    "loads"}],"elsewhere":[...],"written"}
  --stacks-dir DIR  where the stack files are (default: stacks); its parent is the project root

Exit: 0 nothing left for a human, 1 something is (nothing written with --write if a rewritten
file still fails to load), 2 a file cannot be read or is not YAML (nothing written).

Examples:
  avfleet upgrade-inputs
  avfleet upgrade-inputs stacks/Pulumi.metal-sjc.yaml inventory/metal-sjc.yaml --write`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      write: { type: "boolean" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    const stacksDir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    const files = positionals.length > 0 ? positionals : projectInputs(stacksDir);
    if (files.length === 0) {
      throw new UsageError(`no FILE given and no input files under ${stacksDir}'s project`);
    }
    const { files: results, elsewhere } = upgradeInputs(files, { stacksDir });
    const loads = (r: FileResult) => !r.remaining.some((p) => p.refused);
    const changed = results.filter((r) => r.changes.length > 0);
    const blocked = results.filter((r) => !loads(r));
    const left = results.some((r) => r.remaining.length > 0) || elsewhere.length > 0;
    const written = values.write === true && blocked.length === 0 && changed.length > 0;
    if (written) writeAll(changed.map(({ file, text, read }) => ({ file, text, read })));
    if (values.json) {
      const files = results.map((r) => ({
        file: r.file,
        kind: r.kind,
        changes: r.changes,
        remaining: r.remaining,
        loads: loads(r),
      }));
      process.stdout.write(`${JSON.stringify({ files, elsewhere, written }, null, 2)}\n`);
    } else {
      process.stdout.write(
        report(results, formatProblems(elsewhere), values.write === true, written),
      );
    }
    return left ? EXIT.findings : EXIT.ok;
  },
};

function report(results: FileResult[], elsewhere: string[], write: boolean, written: boolean) {
  const out: string[] = [];
  for (const r of results) {
    if (r.changes.length === 0 && r.remaining.length === 0) continue;
    out.push(`${r.file} (${r.kind})`);
    for (const c of r.changes) out.push(`  changed ${c.path}: ${c.from} → ${c.to}`);
    for (const p of r.remaining) {
      const subject = p.subject === undefined ? "" : ` ${p.subject}`;
      out.push(`  needs you ${p.path}: ${p.message}${subject}, expected ${p.expected}`);
      if (p.fix) out.push(`    fix (CHANGELOG.md, ${p.entry}): ${p.fix}`);
    }
  }
  if (elsewhere.length > 0) {
    out.push("files the named ones read (name them to upgrade them too):");
    out.push(...elsewhere.map((line) => `  needs you ${line}`));
  }
  const changes = results.reduce((n, r) => n + r.changes.length, 0);
  const files = results.filter((r) => r.changes.length > 0).length;
  const left = results.reduce((n, r) => n + r.remaining.length, 0) + elsewhere.length;
  const blocked = results.filter((r) => r.remaining.some((p) => p.refused)).length;
  const outcome = written
    ? `wrote ${files} file(s)`
    : write && blocked > 0
      ? `nothing written: ${blocked} file(s) would still fail to load`
      : write || files === 0
        ? "nothing to write"
        : `dry run, nothing written (--write writes ${files} file(s))`;
  out.push(
    `${results.length} file(s): ${changes} mechanical change(s), ${left} left for a human; ${outcome}`,
  );
  return `${out.join("\n")}\n`;
}
