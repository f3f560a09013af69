/**
 * Plans cached by a hash of everything their evaluation used, so that a stack whose inputs
 * did not change is evaluated once — across revisions, runs and CI jobs.
 *
 * An evaluation reports the files it used (./worker.ts): the modules it ran — for a GCP stack
 * not the AWS fleet — and the files it read (its stack file, the stack files a traffic split
 * names, a bare-metal site's inventory, data beside modules). The cache keeps, per stack, the
 * sets of files earlier evaluations used (manifests); a stack's Plan is found again when every
 * file of one of those sets has the bytes it had then. The key also covers tsconfig.json (the
 * compiler options), the lockfile of the checkout whose node_modules evaluates it, Node's
 * version and this cache's format. Files are identified by their git blob id, so the same
 * bytes give the same key whether they come from a commit (`git ls-tree`, no checkout needed)
 * or the working tree.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { STACK_FILE } from "../stacks/stack";
import type { Plan } from "../plan/plan";

/** Bump when the Plan's shape or the key's recipe changes. */
const CACHE_FORMAT = 3;

/** Everything cached for a checkout: Plans, their manifests, compiled workers and CLI. */
export const PLAN_CACHE_ROOT = join(".avfleet", "cache");
export const PLAN_CACHE_DIR = join(PLAN_CACHE_ROOT, "plans");

/** A checkout's files as git blob ids: from a commit, or from the working tree on disk. */
export interface Snapshot {
  /**
   * Blob id of a file by its path in the checkout (or an absolute path outside it, read from
   * disk); "absent" when there is none.
   */
  id(path: string): string;
  /** Reads a file at this snapshot; undefined when absent. */
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

/**
 * A directory's id: its entries' names (subdirectories with a trailing /). An evaluation that
 * lists a directory depends on which files are in it, not only on the files it then reads:
 * a fleet's traffic share on every split in its stacks directory, a new one included.
 */
function listingId(names: string[]): string {
  return `listing:${createHash("sha1")
    .update([...names].sort().join("\n"))
    .digest("hex")}`;
}

/**
 * The name, in a stacks directory, that stands for the traffic splits in it: a fleet is costed
 * at its share in them (./worker.ts), and the other stack files it reads to find them do not
 * change it, so a one-stack change does not re-evaluate every fleet beside it.
 */
export const TRAFFIC_SPLITS = "(traffic splits)";

/**
 * The id of a stacks directory's traffic splits: its stack files that may declare
 * `avfleet:traffic` (a mention is enough, so a new split is never missed), by name and bytes.
 */
function trafficSplitsId(
  dir: string,
  names: Iterable<string> | undefined,
  read: (path: string) => Buffer | undefined,
): string {
  if (!names) return "absent";
  const splits: [string, string][] = [];
  for (const name of [...names].filter((n) => STACK_FILE.test(n)).sort()) {
    const bytes = read(`${dir}/${name}`);
    if (bytes?.includes("avfleet:traffic")) splits.push([name, blobId(bytes)]);
  }
  return `splits:${createHash("sha1").update(JSON.stringify(splits)).digest("hex")}`;
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function listOrUndefined(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/** A file's blob id, a directory's listing id, or "absent". */
export function fileId(file: string): string {
  if (basename(file) === TRAFFIC_SPLITS) {
    const dir = dirname(file);
    return trafficSplitsId(dir, listOrUndefined(dir), readOrUndefined);
  }
  try {
    return blobId(readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EISDIR") return "absent";
    const entries = readdirSync(file, { withFileTypes: true });
    return listingId(entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)));
  }
}

export function commitSnapshot(root: string, commit: string): Snapshot {
  const ids = new Map<string, string>();
  const directories = new Map<string, Set<string>>();
  const listing = git(root, ["ls-tree", "-r", "-z", commit]).toString();
  for (const entry of listing.split("\0").filter(Boolean)) {
    // <mode> SP <type> SP <object> TAB <path>
    const [meta, path] = entry.split("\t");
    const [, type, object] = meta.split(" ");
    if (type !== "blob") continue;
    ids.set(path, object);
    const parts = path.split("/");
    for (let depth = 0; depth < parts.length; depth++) {
      const directory = depth === 0 ? "." : parts.slice(0, depth).join("/");
      const name = depth === parts.length - 1 ? parts[depth] : `${parts[depth]}/`;
      if (!directories.has(directory)) directories.set(directory, new Set());
      directories.get(directory)!.add(name);
    }
  }
  const directoryId = (path: string) => {
    const names = directories.get(path);
    return names ? listingId([...names]) : "absent";
  };
  const read = (path: string) =>
    ids.has(path) ? git(root, ["cat-file", "blob", ids.get(path)!]) : undefined;
  const splits = new Map<string, string>();
  const splitsId = (dir: string) => {
    if (!splits.has(dir)) splits.set(dir, trafficSplitsId(dir, directories.get(dir), read));
    return splits.get(dir)!;
  };
  return {
    id(path) {
      if (isAbsolute(path)) return fileId(path);
      if (basename(path) === TRAFFIC_SPLITS) return splitsId(dirname(path));
      return ids.get(path) ?? directoryId(path.replace(/\/$/, ""));
    },
    read,
  };
}

/** The working tree as it is on disk. */
export function workingTreeSnapshot(root: string): Snapshot {
  const ids = new Map<string, string>();
  const file = (path: string) => (isAbsolute(path) ? path : join(root, path));
  return {
    id(path) {
      if (!ids.has(path)) ids.set(path, fileId(file(path)));
      return ids.get(path)!;
    },
    read: (path) => readOrUndefined(file(path)),
  };
}

/** The files an evaluation in `checkout` used, as the cache names them: relative inside it. */
export function usedFiles(checkout: string, reads: string[]): string[] {
  return reads
    .map((file) => {
      const path = relative(checkout, file);
      return path.startsWith(`..${sep}`) || isAbsolute(path) ? file : path.split(sep).join("/");
    })
    .sort();
}

/**
 * The cache key of one stack's Plan, from the files its evaluation used; `lockfile` is the
 * bytes of the lockfile behind the node_modules that evaluates it.
 */
export function planKey(
  snapshot: Snapshot,
  stack: string,
  used: string[],
  lockfile: Buffer | undefined,
): string {
  const files = [...new Set([...used, "tsconfig.json"])].sort();
  return createHash("sha256")
    .update(
      JSON.stringify({
        format: CACHE_FORMAT,
        node: process.version,
        stack,
        lockfile: lockfile ? blobId(lockfile) : null,
        files: files.map((path) => [path, snapshot.id(path)]),
      }),
    )
    .digest("hex");
}

/** How many distinct sets of used files the cache remembers per stack. */
const MANIFESTS_PER_STACK = 16;

/** Defaults of `avfleet cache prune`, also applied after every diff. */
export const PRUNE_DEFAULTS = { maxAgeDays: 14, maxMiB: 1024 } as const;

export interface PruneResult {
  removedFiles: number;
  removedBytes: number;
  keptFiles: number;
  keptBytes: number;
}

function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** The cache of a checkout: Plans, the manifests that find them, compiled workers. */
export class PlanCache {
  constructor(readonly root: string) {}

  private plan(key: string): string {
    return join(this.root, "plans", `${key}.json`);
  }

  private manifest(stack: string): string {
    return join(this.root, "manifests", `${stack}.json`);
  }

  private manifests(stack: string): string[][] {
    try {
      return JSON.parse(readFileSync(this.manifest(stack), "utf8")) as string[][];
    } catch {
      return [];
    }
  }

  /** The cached Plan, or undefined (absent or unreadable: evaluate again). */
  get(key: string): Plan | undefined {
    try {
      const plan = JSON.parse(readFileSync(this.plan(key), "utf8")) as Plan;
      // Pruning removes the least recently used first.
      const now = new Date();
      utimesSync(this.plan(key), now, now);
      return plan;
    } catch {
      return undefined;
    }
  }

  /** Written whole or not at all: a concurrent reader never sees half a Plan. */
  set(key: string, plan: Plan): void {
    mkdirSync(join(this.root, "plans"), { recursive: true });
    writeWhole(this.plan(key), JSON.stringify(plan));
  }

  /** `stack`'s Plan at `snapshot`, when an earlier evaluation used files with the same bytes. */
  lookup(
    snapshot: Snapshot,
    stack: string,
    lockfile: Buffer | undefined,
  ): { key: string; plan: Plan } | undefined {
    for (const used of this.manifests(stack)) {
      const key = planKey(snapshot, stack, used, lockfile);
      const plan = this.get(key);
      if (plan) return { key, plan };
    }
    return undefined;
  }

  /** Stores a Plan under the files its evaluation used; returns its key. */
  store(
    snapshot: Snapshot,
    stack: string,
    used: string[],
    lockfile: Buffer | undefined,
    plan: Plan,
  ): string {
    const key = planKey(snapshot, stack, used, lockfile);
    this.set(key, plan);
    const same = JSON.stringify(used);
    const manifests = [used, ...this.manifests(stack).filter((m) => JSON.stringify(m) !== same)];
    mkdirSync(join(this.root, "manifests"), { recursive: true });
    writeWhole(this.manifest(stack), JSON.stringify(manifests.slice(0, MANIFESTS_PER_STACK)));
    return key;
  }

  /**
   * Removes entries unused for `maxAgeDays`, then the least recently used until the cache
   * holds at most `maxMiB`.
   */
  prune(options: { maxAgeDays?: number; maxMiB?: number } = {}): PruneResult {
    const maxAge = (options.maxAgeDays ?? PRUNE_DEFAULTS.maxAgeDays) * 86_400_000;
    const maxBytes = (options.maxMiB ?? PRUNE_DEFAULTS.maxMiB) * 1024 * 1024;
    const files: { file: string; bytes: number; used: number }[] = [];
    for (const dir of ["plans", "manifests", "workers", "cli"]) {
      let names: string[] = [];
      try {
        names = readdirSync(join(this.root, dir));
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          const stat = statSync(join(this.root, dir, name));
          if (stat.isFile()) {
            files.push({ file: join(this.root, dir, name), bytes: stat.size, used: stat.mtimeMs });
          }
        } catch {
          // Removed meanwhile by a concurrent run.
        }
      }
    }
    files.sort((a, b) => a.used - b.used);
    let total = files.reduce((n, f) => n + f.bytes, 0);
    const result: PruneResult = { removedFiles: 0, removedBytes: 0, keptFiles: 0, keptBytes: 0 };
    const now = Date.now();
    for (const f of files) {
      if (now - f.used > maxAge || total > maxBytes) {
        rmSync(f.file, { force: true });
        total -= f.bytes;
        result.removedFiles++;
        result.removedBytes += f.bytes;
      } else {
        result.keptFiles++;
        result.keptBytes += f.bytes;
      }
    }
    return result;
  }
}
