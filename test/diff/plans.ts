/** Plans and reports built by hand, for the diff's pure parts. */
import { diffPlans } from "../../modules/diff/diff";
import type { DiffReport } from "../../modules/diff/report";
import { summarizeStack } from "../../modules/diff/summary";
import { verdictChanges, type Violation } from "../../modules/diff/verdicts";
import type { Plan, PlanResource } from "../../modules/plan/plan";

export const urn = (stack: string, type: string, name: string) =>
  `urn:pulumi:${stack}::avfleet::${type}::${name}`;

export function resource(
  stack: string,
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): PlanResource {
  return { urn: urn(stack, type, name), type, name, custom: true, inputs };
}

export function plan(
  name: string,
  resources: PlanResource[],
  outputs: Record<string, unknown> = {},
): Plan {
  return { name, resources, outputs };
}

export function report(
  pairs: { before?: Plan; after?: Plan; check?: (p: Plan) => Violation[] }[],
): DiffReport {
  return {
    base: { label: "origin/main", commit: "abc1234" },
    head: { label: "working tree" },
    stacks: pairs.map(({ before, after, check }) => {
      const diff = diffPlans(before, after);
      const judge = (p?: Plan) => (p && check ? check(p) : []);
      const policy = verdictChanges(judge(before), judge(after));
      return { diff, summary: summarizeStack(diff, before, after, policy) };
    }),
  };
}
