/**
 * StackFacts are the program's word about the stack; the stack's config is the engine's. A
 * program that declares its own facts (maxStepPct 100, example true) or leaves out the
 * TrafficSplit its config asks for would make the policies that read them not applicable or
 * advisory, so the pack refuses a stack whose facts and config disagree.
 */
import type { PolicyResource } from "@pulumi/policy";
import type { StackFacts } from "./contract/facts";
import { withFacts, type StackPolicy } from "./policy";
import {
  FACT_DEFAULTS,
  FLEET_TYPES,
  SETTINGS_KEYS,
  stackConfig,
  stackName,
  stringLeaves,
  structured,
  TRAFFIC_SPLIT_TYPE,
} from "./contract/stack-config";

const show = (value: unknown) => (value === undefined ? "(none)" : JSON.stringify(value));

/** One fact as the facts say it and as the config implies it. */
function compare(problems: string[], fact: string, declared: unknown, configured: unknown) {
  if (JSON.stringify(declared) !== JSON.stringify(configured)) {
    problems.push(
      `StackFacts say ${fact} ${show(declared)}, but the stack's config implies ${show(configured)}`,
    );
  }
}

function fleetProblems(facts: StackFacts, fleet: any, problems: string[]) {
  const declared = facts.fleet;
  if (!declared) {
    problems.push("the stack's config sets avfleet:fleet, but StackFacts declare no fleet");
    return;
  }
  compare(problems, "fleet.kind", declared.kind, fleet.kind);
  compare(problems, "fleet.pool", declared.pool, fleet.pool);
  compare(problems, "fleet.mediaRegion", declared.mediaRegion, fleet.mediaRegion);
  compare(problems, "fleet.mediaUdp", declared.mediaUdp, {
    from: fleet.ports?.mediaUdp?.from,
    to: fleet.ports?.mediaUdp?.to,
  });
  compare(problems, "fleet.healthPort", declared.healthPort, fleet.ports?.health?.port);
  compare(
    problems,
    "fleet.drainSeconds",
    declared.drainSeconds,
    fleet.drainSeconds ?? FACT_DEFAULTS.drainSeconds,
  );
  compare(problems, "fleet.tuning.profile", declared.tuning?.profile, fleet.tuning?.profile);
  compare(
    problems,
    "fleet.capacity.headroom",
    declared.capacity?.headroom,
    fleet.demand?.headroom ?? FACT_DEFAULTS.headroom,
  );
  compare(
    problems,
    "fleet.notify",
    declared.notify,
    fleet.alerting ? Object.keys(fleet.alerting.notify ?? {}).sort() : undefined,
  );
  // fleet-migration-order reads the marker from the facts: a program must not declare another.
  compare(problems, "fleet.migration", declared.migration, fleet.migration);
}

function trafficProblems(facts: StackFacts, traffic: any, problems: string[]) {
  const declared = facts.traffic;
  if (!declared) {
    problems.push("the stack's config sets avfleet:traffic, but StackFacts declare no traffic");
    return;
  }
  compare(problems, "traffic.mediaRegion", declared.mediaRegion, traffic.mediaRegion);
  compare(
    problems,
    "traffic.maxStepPct",
    declared.maxStepPct,
    traffic.maxStepPct ?? FACT_DEFAULTS.maxStepPct,
  );
  compare(
    problems,
    "traffic.routing",
    declared.routing,
    traffic.dns?.routing ?? FACT_DEFAULTS.routing,
  );
  // Weight-0 pools get no record (modules/traffic/weights.ts servingPools).
  compare(
    problems,
    "traffic.servingPools",
    declared.servingPools,
    (traffic.pools ?? []).filter((p: any) => p.weight > 0).map((p: any) => p.stack),
  );
}

/** Every string the config sets under the keys placeholders are looked for in is in the facts. */
function settingsProblems(facts: StackFacts, config: Record<string, string>, problems: string[]) {
  const expected: Record<string, string> = {};
  for (const key of SETTINGS_KEYS) {
    if (config[key] === undefined) continue;
    stringLeaves(key.startsWith("avfleet:") ? structured(config, key) : config[key], key, expected);
  }
  // Key paths only: a value may be one a team would rather not see in a policy report.
  const missing = Object.keys(expected).filter((path) => facts.settings[path] !== expected[path]);
  if (missing.length > 0) {
    const shown = missing.slice(0, 3).join(", ");
    problems.push(
      `StackFacts settings leave out or change ${missing.length} config string(s) (${shown}${missing.length > 3 ? ", …" : ""}): the placeholder policies would not see them`,
    );
  }
}

/** Components the config asks for: a traffic split, or the fleet of its kind. */
function componentProblems(
  resources: PolicyResource[],
  config: Record<string, string>,
  problems: string[],
) {
  const has = (type: string) => resources.some((r) => r.type === type);
  if (config["avfleet:traffic"] !== undefined && !has(TRAFFIC_SPLIT_TYPE)) {
    problems.push(
      `the stack's config sets avfleet:traffic, but the stack declares no ${TRAFFIC_SPLIT_TYPE}: traffic-weights would judge nothing`,
    );
  }
  const kind = structured(config, "avfleet:fleet")?.kind as keyof typeof FLEET_TYPES | undefined;
  if (kind && FLEET_TYPES[kind] && !has(FLEET_TYPES[kind])) {
    problems.push(
      `the stack's config sets a ${kind} avfleet:fleet, but the stack declares no ${FLEET_TYPES[kind]}`,
    );
  }
}

/** Why a stack's facts disagree with its config (PULUMI_CONFIG, stackName); none if they agree. */
export function factsConfigProblems(
  facts: StackFacts,
  config: Record<string, string>,
  stack: string | undefined,
  resources: PolicyResource[],
): string[] {
  const problems: string[] = [];
  if (stack !== undefined) compare(problems, "stack", facts.stack, stack);
  compare(problems, "example", facts.example, config["avfleet:example"] === "true");
  const fleet = structured(config, "avfleet:fleet");
  const traffic = structured(config, "avfleet:traffic");
  if (fleet) fleetProblems(facts, fleet, problems);
  else if (facts.fleet) problems.push("StackFacts declare a fleet the stack's config does not set");
  if (traffic) trafficProblems(facts, traffic, problems);
  else if (facts.traffic) {
    problems.push("StackFacts declare a traffic split the stack's config does not set");
  }
  settingsProblems(facts, config, problems);
  componentProblems(resources, config, problems);
  return problems;
}

export const stackFactsMatchConfig: StackPolicy = {
  name: "stack-facts-match-config",
  description:
    "The stack's facts (StackFacts) agree with the stack's own config, which the engine hands the pack (PULUMI_CONFIG), and a traffic or fleet config has its component.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "No stack-file key: the program, not the stack file, disagrees with the config. Run the stack with avfleet's own program (index.ts builds StackFacts from the config: modules/program/facts.ts); a program that declares facts of its own is not one the policies can judge.",
  validateStack: withFacts((facts, args, reportViolation, factsUrn) => {
    const config = stackConfig(process.env);
    if (!config) {
      return args.notApplicable("the engine passed no stack config (PULUMI_CONFIG)");
    }
    for (const problem of factsConfigProblems(
      facts,
      config,
      stackName(process.env),
      args.resources,
    )) {
      reportViolation(problem, factsUrn);
    }
  }),
};
