/**
 * Evaluates stacks to Plans: one worker process per stack (isolation), as many at once as
 * the machine has cores.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { LoadedStack } from "../config/stack";
import type { Plan } from "./plan";

/** A stack whose program failed to evaluate; the message carries its error output. */
export class EvaluationError extends Error {
  constructor(
    readonly stackName: string,
    readonly output: string,
  ) {
    super(`stack ${stackName}: evaluation failed:\n${output.trim()}`);
    this.name = "EvaluationError";
  }
}

export interface EvaluateOptions {
  /** The project to evaluate (its index.ts and modules/); default this checkout. */
  root?: string;
  /** Workers at once; default: available cores. */
  concurrency?: number;
  /**
   * How TypeScript is loaded: `tsx` (fast, the default), or `pulumi-cli`: ts-node registered
   * as the Pulumi CLI's Node.js host registers it, so resolution and type checking are the
   * ones a user's `pulumi up` gets.
   */
  loader?: Loader;
  /** Called as each stack finishes. */
  onPlan?: (plan: Plan, done: number, total: number) => void;
}

const THIS_ROOT = resolve(__dirname, "..", "..");

export type Loader = "tsx" | "pulumi-cli";

function loaderArgs(loader: Loader, root: string): string[] {
  return loader === "tsx"
    ? ["--import", "tsx"]
    : ["--require", join(root, "modules/plan/pulumi-cli-register.js")];
}

/** A stack to evaluate: the worker loads and validates its file itself. */
export type StackToEvaluate = Pick<LoadedStack, "name" | "file">;

export function evaluateStack(
  stack: StackToEvaluate,
  root = THIS_ROOT,
  loader: Loader = "tsx",
): Promise<Plan> {
  return new Promise((done, fail) => {
    const child = fork(
      join(root, "modules/plan/worker.ts"),
      [resolve(stack.file), join(root, "index.ts")],
      {
        cwd: root,
        execArgv: loaderArgs(loader, root),
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      },
    );
    let plan: Plan | undefined;
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("message", (message) => (plan = message as Plan));
    child.on("error", fail);
    child.on("exit", (code) => {
      if (code === 0 && plan) done(plan);
      else fail(new EvaluationError(stack.name, stderr || `worker exited with code ${code}`));
    });
  });
}

/** Plans in the order of `stacks`. */
export async function evaluateStacks(
  stacks: StackToEvaluate[],
  options: EvaluateOptions = {},
): Promise<Plan[]> {
  const plans: Plan[] = new Array(stacks.length);
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  let next = 0;
  let done = 0;
  async function lane(): Promise<void> {
    while (next < stacks.length) {
      const index = next++;
      plans[index] = await evaluateStack(stacks[index], options.root, options.loader);
      options.onPlan?.(plans[index], ++done, stacks.length);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, stacks.length) }, lane));
  return plans;
}
