import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, SqliteDialect } from '#kysely';
import type pg from 'pg';
import type { Dialect } from './dialect.js';
import { ZgwAuthError } from '../errors.js';
import { migrate, upToDate } from './migrations.js';
import type { Database } from './schema.js';
import { translatingErrors } from './storage-errors.js';
import { tracedDialect } from './traced-dialect.js';
import type { Tracing } from '../tracing.js';

export type { Dialect };

export interface Storage {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it lives, without credentials: for start-up messages. */
  location: string;
  /**
   * SQLite only: `PRAGMA data_version` of this process's connection, which changes only when
   * another connection (another process, a CLI command) commits.
   */
  dataVersion?: () => number;
  close(): Promise<void>;
}

/**
 * Settles when the registry answers: the clients table, not just a connection, since a table
 * locked for long is as unready as a database that is away.
 */
export function registryAnswers(storage: Pick<Storage, 'db'>): Promise<unknown> {
  return sql`select 1 from clients limit 1`.execute(storage.db);
}

export interface OpenOptions {
  /** Create the registry when there is none (default); false refuses instead. */
  create?: boolean;
  /** Runs on the opened database before any migration writes to it (the master key check). */
  beforeMigrate?: (storage: Storage) => Promise<void>;
  /** A span per statement and transaction run inside a span (tracing on); migrations are not traced. */
  tracing?: Tracing;
}

/**
 * Opens the database named by `databaseUrl` (PostgreSQL for postgres://, else SQLite), runs the
 * pending migrations and returns it. Without a URL the embedded default is `<dataDir>/zgw-auth.db`.
 */
export async function openStorage(
  databaseUrl: string | undefined,
  dataDir: string,
  options: OpenOptions = {},
): Promise<Storage> {
  const postgres = /^postgres(ql)?:\/\//.test(databaseUrl ?? '');
  const file = databaseUrl ? databaseUrl.replace(/^sqlite:(\/\/)?/, '') : path.join(dataDir, 'zgw-auth.db');
  // Checked before opening: opening a SQLite file that is not there creates it.
  if (options.create === false && !postgres && file !== ':memory:' && !fs.existsSync(file))
    throw noRegistry(`sqlite:${path.resolve(file)}`);
  const storage = postgres
    ? await openPostgres(databaseUrl!, { tracing: options.tracing })
    : openSqlite(file, options.tracing);
  try {
    if (options.create === false && !(await hasRegistry(storage))) throw noRegistry(storage.location);
    await options.beforeMigrate?.(storage);
    // The usual start: nothing to migrate, known without the migrator's lock and connection.
    if (await upToDate(storage.db, storage.dialect)) return storage;
    if (postgres) {
      // Migrations may wait for another process's migration lock and run long statements: not under the serving timeouts.
      const migrations = await openPostgres(databaseUrl!, { max: 1, timeouts: false });
      try {
        await migrate(migrations.db, 'postgres');
      } finally {
        await migrations.close();
      }
    } else await migrateSqlite(storage, file);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}

/**
 * SQLite migrations on a connection of their own: they wait up to MIGRATION_BUSY_MS for another
 * process's migrations (the serving connection gives up after 1 s) and run in one transaction.
 */
async function migrateSqlite(storage: Storage, file: string): Promise<void> {
  if (file === ':memory:') return migrate(storage.db, 'sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma(`busy_timeout = ${MIGRATION_BUSY_MS}`);
  const db = new Kysely<Database>({ dialect: translatingErrors(new SqliteDialect({ database: sqlite })) });
  try {
    await migrate(db, 'sqlite');
  } finally {
    await db.destroy();
  }
}
const MIGRATION_BUSY_MS = 30_000;

/** A registry is a database that zgw-auth has migrated at least once. */
async function hasRegistry(storage: Storage): Promise<boolean> {
  const tables = await storage.db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.some((t) => t.name === 'kysely_migration');
}

function noRegistry(location: string): ZgwAuthError {
  return new ZgwAuthError(
    'no_registry',
    `no zgw-auth registry at ${location}: check --data-dir or DATABASE_URL; to create one, start \`zgw-auth serve\` once or give --init`,
  );
}

function openSqlite(file: string, tracing?: Tracing): Storage {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    ownerOnly(file);
  }
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a killed process; only an OS crash could lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  // A write waiting for another process's write lock blocks the event loop (the driver is
  // synchronous): wait briefly, then fail (503) rather than stall every request.
  sqlite.pragma('busy_timeout = 1000');
  sqlite.pragma('foreign_keys = ON');
  // Driver errors leave storage as the refusals they stand for (storage-errors.ts), from every store.
  const dialect = translatingErrors(new SqliteDialect({ database: withStatementCache(sqlite) }));
  const db = new Kysely<Database>({
    dialect: tracing ? tracedDialect(dialect, tracing, { system: 'sqlite' }) : dialect,
  });
  // Prepared once: polled several times a second, it must not parse or allocate much.
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  return {
    db,
    dialect: 'sqlite',
    location: `sqlite:${file}`,
    dataVersion: () => dataVersion.get() as number,
    close: () => db.destroy(),
  };
}

/**
 * Creates the database file owner-only (0600) when it does not exist, whatever the folder's mode
 * or the umask; SQLite gives its -wal and -shm files the database file's mode. An existing file
 * that others may read (made by an earlier version) is narrowed.
 */
function ownerOnly(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (fs.statSync(f).mode & 0o077) fs.chmodSync(f, 0o600);
    } catch (err) {
      // Missing, or not ours to change (then as before: the operator's choice).
      if (!['ENOENT', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
}

/**
 * Kysely prepares a statement for every query; SQLite parses and plans it each time. Statements
 * are reusable (Kysely never streams here, so none is left mid-iteration), so keep them by SQL.
 */
function withStatementCache(sqlite: SQLite.Database): Pick<SQLite.Database, 'prepare' | 'close'> {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare(source: string) {
      let statement = statements.get(source);
      if (statement === undefined) {
        statement = sqlite.prepare(source);
        if (statements.size >= STATEMENT_CACHE_MAX) statements.clear();
        statements.set(source, statement);
      }
      return statement;
    },
    close: () => sqlite.close(),
  } as Pick<SQLite.Database, 'prepare' | 'close'>;
}
const STATEMENT_CACHE_MAX = 1000;

/**
 * Serving timeouts: a request never waits long for the database. A pool connection within 3 s;
 * a lock within 2 s (a table locked by a migration or an operator is a slow database, not a
 * reason to hang); a statement within 4 s, cancelled by the server before the client-side 5 s
 * read timeout would leave it running on a connection back in the pool.
 */
const SERVING_TIMEOUTS = {
  connectionTimeoutMillis: 3000,
  lock_timeout: 2000,
  statement_timeout: 4000,
  query_timeout: 5000,
};

async function openPostgres(
  url: string,
  options: { max?: number; timeouts?: boolean; tracing?: Tracing | undefined } = {},
): Promise<Storage> {
  // Loaded only for PostgreSQL: an embedded (SQLite) process does not carry the driver.
  const { default: pg } = await import('pg');
  // int8 (bigint) columns hold epoch milliseconds, well inside Number's safe range.
  pg.types.setTypeParser(20, (value) => Number(value));
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    Client: withConnectBackoff(pg.Client),
    ...(options.timeouts === false ? { connectionTimeoutMillis: 10_000 } : SERVING_TIMEOUTS),
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // The pool listens for errors only on idle clients. A connection that dies while its client is
  // checked out (a query in flight, a transaction open) emits 'error' on the client itself, which
  // without a listener ends the process. The query already fails with that error (answered with
  // 503), and the pool discards the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const dialect = translatingErrors(new PostgresDialect({ pool }));
  const safe = new URL(url);
  const traced = options.tracing && {
    system: 'postgresql' as const,
    address: safe.hostname,
    port: Number(safe.port || 5432),
  };
  const db = new Kysely<Database>({ dialect: traced ? tracedDialect(dialect, options.tracing!, traced) : dialect });
  safe.password = '';
  safe.username = '';
  return { db, dialect: 'postgres', location: safe.toString(), close: () => db.destroy() };
}

/**
 * After a failed connection attempt, new connections fail at once for CONNECT_BACKOFF_MS instead
 * of every request trying again. While the database is away, thousands of attempts a second would
 * hit it all at once when it returns, and churn through local ports: on one host, an attempt
 * whose ephemeral port equals the server's port connects to itself and keeps that port from the
 * restarting server.
 */
const CONNECT_BACKOFF_MS = 250;

function withConnectBackoff(Client: typeof pg.Client): typeof pg.Client {
  let failedAt = -Infinity;
  const settle = (err: unknown) => void (failedAt = err ? Date.now() : -Infinity);
  type Connect = (this: pg.Client, callback?: (err: Error | undefined) => void) => Promise<void> | void;
  const connect = Client.prototype.connect as Connect;
  class BackoffClient extends Client {}
  const gated: Connect = function (callback) {
    if (Date.now() - failedAt < CONNECT_BACKOFF_MS) {
      // 08001: sqlclient_unable_to_establish_sqlconnection, answered with 503 like a refused connection.
      const err = Object.assign(new Error('database unreachable: a connection attempt failed moments ago'), {
        code: '08001',
      });
      if (!callback) return Promise.reject(err);
      process.nextTick(callback, err);
      return;
    }
    if (!callback)
      return (connect.call(this) as Promise<void>).then(settle, (err: unknown) => (settle(err), Promise.reject(err)));
    return connect.call(this, (err) => (settle(err), callback(err)));
  };
  BackoffClient.prototype.connect = gated as typeof BackoffClient.prototype.connect;
  return BackoffClient;
}
