import { type Kysely, sql } from '#kysely';
import type { ConsoleSessionStore, StoredConsoleSession } from '../sessions/console-session-store.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';

type Row = Database['console_sessions'];

/** PostgreSQL's advisory lock held by a sign-in's transaction (serialized): one number, zgw-auth's own. */
const SIGN_IN_LOCK = sql`hashtext('zgw-auth:console_sessions:sign-in')`;
/**
 * A sign-in's transaction idle this long between statements is ended by PostgreSQL, and with it the
 * sign-in lock: a process frozen (stopped, paused, cut off) while holding it would otherwise keep
 * every process's sign-ins out until it ran again. Its statements follow each other within
 * milliseconds; only the holder's own event loop comes between them.
 */
export const SIGN_IN_IDLE_MS = 5000;

/**
 * ConsoleSessionStore on SQLite or PostgreSQL (table console_sessions). Ending a session is one
 * `DELETE … RETURNING`: of several processes ending it at once, only the one whose statement
 * deleted the row gets it back, and so revokes its token and audits the end once. Sign-ins run one
 * at a time across processes (serialized): PostgreSQL under a transaction-scoped advisory lock,
 * SQLite in a transaction that takes the database's write lock at its start (BEGIN IMMEDIATE).
 */
export class KyselyConsoleSessionStore implements ConsoleSessionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async insert(s: StoredConsoleSession): Promise<void> {
    await this.db.insertInto('console_sessions').values(toRow(s)).execute();
  }

  async get(idHash: string): Promise<StoredConsoleSession | undefined> {
    const row = await this.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return row && fromRow(row);
  }

  async touch(idHash: string, t: number): Promise<boolean> {
    // Forward only: a process whose clock is a little behind does not shorten the idle time.
    const result = await this.db
      .updateTable('console_sessions')
      .set({ last_seen_at: sql<number>`case when last_seen_at < ${t} then ${t} else last_seen_at end` })
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async update(idHash: string, changes: { rsin?: string; flashSealed?: string | null }): Promise<void> {
    const set: Partial<Row> = {};
    if (changes.rsin !== undefined) set.rsin = changes.rsin;
    if (changes.flashSealed !== undefined) set.flash_sealed = changes.flashSealed;
    if (!Object.keys(set).length) return;
    await this.db.updateTable('console_sessions').set(set).where('id_hash', '=', idHash).execute();
  }

  async take(idHash: string): Promise<StoredConsoleSession | undefined> {
    const row = await this.db
      .deleteFrom('console_sessions')
      .where('id_hash', '=', idHash)
      .returningAll()
      .executeTakeFirst();
    return row && fromRow(row);
  }

  async databaseNow(): Promise<number> {
    // PostgreSQL: the server's wall clock (clock_timestamp, not the transaction's start). SQLite
    // runs in this host's processes: its clock is theirs, read by SQLite rather than the process.
    const now =
      this.dialect === 'postgres'
        ? sql<{ ms: number | string }>`select extract(epoch from clock_timestamp()) * 1000 as ms`
        : sql<{ ms: number | string }>`select (julianday('now') - 2440587.5) * 86400000.0 as ms`;
    const { rows } = await now.execute(this.db);
    return Math.floor(Number(rows[0]!.ms));
  }

  async takeExpired(t: number, idleMs: number, limit: number): Promise<StoredConsoleSession[]> {
    const rows = await this.db
      .deleteFrom('console_sessions')
      .where(
        'id_hash',
        'in',
        this.db
          .selectFrom('console_sessions')
          .select('id_hash')
          .where((eb) => eb.or([eb('ends_at', '<=', t), eb('last_seen_at', '<=', t - idleMs)]))
          .limit(limit),
      )
      // A row another process changed since the select (seen again) is not taken.
      .where((eb) => eb.or([eb('ends_at', '<=', t), eb('last_seen_at', '<=', t - idleMs)]))
      .returningAll()
      .execute();
    return rows.map(fromRow);
  }

  async takeBeyond(clientId: string, keep: number): Promise<StoredConsoleSession[]> {
    const newestFirst = this.db
      .selectFrom('console_sessions')
      .select('id_hash')
      .where('client_id', '=', clientId)
      .orderBy('created_at', 'desc')
      .orderBy('id_hash', 'desc');
    // Every row after the first `keep` (SQLite's OFFSET needs a LIMIT: -1 is none).
    const beyond = (this.dialect === 'sqlite' ? newestFirst.limit(-1) : newestFirst).offset(Math.max(0, keep));
    const rows = await this.db
      .deleteFrom('console_sessions')
      .where('id_hash', 'in', beyond)
      .where('client_id', '=', clientId)
      .returningAll()
      .execute();
    return rows.map(fromRow);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('console_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async serialized<T>(work: (store: ConsoleSessionStore) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres')
      return this.db.transaction().execute(async (trx) => {
        // Held until the transaction ends (SIGN_IN_IDLE_MS idle at most); waits at most the
        // connection's lock_timeout.
        await sql`set local idle_in_transaction_session_timeout = ${sql.lit(SIGN_IN_IDLE_MS)}`.execute(trx);
        await sql`select pg_advisory_xact_lock(${SIGN_IN_LOCK})`.execute(trx);
        return work(new KyselyConsoleSessionStore(trx, this.dialect));
      });
    // Kysely's SQLite transactions begin DEFERRED; the count must be read under the write lock, so
    // the transaction is begun by hand on the one connection, held for its whole length.
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await work(new KyselyConsoleSessionStore(conn, this.dialect));
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        // Never leave the connection inside a transaction (a failed commit included).
        await sql`rollback`.execute(conn).catch(() => {});
        throw err;
      }
    });
  }

  async busiestClient(): Promise<{ clientId: string; sessions: number } | undefined> {
    const row = await this.db
      .selectFrom('console_sessions')
      .select((eb) => ['client_id', eb.fn.countAll<number>().as('n')])
      .groupBy('client_id')
      .orderBy('n', 'desc')
      .orderBy('client_id')
      .limit(1)
      .executeTakeFirst();
    return row && { clientId: row.client_id, sessions: Number(row.n) };
  }
}

function toRow(s: StoredConsoleSession): Row {
  return {
    id_hash: s.idHash,
    client_id: s.clientId,
    rsin: s.rsin,
    scope: s.scope,
    jti: s.jti,
    secret_id: s.secretId,
    token_expires_at: s.tokenExpiresAt,
    token_sealed: s.tokenSealed,
    flash_sealed: s.flashSealed,
    created_at: s.createdAt,
    last_seen_at: s.lastSeenAt,
    ends_at: s.endsAt,
  };
}

function fromRow(r: Row): StoredConsoleSession {
  return {
    idHash: r.id_hash,
    clientId: r.client_id,
    rsin: r.rsin,
    scope: r.scope,
    jti: r.jti,
    secretId: r.secret_id,
    tokenExpiresAt: Number(r.token_expires_at),
    tokenSealed: r.token_sealed,
    flashSealed: r.flash_sealed,
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
    endsAt: Number(r.ends_at),
  };
}
