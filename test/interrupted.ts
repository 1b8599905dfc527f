import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from '#kysely';
import pg from 'pg';
import { CLI, type DialectName, freshPostgres, postForm, startServeProcess } from './helpers.js';
import { pooledKeysEnv } from './rsa-pool.js';

/**
 * For the tests of interrupted starts, migrations and imports: a process is killed at many points
 * (named points it reaches through ZGW_AUTH_TEST_CRASH_AT, and signals after a range of delays),
 * then the next start must either accept the registry or refuse it with a clear message. Split
 * over three files, so that the test runner can run them at the same time.
 */

/**
 * Cases of one test run at most this many at a time: each has its registry (folder, database)
 * and its processes of its own, and mostly waits for them to start, crash and start again.
 */
export const CASES_AT_ONCE = 3;

export const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-interrupted-'));
export const SECRET_FILE = 'first-admin-secret.txt';
/** No run here needs this long; a process still running then is killed and the test fails. */
const RUN_LIMIT_MS = 60_000;

export interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The CLI as a real process; killed when the test ends, however it ends. */
export function runCli(t: TestContext, args: string[], env: Record<string, string>, cwd?: string): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    // Signing keys from the test's pool (rsa-pool.ts): the starts here are about what a crash leaves.
    env: { ...process.env, ...pooledKeysEnv(), ZGW_AUTH_LOG_LEVEL: 'info', ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const limit = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  void exited.then(() => clearTimeout(limit));
  t.after(() => {
    clearTimeout(limit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => out, exited };
}

/**
 * A registry of `dialect`: a fresh folder, and for PostgreSQL a fresh database (dropped after the
 * test), a copy of the database `template` when given (`name`: the database's, to copy it in turn).
 */
export async function registry(
  t: TestContext,
  dialect: DialectName,
  template?: string,
): Promise<{ dir: string; env: Record<string, string>; url?: string; name?: string }> {
  const dir = tempDir();
  if (dialect === 'sqlite') return { dir, env: { ZGW_AUTH_DATA_DIR: dir } };
  const db = await freshPostgres(template);
  t.after(() => db.drop());
  return { dir, env: { ZGW_AUTH_DATA_DIR: dir, DATABASE_URL: db.url }, url: db.url, name: db.name };
}

/** The middle of `ms` (sorted in place): the start time the signals are spread over. */
export const median = (ms: number[]): number => ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;

/** The SQLite registry's file in its data folder. */
export const DB_FILE = 'zgw-auth.db';

/**
 * The registry of `env` opened here, as stored, whatever the version of its schema: its
 * DATABASE_URL, or the SQLite file in its data folder (`readonly` unless `write`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- read and written as stored, whatever the version's schema
export function openRegistry(env: Record<string, string>, { write = false } = {}): Kysely<any> {
  return env.DATABASE_URL
    ? new Kysely({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 }) }),
      })
    : new Kysely({
        dialect: new SqliteDialect({
          database: new SQLite(path.join(env.ZGW_AUTH_DATA_DIR!, DB_FILE), { readonly: !write }),
        }),
      });
}

/**
 * `read` on the registry of `env` as a start left it (openRegistry, closed after): what is
 * stored, without asking a server for it (a server's first admin API request costs ~0.2 s of CPU).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see openRegistry
export async function readRegistry<T>(env: Record<string, string>, read: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = openRegistry(env);
  try {
    return await read(db);
  } finally {
    await db.destroy();
  }
}

/** The rows of `table` in the registry of `env` (where `action` is the given one, for audit events). */
export async function rowCount(env: Record<string, string>, table: string, action?: string): Promise<number> {
  return readRegistry(env, async (db) => {
    let query = db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'));
    if (action) query = query.where('action', '=', action);
    return Number((await query.executeTakeFirstOrThrow()).n);
  });
}

export async function startAgain(t: TestContext, dir: string, env: Record<string, string>) {
  const server = await startServeProcess(dir, env);
  t.after(() => (server.child.exitCode === null ? server.stop('SIGKILL') : undefined));
  return server;
}

export async function tokenFor(url: string, clientId: string, secret: string) {
  return postForm(`${url}/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
}

/**
 * Runs `run` for every case, at most `limit` (CASES_AT_ONCE) at a time. Waits until every case has
 * ended, also after one failed, so that no case starts a process after the test's cleanup ran;
 * then fails with the first failure, the others named in the test's diagnostics.
 */
export async function eachConcurrently<T>(
  t: TestContext,
  cases: T[],
  run: (c: T) => Promise<void>,
  limit = CASES_AT_ONCE,
): Promise<void> {
  const failures: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      try {
        await run(c);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, cases.length) }, worker));
  for (const err of failures.slice(1)) t.diagnostic(`another case failed too: ${String(err)}`);
  if (failures.length) throw failures[0];
}

/**
 * How long a start takes here and now with `n` starting at once: the median of `n` timed together
 * (`timeOne` starts one and returns its milliseconds). Signals sent after shares of it, to cases
 * run `n` at a time, land across the start as they would in cases run one by one after a start
 * timed alone.
 */
export async function startMsAtOnce(t: TestContext, n: number, timeOne: () => Promise<number>): Promise<number> {
  const ms: number[] = [];
  await eachConcurrently(
    t,
    Array.from({ length: n }, (_, i) => i),
    async () => void ms.push(await timeOne()),
    n,
  );
  return median(ms);
}
