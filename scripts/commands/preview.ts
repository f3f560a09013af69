/** avfleet preview — what every stack declares, evaluated offline under Pulumi's mocks. */
import { DEFAULT_STACKS_DIR } from "../../modules/stacks/stack";
import {
  jsonPieces,
  PREVIEW_JSON_DEPTH,
  previewJson,
  renderPreview,
} from "../../modules/plan/render-preview";
import { EXIT, evaluateNamedStacks, parseCommandArgs, UsageError, type Command } from "../cli";

export const command: Command = {
  summary: "show what each stack declares (offline: Pulumi mock runtime, no credentials)",
  help: `
Usage: avfleet preview [STACK...] [--json] [--stacks-dir DIR] [--loader bundle|pulumi-cli]

Evaluates each stack's program (index.ts) under Pulumi's mock runtime in warm worker
processes, one per core (at most one per stack), each evaluating stack after stack, the
largest first; prints per stack a resource tree grouped by component and a summary line.
Without STACK, previews every stacks/Pulumi.<stack>.yaml. Every stack file is validated
first; any problem stops the command before anything is evaluated (exit 2).

Options:
  --json            {"stacks":[{"name","resources":[{"urn","type","name","parent","inputs"}],"outputs"}]}
  --stacks-dir DIR  where the stack files are (default: stacks)
  --loader L        how TypeScript is loaded: bundle (default: one cached build that resolves
                    like the CLI) or pulumi-cli: the sources under ts-node
                    registered as the Pulumi CLI registers it, type checking included
                    (PULUMI_NODEJS_TRANSPILE_ONLY=true skips it, as with pulumi up)

Examples:
  avfleet preview
  avfleet preview gcp-us-west1 --json
  avfleet preview gcp-us-west1 --loader pulumi-cli`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
      loader: { type: "string" },
    });
    const loader = values.loader ?? "bundle";
    if (loader !== "bundle" && loader !== "pulumi-cli") {
      throw new UsageError(`--loader is "${loader}", expected bundle or pulumi-cli`);
    }
    const started = Date.now();
    const { plans } = await evaluateNamedStacks(
      positionals,
      values["stacks-dir"] ?? DEFAULT_STACKS_DIR,
      loader,
    );
    const seconds = (Date.now() - started) / 1000;
    if (!values.json) {
      process.stdout.write(renderPreview(plans, seconds));
      return EXIT.ok;
    }
    // Resource by resource, in writes of about a megabyte.
    let pending = "";
    for (const piece of jsonPieces(previewJson(plans), PREVIEW_JSON_DEPTH)) {
      pending += piece;
      if (pending.length >= 1 << 20) {
        process.stdout.write(pending);
        pending = "";
      }
    }
    process.stdout.write(`${pending}\n`);
    return EXIT.ok;
  },
};
