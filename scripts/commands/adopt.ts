/** avfleet adopt — the `pulumi import --file` that adopts a stack's existing DNS records. */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { adoption, type PlaceholderId, type ProviderVersions } from "../../modules/adopt/adopt";
import { environmentProblem, stackNaming } from "../../modules/adopt/backend";
import { DEFAULT_STACKS_DIR, loadStackFile, stackFileName } from "../../modules/stacks/stack";
import { InputError } from "../../modules/inputs/problems";
import { EXIT, evaluateNamedStacks, parseCommandArgs, UsageError, type Command } from "../cli";

export const PROJECT = "avfleet";
export const PROJECT_FILE = "Pulumi.yaml";

/** The SDK packages whose provider plugins the program's records run on. */
const PROVIDER_PACKAGES = ["@pulumi/aws", "@pulumi/gcp"];

/**
 * The provider plugin versions the program uses: a provider SDK's package.json names its
 * plugin and version under `pulumi` (resource, name, version), the one it asks the engine for.
 */
export function installedProviderVersions(): ProviderVersions {
  const req = createRequire(__filename);
  return Object.fromEntries(
    PROVIDER_PACKAGES.map((pkg) => {
      const json = req(`${pkg}/package.json`) as {
        version: string;
        pulumi?: { name?: string; version?: string };
      };
      return [json.pulumi?.name ?? pkg.split("/")[1], json.pulumi?.version ?? json.version];
    }),
  );
}

const describe = (p: PlaceholderId) =>
  `${p.record}: its import id rests on ${p.input} "${p.value}", which ${p.reason}${p.keys.length ? ` (from ${p.keys.join(", ")})` : ""}`;

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
components are created empty and each record is imported under its own parent, read with the
provider version the program uses. It then prints the commands to run, in order, with the
backend and the fully qualified stack name.

A record whose import id rests on a placeholder value (a made-up zone id, an example.net name)
cannot be read by pulumi import: that is bad input (exit 2, nothing written), except in an
example stack (avfleet:example), whose file is written with a warning. A stack file with an
environment: on a DIY backend is refused too: the CLI fails every command for it there.

Records the program adopts itself (a bare-metal Cloud DNS site with dns.adopt) are left out.
pulumi import fails on a record it cannot read: list with --only the ones that exist.

Options:
  --only NAME,...   adopt only these records (resource names, as listed without --only)
  --out FILE        where to write the import file (default: STACK.import.json)
  --backend URL     the state backend (default: PULUMI_BACKEND_URL, else Pulumi.yaml backend.url,
                    else the one \`pulumi login\` chose)
  --org ORG         your Pulumi Cloud organization: a bare --stack resolves in your default one
  --json            {"stack","qualifiedStack","backend","file","commands","placeholders",
                     "records":[{"urn","type","name","id","parentUrn"}]}
  --stacks-dir DIR  where the stack files are (default: stacks)

Exit codes: 1 when the DIY store is in the legacy layout (nothing written); 2 for bad input,
placeholder import ids outside an example stack, or an environment: on a DIY backend.

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
    const dir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    const stackFile = stackFileName(dir, stack);
    const envProblem = environmentProblem(
      stackFile,
      loadStackFile(stackFile).document,
      naming.backend,
    );
    if (envProblem) throw new InputError([envProblem]);
    const { plans } = await evaluateNamedStacks([stack], dir);
    let adopted;
    try {
      adopted = adoption(plans[0], installedProviderVersions(), only);
    } catch (err) {
      if (only) throw new UsageError((err as Error).message);
      throw err;
    }
    if (adopted.placeholders.length > 0 && !adopted.example) {
      throw new InputError([
        ...adopted.placeholders.map(
          (p) => `${stackFile}: ${p.keys.join(", ") || p.input}: ${describe(p)}`,
        ),
        "pulumi import would fail to read these records (a made-up Route53 zone is NoSuchHostedZone): set the keys to the zones and names that exist; nothing written",
      ]);
    }
    const qualifiedStack = naming.qualify(stack);
    const file = values.out ?? `${stack}.import.json`;
    // pulumi/pulumi 1b59498 pkg/cmd/pulumi/operations/import.go: the stack must exist
    // (RequireStack with LoadOnly, lines 1109-1116, else StackNotFoundError); without a
    // terminal the import needs --yes (1059-1061); --protect defaults to true (1366), and the
    // program, which does not protect these records, would clear it on the first up.
    const commands = [
      `pulumi login ${naming.backend.url}`,
      `pulumi stack init ${qualifiedStack}   # if the stack does not exist yet: pulumi import does not create it`,
      `pulumi import --file ${file} --generate-code=false --protect=false --stack ${qualifiedStack}   # in CI add --yes`,
      `pulumi preview --stack ${qualifiedStack}   # must show no create, replace or delete of these records`,
    ];
    const warnings = adopted.placeholders.map(
      (p) =>
        `warning: ${describe(p)}: a placeholder of this example stack; pulumi import fails on it until the key holds a real value`,
    );
    if (warnings.length > 0) process.stderr.write(`${warnings.join("\n")}\n`);
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
            commands: adopted.records.length > 0 ? commands : [],
            placeholders: adopted.placeholders,
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
        ...warnings,
        "then, with the credentials of the records' zones, in this order:",
        ...commands.map((c) => `  ${c}`),
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};
