/**
 * The shared state backend on PostgreSQL: a team's operators and CI, on any machine, see one
 * journal per runbook and cannot run one runbook twice or two regions at once.
 * - Lease: a row per key with a holder, a fencing token from a sequence (it grows with every
 *   acquisition) and an expiry on the server's clock, renewed every third of its TTL. A holder
 *   that dies stops renewing; once expired, the next executor takes the key with a new token.
 * - Journal: a row per entry, (key, seq) unique. An append, in one transaction, locks the
 *   lease row, requires the writer's token, requires `seq = seen + 1`: a stale executor (its
 *   lease taken over) and a writer that missed an entry are refused.
 * - Unreachable server (restart, failover): every operation retries with backoff for up to
 *   `holdMs`; the executor writes nothing meanwhile, so it holds where it stood.
 */
import pg from "pg";
import { InputError } from "../inputs/problems";
import type { Entry } from "./journal";
import {
  LockedError,
  redactLocation,
  StaleWriteError,
  type AbortRequest,
  type Holder,
  type Lease,
  type StateBackend,
} from "./backend";
import { durationMs } from "../runbook/runbook";

export interface PostgresOptions {
  /** Lease time to live (`?lease=` in the URL): how long a dead holder blocks the key. */
  leaseMs?: number;
  /** How long to keep retrying while the server is unreachable before failing. */
  holdMs?: number;
  /** Progress while holding for an unreachable server. */
  onWait?: (message: string) => void;
  /** Runs after each committed append, with the entry's type: fault injection for tests. */
  afterWrite?: (what: string) => void;
}

export const POSTGRES_DEFAULTS = { leaseMs: 30_000, holdMs: 10 * 60_000 };

/** `postgres://` or `postgresql://` URLs; `?lease=30s` sets the lease TTL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

const SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS avfleet_fence;
CREATE TABLE IF NOT EXISTS avfleet_lease (
  key text PRIMARY KEY, token bigint NOT NULL, holder json NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS avfleet_journal (
  key text NOT NULL, seq integer NOT NULL, entry json NOT NULL, token bigint NOT NULL,
  PRIMARY KEY (key, seq));
CREATE TABLE IF NOT EXISTS avfleet_abort (key text PRIMARY KEY, request json NOT NULL);
CREATE TABLE IF NOT EXISTS avfleet_region (id integer PRIMARY KEY CHECK (id = 1), region text);
INSERT INTO avfleet_region VALUES (1, NULL) ON CONFLICT DO NOTHING;`;

/** Errors that mean "the server is not there right now", not "the request is wrong". */
function unreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && /^(08|57P0)/.test(e.code)) return true; // connection exceptions, admin shutdown
  if (e.code && ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND"].includes(e.code))
    return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    e.message ?? "",
  );
}

export function postgresBackend(url: string, options: PostgresOptions = {}): StateBackend {
  const where = redactLocation(url);
  if (!URL.canParse(url)) {
    throw new InputError([`--state: is ${where}, expected a postgres://user@host:port/db URL`]);
  }
  const parsed = new URL(url);
  const lease = parsed.searchParams.get("lease");
  parsed.searchParams.delete("lease");
  const o = {
    ...POSTGRES_DEFAULTS,
    ...(lease ? { leaseMs: durationMs(lease) } : {}),
    ...options,
  };
  const pool = new pg.Pool({ connectionString: parsed.toString(), max: 3 });
  // An idle client whose server went away: the next query reconnects; nothing to crash on.
  pool.on("error", () => {});
  const listening = new WeakSet<pg.PoolClient>();
  let schema: Promise<void> | undefined;

  /** Runs `work` in a transaction, retrying while the server is unreachable. */
  async function tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      let client: pg.PoolClient | undefined;
      try {
        client = await pool.connect();
        if (!listening.has(client)) {
          // A server that dies while this client is checked out emits 'error' on it: unhandled,
          // that ends the process. The query in flight fails too, and that is what we act on.
          client.on("error", () => {});
          listening.add(client);
        }
        if (!schema) {
          schema = client
            .query(
              `BEGIN; SELECT pg_advisory_xact_lock(hashtext('avfleet-schema')); ${SCHEMA} COMMIT;`,
            )
            .then(() => undefined);
          schema.catch(() => (schema = undefined));
        }
        await schema;
        await client.query("BEGIN");
        const result = await work(client);
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (err) {
        if (client) {
          await client.query("ROLLBACK").catch(() => {});
          client.release(unreachable(err));
        }
        if (!unreachable(err) || Date.now() - started > o.holdMs) throw err;
        o.onWait?.(
          `state backend ${where} unreachable (${(err as Error).message}); holding, retry in ${delay} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  const leaseRow = async (c: pg.PoolClient, key: string) =>
    (
      await c.query(
        "SELECT token::text, holder, expires_at > clock_timestamp() AS live FROM avfleet_lease WHERE key = $1 FOR UPDATE",
        [key],
      )
    ).rows[0] as { token: string; holder: Holder; live: boolean } | undefined;

  const renewSql =
    "UPDATE avfleet_lease SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE key = $1 AND token = $2";

  async function readWith(c: pg.ClientBase, key: string): Promise<Entry[]> {
    const rows = await c.query("SELECT entry FROM avfleet_journal WHERE key = $1 ORDER BY seq", [
      key,
    ]);
    return rows.rows.map((r) => r.entry as Entry);
  }

  const sessionUser = async (c: pg.ClientBase) =>
    (await c.query("SELECT session_user AS who")).rows[0].who as string;

  return {
    where,
    identity: () => tx(sessionUser),
    memberOf(group) {
      // https://www.postgresql.org/docs/current/functions-info.html: pg_has_role(user, role,
      // 'MEMBER') is direct or indirect membership; a superuser is a member of every role.
      return tx(async (c) => {
        const role = await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [group]);
        if (role.rowCount === 0) return false;
        const r = await c.query("SELECT pg_has_role(session_user, $1, 'MEMBER') AS member", [
          group,
        ]);
        return r.rows[0].member === true;
      });
    },
    async acquire(key, holder) {
      const taken = await tx(async (c) => {
        const row = await leaseRow(c, key);
        // The holder is who the server authenticated, whatever --by says.
        const as = await sessionUser(c);
        if (row?.live) throw new LockedError(`${where} ${key}`, row.holder);
        const token = Number((await c.query("SELECT nextval('avfleet_fence') AS t")).rows[0].t);
        // FOR UPDATE locks no row that does not exist yet: two first acquisitions meet here, and
        // the upsert takes a row only while it is expired, so the later one gets nothing.
        const taken = await c.query(
          `INSERT INTO avfleet_lease (key, token, holder, expires_at)
           VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')
           ON CONFLICT (key) DO UPDATE SET token = $2, holder = $3, expires_at = EXCLUDED.expires_at
           WHERE avfleet_lease.expires_at <= clock_timestamp()`,
          [key, token, JSON.stringify({ ...holder, as, token }), o.leaseMs],
        );
        if (taken.rowCount === 0) {
          const now = await c.query("SELECT holder FROM avfleet_lease WHERE key = $1", [key]);
          throw new LockedError(`${where} ${key}`, now.rows[0].holder);
        }
        return { token, as, takenFrom: row?.holder };
      });
      // Renewal failures are left to the next append, which refuses a lost lease.
      const timer = setInterval(() => {
        pool.query(renewSql, [key, taken.token, o.leaseMs]).catch(() => {});
      }, o.leaseMs / 3);
      timer.unref();
      return {
        key,
        ...taken,
        release: async () => {
          clearInterval(timer);
          await tx((c) =>
            c.query("DELETE FROM avfleet_lease WHERE key = $1 AND token = $2", [key, taken.token]),
          );
        },
      } satisfies Lease;
    },
    async holder(key) {
      const r = await pool.query(
        "SELECT holder FROM avfleet_lease WHERE key = $1 AND expires_at > clock_timestamp()",
        [key],
      );
      return r.rows[0]?.holder;
    },
    read: (key) => tx((c) => readWith(c, key)),
    async append(lease, seen, entry) {
      const text = JSON.stringify(entry);
      await tx(async (c) => {
        const row = await leaseRow(c, lease.key);
        if (!row || Number(row.token) !== lease.token) {
          const now = row ? `held by ${row.holder.by ?? "?"} (token ${row.token})` : "released";
          throw new StaleWriteError(
            `${where} ${lease.key}: this executor's lease (token ${lease.token}) is gone, now ${now}; it stops here`,
          );
        }
        // Expired but not taken (the token is still ours): nobody else wrote; renew and go on.
        if (!row.live) await c.query(renewSql, [lease.key, lease.token, o.leaseMs]);
        const last = await c.query(
          "SELECT seq, entry::text AS entry FROM avfleet_journal WHERE key = $1 ORDER BY seq DESC LIMIT 1",
          [lease.key],
        );
        const count = last.rows[0]?.seq ?? 0;
        // A retry after a commit whose answer was lost: the entry is already there.
        if (count === seen + 1 && last.rows[0].entry === text) return;
        if (count !== seen) {
          throw new StaleWriteError(
            `${where} ${lease.key}: the journal has ${count} entries, expected ${seen}: another executor wrote it`,
          );
        }
        await c.query(
          "INSERT INTO avfleet_journal (key, seq, entry, token) VALUES ($1, $2, $3, $4)",
          [lease.key, seen + 1, text, lease.token],
        );
      });
      o.afterWrite?.(entry.type);
    },
    claimRegion(region, finished) {
      return tx(async (c) => {
        const held = (await c.query("SELECT region FROM avfleet_region WHERE id = 1 FOR UPDATE"))
          .rows[0]?.region as string | null;
        if (held && held !== region && !finished(await readWith(c, held))) return held;
        await c.query("UPDATE avfleet_region SET region = $1 WHERE id = 1", [region]);
        return undefined;
      });
    },
    async requestAbort(key, request) {
      await tx((c) =>
        c.query(
          "INSERT INTO avfleet_abort (key, request) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET request = $2",
          [key, JSON.stringify(request)],
        ),
      );
    },
    async abortRequest(key) {
      const r = await tx((c) => c.query("SELECT request FROM avfleet_abort WHERE key = $1", [key]));
      return r.rows[0]?.request as AbortRequest | undefined;
    },
    async clearAbort(key) {
      await tx((c) => c.query("DELETE FROM avfleet_abort WHERE key = $1", [key]));
    },
    close: () => pool.end(),
  };
}
