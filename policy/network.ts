/** Policies on what the fleet opens to the Internet. */
import type { PolicyResource, ReportViolation, StackValidationArgs } from "@pulumi/policy";
import { AGENT_LISTEN_MARKER, METAL_PAYLOAD_TYPE, worldShare } from "./contract/rules";
import { withFacts, type StackPolicy } from "./policy";

const GCP_FIREWALL = "gcp:compute/firewall:Firewall";
const AWS_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";

/** A rule reduced to what these policies judge: protocol, port ranges, sources. */
interface OpenRule {
  protocol: string;
  ranges: [number, number][];
  sources: string[];
}

function parseRange(text: string): [number, number] {
  const [from, to = from] = text.split("-").map(Number);
  return [from, to];
}

/** GCP firewall allows and AWS ingress rules as OpenRules; other resources have none. */
function openRules(type: string, props: Record<string, any>): OpenRule[] {
  if (type === GCP_FIREWALL && (props.direction ?? "INGRESS") === "INGRESS") {
    return (props.allows ?? []).map((allow: { protocol: string; ports?: string[] }) => ({
      protocol: allow.protocol,
      // No ports on an allow means every port.
      ranges: allow.ports?.length ? allow.ports.map(parseRange) : [[0, 65535]],
      sources: props.sourceRanges ?? [],
    }));
  }
  if (type === AWS_SECURITY_GROUP) {
    return (props.ingress ?? []).map((rule: any) => ({
      protocol: rule.protocol === "-1" ? "all" : rule.protocol,
      ranges: rule.protocol === "-1" ? [[0, 65535]] : [[rule.fromPort, rule.toPort]],
      sources: [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? [])],
    }));
  }
  return [];
}

const covers = ([from, to]: [number, number], port: number) => from <= port && port <= to;

/** Every firewall or security group of the stack with its rules. */
function firewalls(resources: PolicyResource[]) {
  return resources
    .map((r) => ({ urn: r.urn, rules: openRules(r.type, r.props) }))
    .filter((f) => f.rules.length > 0);
}

export const mediaUdpDeclaredRange: StackPolicy = {
  name: "media-udp-declared-range",
  description:
    "Media UDP is open only on the stack's declared range: never all ports, never 0-65535.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Open UDP only on avfleet:fleet.ports.mediaUdp (the firewall/security group is generated from it); remove hand-written UDP or all-protocol rules.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    const found = firewalls(args.resources);
    if (!fleet || found.length === 0) return args.notApplicable("no fleet firewall");
    const { from, to } = fleet.mediaUdp;
    for (const { urn, rules } of found) {
      for (const rule of rules) {
        const world = rule.protocol === "all" ? worldShare(rule.sources) : undefined;
        if (world) {
          reportViolation(
            `opens every protocol and port to the Internet: ${world.sources.join(", ")} (${world.share})`,
            urn,
          );
        }
        if (rule.protocol !== "udp") continue;
        for (const [lo, hi] of rule.ranges) {
          if (lo < from || hi > to) {
            reportViolation(
              `opens UDP ${lo}-${hi}, outside the declared media range ${from}-${to}`,
              urn,
            );
          }
        }
      }
    }
  }),
};

export const adminPortsNotFromInternet: StackPolicy = {
  name: "admin-ports-not-from-internet",
  description:
    "SSH and the health/admin port are never reachable from the Internet: 0.0.0.0/0, ::/0, or sources that together hold a /8 of public IPv4, a /16 of global unicast IPv6, or half of either family.",
  enforcementLevel: "mandatory",
  remediationSteps:
    "Restrict the rule's sources to avfleet:fleet.adminCidrs (SSH) or the load balancer's probe ranges (health); on bare metal, keep 0.0.0.0/0 and ::/0 out of avfleet:fleet.adminCidrs and .monitoringCidrs, the sources the firewall of every class payload admits.",
  validateStack: withFacts(({ fleet }, args, reportViolation) => {
    if (fleet?.kind === "metal") return metalAgentPort(fleet.healthPort, args, reportViolation);
    const found = firewalls(args.resources);
    if (!fleet || found.length === 0) return args.notApplicable("no fleet firewall");
    const adminPorts = [22, fleet.healthPort];
    for (const { urn, rules } of found) {
      for (const rule of rules) {
        if (rule.protocol !== "tcp" && rule.protocol !== "all") continue;
        const world = worldShare(rule.sources);
        for (const port of adminPorts) {
          if (world && rule.ranges.some((range) => covers(range, port))) {
            reportViolation(
              `opens TCP ${port} to ${world.sources.join(", ")} (${world.share})`,
              urn,
            );
          }
        }
      }
    }
  }),
};

/**
 * A bare-metal site has no cloud firewall: its hosts' agent port is open to whatever each class
 * payload's own firewall lets through, which the payload states in its listen marker. A payload
 * without one runs an agent that nothing guards.
 */
function metalAgentPort(
  healthPort: number,
  args: StackValidationArgs,
  reportViolation: ReportViolation,
) {
  const payloads = args.resources.filter(
    (r) => r.type === METAL_PAYLOAD_TYPE && r.props.of !== "drain",
  );
  if (payloads.length === 0) return args.notApplicable("no host class payload");
  for (const { urn, props } of payloads) {
    const line = String(props.payload ?? "")
      .split("\n")
      .find((l) => l.startsWith(AGENT_LISTEN_MARKER));
    const listen = /^port=(\d+) from=(\S+)$/.exec(line?.slice(AGENT_LISTEN_MARKER.length) ?? "");
    if (!listen || Number(listen[1]) !== healthPort) {
      reportViolation(
        `installs no firewall for TCP ${healthPort}: its hosts' agent answers every address`,
        urn,
      );
      continue;
    }
    const world = worldShare(listen[2].split(","));
    if (world) {
      reportViolation(
        `opens TCP ${healthPort} to ${world.sources.join(", ")} (${world.share})`,
        urn,
      );
    }
  }
}
