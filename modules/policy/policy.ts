/** The shapes every avfleet policy shares, on top of @pulumi/policy's own types. */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

/** Every policy says how to fix what it reports. */
export type ResourcePolicy = ResourceValidationPolicy & { remediationSteps: string };
export type StackPolicy = StackValidationPolicy & { remediationSteps: string };
export type AvfleetPolicy = ResourcePolicy | StackPolicy;

export function isStackPolicy(policy: AvfleetPolicy): policy is StackPolicy {
  return "validateStack" in policy;
}

/** A violation as the offline runner and `avfleet policy` report it. */
export interface Violation {
  stack: string;
  urn: string;
  policy: string;
  level: "mandatory" | "advisory";
  message: string;
  remediation: string;
}

/** The stack a URN belongs to: urn:pulumi:<stack>::<project>::<type>::<name>. */
export function stackOfUrn(urn: string): string {
  return urn.split("::")[0].slice("urn:pulumi:".length);
}
