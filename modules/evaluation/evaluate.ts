/**
 * Evaluates stacks to Plans: one worker process per stack (isolation), as many at once as
 * the machine has cores, the largest stacks first so that no core idles at the end while
 * the other finishes a big site, and the workers of the other stacks below normal priority so
 * that they never slow that site down. Workers are handed the documents the parent already
 * checked (a big inventory is parsed once), and run the cached bundle (./bundle.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { availableParallelism, constants, setPriority, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import YAML from "yaml";
import type { LoadedStack } from "../stacks/stack";
import { checkedInputs, type CheckedInput } from "../inputs/validate";
import { workerBundle } from "./bundle";
import { PLAN_CACHE_ROOT } from "./cache";
import type { Plan, PlanResource } from "../plan/plan";
import { SharedStrings } from "./shared-strings";
import type {
  CheckedMessage,
  DoneMessage,
  EvaluateMessage,
  ResourcesMessage,
  WorkerStats,
} from "./worker";

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
  /** Where compiled workers are cached; default <root>/.avfleet/cache. */
  cacheDir?: string;
  /**
   * How the worker and the program are loaded: `bundle` (the cached build, the default), or
   * `pulumi-cli`: the TypeScript sources under ts-node registered as the Pulumi CLI's Node.js
   * host registers it, type checking included, one stack per process. Plans so made record
   * no reads: they are for checking, not for the cache.
   */
  loader?: Loader;
  /** Called as each stack finishes. */
  onPlan?: (plan: Plan, done: number, total: number) => void;
}

/** A Plan and the absolute paths of every file its evaluation read (modules and data). */
export interface Evaluated {
  plan: Plan;
  reads: string[];
  stats: WorkerStats;
}

const THIS_ROOT = resolve(__dirname, "..", "..");

export type Loader = "bundle" | "pulumi-cli";

/** A worker process to fork: its entry file and the Node flags it needs. */
interface WorkerScript {
  file: string;
  execArgv: string[];
}

function pulumiCliWorker(root: string): WorkerScript {
  return {
    file: join(root, "modules/evaluation/pulumi-cli-worker.ts"),
    execArgv: ["--require", join(root, "modules/evaluation/pulumi-cli-register.js")],
  };
}

/** Of the machine's memory, what all workers together may hold. */
const HEAP_SHARE = 0.75;

/**
 * A stack to evaluate: the worker loads and validates its file itself. `applied`: the stack's
 * outputs as its last update left them, which a StackReference to itself reads (default none:
 * never applied); a Plan evaluated with them is not the file's alone, so not for the cache.
 */
export type StackToEvaluate = Pick<LoadedStack, "name" | "file"> & {
  applied?: Record<string, unknown>;
};

/**
 * The stacks, or how many there are and how to load them: then the workers start loading the
 * SDK, providers and modules while `load` validates the stack files (a one-stack preview's
 * validation and worker start overlap); `load` throwing closes them, nothing evaluated.
 */
export type Stacks = StackToEvaluate[] | { count: number; load: () => StackToEvaluate[] };

/** Bytes of a stack's file and of the inventory it names: how much its program will declare. */
function weight(stack: StackToEvaluate): number {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  try {
    const document = YAML.parse(readFileSync(stack.file, "utf8"));
    const inventory = document?.config?.["avfleet:fleet"]?.inventory;
    if (typeof inventory !== "string") return size(stack.file);
    // Relative to the project root, as modules/stacks/derived.ts (inventoryFile) resolves it.
    const file = join(dirname(dirname(stack.file)), inventory);
    return size(stack.file) + size(file);
  } catch {
    return size(stack.file);
  }
}

/**
 * One worker process evaluating stacks one after another: the SDK, the providers and the
 * schemas load once per worker, not once per stack.
 */
class Worker {
  private child: ChildProcess;
  private stderr = "";
  private strings = new SharedStrings();
  private current?: {
    stack: StackToEvaluate;
    resources: PlanResource[];
    done(result: Evaluated): void;
    fail(err: Error): void;
  };

  constructor(script: WorkerScript, root: string, heapMiB: number) {
    this.child = fork(script.file, [], {
      cwd: root,
      execArgv: [
        ...script.execArgv,
        `--max-old-space-size=${heapMiB}`,
        // The SDK makes hundreds of short-lived promises per resource: a young generation
        // of 128 MB from the start collects them with less work than V8's default of a few
        // megabytes (5,000 hosts alone on 2 cores: 5.9 s and 750 MB; 256 MB growing from
        // 128: 6.3 s and 1,040 MB; 64 MB: 6.4 s; 32 MB: 7.0 s).
        "--min-semi-space-size=128",
        "--max-semi-space-size=128",
      ],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.on("message", (message: ResourcesMessage | DoneMessage) => {
      const current = this.current!;
      if (message.kind === "resources") {
        this.strings.add(message.strings);
        for (const resource of message.resources) {
          resource.inputs = this.strings.resolve(resource.inputs);
          current.resources.push(resource);
        }
        return;
      }
      this.current = undefined;
      const { name, ...rest } = message.plan;
      current.done({
        plan: { name, resources: current.resources, ...rest },
        reads: message.reads,
        stats: message.stats,
      });
    });
    const failed = (err: Error) => {
      this.current?.fail(err);
      this.current = undefined;
    };
    this.child.on("error", failed);
    this.child.on("exit", (code) =>
      failed(
        new EvaluationError(
          this.current?.stack.name ?? "(none)",
          this.stderr || `worker exited with code ${code}`,
        ),
      ),
    );
  }

  evaluate(stack: StackToEvaluate): Promise<Evaluated> {
    return new Promise((done, fail) => {
      this.current = { stack, resources: [], done, fail };
      const message: EvaluateMessage = {
        kind: "evaluate",
        stackFile: resolve(stack.file),
        ...(stack.applied ? { applied: stack.applied } : {}),
      };
      this.child.send(message);
    });
  }

  /** Hands over documents this process checked; the worker uses them while their files are unchanged. */
  remember(inputs: CheckedInput[]): void {
    const message: CheckedMessage = { kind: "checked", inputs };
    this.child.send(message);
  }

  /** Runs the worker below normal priority from now on. */
  yieldToHeaviest(): void {
    // No pid: the fork failed (its error event reports why), and setPriority without one
    // would lower this process instead.
    const { pid } = this.child;
    if (pid === undefined) return;
    try {
      setPriority(pid, constants.priority.PRIORITY_BELOW_NORMAL);
    } catch {
      // A worker that already exited has nothing to yield; its exit reports why.
    }
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

export async function evaluateStack(
  stack: StackToEvaluate,
  root = THIS_ROOT,
  loader: Loader = "bundle",
): Promise<Plan> {
  const [{ plan }] = await evaluateStacksWithReads([stack], { root, loader });
  return plan;
}

/** Plans in the order of `stacks`, with what each evaluation read. */
export async function evaluateStacksWithReads(
  toEvaluate: Stacks,
  options: EvaluateOptions = {},
): Promise<Evaluated[]> {
  const root = options.root ?? THIS_ROOT;
  const cli = options.loader === "pulumi-cli";
  const script: WorkerScript = cli
    ? pulumiCliWorker(root)
    : {
        file: (await workerBundle(root, options.cacheDir ?? join(root, PLAN_CACHE_ROOT))).file,
        execArgv: [],
      };
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  // Headroom over Node's default heap limit (~4 GiB) for programs that declare more at once
  // than MetalFleet's chunks: the SDK holds every resource in flight
  // (see docs/reference/evaluation.md).
  const heapMiB = Math.floor(((totalmem() / 1024 / 1024) * HEAP_SHARE) / concurrency);
  const count = Array.isArray(toEvaluate) ? toEvaluate.length : toEvaluate.count;
  const workers = Array.from(
    { length: Math.min(concurrency, count) },
    () => new Worker(script, root, heapMiB),
  );
  let stacks: StackToEvaluate[];
  try {
    stacks = Array.isArray(toEvaluate) ? toEvaluate : toEvaluate.load();
  } catch (err) {
    for (const worker of workers) worker.close();
    throw err;
  }
  const checked = checkedInputs();
  if (checked.length > 0) for (const worker of workers) worker.remember(checked);
  const results: Evaluated[] = new Array(stacks.length);
  const weights = stacks.map(weight);
  const order = stacks.map((_, i) => i).sort((a, b) => weights[b] - weights[a] || a - b);
  let next = 0;
  let done = 0;
  let failed = false;
  async function lane(first: Worker): Promise<void> {
    let worker = first;
    try {
      while (next < order.length && !failed) {
        const index = order[next++];
        // The heaviest stack is the critical path; the others have slack. On a machine busier
        // than its cores (GC threads, the parent reading batches) they wait, not it.
        if (index !== order[0]) worker.yieldToHeaviest();
        results[index] = await worker.evaluate(stacks[index]);
        options.onPlan?.(results[index].plan, ++done, stacks.length);
        // Under a real require hook a program runs once per process: a fresh one per stack.
        if (cli && next < order.length) {
          worker.close();
          worker = new Worker(script, root, heapMiB);
        }
      }
    } catch (err) {
      // One failed stack fails the whole evaluation: the other lanes stop taking stacks.
      failed = true;
      throw err;
    } finally {
      worker.close();
    }
  }

  await Promise.all(workers.map(lane));
  return results;
}

/** Plans in the order of `stacks`. */
export async function evaluateStacks(
  stacks: Stacks,
  options: EvaluateOptions = {},
): Promise<Plan[]> {
  return (await evaluateStacksWithReads(stacks, options)).map((e) => e.plan);
}
