/**
 * What a change does to the hosts that run now, from the provider model (modules/providers),
 * not from resource verbs: an AWS launch template update rolls the group's hosts only through an
 * instance refresh the group starts, a GCP instance template reaches running VMs only by the
 * MIG's update policy, a bare-metal Command that changes runs its script again over SSH on a
 * live host. Each effect names the rule it follows. Pure.
 */
import type { Plan, PlanResource } from "../plan/plan";
import {
  followsTemplate,
  INSTANCE_REFRESH,
  LAUNCH_TEMPLATE_VERSION,
  startsInstanceRefresh,
} from "../providers/aws";
import { RERUN } from "../providers/command";
import { onTemplateChange, UPDATE_POLICY } from "../providers/gcp";
import { FORCE_NEW, ignoredBy, topLevel } from "../providers/replacement";
import type { ProviderRule } from "../providers/rule";
import type { ResourceChange, StackDiff } from "./diff";

/** The least and most hosts a pool may run: the count a host effect reaches. */
export interface Range {
  min: number;
  max: number;
}

export interface HostEffect {
  /** What happens to running hosts, in the reviewer's words. */
  text: string;
  /** Whether a running host is touched at all. */
  touches: boolean;
  /** The provider rule it follows (modules/providers, docs/real-path.md). */
  rule: string;
}

const GROUP = "aws:autoscaling/group:Group";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate";
const MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const COMMAND = "command:local:Command";

const count = (r?: Range) => (!r ? "every" : r.min === r.max ? `${r.min}` : `${r.min}–${r.max}`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const effect = (rule: ProviderRule, text: string, touches = true): HostEffect => ({
  text,
  touches,
  rule: rule.id,
});

function ofType(resources: readonly PlanResource[] | undefined, type: string): PlanResource[] {
  return (resources ?? []).filter((r) => r.type === type);
}

interface Refreshable {
  instanceRefresh?: { triggers?: string[] };
  launchTemplate?: { version?: string };
}

/**
 * A launch template's new version. A group that names the template's latest version (offline a
 * number, the mock's) and does not ignore it gets a new launchTemplate input on the same up: with
 * instanceRefresh that starts a refresh. $Latest/$Default leave the group's input as it is: no
 * refresh, but every later launch takes the new version.
 */
function templateEffect(groups: PlanResource[], hosts?: Range): HostEffect {
  const inputs = groups.map((g) => ({ g, i: g.inputs as Refreshable }));
  const follows = inputs.filter(({ i }) => followsTemplate(i.launchTemplate?.version));
  const moved = inputs.filter(
    ({ g, i }) =>
      !followsTemplate(i.launchTemplate?.version) &&
      !ignoredBy("launchTemplate.version", g.ignoreChanges ?? []),
  );
  if (moved.some(({ i }) => i.instanceRefresh !== undefined)) {
    return effect(INSTANCE_REFRESH, `rolls ${count(hosts)} hosts through instance refresh`);
  }
  if (follows.length || moved.length) {
    return effect(
      LAUNCH_TEMPLATE_VERSION,
      "no running host touched; every host launched from now on (scale-out, replacement) gets the new launch template version",
      false,
    );
  }
  return effect(
    LAUNCH_TEMPLATE_VERSION,
    "no running host touched: a new launch template version, which hosts get once the group names it (a rollout)",
    false,
  );
}

function awsEffects(
  changes: ResourceChange[],
  head: Plan | undefined,
  hosts?: Range,
): HostEffect[] {
  const out: HostEffect[] = [];
  const groups = ofType(head?.resources, GROUP);
  for (const r of changes.filter((c) => c.type === GROUP && c.op === "replace")) {
    out.push(
      effect(FORCE_NEW, `replaces ${count(hosts)} hosts: ${r.name} is deleted and created again`),
    );
  }
  for (const r of changes.filter((c) => c.type === GROUP && c.op === "update")) {
    const group = groups.find((g) => g.urn === r.urn)?.inputs as Refreshable | undefined;
    if (
      group &&
      startsInstanceRefresh(
        group,
        r.changes.map((c) => topLevel(c.path)),
      )
    ) {
      out.push(effect(INSTANCE_REFRESH, `rolls ${count(hosts)} hosts through instance refresh`));
    }
  }
  const template = changes.find((c) => c.type === LAUNCH_TEMPLATE && c.op !== "delete");
  if (template && out.length === 0) out.push(templateEffect(groups, hosts));
  return out;
}

function gcpEffects(
  changes: ResourceChange[],
  head: Plan | undefined,
  hosts?: Range,
): HostEffect[] {
  if (changes.some((c) => c.type === MIG && c.op === "replace")) {
    return [effect(FORCE_NEW, `replaces ${count(hosts)} VMs: the instance group is created again`)];
  }
  if (!changes.some((c) => c.type === INSTANCE_TEMPLATE && c.op !== "delete")) return [];
  const policy = (ofType(head?.resources, MIG)[0]?.inputs.updatePolicy ?? {}) as {
    type?: string;
    minimalAction?: string;
  };
  const action = onTemplateChange(policy);
  const text = {
    replace: `replaces ${count(hosts)} VMs (PROACTIVE update policy)`,
    restart: `restarts ${count(hosts)} VMs (PROACTIVE update policy)`,
    refresh: `refreshes ${count(hosts)} VMs in place (PROACTIVE update policy)`,
    none: "no running VM touched: a new instance template, which only VMs the group creates get (OPPORTUNISTIC update policy)",
  }[action];
  return [effect(UPDATE_POLICY, text, action !== "none")];
}

function metalEffects(changes: ResourceChange[], head: Plan | undefined): HostEffect[] {
  const commands = changes.filter((c) => c.type === COMMAND);
  const rerun = commands.filter((c) => c.op === "update" || c.op === "replace").length;
  const drains = commands.filter((c) => c.op === "create" && c.name.endsWith("-drain")).length;
  const first = commands.filter((c) => c.op === "create" && !c.name.endsWith("-drain")).length;
  const rollout = (head?.outputs.release as { rollout?: unknown } | undefined)?.rollout;
  const how = rollout ? " (batch by batch, rack by rack: see the stack's rollout)" : "";
  return [
    rerun && effect(RERUN, `re-runs the setup over SSH on ${plural(rerun, "live host")}${how}`),
    drains && effect(RERUN, `hands ${plural(drains, "host")} a drain request`),
    first &&
      effect(RERUN, `runs the setup on ${plural(first, "host")} the stack did not run it on`),
  ].filter((e): e is HostEffect => Boolean(e));
}

/** The effects of one stack's change on its running hosts; none when no host is touched. */
export function hostEffects(
  diff: StackDiff,
  head: Plan | undefined,
  hosts: Range | undefined,
): HostEffect[] {
  // A stack the change adds has no running host yet.
  if (diff.status === "added") return [];
  const changes = diff.resources;
  return [
    ...awsEffects(changes, head, hosts),
    ...gcpEffects(changes, head, hosts),
    ...metalEffects(changes, head),
  ];
}
