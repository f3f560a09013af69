/** Where DNS records go, shared by bare-metal host records and traffic splits. */
export const dnsProviderProperties = {
  provider: { type: "string", enum: ["route53", "clouddns"] },
  zone: {
    type: "string",
    pattern: "^[A-Za-z0-9][A-Za-z0-9-]{0,62}$",
    description: "a Route53 hosted zone id or a Cloud DNS managed zone name",
  },
} as const;
