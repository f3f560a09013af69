/**
 * Where migration state lives: every runbook's journal, its lease (one writer at a time), the
 * abort requests, and the claim that keeps regions one at a time. One interface, two
 * implementations: a local directory (default; one checkout) and PostgreSQL (postgres.ts;
 * shared by a team). Every append is conditional twice: on the journal's length the writer
 * last saw (compare-and-append) and on its lease still being the key's (a fencing token), so a
 * writer that lost its lease can change nothing.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { hostname, userInfo } from "node:os";
import { join, relative, sep } from "node:path";
import { InputError } from "../inputs/problems";
import { parseJournal, readJournal, type Entry } from "./journal";
import { openNoFollow, readNoFollow } from "./nofollow";
import { acquireLock, LockedError, processAlive, readLock, type LockHolder } from "./lock";

export { LockedError };

/** Who holds a lease: shown to whoever is refused. */
export type Holder = LockHolder;

export interface Lease {
  readonly key: string;
  /** Fencing token: grows with every acquisition of the key. */
  readonly token: number;
  /** The holder this lease was taken from: a dead process, or one whose lease expired. */
  readonly takenFrom?: Holder;
  /** Who the backend authenticated the holder as (StateBackend.identity). */
  readonly as: string;
  release(): Promise<void>;
}

/** A write refused because its lease is gone or the journal moved on: the writer stops. */
export class StaleWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StaleWriteError";
  }
}

export interface AbortRequest {
  by: string;
  /** Who the backend authenticated the requester as. */
  as?: string;
  reason: string;
}

export interface StateBackend {
  /** Where, for messages: a directory or a URL without its password. */
  readonly where: string;
  /**
   * Who this process is, as the backend authenticated it, never as a flag says: the OS user
   * of the local directory, or PostgreSQL's session_user (each operator their own role).
   */
  identity(): Promise<string>;
  /** Whether identity() belongs to `group`: an OS group locally, a PostgreSQL role shared. */
  memberOf(group: string): Promise<boolean>;
  /** Takes the key's lease, or throws LockedError naming the live holder. */
  acquire(key: string, holder: Holder): Promise<Lease>;
  /** The live holder of a key's lease, if any. */
  holder(key: string): Promise<Holder | undefined>;
  read(key: string): Promise<Entry[]>;
  /** Appends `entry` as entry number `seen + 1`; StaleWriteError if not the lease's or not next. */
  append(lease: Lease, seen: number, entry: Entry): Promise<void>;
  /**
   * Regions one at a time: makes `region` the one migrating, unless another region's journal
   * is unfinished (`finished` judges a journal); then returns that region.
   */
  claimRegion(region: string, finished: (entries: Entry[]) => boolean): Promise<string | undefined>;
  requestAbort(key: string, request: AbortRequest): Promise<void>;
  abortRequest(key: string): Promise<AbortRequest | undefined>;
  clearAbort(key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A state location as it may be printed: a PostgreSQL URL's password, given as userinfo
 * (`postgres://u:X@h/db`) or as a query parameter (`?password=X`, which libpq and the `pg`
 * client both accept), becomes `***`. libpq: every connection keyword may be a URI query
 * parameter (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS);
 * pg-connection-string 2.14.1 index.js:40 copies each query parameter into the config. Works on text that is not a valid URL too, since an
 * unparseable location is still printed in the error that says so.
 */
export function redactLocation(location: string): string {
  return location
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, "$1:***@")
    .replace(/([?&](?:ssl)?password=)[^&#]*/gi, "$1***");
}

/** The holder this process is, acting for `by`. */
export function thisHolder(by: string, pid = process.pid): Holder {
  return { pid, host: hostname(), by, since: Date.now() };
}

/** Where one key's journal, lock and abort request live in a local state directory. */
export interface StatePaths {
  dir: string;
  journal: string;
  lock: string;
  abort: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    journal: join(dir, "journal.jsonl"),
    lock: join(dir, "lock"),
    abort: join(dir, "abort-requested"),
  };
}

/**
 * Refuses a state directory anyone but its owner could plant files or links in (group- or
 * world-writable) or that belongs to someone else: its journal decides what the next run does.
 * `follow`: the state root itself may be a link (a checkout's `.avfleet` on another disk);
 * the folders below it may not.
 */
function checkPrivateDir(dir: string, follow: boolean): void {
  const st = follow ? statSync(dir) : lstatSync(dir);
  const uid = process.getuid?.();
  const fix = `expected a directory of your own that only you can write (mode 700)`;
  let problem: string | undefined;
  if (!st.isDirectory())
    problem = st.isSymbolicLink() ? "is a symbolic link" : "is not a directory";
  else if (uid !== undefined && st.uid !== uid)
    problem = `is owned by uid ${st.uid}, not by you (uid ${uid})`;
  else if ((st.mode & 0o022) !== 0)
    problem = `is group- or world-writable (mode ${(st.mode & 0o777).toString(8)})`;
  if (problem) {
    const chmod = problem.includes("writable") ? `; chmod 700 ${dir}` : "";
    throw new InputError([`${dir}: (state directory): ${problem}, ${fix}${chmod}`]);
  }
}

/**
 * The key's folder under the state root, every level checked (checkPrivateDir); `create`
 * makes missing levels with mode 700. False when it does not exist and was not created.
 */
function privateKeyDir(root: string, dir: string, create: boolean): boolean {
  const levels = [root];
  for (const part of relative(root, dir)
    .split(sep)
    .filter((p) => p !== "" && p !== ".")) {
    levels.push(join(levels.at(-1)!, part));
  }
  for (const [i, level] of levels.entries()) {
    if (!existsSync(level)) {
      if (!create) return false;
      mkdirSync(level, { recursive: true, mode: 0o700 });
    }
    checkPrivateDir(level, i === 0);
  }
  return true;
}

/** The OS user this process runs as; a uid without a passwd entry (a container's) by number. */
function osIdentity(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}

/**
 * Whether this process's user is in OS group `group` (group(5): `name:password:gid:members`):
 * its gid among the process's groups, or the user named among the members.
 */
function inOsGroup(group: string, groupFile = "/etc/group"): boolean {
  const line = readFileSync(groupFile, "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === group);
  if (!line) return false;
  const [, , gid, members = ""] = line.split(":");
  const gids = process.getgroups?.() ?? [];
  return gids.includes(Number(gid)) || members.split(",").includes(osIdentity());
}

export interface LocalOptions {
  /** The pid this process takes leases as (tests stand in for several processes). */
  pid?: number;
  alive?: (pid: number) => boolean;
  /** Runs after each durable append, with the entry's type: fault injection for crash tests. */
  afterWrite?: (what: string) => void;
}

/**
 * The local directory: key `<region>` or `<region>/rehearsal` is a folder under `root`. A lease
 * is a lock file naming a live pid on this host; the fencing token is a random number in it.
 * A journal is JSON lines, one fsync'd write per entry; the writer keeps the file's length as
 * it left it, and an append finding another length is refused. Every folder is its owner's
 * alone (checkPrivateDir) and no state file is opened through a symbolic link (O_NOFOLLOW).
 */
export function localBackend(root: string, options: LocalOptions = {}): StateBackend {
  const alive = options.alive ?? processAlive;
  const paths = (key: string) => statePaths(join(root, key));
  const writers = new Map<string, { fd: number; size: number; token: number }>();
  const close = (key: string) => {
    const w = writers.get(key);
    if (w) closeSync(w.fd);
    writers.delete(key);
  };
  const ownerOf = (key: string) => readLock(paths(key).lock);
  /** The key's paths once its folders are checked; undefined when `create` is off and none exist. */
  const checked = (key: string, create: boolean) => {
    const p = paths(key);
    return privateKeyDir(root, p.dir, create) ? p : undefined;
  };
  return {
    where: root,
    async identity() {
      return osIdentity();
    },
    async memberOf(group) {
      return inOsGroup(group);
    },
    async acquire(key, holder) {
      const p = checked(key, true)!;
      const token = 1 + Math.floor(Math.random() * 2 ** 48);
      const as = osIdentity();
      const lock = acquireLock(
        p.lock,
        { ...holder, as, pid: options.pid ?? holder.pid, token },
        alive,
      );
      return {
        key,
        token,
        as,
        takenFrom: lock.takenFrom,
        release: async () => {
          close(key);
          lock.release();
        },
      };
    },
    async holder(key) {
      const h = ownerOf(key);
      return h && alive(h.pid) ? h : undefined;
    },
    async read(key) {
      const p = checked(key, false);
      return p ? readJournal(p.journal) : [];
    },
    async append(lease, seen, entry) {
      const p = paths(lease.key);
      if (ownerOf(lease.key)?.token !== lease.token) {
        close(lease.key);
        throw new StaleWriteError(`${p.lock}: this executor's lock was taken over; it stops here`);
      }
      let w = writers.get(lease.key);
      if (!w || w.token !== lease.token) {
        checked(lease.key, true);
        const fd = openNoFollow(
          p.journal,
          constants.O_RDWR | constants.O_APPEND | constants.O_CREAT,
        );
        const bytes = readFileSync(fd);
        const size = bytes.lastIndexOf(0x0a) + 1;
        ftruncateSync(fd, size); // a torn last line: the write a kill interrupted
        const count = parseJournal(p.journal, bytes.subarray(0, size).toString("utf8")).length;
        if (count !== seen) {
          closeSync(fd);
          throw new StaleWriteError(
            `${p.journal}: has ${count} entries, expected ${seen}: another executor wrote it`,
          );
        }
        w = { fd, size, token: lease.token };
        writers.set(lease.key, w);
      }
      if (fstatSync(w.fd).size !== w.size) {
        close(lease.key);
        throw new StaleWriteError(`${p.journal}: changed under this executor; it stops here`);
      }
      const line = `${JSON.stringify(entry)}\n`;
      writeSync(w.fd, line);
      fsyncSync(w.fd);
      w.size += Buffer.byteLength(line);
      options.afterWrite?.(entry.type);
    },
    async claimRegion(region, finished) {
      if (!privateKeyDir(root, root, false)) return undefined;
      // A region is a folder; a file beside them (a lock of key ".") is no region.
      const regions = readdirSync(root, { withFileTypes: true }).filter((d) => !d.isFile());
      return regions
        .map((d) => d.name)
        .find((other) => {
          if (other === region) return false;
          const p = checked(other, false);
          return !finished(p ? readJournal(p.journal) : []);
        });
    },
    async requestAbort(key, request) {
      const p = checked(key, true)!;
      const fd = openNoFollow(p.abort, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
      try {
        writeSync(fd, JSON.stringify(request));
      } finally {
        closeSync(fd);
      }
    },
    async abortRequest(key) {
      const text = readNoFollow(paths(key).abort);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return { by: "unknown", reason: "abort requested" };
      }
    },
    async clearAbort(key) {
      rmSync(paths(key).abort, { force: true });
    },
    async close() {
      for (const key of [...writers.keys()]) close(key);
    },
  };
}
