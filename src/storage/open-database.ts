import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { migrate } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Storage {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it lives, without credentials: for start-up messages. */
  location: string;
  close(): Promise<void>;
}

/**
 * Opens the database named by `databaseUrl` (PostgreSQL for postgres://, else SQLite), runs the
 * pending migrations and returns it. Without a URL the embedded default is `<dataDir>/zgw-auth.db`.
 */
export async function openStorage(databaseUrl: string | undefined, dataDir: string): Promise<Storage> {
  const storage = /^postgres(ql)?:\/\//.test(databaseUrl ?? '')
    ? await openPostgres(databaseUrl!)
    : openSqlite(databaseUrl ? databaseUrl.replace(/^sqlite:(\/\/)?/, '') : path.join(dataDir, 'zgw-auth.db'));
  try {
    await migrate(storage.db, storage.dialect);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}

function openSqlite(file: string): Storage {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    ownerOnly(file);
  }
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a killed process; only an OS crash could lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: 'sqlite', location: `sqlite:${file}`, close: () => db.destroy() };
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

async function openPostgres(url: string): Promise<Storage> {
  // Loaded only for PostgreSQL: an embedded (SQLite) process does not carry the driver.
  const { default: pg } = await import('pg');
  // int8 (bigint) columns hold epoch milliseconds, well inside Number's safe range.
  pg.types.setTypeParser(20, (value) => Number(value));
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // Bounded waits: an unreachable database answers a request with 503, never a hang.
    connectionTimeoutMillis: 3000,
    query_timeout: 5000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const safe = new URL(url);
  safe.password = '';
  safe.username = '';
  return { db, dialect: 'postgres', location: safe.toString(), close: () => db.destroy() };
}
