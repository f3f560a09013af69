/**
 * Plans of every stack at two revisions, from the cache where their inputs were seen before
 * and otherwise evaluated offline — a commit in a temporary git worktree that reuses this
 * checkout's node_modules — and the report comparing them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { InputError } from "../inputs/problems";
import YAML from "yaml";
import {
  DEFAULT_STACKS_DIR,
  listStacks,
  loadStacks,
  pulumiConfigMap,
  stackFileName,
} from "../stacks/stack";
import {
  commitSnapshot,
  PLAN_CACHE_ROOT,
  PlanCache,
  usedFiles,
  workingTreeSnapshot,
  type Snapshot,
} from "../evaluation/cache";
import { evaluateStacksWithReads } from "../evaluation/evaluate";
import type { Plan } from "../plan/plan";
import type { Weights } from "../traffic/weights";
import { diffPlans } from "./diff";
import type { DiffReport, Side } from "./report";
import { summarizeStack } from "./summary";
import { withAppliedWeights } from "../policy-runner/base";
import { POLICIES } from "../policy-runner";
import { checkPlan } from "../policy-runner/runner";
import { verdictChanges, type Violation } from "./verdicts";

export interface DiffOptions {
  /** Anywhere inside the project's git checkout. */
  cwd: string;
  /** A revision git understands: branch, tag, commit, `HEAD~1`. */
  base: string;
  /** Default: the working tree as it is, uncommitted changes included. */
  head?: string;
  /** Workers at once; default: available cores. */
  concurrency?: number;
  /** Default: <checkout>/.avfleet/cache. */
  cacheDir?: string;
  /** Only this shard's stacks (see shardStacks). */
  shard?: Shard;
  onProgress?: (line: string) => void;
}

/** Shard `index` of `count` (1-based), as `--shard index/count` names it. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * The stacks of one shard: every count-th name of the sorted union of both revisions' stacks,
 * so that shards run on separate machines agree without talking to each other.
 */
export function shardStacks(names: string[], shard: Shard | undefined): string[] {
  return shard ? names.filter((_, i) => i % shard.count === shard.index - 1) : names;
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function gitRoot(cwd: string): string {
  try {
    return git(cwd, ["rev-parse", "--show-toplevel"]).trim();
  } catch {
    throw new InputError([
      `${cwd}: (directory): is not inside a git repository, expected a git checkout of the avfleet project`,
    ]);
  }
}

function resolveCommit(root: string, option: string, rev: string): string {
  try {
    return git(root, [
      "rev-parse",
      "--verify",
      "--quiet",
      "--end-of-options",
      `${rev}^{commit}`,
    ]).trim();
  } catch {
    throw new InputError([
      `${option}: is "${rev}", not a commit in ${root}, expected a branch, tag or commit (e.g. origin/main)`,
    ]);
  }
}

/** One revision's checkout: a commit, or the working tree. */
interface Revision {
  side: Side;
  commit?: string;
  stacks: string[];
  snapshot: Snapshot;
}

const STACKS_AT_COMMIT = /^Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml$/;

function commitRevision(root: string, label: string, commit: string): Revision {
  const files = git(root, ["ls-tree", "--name-only", commit, "--", `${DEFAULT_STACKS_DIR}/`]);
  const stacks = files
    .split("\n")
    .map((f) => STACKS_AT_COMMIT.exec(basename(f))?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
  return {
    side: { label, commit: commit.slice(0, 7) },
    commit,
    stacks,
    snapshot: commitSnapshot(root, commit),
  };
}

/** The working tree's stack files are this checkout's: validated here, before any evaluation. */
function workingTreeRevision(root: string): Revision {
  const stacks = listStacks(join(root, DEFAULT_STACKS_DIR));
  loadStacks(join(root, DEFAULT_STACKS_DIR), stacks);
  return { side: { label: "working tree" }, stacks, snapshot: workingTreeSnapshot(root) };
}

/** A temporary checkout of `commit` sharing `root`'s node_modules; removed by `dispose`. */
function addWorktree(root: string, commit: string): { dir: string; dispose(): void } {
  const parent = mkdtempSync(join(tmpdir(), "avfleet-diff-"));
  const dir = join(parent, "checkout");
  git(root, ["worktree", "add", "--detach", dir, commit]);
  const modules = join(root, "node_modules");
  if (existsSync(modules)) symlinkSync(modules, join(dir, "node_modules"), "dir");
  return {
    dir,
    dispose() {
      try {
        git(root, ["worktree", "remove", "--force", dir]);
      } finally {
        rmSync(parent, { recursive: true, force: true });
        git(root, ["worktree", "prune"]);
      }
    },
  };
}

/**
 * The stack's config as the Pulumi CLI hands it to the pack (PULUMI_CONFIG), from the stack file
 * at this revision: the file its Plan was evaluated from, so already validated.
 */
function configAt(rev: Revision, stack: string): Record<string, string> | undefined {
  const bytes = rev.snapshot.read(stackFileName(DEFAULT_STACKS_DIR, stack));
  return bytes && pulumiConfigMap(YAML.parse(bytes.toString("utf8"))).config;
}

/**
 * Policy verdicts of one revision's Plans, judged as `pulumi preview --policy-pack` judges them:
 * the facts each Plan declares, and the stack's config beside them, so that a program whose
 * facts disagree with its config (stack-facts-match-config) fails the review too.
 */
function violationsAt(rev: Revision, plans: Map<string, Plan>): Map<string, Violation[]> {
  return new Map(
    [...plans].map(([stack, plan]) => {
      try {
        return [stack, checkPlan(plan, POLICIES, configAt(rev, stack))];
      } catch (err) {
        throw new Error(
          `policy check of ${stack} at ${rev.side.label} failed: ${(err as Error).message}`,
        );
      }
    }),
  );
}

export async function runDiff(options: DiffOptions): Promise<DiffReport> {
  const say = options.onProgress ?? (() => {});
  const root = gitRoot(options.cwd);
  const baseCommit = resolveCommit(root, "--base", options.base);
  const headCommit = options.head ? resolveCommit(root, "--head", options.head) : undefined;
  const base = commitRevision(root, options.base, baseCommit);
  const head = headCommit
    ? commitRevision(root, options.head!, headCommit)
    : workingTreeRevision(root);

  // Every revision is evaluated with this checkout's node_modules, so its lockfile is the
  // one that describes the dependencies of every Plan.
  const lockPath = join(root, "package-lock.json");
  const lockfile = existsSync(lockPath) ? readFileSync(lockPath) : undefined;
  for (const rev of [base, head]) {
    const theirs = rev.snapshot.read("package-lock.json");
    if (lockfile && theirs && !theirs.equals(lockfile)) {
      say(
        `warning: package-lock.json at ${rev.side.label} differs from this checkout's; its stacks are evaluated with this checkout's node_modules`,
      );
    }
  }

  const cache = new PlanCache(options.cacheDir ?? join(root, PLAN_CACHE_ROOT));
  const stackPath = (name: string) => stackFileName(DEFAULT_STACKS_DIR, name);
  const names = shardStacks([...new Set([...base.stacks, ...head.stacks])].sort(), options.shard);
  const plans = new Map<Revision, Map<string, Plan>>([
    [head, new Map()],
    [base, new Map()],
  ]);
  let reused = 0;
  let evaluated = 0;
  // Head first: when it is the working tree, its misses need no temporary checkout, and the
  // base's stacks that the change leaves alone then find head's Plans by the files they used.
  for (const rev of [head, base]) {
    const stacks = rev.stacks.filter((stack) => names.includes(stack));
    const misses: string[] = [];
    for (const stack of stacks) {
      const hit = cache.lookup(rev.snapshot, stack, lockfile);
      if (hit) plans.get(rev)!.set(stack, hit.plan);
      else misses.push(stack);
    }
    reused += stacks.length - misses.length;
    say(
      `diff: ${rev.side.label} (${stacks.length} stacks): ${stacks.length - misses.length} Plans reused, ${misses.length} to evaluate`,
    );
    if (misses.length === 0) continue;
    const worktree = rev.commit ? addWorktree(root, rev.commit) : undefined;
    try {
      const checkout = worktree?.dir ?? root;
      const results = await evaluateStacksWithReads(
        misses.map((name) => ({ name, file: join(checkout, stackPath(name)) })),
        {
          root: checkout,
          cacheDir: cache.root,
          concurrency: options.concurrency,
          onPlan: (plan, done, total) =>
            say(`evaluated ${done}/${total}: ${plan.name} (${rev.side.label})`),
        },
      );
      results.forEach(({ plan, reads }, i) => {
        cache.store(rev.snapshot, misses[i], usedFiles(checkout, reads), lockfile, plan);
        plans.get(rev)!.set(misses[i], plan);
      });
      evaluated += misses.length;
    } finally {
      worktree?.dispose();
    }
  }
  say(`diff: ${reused} Plans reused, ${evaluated} evaluated`);
  cache.prune();

  const plansAt = (rev: Revision) => plans.get(rev)!;
  const [before, after] = [base, head].map(plansAt);
  // The step rule: a traffic split's move is bounded from its weights at base.
  const applied = new Map(
    [...after].map(([stack, plan]) => [
      stack,
      withAppliedWeights(plan, before.get(stack)?.outputs.weights as Weights | undefined),
    ]),
  );
  const [judgedBefore, judgedAfter] = [violationsAt(base, before), violationsAt(head, applied)];
  const stacks = names.map((name) => {
    const diff = diffPlans(before.get(name), after.get(name));
    const policy = verdictChanges(judgedBefore.get(name) ?? [], judgedAfter.get(name) ?? []);
    return { diff, summary: summarizeStack(diff, before.get(name), after.get(name), policy) };
  });
  return { base: base.side, head: head.side, stacks };
}
