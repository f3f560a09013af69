import type { Problem } from "../inputs/problems";

/** The stack file's config keys the checks of a fleet or a traffic split read beside it. */
export type StackConfig = {
  readonly [key: string]: unknown;
  readonly "gcp:region"?: string;
  readonly "aws:region"?: string;
};

/** Where DNS records go, shared by bare-metal host records and traffic splits. */
export const dnsProviderProperties = {
  provider: { type: "string", enum: ["route53", "clouddns"] },
  zone: {
    type: "string",
    pattern: "^[A-Za-z0-9][A-Za-z0-9-]{0,62}$",
    description: "a Route53 hosted zone id or a Cloud DNS managed zone name",
  },
} as const;

/** A DNS provider needs its own provider's config key. */
export function dnsProviderProblems(
  provider: "route53" | "clouddns",
  config: StackConfig,
): Problem[] {
  const needs = provider === "route53" ? "aws:region" : "gcp:project";
  return config[needs] === undefined
    ? [
        {
          path: ["config", needs],
          message: "is missing",
          expected: `the ${provider} provider's ${needs}, since dns.provider is ${provider}`,
        },
      ]
    : [];
}
