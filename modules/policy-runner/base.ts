/**
 * The step rule at review time. The pack bounds a traffic change by the weights last applied,
 * which a traffic split reads through a StackReference to its own stack; offline that stack
 * has never been applied and reads nothing. At review time the base revision stands for what
 * is applied: its weights go where the pack reads them, and the very same policy judges.
 */
import { execFileSync } from "node:child_process";
import { relative, resolve } from "node:path";
import YAML from "yaml";
import { InputError } from "../inputs/problems";
import type { Plan } from "../plan/plan";
import type { Weights } from "../traffic/weights";

/** The split's reference to its own stack: `${split}-ref-self` (modules/traffic/split.ts). */
const isSelfReference = (r: Plan["resources"][number]) =>
  r.type === "pulumi:pulumi:StackReference" && r.name.endsWith("-ref-self");

/** `head` as the pack would see it after an `up` of weights `applied`. */
export function withAppliedWeights(head: Plan, applied: Weights | undefined): Plan {
  if (!applied || Object.keys(applied).length === 0) return head;
  return {
    ...head,
    resources: head.resources.map((r) =>
      isSelfReference(r)
        ? {
            ...r,
            inputs: {
              ...r.inputs,
              outputs: { ...(r.inputs.outputs as object), weights: applied },
            },
          }
        : r,
    ),
  };
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Each traffic stack's weights in its stack file at `rev` (none for a stack the revision does
 * not have, or whose file there has no readable split).
 */
export function weightsAtRevision(
  rev: string,
  stacksDir: string,
  stacks: string[],
): Map<string, Weights> {
  const dir = resolve(stacksDir);
  let root = dir;
  try {
    root = git(dir, ["rev-parse", "--show-toplevel"]).trim();
    git(root, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
  } catch {
    throw new InputError([
      `--base: is "${rev}", not a commit in ${root}, expected a branch, tag or commit (e.g. origin/main)`,
    ]);
  }
  const weights = new Map<string, Weights>();
  for (const stack of stacks) {
    const path = relative(root, resolve(dir, `Pulumi.${stack}.yaml`));
    let text: string;
    try {
      text = git(root, ["show", `${rev}:${path}`]);
    } catch {
      continue;
    }
    const pools = YAML.parse(text)?.config?.["avfleet:traffic"]?.pools;
    if (Array.isArray(pools)) {
      weights.set(
        stack,
        Object.fromEntries(
          pools.map((p: { stack: string; weight: number }) => [p.stack, p.weight]),
        ),
      );
    }
  }
  return weights;
}
