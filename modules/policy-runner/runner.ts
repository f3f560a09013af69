/**
 * Runs the policies offline over a Plan, with the same arguments `pulumi preview
 * --policy-pack` would give them (type, props, urn, name, opts, isType, asType, getConfig,
 * notApplicable), so tests and `avfleet policy` check what the pack checks.
 */
import type {
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";
import * as settings from "@pulumi/pulumi/runtime/settings";
import type { Plan } from "../plan/plan";
import { isStackPolicy, POLICIES, type AvfleetPolicy } from "../../policy/contract/policies";

/** A violation as the offline runner and `avfleet policy` report it. */
export interface Violation {
  stack: string;
  urn: string;
  policy: string;
  level: "mandatory" | "advisory";
  message: string;
  remediation: string;
}

/** What notApplicable() throws: the policy does not judge this resource or stack. */
class NotApplicable extends Error {}

const OPTIONS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  deleteBeforeReplace: undefined,
  aliases: [],
  additionalSecretOutputs: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
};

type Typed = { __pulumiType?: string };

function policyResources(plan: Plan): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  for (const r of plan.resources) {
    const isType = (cls: unknown) => (cls as Typed).__pulumiType === r.type;
    byUrn.set(r.urn, {
      type: r.type,
      props: r.inputs,
      urn: r.urn,
      name: r.name,
      opts: OPTIONS,
      dependencies: [],
      propertyDependencies: {},
      isType: isType as PolicyResource["isType"],
      asType: ((cls: unknown) => (isType(cls) ? r.inputs : undefined)) as PolicyResource["asType"],
    });
  }
  for (const r of plan.resources) {
    if (r.parent && byUrn.has(r.parent)) byUrn.get(r.urn)!.parent = byUrn.get(r.parent);
  }
  return [...byUrn.values()];
}

const common = {
  stackTags: new Map<string, string>(),
  getConfig: <T extends object>() => ({}) as T,
  notApplicable: (reason?: string): never => {
    throw new NotApplicable(reason);
  },
};

/** Runs one policy; returns how many resources (or stacks) it judged. */
function run(policy: AvfleetPolicy, report: ReportViolation, resources: PolicyResource[]): number {
  let judged = 0;
  const call = (fn: () => void) => {
    try {
      fn();
      judged++;
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  };
  if (isStackPolicy(policy)) {
    const args: StackValidationArgs = { ...common, resources };
    call(() => void policy.validateStack(args, report));
    return judged;
  }
  const validate = policy.validateResource ?? [];
  for (const r of resources) {
    const args = { ...common, ...r } as unknown as ResourceValidationArgs;
    for (const fn of Array.isArray(validate) ? validate : [validate]) {
      call(() => void fn(args, (message, urn) => report(message, urn ?? r.urn)));
    }
  }
  return judged;
}

/** The SDK's own switch for tests; the engine sets the pack's through its environment. */
const { _setIsDryRun: setDryRun } = settings as unknown as { _setIsDryRun(value: boolean): void };

/**
 * The engine starts a pack with the stack's config and name in its environment: PULUMI_CONFIG
 * and PULUMI_NODEJS_STACK, the variables both of its ways of starting a Node.js pack set
 * (policy/contract/stack-config.ts stackName); offline the policies get the same for the time of a run.
 * PULUMI_STACK is left as the operator's shell has it, as the CLI's language host leaves it.
 */
function withStackEnv<T>(stack: string, config: Record<string, string> | undefined, run: () => T) {
  const keys = ["PULUMI_CONFIG", "PULUMI_NODEJS_STACK"] as const;
  const outside = keys.map((key) => process.env[key]);
  const inside = config === undefined ? [undefined, undefined] : [JSON.stringify(config), stack];
  const set = (values: (string | undefined)[]) =>
    keys.forEach((key, i) =>
      values[i] === undefined ? delete process.env[key] : (process.env[key] = values[i]),
    );
  set(inside);
  try {
    return run();
  } finally {
    set(outside);
  }
}

/**
 * Every violation of `policies` in a Plan, and how many resources or stacks each judged. A
 * Plan is what `pulumi preview` would show, so policies judge a preview unless `preview` is
 * false (an update: what the pack sees during `pulumi up`). `config` is the stack's config as
 * the engine hands it to the pack (pulumiConfigMap of its stack file); without it the policies
 * that check the program's facts against it are not applicable.
 */
export function evaluatePolicies(
  plan: Plan,
  policies: AvfleetPolicy[] = POLICIES,
  { preview = true, config }: { preview?: boolean; config?: Record<string, string> } = {},
): { violations: Violation[]; judged: Record<string, number> } {
  return withStackEnv(plan.name, config, () => judge(plan, policies, preview));
}

function judge(
  plan: Plan,
  policies: AvfleetPolicy[],
  preview: boolean,
): { violations: Violation[]; judged: Record<string, number> } {
  const resources = policyResources(plan);
  const violations: Violation[] = [];
  const judged: Record<string, number> = {};
  const outside = settings.isDryRun();
  setDryRun(preview);
  try {
    for (const policy of policies) {
      judged[policy.name] = run(
        policy,
        (message, urn) =>
          violations.push({
            stack: plan.name,
            urn:
              urn ?? `urn:pulumi:${plan.name}::avfleet::pulumi:pulumi:Stack::avfleet-${plan.name}`,
            policy: policy.name,
            level: policy.enforcementLevel === "advisory" ? "advisory" : "mandatory",
            message,
            remediation: policy.remediationSteps,
          }),
        resources,
      );
    }
  } finally {
    setDryRun(outside);
  }
  return { violations, judged };
}

export function checkPlan(
  plan: Plan,
  policies: AvfleetPolicy[] = POLICIES,
  config?: Record<string, string>,
): Violation[] {
  return evaluatePolicies(plan, policies, { config }).violations;
}
