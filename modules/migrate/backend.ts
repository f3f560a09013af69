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
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { readJournal, type Entry } from "./journal";
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
  reason: string;
}

export interface StateBackend {
  /** Where, for messages: a directory or a URL without its password. */
  readonly where: string;
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
 * it left it, and an append finding another length is refused.
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
  return {
    where: root,
    async acquire(key, holder) {
      const p = paths(key);
      const token = 1 + Math.floor(Math.random() * 2 ** 48);
      const lock = acquireLock(p.lock, { ...holder, pid: options.pid ?? holder.pid, token }, alive);
      return {
        key,
        token,
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
      return readJournal(paths(key).journal);
    },
    async append(lease, seen, entry) {
      const p = paths(lease.key);
      if (ownerOf(lease.key)?.token !== lease.token) {
        close(lease.key);
        throw new StaleWriteError(`${p.lock}: this executor's lock was taken over; it stops here`);
      }
      let w = writers.get(lease.key);
      if (!w || w.token !== lease.token) {
        mkdirSync(p.dir, { recursive: true });
        const fd = openSync(p.journal, "a+");
        const bytes = readFileSync(p.journal);
        const size = bytes.lastIndexOf(0x0a) + 1;
        ftruncateSync(fd, size); // a torn last line: the write a kill interrupted
        const count = readJournal(p.journal).length;
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
      if (!existsSync(root)) return undefined;
      return readdirSync(root).find(
        (other) => other !== region && !finished(readJournal(paths(other).journal)),
      );
    },
    async requestAbort(key, request) {
      const p = paths(key);
      mkdirSync(dirname(p.abort), { recursive: true });
      writeFileSync(p.abort, JSON.stringify(request));
    },
    async abortRequest(key) {
      const p = paths(key);
      if (!existsSync(p.abort)) return undefined;
      try {
        return JSON.parse(readFileSync(p.abort, "utf8"));
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
