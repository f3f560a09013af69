/**
 * Which input changes make the provider replace a resource rather than update it in place.
 * Offline there is no provider to ask, so this is a table for the resource types avfleet
 * declares; a type not listed is assumed updatable in place (and the diff says "update").
 *
 * Sources: the bridged providers' schemas mark these inputs `ForceNew` in the upstream
 * Terraform provider (terraform-provider-google, terraform-provider-aws), which Pulumi's
 * bridge turns into replacements; @pulumi/command's rules are its source's (./command.ts).
 */

import type { ProviderRule } from "./rule";

export const FORCE_NEW: ProviderRule = {
  id: "pulumi.bridge.force-new",
  says:
    "A change to an input the upstream Terraform schema marks ForceNew replaces the resource; " +
    "with an explicit name (the ASG's) the bridge deletes the old one before it creates the new " +
    "(two cannot share the name), so every host of a replaced group goes first",
  source:
    "hashicorp/terraform-provider-aws internal/service/autoscaling/group.go (initial_lifecycle_hook " +
    "ForceNew); https://www.pulumi.com/docs/iac/concepts/options/deletebeforereplace/",
};

export const IGNORE_CHANGES: ProviderRule = {
  id: "pulumi.ignore-changes",
  says:
    "ignoreChanges makes the engine diff an input against the state's value, not the program's: " +
    "a change there neither updates nor replaces the resource (the program's value is used only " +
    "at create, when the state has none); a property path (launchTemplate.version) ignores that " +
    "part of an input and no more",
  source:
    "https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/; " +
    "https://www.pulumi.com/docs/reference/property-paths/",
};

/** A property path as Pulumi writes one (`a.b`, `a[0]`, `a["k.j"]`) as its keys. */
export function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  const token = /(?:^|\.)([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  let m: RegExpExecArray | null;
  while ((m = token.exec(path))) {
    keys.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]) as string)));
    if (token.lastIndex === path.length) return keys;
  }
  throw new Error(`not a property path: ${path}`);
}

/** Whether a change at `path` lies under one of the ignored paths. */
export function ignoredBy(path: string, ignoreChanges: readonly string[]): boolean {
  const keys = pathKeys(path);
  return ignoreChanges.some((ignored) => {
    const prefix = pathKeys(ignored);
    return prefix.length <= keys.length && prefix.every((k, i) => k === keys[i]);
  });
}

/**
 * The inputs the engine diffs on the next `up`: the program's, with the state's value at each
 * ignored path where the state has one (where it has none, the program's stays).
 */
export function inputsAfterIgnore(
  inputs: Record<string, unknown>,
  state: Record<string, unknown>,
  ignoreChanges: readonly string[],
): Record<string, unknown> {
  const result = structuredClone(inputs);
  for (const ignored of ignoreChanges) {
    const keys = pathKeys(ignored);
    let from: unknown = state;
    for (const k of keys) from = (from as Record<string | number, unknown> | undefined)?.[k];
    if (from === undefined) continue;
    let to = result as Record<string | number, unknown>;
    for (const k of keys.slice(0, -1)) {
      if (typeof to[k] !== "object" || to[k] === null) to[k] = typeof k === "number" ? [] : {};
      to = to[k] as Record<string | number, unknown>;
    }
    to[keys[keys.length - 1]] = structuredClone(from);
  }
  return result;
}

interface ReplacementRule {
  /** Top-level inputs whose change forces replacement; "all" when the resource is immutable. */
  inputs: readonly string[] | "all";
  /** What the replacement does to the fleet, for the reviewer. */
  effect?: string;
}

const RULES: Record<string, ReplacementRule> = {
  // Instance templates are immutable in the Compute API (no update method): any change
  // is a new template, and the MIG then rolls its hosts onto it.
  "gcp:compute/instanceTemplate:InstanceTemplate": {
    inputs: "all",
    effect: "new hosts take the new template; the MIG's update policy says what running ones get",
  },
  "gcp:compute/firewall:Firewall": { inputs: ["name", "network", "direction", "project"] },
  "gcp:compute/healthCheck:HealthCheck": { inputs: ["name", "project"] },
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": {
    inputs: ["name", "region", "baseInstanceName", "distributionPolicyZones", "project"],
  },
  "gcp:compute/regionAutoscaler:RegionAutoscaler": { inputs: ["name", "region", "project"] },
  "gcp:serviceaccount/account:Account": { inputs: ["accountId", "project"] },
  "gcp:dns/recordSet:RecordSet": { inputs: ["name", "managedZone", "type", "project"] },
  // A launch template's content changes make a new version, not a new template.
  "aws:ec2/launchTemplate:LaunchTemplate": { inputs: ["name", "namePrefix"] },
  "aws:ec2/securityGroup:SecurityGroup": {
    inputs: ["name", "namePrefix", "vpcId", "description"],
  },
  // initial_lifecycle_hook is ForceNew in the upstream provider: a changed hook replaces the
  // whole group unless the program ignores it (the hooks' own resources carry the change).
  // termination_policies is not: resourceGroupUpdate sends a change in UpdateAutoScalingGroup's
  // TerminationPolicies (terraform-provider-aws internal/service/autoscaling/group.go at
  // 00a919d1, `if d.HasChange("termination_policies")`), so the group and its hosts stay.
  "aws:autoscaling/group:Group": {
    inputs: ["name", "namePrefix", "initialLifecycleHooks"],
    effect: "every host of the group is terminated (delete before replace: the name is fixed)",
  },
  // Ours, not the provider's: every scheduled action is declared with replaceOnChanges "*" and
  // deleteBeforeReplace (modules/fleets/aws-args.ts SCHEDULE_REPLACEMENT), so an update never
  // resends the start time AWS computed when it was created.
  "aws:autoscaling/schedule:Schedule": {
    inputs: "all",
    effect:
      "the action is deleted, then put again; an hour that starts in between keeps the last minimum",
  },
  "aws:route53/record:Record": { inputs: ["name", "type", "zoneId", "setIdentifier"] },
  // triggers are replaceOnChanges whether or not the command has an update (its docs say an
  // update command would update instead; its code does not); any other change is an update,
  // which runs update or else create (RERUN).
  "command:local:Command": { inputs: ["triggers"], effect: "its create runs again on the host" },
};

/** The top-level input a property path starts with: `allows[0].ports` → `allows`. */
export function topLevel(path: string): string {
  return /^[^.[]+/.exec(path)?.[0] ?? path.replace(/^\["(.*?)"\].*$/, "$1");
}

/**
 * Whether changing the input at `path` forces replacement of a resource of `type` that ignores
 * `ignoreChanges`.
 */
export function forcesReplacement(
  type: string,
  path: string,
  ignoreChanges: readonly string[] = [],
): boolean {
  if (ignoredBy(path, ignoreChanges)) return false;
  const rule = RULES[type];
  if (!rule) return false;
  return rule.inputs === "all" || rule.inputs.includes(topLevel(path));
}

/** What replacing a resource of `type` does beyond itself, when it matters to the fleet. */
export function replacementEffect(type: string): string | undefined {
  return RULES[type]?.effect;
}
