/**
 * The contract between the program and the pack: what a stack declares about itself so that
 * policies can judge it from what the Pulumi engine hands them, never from the repository.
 *
 * The engine gives a policy a resource's inputs (Analyze) or every resource's outputs
 * (AnalyzeStack), the pack's own config and the stack's tags; @pulumi/policy 1.21 hands a
 * policy nothing of the stack's config, though the CLI starts the pack with it in
 * PULUMI_CONFIG (stack-config.ts). What a policy needs is more than the config says (hosts
 * required, the tuning's marker, an inventory's host states), so the program declares one
 * `avfleet:index:StackFacts` component whose inputs and registered outputs are a StackFacts
 * document, the policies that need a fact read it from there (as stack policies, which see
 * every resource), and stack-facts-match-config checks every fact the config implies
 * against PULUMI_CONFIG, so a program cannot claim other facts than its config's.
 *
 * This file and rules.ts import nothing: the program imports the contract from here.
 */

export const STACK_FACTS_TYPE = "avfleet:index:StackFacts";
/** Bumped when a field changes meaning; a pack refuses facts of another version. */
export const STACK_FACTS_VERSION = 1;

export interface FleetFacts {
  kind: "gcp" | "aws" | "metal";
  pool: string;
  mediaRegion: string;
  /** avfleet:fleet.ports.mediaUdp: the only UDP the fleet may open. */
  mediaUdp: { from: number; to: number };
  /** avfleet:fleet.ports.health.port: an admin port, never open to the Internet. */
  healthPort: number;
  /** avfleet:fleet.drainSeconds. */
  drainSeconds: number;
  /** The avfleet-tune payload every host must carry: its marker line's prefix, version, profile. */
  tuning: { markerPrefix: string; version: string; profile: string };
  /** Hosts the media region's peak needs (headroom and N+1 included), and that headroom. */
  capacity: { hostsRequired: number; headroom: number };
  /** Bare metal: each inventory host's state (active, draining, retired …) by host name. */
  hostStates?: Record<string, string>;
  /** The severities (page, ticket) alerting.notify gives a receiver. */
  notify?: string[];
  /** avfleet:fleet.migration: the migration's minHosts change this config is (policy/migration.ts). */
  migration?: MigrationMarker;
}

/**
 * avfleet:traffic.migration, written by `avfleet migrate` with every weight change, and
 * avfleet:fleet.migration, with every minHosts it sets (a scale step, a raised floor).
 */
export interface MigrationMarker {
  /** The change's position in the region's migration journal: only grows. */
  seq: number;
  /** The change is a rollback (the safe direction: never held to maxStepPct). */
  rollback: boolean;
  /**
   * When the executor wrote the change (UTC, ISO 8601): what an AWS pool with scheduled floors
   * sets its group's minimum from at the up that carries it (#28). Absent in older markers.
   */
  at?: string;
}

export interface TrafficFacts {
  mediaRegion: string;
  /** avfleet:traffic.maxStepPct. */
  maxStepPct: number;
  /** Pools with a record, in the order Cloud DNS WRR entries are written (they carry no name). */
  servingPools: string[];
  /** avfleet:traffic.dns.routing: weighted, or a geo steering where weights do not apply. */
  routing: string;
  /** avfleet:traffic.migration: the migration's weight change this config is (policy/migration.ts). */
  migration?: MigrationMarker;
}

export interface StackFacts {
  version: typeof STACK_FACTS_VERSION;
  stack: string;
  /** avfleet:example: the stack file is an example, so its placeholders are only advisory. */
  example: boolean;
  /**
   * Every string the stack's config sets, by key path (`avfleet:fleet.subnets[0].id`), secrets
   * left out, and a bare-metal site's inventory hosts (`inventory/metal-sjc.yaml: hosts[0].publicIp`):
   * what a team must have replaced before its first `pulumi up`.
   */
  settings: Record<string, string>;
  /** Config keys that must be Pulumi secrets, each with whether the stack stores it encrypted. */
  secrets: Record<string, boolean>;
  fleet?: FleetFacts;
  traffic?: TrafficFacts;
}

/** What a policy needs of a resource to find the facts among a stack's resources. */
interface Typed {
  type: string;
  urn: string;
  props: Record<string, any>;
}

/**
 * The stack's facts, or why they cannot be used: none declared (a program that is not
 * avfleet's, or one older than the facts), another version, or a field missing.
 */
export function readFacts(
  resources: Typed[],
): { facts: StackFacts; urn: string } | { problem: string; urn?: string } {
  const declared = resources.filter((r) => r.type === STACK_FACTS_TYPE);
  if (declared.length === 0) return { problem: `the stack declares no ${STACK_FACTS_TYPE}` };
  if (declared.length > 1) {
    return { problem: `the stack declares ${declared.length} ${STACK_FACTS_TYPE}, expected one` };
  }
  const { props, urn } = declared[0];
  if (props.version !== STACK_FACTS_VERSION) {
    return {
      problem: `its ${STACK_FACTS_TYPE} is version ${props.version ?? "(none)"}, expected ${STACK_FACTS_VERSION}`,
      urn,
    };
  }
  const missing = ["stack", "example", "settings", "secrets"].filter((k) => props[k] === undefined);
  if (!props.fleet && !props.traffic) missing.push("fleet or traffic");
  if (missing.length) {
    return { problem: `its ${STACK_FACTS_TYPE} lacks ${missing.join(", ")}`, urn };
  }
  return { facts: props as StackFacts, urn };
}
