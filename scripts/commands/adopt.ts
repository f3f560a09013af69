/** avfleet adopt — the `pulumi import --file` that adopts a stack's existing DNS records. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { adoption } from "../../modules/adopt/adopt";
import { stackNaming } from "../../modules/adopt/backend";
import { DEFAULT_STACKS_DIR } from "../../modules/config/stack";
import { EXIT, evaluateNamedStacks, parseCommandArgs, UsageError, type Command } from "../cli";

export const PROJECT = "avfleet";
export const PROJECT_FILE = "Pulumi.yaml";

export const command: Command = {
  summary: "write the pulumi import file that adopts a stack's existing DNS records",
  help: `
Usage: avfleet adopt STACK [--only NAME,...] [--out FILE] [--backend URL] [--org ORG]
                     [--json] [--stacks-dir DIR]

A join record or pool endpoint that already exists must be imported before the stack's first
\`up\`, under the URN the program declares it with: the program declares its records as
children of the TrafficSplit and fleet components, and a record imported anywhere else is
created again by the next up (a Cloud DNS record set's create overwrites the live one) and
its imported copy deleted. This command evaluates STACK offline, takes each DNS record it
declares (Route53 Record, Cloud DNS RecordSet) with the components above it, computes its
import id, and writes a \`pulumi import --file\` document (CLI v3.94 or later) in which the
components are created empty and each record is imported under its own parent. It then
prints the command to run with the fully qualified stack name.

Records the program adopts itself (a bare-metal Cloud DNS site with dns.adopt) are left out.
pulumi import fails on a record it cannot read: list with --only the ones that exist.

Options:
  --only NAME,...   adopt only these records (resource names, as listed without --only)
  --out FILE        where to write the import file (default: STACK.import.json)
  --backend URL     the state backend (default: PULUMI_BACKEND_URL, else Pulumi.yaml backend.url)
  --org ORG         your Pulumi Cloud organization: a bare --stack resolves in your default one
  --json            {"stack","qualifiedStack","backend","file","records":[{"urn","type","name","id","parentUrn"}]}
  --stacks-dir DIR  where the stack files are (default: stacks)

Exit codes: 1 when the DIY store is in the legacy layout (nothing written).

Examples:
  avfleet adopt traffic-us-west --backend s3://media-pulumi-state
  avfleet adopt gcp-us-west1 --backend https://api.pulumi.com --org media-infra --only gcp-usw1-endpoint`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      only: { type: "string" },
      out: { type: "string" },
      backend: { type: "string" },
      org: { type: "string" },
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(`expected one STACK, got ${positionals.length}`);
    }
    const [stack] = positionals;
    // The backend first: a missing --org or an unreadable store stops before any evaluation.
    const naming = stackNaming(values, process.env, PROJECT_FILE, PROJECT);
    if (naming.problem) {
      process.stderr.write(`${stack}: ${naming.problem}\n`);
      return EXIT.findings;
    }
    const only = values.only?.split(",").map((name) => name.trim());
    if (only && only.some((name) => name === "")) {
      throw new UsageError(
        `--only is "${values.only}", expected resource names separated by commas`,
      );
    }
    const { plans } = await evaluateNamedStacks(
      [stack],
      values["stacks-dir"] ?? DEFAULT_STACKS_DIR,
    );
    let adopted;
    try {
      adopted = adoption(plans[0], only);
    } catch (err) {
      if (only) throw new UsageError((err as Error).message);
      throw err;
    }
    const qualifiedStack = naming.qualify(stack);
    const file = values.out ?? `${stack}.import.json`;
    if (adopted.records.length > 0) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(adopted.file, null, 2)}\n`);
    }
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            stack,
            qualifiedStack,
            backend: naming.backend,
            file: adopted.records.length > 0 ? file : null,
            records: adopted.records,
          },
          null,
          2,
        )}\n`,
      );
      return EXIT.ok;
    }
    const lines = [
      `${stack}: backend ${naming.backend.url} (${naming.backend.kind}, from ${naming.backend.source}); stack ${qualifiedStack}`,
    ];
    if (adopted.records.length === 0) {
      lines.push(`${stack}: no DNS record to adopt; nothing written`);
    } else {
      for (const r of adopted.records) {
        lines.push(
          `  ${r.name}  ${r.type}`,
          `      id      ${r.id}`,
          `      parent  ${r.parentUrn ?? "(the stack)"}`,
        );
      }
      lines.push(
        `wrote ${file}: ${adopted.records.length} record(s) and ${adopted.file.resources.length - adopted.records.length} component(s)`,
        "then, with the credentials of the records' zones:",
        `  pulumi import --file ${file} --generate-code=false --stack ${qualifiedStack}`,
        `  pulumi preview --stack ${qualifiedStack}   # must show no create, replace or delete of these records`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};
