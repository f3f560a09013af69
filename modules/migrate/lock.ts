/**
 * One executor per runbook: an exclusive lock file holding the holder's pid. A lock whose pid
 * is dead (a killed executor) is taken over, and the caller notes it in the journal.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { dirname } from "node:path";

export interface LockHolder {
  pid: number;
  since: number;
}

export class LockedError extends Error {
  constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${file}: held by executor pid ${holder.pid} since ${new Date(holder.since).toISOString()}; ` +
        `abort it first (avfleet migrate abort) or wait`,
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
    // Missing, or torn by a kill between create and write: either way nobody holds it.
    return undefined;
  }
}

export interface Lock {
  /** The dead holder this lock was taken from, if any. */
  takenFrom?: LockHolder;
  release(): void;
}

export function acquireLock(
  file: string,
  pid: number = process.pid,
  alive: (pid: number) => boolean = processAlive,
): Lock {
  mkdirSync(dirname(file), { recursive: true });
  let takenFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, JSON.stringify({ pid, since: Date.now() }));
      closeSync(fd);
      return {
        takenFrom,
        release: () => {
          if (readLock(file)?.pid === pid) rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readLock(file);
      if (holder && alive(holder.pid)) throw new LockedError(file, holder);
      takenFrom = holder ?? { pid: 0, since: 0 };
      rmSync(file, { force: true });
    }
  }
  throw new LockedError(file, readLock(file) ?? { pid: 0, since: 0 });
}
