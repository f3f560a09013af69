/**
 * The local lease: an exclusive lock file naming its holder (pid, host, boot, who) and a
 * fencing token. A lock whose pid is dead (a killed executor) is taken over, and the caller
 * notes it in the journal, but only when the holder ran on this host in this boot: a pid from
 * another host (a shared filesystem), another PID namespace (a container, whose UTS namespace
 * gives it its own hostname) or a previous boot says nothing about whether that executor lives.
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
import { hostname } from "node:os";
import { dirname } from "node:path";
import { readNoFollow } from "./nofollow";

export interface LockHolder {
  pid: number;
  since: number;
  host?: string;
  /** The kernel's boot id when the lock was taken (Linux; absent elsewhere). */
  bootId?: string;
  /** The operator identity the holder acts for: what --by said. */
  by?: string;
  /** Who the state backend authenticated the holder as (OS user, PostgreSQL session_user). */
  as?: string;
  token?: number;
}

/** `alice (executor pid 42 on build-7) since 2026-…`: who to ask. */
export function describeHolder(holder: LockHolder): string {
  const executor = `executor pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ""}`;
  const authenticated =
    holder.as && holder.as !== holder.by ? `, authenticated as ${holder.as}` : "";
  const who = holder.by ? `${holder.by} (${executor}${authenticated})` : executor;
  return `${who} since ${new Date(holder.since).toISOString()}`;
}

export class LockedError extends Error {
  constructor(
    readonly where: string,
    readonly holder: LockHolder,
    advice = "abort it first (avfleet migrate abort) or wait",
  ) {
    super(`${where}: held by ${describeHolder(holder)}; ${advice}`);
  }
}

/**
 * This boot's id: a random UUID the kernel makes at each boot
 * (https://man7.org/linux/man-pages/man4/random.4.html, /proc/sys/kernel/random/boot_id).
 */
export function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined; // not Linux: the hostname alone has to do
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
  const text = readNoFollow(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
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
  const fd = openSync(own, "wx", 0o600);
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
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const here = { host: hostname(), bootId: bootId() };
  let takenFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createWhole(file, JSON.stringify({ ...holder, ...here }));
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
      if (current && (current.host !== here.host || current.bootId !== here.bootId)) {
        throw new LockedError(
          file,
          current,
          `its pid cannot be checked from ${here.host}${here.bootId ? ` (boot ${here.bootId})` : ""}, the lock being from ${current.host ?? "an unknown host"}${current.bootId ? ` (boot ${current.bootId})` : ""}; if that executor is gone, remove ${file} and run again`,
        );
      }
      takenFrom = current ?? { pid: 0, since: 0 };
      rmSync(file, { force: true });
    }
  }
  throw new LockedError(file, readLock(file) ?? { pid: 0, since: 0 });
}
