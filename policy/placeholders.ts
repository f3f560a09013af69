/**
 * Values that are plainly placeholders: they evaluate offline, and break (or hit someone
 * else's zone, network or documentation range) on a real `pulumi up`. The program declares
 * every string its stack config sets (StackFacts.settings), so a finding names the key to set.
 */
// The SDK's settings alone: the whole SDK would add half a second to every `avfleet policy`.
import { isDryRun } from "@pulumi/pulumi/runtime/settings";
import type { StackFacts } from "./facts";
import { withFacts, type StackPolicy } from "./policy";

/** Words that mark a value as not real: AWS's documentation ids end in EXAMPLE. */
const MARKER = /OFFLINE|EXAMPLE|PLACEHOLDER|CHANGEME|REPLACEME/;

/** Names reserved for documentation and tests (RFC 2606, RFC 6761). */
const RESERVED_DOMAIN = /(^|\.)(example\.(com|net|org)|example|test|invalid)\.?$/i;

/** IPv4 documentation ranges (RFC 5737) and the IPv6 one (RFC 3849). */
const DOCUMENTATION_ADDRESS = /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+(\/\d+)?$|^2001:db8:/i;

/**
 * True when the hex digits of a cloud id hold a made-up run: five digits that count up one
 * by one, side by side or every second or third digit (0123456789abcdef0, 0a1b2c3d4e5f,
 * 0a11b22c33d44e55). A real id, which is random, does so about once in a thousand.
 */
function countsUp(hex: string): boolean {
  const digits = [...hex.toLowerCase()].map((c) => parseInt(c, 16));
  for (let stride = 1; stride <= 3; stride++) {
    for (let start = 0; start + 4 * stride < digits.length; start++) {
      let run = 1;
      while (run < 5 && digits[start + run * stride] === digits[start] + run) run++;
      if (run === 5) return true;
    }
  }
  return false;
}

const CLOUD_ID =
  /^(ami|vpc|subnet|sg|igw|eni)-([0-9a-f]{8,17})$|^(Z[0-9A-Z]{8,31})$|^projects\/[^/]+\/notificationChannels\/([0-9]+)$/;

/** The account ids AWS's documentation uses in its examples. */
const DOCUMENTATION_ACCOUNT = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(123456789012|111122223333):/;

/** The host an e-mail address, a URL or a host:port names (the value itself otherwise). */
const hostOf = (value: string) =>
  value
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/^[^@/]*@/, "")
    .split(/[/:?#]/)[0];

/** Why a value is a placeholder, or undefined when it may be real. */
export function placeholderReason(value: string): string | undefined {
  const marker = MARKER.exec(value);
  if (marker) return `carries the marker ${marker[0]}`;
  const id = CLOUD_ID.exec(value);
  if (id && countsUp(id[2] ?? id[3] ?? id[4])) return "is a made-up id (its digits count up)";
  if (DOCUMENTATION_ACCOUNT.test(value)) return "names an AWS documentation account";
  if (RESERVED_DOMAIN.test(value) || RESERVED_DOMAIN.test(hostOf(value)))
    return "is a name reserved for documentation (RFC 2606)";
  if (DOCUMENTATION_ADDRESS.test(value)) return "is a documentation address range (RFC 5737)";
  return undefined;
}

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
