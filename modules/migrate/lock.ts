/**
 * The local lease: an exclusive lock file naming its holder (pid, host, who) and a fencing
 * token. A lock whose pid is dead (a killed executor) is taken over, and the caller notes it in
 * the journal.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

export interface LockHolder {
  pid: number;
  since: number;
  host?: string;
  /** The operator identity the holder acts for. */
  by?: string;
  token?: number;
}

/** `alice (executor pid 42 on build-7) since 2026-…`: who to ask. */
export function describeHolder(holder: LockHolder): string {
  const executor = `executor pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ""}`;
  const who = holder.by ? `${holder.by} (${executor})` : executor;
  return `${who} since ${new Date(holder.since).toISOString()}`;
}

export class LockedError extends Error {
  constructor(
    readonly where: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${where}: held by ${describeHolder(holder)}; abort it first (avfleet migrate abort) or wait`,
    );
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readLock(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // Missing, or unreadable (written by a version that created the file before writing it,
    // and killed in between): either way nobody holds it.
    return undefined;
  }
}

export interface Lock {
  /** The dead holder this lock was taken from, if any. */
  takenFrom?: LockHolder;
  release(): void;
}

/**
 * Creates `file` with its content, or fails with EEXIST, in one step: the content is written
 * to a file of this process's own and hard-linked into place. A lock created empty and then
 * written is, for a moment, a lock nobody can read: another executor starting at that moment
 * took it for a dead one's and took it over (seen as "lock was taken over" when two runs
 * started together).
 */
function createWhole(file: string, content: string): void {
  const own = `${file}.${process.pid}.${randomBytes(6).toString("hex")}`;
  const fd = openSync(own, "wx");
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(own, file);
  } finally {
    rmSync(own, { force: true });
  }
}

export function acquireLock(
  file: string,
  holder: LockHolder,
  alive: (pid: number) => boolean = processAlive,
): Lock {
  mkdirSync(dirname(file), { recursive: true });
  let takenFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createWhole(file, JSON.stringify(holder));
      return {
        takenFrom,
        release: () => {
          const now = readLock(file);
          if (now?.pid === holder.pid && now.token === holder.token) rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const current = readLock(file);
      if (current && alive(current.pid)) throw new LockedError(file, current);
      takenFrom = current ?? { pid: 0, since: 0 };
      rmSync(file, { force: true });
    }
  }
  throw new LockedError(file, readLock(file) ?? { pid: 0, since: 0 });
}
