/** avfleet policy — every policy over every stack, offline, as the policy pack would judge. */
import {
  DEFAULT_STACKS_DIR,
  listStacks,
  loadStacks,
  pulumiConfigMap,
} from "../../modules/stacks/stack";
import { weightsAtRevision, withAppliedWeights } from "../../modules/policy-runner/base";
import { checkPlan } from "../../modules/policy-runner/runner";
import { poolPrefixViolations, regionDemandViolations } from "../../modules/policy-runner/estate";
import { POLICIES, type Violation } from "../../modules/policy-runner";
import { EXIT, evaluateNamedStacks, parseCommandArgs, type Command } from "../cli";

export function renderViolations(stacks: string[], violations: Violation[]): string {
  const lines: string[] = [];
  for (const stack of stacks) {
    // Mandatory first: they block an update; advisories (an example's placeholders) follow.
    const own = violations
      .filter((v) => v.stack === stack)
      .sort((a, b) => Number(a.level === "advisory") - Number(b.level === "advisory"));
    lines.push(`${stack}: ${own.length === 0 ? "ok" : `${own.length} violation(s)`}`);
    for (const v of own) {
      lines.push(
        `  [${v.level}] ${v.policy}: ${v.urn.split("::").pop()}: ${v.message}`,
        `      fix: ${v.remediation}`,
      );
    }
  }
  const mandatory = violations.filter((v) => v.level === "mandatory").length;
  lines.push(
    `policy: ${stacks.length} stacks, ${POLICIES.length} policies, ${mandatory} mandatory and ${violations.length - mandatory} advisory violation(s)`,
  );
  return `${lines.join("\n")}\n`;
}

export const command: Command = {
  summary: "check every stack against the policy pack, offline",
  help: `
Usage: avfleet policy [STACK...] [--base REV] [--json] [--stacks-dir DIR]

Evaluates each stack (as \`avfleet preview\` does) and runs every policy of the pack in
policy/ over it. Prints per stack each violation with its level and how to fix it.
Exits 1 when any mandatory policy is violated.

The step rule (traffic-weights: one change moves at most maxStepPct points) needs the weights
last applied. The pack reads them from the stack itself; offline there are none, so give
--base the revision that is applied (e.g. origin/main): each traffic split's weights there
bound the move.

Each stack's config goes to the policies as the Pulumi CLI hands it to the pack
(PULUMI_CONFIG), so a program whose StackFacts disagree with it is refused
(stack-facts-match-config).

With the Pulumi CLI, the same pack runs as: pulumi preview --policy-pack policy -s <stack>
The pack sees one stack; a check across stacks runs here alone, over the stacks evaluated
(name none to judge the whole estate): gcp-pool-names-prefix-free, no GCP pool's name and a
hyphen beginning another's in one project (a scale-in controller's IAM holds it to a prefix);
region-pools-one-demand, every pool of a media region declares the same avfleet:fleet.demand
(they serve the same users; each pool's hosts needed is computed from its own copy).

Options:
  --json            {"violations":[{"stack","urn","policy","level","message","remediation"}]}
  --base REV        judge traffic steps from the weights in REV's stack files
  --stacks-dir DIR  where the stack files are (default: stacks)`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      json: { type: "boolean" },
      "stacks-dir": { type: "string" },
      base: { type: "string" },
    });
    const dir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    // Checked before any evaluation: a bad revision is bad input.
    const applied = values.base
      ? weightsAtRevision(values.base, dir, positionals.length ? positionals : listStacks(dir))
      : new Map();
    const { names, plans } = await evaluateNamedStacks(positionals, dir);
    // Each stack file read once, for what the engine hands the pack beside the resources (its
    // config) and for the estate checks (its fleet).
    const stacks = new Map(
      loadStacks(
        dir,
        plans.map((p) => p.name),
      ).map((s) => [s.name, s]),
    );
    const violations = [
      ...plans.flatMap((plan) =>
        checkPlan(
          withAppliedWeights(plan, applied.get(plan.name)),
          POLICIES,
          pulumiConfigMap(stacks.get(plan.name)!.document).config,
        ),
      ),
      ...poolPrefixViolations(plans),
      ...regionDemandViolations(plans, (stack) => stacks.get(stack)?.fleet),
    ];
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ violations }, null, 2)}\n`
        : renderViolations(names, violations),
    );
    return violations.some((v) => v.level === "mandatory") ? EXIT.findings : EXIT.ok;
  },
};
