/** avfleet backend — the state backend, its layout, and the stack names used there. */
import { environmentProblem, stackNaming } from "../../modules/adopt/backend";
import { DEFAULT_STACKS_DIR, listStacks, loadStacks } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { servingPools } from "../../modules/traffic/weights";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../cli";
import { PROJECT, PROJECT_FILE } from "./adopt";

export const command: Command = {
  summary: "check the state backend takes the stack names the traffic splits reference",
  help: `
Usage: avfleet backend [--backend URL] [--org ORG] [--json] [--stacks-dir DIR]

Prints the backend (from --backend, PULUMI_BACKEND_URL, Pulumi.yaml's backend.url or the one
\`pulumi login\` chose), every stack's fully qualified name there, and the StackReference names each traffic split reads.
On a DIY backend they are organization/avfleet/<stack>; on Pulumi Cloud <org>/avfleet/<stack>,
and a bare --stack resolves in your default organization, so --org is required.

For a file:// store it reads .pulumi/meta.yaml: a store in the legacy layout (state version 0,
written by CLIs before v3.61, or no meta.yaml beside existing stacks) refuses project-scoped
names until \`pulumi state upgrade\`; that is a finding (exit 1). A bucket (s3://, gs://,
azblob://) is not read: the output says what to look for. A stack file with an environment:
is bad input on a DIY backend (exit 2): the CLI fails every command for it there.

Options:
  --backend URL     the state backend
  --org ORG         your Pulumi Cloud organization
  --json            {"backend","layout","problem","stacks":[{"stack","qualified","references"}]}
  --stacks-dir DIR  where the stack files are (default: stacks)

Examples:
  avfleet backend --backend file://~
  avfleet backend --backend https://api.pulumi.com --org media-infra`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      backend: { type: "string" },
      org: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    if (positionals.length > 0) {
      throw new UsageError(`expected no STACK, got ${positionals.join(" ")}`);
    }
    const naming = stackNaming(values, process.env, PROJECT_FILE, PROJECT);
    const dir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    const loaded = loadStacks(dir, listStacks(dir));
    const envProblems = loaded
      .map((s) => environmentProblem(s.file, s.document, naming.backend))
      .filter((p): p is string => p !== undefined);
    if (envProblems.length > 0) throw new InputError(envProblems);
    const stacks = loaded.map((s) => ({
      stack: s.name,
      qualified: naming.qualify(s.name),
      // What TrafficSplit's StackReferences name (modules/traffic/stack-ref.ts stackRef).
      references: s.traffic
        ? [s.name, ...servingPools(s.traffic).map((p) => p.stack)].map(naming.qualify)
        : [],
    }));
    if (values.json) {
      const { backend, layout, problem } = naming;
      process.stdout.write(
        `${JSON.stringify({ backend, layout: layout ?? null, problem: problem ?? null, stacks }, null, 2)}\n`,
      );
    } else {
      const { backend, layout } = naming;
      const lines = [`backend ${backend.url} (${backend.kind}, from ${backend.source})`];
      if (layout)
        lines.push(
          `layout  ${layout.version === "unknown" ? "not read" : `version ${layout.version}`}: ${layout.why}`,
        );
      for (const s of stacks) {
        lines.push(
          `  ${s.stack.padEnd(18)} ${s.qualified}${s.references.length ? `  reads ${s.references.join(", ")}` : ""}`,
        );
      }
      if (naming.problem) lines.push(`problem: ${naming.problem}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return naming.problem ? EXIT.findings : EXIT.ok;
  },
};
