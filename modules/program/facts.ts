/**
 * The stack's facts for the policy pack (policy/contract/facts.ts is the contract): computed here from
 * the validated stack, declared by StackFacts so that `pulumi preview --policy-pack policy` and
 * `avfleet policy` judge from the same resource.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  STACK_FACTS_TYPE,
  STACK_FACTS_VERSION,
  type FleetFacts,
  type StackFacts as Facts,
} from "../../policy/contract/facts";
import { stringLeaves } from "../../policy/contract/stack-config";
import { fleetEconomics } from "../capacity/capacity";
import type { Inventory } from "../inventory/inventory";
import { SECRET_KEYS, stackFileSchema, type StackFile } from "../stacks/stack.schema";
import { servingPools } from "../traffic/weights";
import { routingOf } from "../config/traffic";
import { AVFLEET_TUNE_VERSION, TUNING_MARKER_PREFIX } from "../tuning";
import { hostStates } from "../fleets/metal-args";

export function stackFacts(
  stack: string,
  document: StackFile,
  inventory: Inventory | undefined,
  storedEncrypted: (key: string) => boolean,
): Facts {
  const { config } = document;
  const secretKeys = SECRET_KEYS.filter((key) => config[key] !== undefined);
  // Only keys our schema knows and no secret: a provider key a team adds (gcp:credentials)
  // would otherwise land in the state in plain text.
  const known = Object.keys(stackFileSchema.properties.config.properties);
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    const secret = (secretKeys as string[]).includes(key) || storedEncrypted(key);
    if (known.includes(key) && !secret) stringLeaves(value, key, settings);
  }
  // A site's inventory is a file the team writes too: its hosts' addresses must be real.
  const site = config["avfleet:fleet"];
  if (site?.kind === "metal" && inventory)
    stringLeaves(inventory.hosts, `${site.inventory}: hosts`, settings);
  const facts: Facts = {
    version: STACK_FACTS_VERSION,
    stack,
    example: config["avfleet:example"] === true,
    settings,
    secrets: Object.fromEntries(secretKeys.map((key) => [key, storedEncrypted(key)])),
  };
  const spec = config["avfleet:fleet"];
  if (spec) {
    const { capacity } = fleetEconomics(spec, inventory);
    const fleet: FleetFacts = {
      kind: spec.kind,
      pool: spec.pool,
      mediaRegion: spec.mediaRegion,
      mediaUdp: spec.ports.mediaUdp,
      healthPort: spec.ports.health.port,
      drainSeconds: spec.drainSeconds,
      tuning: {
        markerPrefix: TUNING_MARKER_PREFIX,
        version: AVFLEET_TUNE_VERSION,
        profile: spec.tuning.profile,
      },
      capacity: { hostsRequired: capacity.hostsRequired, headroom: spec.demand.headroom },
    };
    if (inventory) fleet.hostStates = hostStates(inventory);
    if (spec.alerting) fleet.notify = Object.keys(spec.alerting.notify).sort();
    if (spec.migration) fleet.migration = spec.migration;
    facts.fleet = fleet;
  }
  const traffic = config["avfleet:traffic"];
  if (traffic) {
    facts.traffic = {
      mediaRegion: traffic.mediaRegion,
      maxStepPct: traffic.maxStepPct,
      servingPools: servingPools(traffic).map((p) => p.stack),
      routing: routingOf(traffic),
      ...(traffic.migration ? { migration: traffic.migration } : {}),
    };
  }
  return facts;
}

export interface StackFactsArgs {
  /** The stack's facts, as stackFacts() computes them. */
  facts: Facts;
}

/**
 * Declares no cloud resource: its inputs (what Analyze sees) and its outputs (what
 * AnalyzeStack sees) are the facts.
 */
export class StackFacts extends pulumi.ComponentResource {
  constructor(name: string, args: StackFactsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(STACK_FACTS_TYPE, name, args.facts, opts);
    this.registerOutputs(args.facts);
  }
}
