/** The shapes every avfleet policy shares, on top of @pulumi/policy's own types. */
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { readFacts, type StackFacts } from "./contract/facts";

/** Every policy says how to fix what it reports. */
export type ResourcePolicy = ResourceValidationPolicy & { remediationSteps: string };
export type StackPolicy = StackValidationPolicy & { remediationSteps: string };
export type AvfleetPolicy = ResourcePolicy | StackPolicy;

export function isStackPolicy(policy: AvfleetPolicy): policy is StackPolicy {
  return "validateStack" in policy;
}

/**
 * A stack validation that needs the stack's facts. Without usable facts it is not
 * applicable: the stack-facts-declared policy reports why, once.
 */
export function withFacts(
  validate: (
    facts: StackFacts,
    args: StackValidationArgs,
    report: ReportViolation,
    factsUrn: string,
  ) => void,
): StackPolicy["validateStack"] {
  return (args, report) => {
    const found = readFacts(args.resources);
    if (!("facts" in found)) return args.notApplicable(`no usable stack facts: ${found.problem}`);
    validate(found.facts, args, report, found.urn);
  };
}

/** Resources of one type. */
export const byType = (resources: PolicyResource[], type: string) =>
  resources.filter((r) => r.type === type);
