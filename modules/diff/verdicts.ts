/**
 * Policy verdicts of both revisions' Plans, by this checkout's policies (modules/policy):
 * which violations a change introduces and which it resolves.
 */
import type { Plan } from "../plan/plan";

/** modules/policy/runner.ts's Violation. */
export interface Violation {
  stack: string;
  urn: string;
  policy: string;
  level: "mandatory" | "advisory";
  message: string;
  remediation: string;
}

export type CheckPlan = (plan: Plan) => Violation[];

export interface VerdictChanges {
  introduced: Violation[];
  resolved: Violation[];
}

// The policy runner is built beside the diff; until a checkout has it, the diff says policy
// verdicts are unavailable instead of failing. A non-literal specifier keeps tsc from
// requiring the file to exist.
const RUNNER = "../policy/runner";

/** The runner's checkPlan, or undefined when this checkout has no policy runner. */
export async function loadPolicyRunner(): Promise<CheckPlan | undefined> {
  try {
    return ((await import(RUNNER)) as { checkPlan: CheckPlan }).checkPlan;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return undefined;
    throw err;
  }
}

// A violation is the same one at both revisions when the same policy flags the same
// resource; its message may quote values that the change moved.
const identity = (v: Violation) => `${v.policy}\0${v.urn}`;

export function verdictChanges(
  check: CheckPlan,
  base: Plan | undefined,
  head: Plan | undefined,
): VerdictChanges {
  const before = base ? check(base) : [];
  const after = head ? check(head) : [];
  const had = new Set(before.map(identity));
  const has = new Set(after.map(identity));
  return {
    introduced: after.filter((v) => !had.has(identity(v))),
    resolved: before.filter((v) => !has.has(identity(v))),
  };
}
