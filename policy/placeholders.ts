/**
 * Placeholder values in a stack's config (contract/placeholders.ts says which). The program
 * declares every string its stack config sets (StackFacts.settings), so a finding names the key
 * to set.
 */
// The SDK's settings alone: the whole SDK would add half a second to every `avfleet policy`.
import { isDryRun } from "@pulumi/pulumi/runtime/settings";
import type { StackFacts } from "./contract/facts";
import { placeholderReason } from "./contract/placeholders";
import { withFacts, type StackPolicy } from "./policy";

/** Beyond this many findings of one key pattern and reason, one line sums them up. */
const SPELLED_OUT = 3;

function placeholderFindings(facts: StackFacts): string[] {
  const groups = new Map<string, { key: string; value: string; reason: string }[]>();
  for (const [key, value] of Object.entries(facts.settings)) {
    const reason = placeholderReason(value);
    if (!reason) continue;
    const pattern = `${key.replace(/\[\d+\]/g, "[*]")}\0${reason}`;
    groups.set(pattern, [...(groups.get(pattern) ?? []), { key, value, reason }]);
  }
  return [...groups.values()].flatMap((found) => {
    if (found.length <= SPELLED_OUT) {
      return found.map(
        ({ key, value, reason }) =>
          `${key} is "${value}", which ${reason}: set it to your own value`,
      );
    }
    const { key, value, reason } = found[0];
    return [
      `${key.replace(/\[\d+\]/g, "[*]")}: ${found.length} values like "${value}", which ${reason}: set them to your own`,
    ];
  });
}

const remediationSteps =
  "Set each avfleet: key the violation names (e.g. avfleet:fleet.dns.zone, avfleet:fleet.adminCidrs[0]) in stacks/Pulumi.<stack>.yaml to your own value (pulumi config set --path, --secret for a secret); see docs/reference/policy-pack.md, Placeholders.";

export const noPlaceholders: StackPolicy = {
  name: "no-placeholders",
  description:
    "A stack to be applied sets no placeholder values (example zone ids, OFFLINE markers, example AMIs, networks, domains, documentation address ranges).",
  enforcementLevel: "mandatory",
  remediationSteps,
  validateStack: withFacts((facts, args, reportViolation, factsUrn) => {
    if (facts.example) return args.notApplicable("an example stack (avfleet:example: true)");
    for (const finding of placeholderFindings(facts)) reportViolation(finding, factsUrn);
  }),
};

/** What an example stack must do before its first `pulumi up`. */
const exampleRemediation = `${remediationSteps} Then remove avfleet:example.`;

/** A validation of example stacks (avfleet:example: true) alone. */
const ofExamples = (validate: Parameters<typeof withFacts>[0]) =>
  withFacts((facts, args, reportViolation, factsUrn) =>
    facts.example
      ? validate(facts, args, reportViolation, factsUrn)
      : args.notApplicable("not an example stack"),
  );

export const examplePlaceholders: StackPolicy = {
  name: "example-placeholders",
  description:
    "An example stack (avfleet:example: true) lists the placeholders a team must replace before its first `pulumi up`.",
  enforcementLevel: "advisory",
  remediationSteps: exampleRemediation,
  validateStack: ofExamples((facts, _args, reportViolation, factsUrn) => {
    for (const finding of placeholderFindings(facts)) reportViolation(finding, factsUrn);
  }),
};

export const exampleNeverApplied: StackPolicy = {
  name: "example-never-applied",
  description:
    "An example stack (avfleet:example: true) is previewed, never applied: its placeholders name zones, networks and hosts that are not the team's.",
  enforcementLevel: "mandatory",
  remediationSteps: exampleRemediation,
  validateStack: ofExamples((_facts, args, reportViolation, factsUrn) => {
    // The engine starts a pack with PULUMI_NODEJS_DRY_RUN "true" for a preview and "false" for
    // an update, which isDryRun() reads: pulumi/pulumi pkg/resource/plugin/analyzer_plugin.go
    // (constructEnv) and its policy-dryrun conformance test; see docs/real-path.md.
    if (isDryRun()) return args.notApplicable("a preview");
    reportViolation(
      "avfleet:example is true, and this is an update: an example stack is never applied",
      factsUrn,
    );
  }),
};
