/**
 * Plans of every stack at two revisions, from the cache where their inputs were seen before
 * and otherwise evaluated offline — a commit in a temporary git worktree that reuses this
 * checkout's node_modules — and the report comparing them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { DEFAULT_STACKS_DIR, listStacks, loadStacks, stackFileName } from "../config/stack";
import { InputError } from "../config/validate";
import {
  commitSnapshot,
  PLAN_CACHE_DIR,
  PlanCache,
  planKey,
  workingTreeSnapshot,
  type Snapshot,
} from "../plan/cache";
import { evaluateStacks } from "../plan/evaluate";
import type { Plan } from "../plan/plan";
import type { Weights } from "../traffic/weights";
import { diffPlans } from "./diff";
import type { DiffReport, Side } from "./report";
import { summarizeStack } from "./summary";
import { withAppliedWeights } from "../policy/base";
import { checkPlan } from "../policy/runner";
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
  /** Default: <checkout>/.avfleet/cache/plans. */
  cacheDir?: string;
  onProgress?: (line: string) => void;
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
 * Policy verdicts of one revision's Plans. Policies read the facts each Plan declares, so a
 * commit's verdicts need nothing but its Plans.
 */
function violationsAt(rev: Revision, plans: Map<string, Plan>): Map<string, Violation[]> {
  return new Map(
    [...plans].map(([stack, plan]) => {
      try {
        return [stack, checkPlan(plan)];
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

  const cache = new PlanCache(options.cacheDir ?? join(root, PLAN_CACHE_DIR));
  const stackPath = (name: string) => stackFileName(DEFAULT_STACKS_DIR, name);
  const keys = new Map<Revision, Map<string, string>>();
  for (const rev of [base, head]) {
    keys.set(
      rev,
      new Map(
        rev.stacks.map((s) => [s, planKey(rev.snapshot, s, stackPath, lockfile, rev.stacks)]),
      ),
    );
  }

  // Same key, same Plan: a stack the change does not touch is evaluated at most once.
  const plans = new Map<string, Plan>();
  const scheduled = new Set<string>();
  const misses = new Map<Revision, string[]>();
  let reused = 0;
  // Head first: when it is the working tree, its misses need no temporary checkout.
  for (const rev of [head, base]) {
    for (const [stack, key] of keys.get(rev)!) {
      const cached = plans.get(key) ?? cache.get(key);
      if (cached) plans.set(key, cached);
      if (cached || scheduled.has(key)) {
        reused++;
        continue;
      }
      scheduled.add(key);
      misses.set(rev, [...(misses.get(rev) ?? []), stack]);
    }
  }
  const toEvaluate = scheduled.size;
  say(
    `diff: ${base.side.label} (${base.stacks.length} stacks) → ${head.side.label} (${head.stacks.length} stacks): ${reused} Plans reused, ${toEvaluate} to evaluate`,
  );

  let done = 0;
  for (const [rev, stacks] of misses) {
    const worktree = rev.commit ? addWorktree(root, rev.commit) : undefined;
    try {
      const checkout = worktree?.dir ?? root;
      const evaluated = await evaluateStacks(
        stacks.map((name) => ({ name, file: join(checkout, stackPath(name)) })),
        {
          root: checkout,
          concurrency: options.concurrency,
          onPlan: (plan) =>
            say(`evaluated ${++done}/${toEvaluate}: ${plan.name} (${rev.side.label})`),
        },
      );
      evaluated.forEach((plan, i) => {
        const key = keys.get(rev)!.get(stacks[i])!;
        plans.set(key, plan);
        cache.set(key, plan);
      });
    } finally {
      worktree?.dispose();
    }
  }

  const plansAt = (rev: Revision) =>
    new Map(rev.stacks.map((stack) => [stack, plans.get(keys.get(rev)!.get(stack)!)!] as const));
  const [before, after] = [base, head].map(plansAt);
  // The step rule: a traffic split's move is bounded from its weights at base.
  const applied = new Map(
    [...after].map(([stack, plan]) => [
      stack,
      withAppliedWeights(plan, before.get(stack)?.outputs.weights as Weights | undefined),
    ]),
  );
  const [judgedBefore, judgedAfter] = [violationsAt(base, before), violationsAt(head, applied)];
  const names = [...new Set([...base.stacks, ...head.stacks])].sort();
  const stacks = names.map((name) => {
    const diff = diffPlans(before.get(name), after.get(name));
    const policy = verdictChanges(judgedBefore.get(name) ?? [], judgedAfter.get(name) ?? []);
    return { diff, summary: summarizeStack(diff, before.get(name), after.get(name), policy) };
  });
  return { base: base.side, head: head.side, stacks };
}
