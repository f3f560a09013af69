/**
 * Plans cached by a hash of everything they are computed from, so that a stack whose inputs
 * did not change is evaluated once — across revisions, runs and CI jobs.
 *
 * The key of a stack's Plan covers: the program (PROGRAM_INPUTS at that revision), the stack
 * file, the stack files it names (a traffic stack's pools) and the inventories they name
 * (bare-metal sites), the traffic stacks that name it (a pool's cost follows its weight),
 * the installed dependencies
 * (the lockfile of the checkout whose node_modules evaluates it), Node's version and this
 * cache's format. Files are identified by their git blob id, so the same bytes give the same
 * key whether they come from a commit (`git ls-tree`, no checkout needed) or the working tree.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { Plan } from "./plan";

/**
 * What the program reads besides the stack files and the inventories they name: a program
 * that starts reading another path must add it here, or its Plans could be stale.
 */
// The program imports the pack's facts contract and rules; a policy change leaves Plans valid.
export const PROGRAM_INPUTS = [
  "index.ts",
  "Pulumi.yaml",
  "tsconfig.json",
  "modules",
  "policy/facts.ts",
  "policy/rules.ts",
] as const;

/** Bump when the Plan's shape or the key's recipe changes. */
const CACHE_FORMAT = 2;

export const PLAN_CACHE_DIR = join(".avfleet", "cache", "plans");

/** A checkout's files as git blob ids: from a commit, or from the working tree on disk. */
export interface Snapshot {
  /** Blob id of each file under PROGRAM_INPUTS, by path. */
  program: Map<string, string>;
  /** Reads a file at this snapshot (stack files); undefined when absent. */
  read(path: string): Buffer | undefined;
}

function git(root: string, args: string[]): Buffer {
  return execFileSync("git", args, {
    cwd: root,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** git's object id of a blob with these bytes (`git hash-object`). */
export function blobId(bytes: Buffer): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

export function commitSnapshot(root: string, commit: string): Snapshot {
  const program = new Map<string, string>();
  const listing = git(root, ["ls-tree", "-r", "-z", commit, "--", ...PROGRAM_INPUTS]).toString();
  for (const entry of listing.split("\0").filter(Boolean)) {
    // <mode> SP <type> SP <object> TAB <path>
    const [meta, path] = entry.split("\t");
    const [, type, object] = meta.split(" ");
    if (type === "blob") program.set(path, object);
  }
  // A stack file is read for its key and for each traffic stack naming it: once is enough.
  const files = new Map<string, Buffer | undefined>();
  return {
    program,
    read(path) {
      if (!files.has(path)) {
        try {
          files.set(path, git(root, ["show", `${commit}:${path}`]));
        } catch {
          files.set(path, undefined);
        }
      }
      return files.get(path);
    },
  };
}

/** The working tree as it is on disk, untracked (not ignored) files included. */
export function workingTreeSnapshot(root: string): Snapshot {
  const program = new Map<string, string>();
  const listing = git(root, [
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
    "--",
    ...PROGRAM_INPUTS,
  ]).toString();
  const read = (path: string) => {
    const file = join(root, path);
    return existsSync(file) ? readFileSync(file) : undefined;
  };
  for (const path of new Set(listing.split("\0").filter(Boolean))) {
    const bytes = read(path);
    if (bytes) program.set(path, blobId(bytes));
  }
  return { program, read };
}

/** What a stack file names that its Plan is computed from: a traffic stack's pools, an inventory. */
function references(stackFile: Buffer): { stacks: string[]; files: string[] } {
  try {
    const config = (YAML.parse(stackFile.toString()) as { config?: Record<string, any> })?.config;
    const pools = config?.["avfleet:traffic"]?.pools;
    const inventory = config?.["avfleet:fleet"]?.inventory;
    return {
      stacks: Array.isArray(pools)
        ? pools.map((p) => p?.stack).filter((s): s is string => typeof s === "string")
        : [],
      files: typeof inventory === "string" ? [inventory] : [],
    };
  } catch {
    // A malformed file still gets a key (its own bytes); evaluating it reports the problem.
    return { stacks: [], files: [] };
  }
}

/**
 * The cache key of one stack's Plan. `stackPath` maps a stack name to its file's path
 * relative to the checkout; `lockfile` is the bytes of the lockfile behind the node_modules
 * that evaluates it.
 */
export function planKey(
  snapshot: Snapshot,
  stack: string,
  stackPath: (name: string) => string,
  lockfile: Buffer | undefined,
  allStacks: string[],
): string {
  // The stack file, the stack files it names and (for bare metal) their inventories, so that
  // a host changing state re-evaluates its site and the traffic stacks over it, no other;
  // and the splits naming it, so that a weight change re-costs the pools it moves.
  const stacks = new Set([stack]);
  const files = new Set(
    allStacks
      .map(stackPath)
      .filter((path) => references(snapshot.read(path) ?? Buffer.alloc(0)).stacks.includes(stack)),
  );
  for (const name of stacks) {
    files.add(stackPath(name));
    const named = references(snapshot.read(stackPath(name)) ?? Buffer.alloc(0));
    for (const other of named.stacks) stacks.add(other);
    for (const file of named.files) files.add(file);
  }
  const inputs = [...files].sort().map((path) => {
    const bytes = snapshot.read(path);
    return [path, bytes ? blobId(bytes) : null];
  });
  return createHash("sha256")
    .update(
      JSON.stringify({
        format: CACHE_FORMAT,
        node: process.version,
        stack,
        lockfile: lockfile ? blobId(lockfile) : null,
        program: [...snapshot.program].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        inputs,
      }),
    )
    .digest("hex");
}

export class PlanCache {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** The cached Plan, or undefined (absent or unreadable: evaluate again). */
  get(key: string): Plan | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), "utf8")) as Plan;
    } catch {
      return undefined;
    }
  }

  /** Written whole or not at all: a concurrent reader never sees half a Plan. */
  set(key: string, plan: Plan): void {
    mkdirSync(this.dir, { recursive: true });
    const temporary = `${this.file(key)}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(plan));
    renameSync(temporary, this.file(key));
  }
}
