import assert from 'node:assert/strict';
import { type ChildProcessByStdio, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from '#kysely';
import pg from 'pg';
import { TokenError, type Verifier } from '@zgw-auth/verifier';
import { type App, createApp, createLogger, initialize } from '../src/app.js';
import type { ClientInput } from '../src/clients/model.js';
import { type Config, loadConfig, type SigningAlg } from '../src/config.js';
import { generateKeyPair } from '../src/keys/jwk.js';
import { buildServer } from '../src/http/build-server.js';
import type { MasterKey } from '../src/keys/master-key.js';
import { KyselyRegistryTransferStore } from '../src/storage/kysely-registry-transfer-store.js';
import type { Storage } from '../src/storage/open-storage.js';
import { migrate } from '../src/storage/migrations.js';
import type { Database } from '../src/storage/schema.js';
import type { RegistryTransferDeps } from '../src/transfer/registry-transfer.js';
import { spawnTracked, track } from './resources.js';
import { keepPair, pooledKeysEnv, pooledPair } from './rsa-pool.js';

export type DialectName = 'sqlite' | 'postgres';
export const DIALECTS: DialectName[] = ['sqlite', 'postgres'];

const PG_BASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Export and import on a database opened without an app (an import target, say). */
export function transferOn(storage: Storage, masterKey: MasterKey): RegistryTransferDeps {
  return { store: new KyselyRegistryTransferStore(storage.db, storage.dialect), masterKey, now: Date.now };
}

/** A client row as every schema version since the first stores it, for tests that write the database directly. */
export function clientRowAt(clientId: string, rsin: string, enabled: boolean, at: number) {
  return {
    client_id: clientId,
    name: clientId,
    description: '',
    rsin,
    enabled: enabled ? 1 : 0,
    grant_types: '["client_credentials"]',
    allowed_scopes: '[]',
    default_scopes: '[]',
    token_lifetime: null,
    static_claims: '{}',
    self_signed_allowed: 0,
    created_at: at,
    updated_at: at,
    last_token_at: null,
  };
}

/** A controllable clock: tests move time instead of sleeping. */
export class Clock {
  t = Date.now();
  now = () => this.t;
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}

/**
 * The real time, for a server whose verdicts are compared with those of CLI processes, which
 * read the real time: a fixed clock would fall behind them as a slow run goes on.
 */
export class RealClock extends Clock {
  override now = () => Date.now();
}

/**
 * A fresh, empty PostgreSQL database for one test server (a copy of `template` when given);
 * dropped by the returned function.
 */
export async function freshPostgres(
  template?: string,
): Promise<{ url: string; name: string; drop: () => Promise<void>; untrack: () => void }> {
  const name = `zgw_auth_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_BASE });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  // Dropped here if the test does not get to it (test/resources.ts).
  const untrack = track(`database ${name}`, () =>
    execFileSync('psql', [PG_BASE, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], {
      stdio: 'ignore',
      timeout: 10_000,
    }),
  );
  const url = new URL(PG_BASE);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    untrack,
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      untrack();
    },
  };
}

/**
 * A fresh PostgreSQL database with every migration of this build applied: for a test server that
 * needs an empty registry on PostgreSQL and does not test the migrations themselves. A copy of a
 * template database (CREATE DATABASE … TEMPLATE), which is what migrating a new database makes and
 * costs a fraction of it; tests of the migrations use freshPostgres or rawDatabase. Dropped by `drop`.
 */
export async function migratedPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  return freshPostgres(await migratedTemplate());
}

/** Migrations of this build, and the Kysely that runs them: a template of other ones is another database. */
const MIGRATIONS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/storage/migrations.js');
const KYSELY_PACKAGE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../node_modules/kysely/package.json',
);
let template: Promise<string> | undefined;

/**
 * The name of the template database with this build's migrations applied, made when it does not
 * exist yet. Named after a hash of the compiled migrations (and Kysely's version), so that a
 * change to them makes a new one; kept between runs and shared by test files and worktrees with
 * the same migrations (`zgw_auth_tpl_…`, which may be dropped at any time: it is made again). One
 * maker at a time, under an advisory lock; it becomes a template only once fully migrated, and
 * accepts no connections, so that copies of it are never refused for a session on it.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const kysely = JSON.parse(fs.readFileSync(KYSELY_PACKAGE, 'utf8')) as { version: string };
    const hash = crypto
      .createHash('sha256')
      .update(fs.readFileSync(MIGRATIONS_FILE))
      .update(kysely.version)
      .digest('hex')
      .slice(0, 16);
    const name = `zgw_auth_tpl_${hash}`;
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    try {
      const ready = async () =>
        (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [name])).rowCount === 1;
      if (await ready()) return name;
      await admin.query('SELECT pg_advisory_lock($1)', [Number.parseInt(hash.slice(0, 12), 16)]);
      try {
        if (await ready()) return name;
        // One left by a maker that was ended before it was done.
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        const building = await freshPostgres();
        const db = new Kysely<Database>({
          dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: building.url, max: 1 }) }),
        });
        try {
          await migrate(db, 'postgres');
        } catch (err) {
          await db.destroy();
          await building.drop();
          throw err;
        }
        await db.destroy();
        await admin.query(`ALTER DATABASE ${building.name} RENAME TO ${name}`);
        building.untrack();
        await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
        return name;
      } finally {
        await admin.query('SELECT pg_advisory_unlock($1)', [Number.parseInt(hash.slice(0, 12), 16)]);
      }
    } finally {
      await admin.end();
    }
  })();
  // A failed attempt is not kept: the next test tries again.
  template.catch(() => (template = undefined));
  return template;
}

/**
 * An empty database opened raw (no migrations): a test migrates it to an earlier version and fills
 * it as that version would have, then lets zgw-auth open it. `drop` removes it.
 */
export async function rawDatabase(
  dialect: DialectName,
): Promise<{ db: Kysely<Database>; url: string; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-raw-'));
    const file = path.join(dir, 'zgw-auth.db');
    return {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(file) }) }),
      url: `sqlite:${file}`,
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const fresh = await freshPostgres();
  return {
    db: new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: fresh.url, max: 1 }) }),
    }),
    url: fresh.url,
    drop: fresh.drop,
  };
}

export interface TestServer {
  app: App;
  server: FastifyInstance;
  url: string;
  clock: Clock;
  config: Config;
  /** Every log line the server wrote. */
  logs: string[];
  admin: { clientId: string; secret: string };
  createClient(input?: Partial<ClientInput>): Promise<{ clientId: string; secret: string }>;
  token(clientId: string, secret: string, scope?: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  dialect?: DialectName;
  env?: Record<string, string>;
  /** Reuse a data folder / database (restart tests). */
  dataDir?: string;
  databaseUrl?: string;
  masterKey?: string;
  /** A path for the issuer (e.g. /realms/OneGround): the issuer is then the server's address with it. */
  issuerPath?: string;
  /** One clock for several servers, or for a server and its restart; a new one when absent. */
  clock?: Clock;
}

let counter = 0;

/**
 * Signing key pairs for test servers: RSA-2048 pairs (RS256, PS256: the default algorithm) from
 * the pool of pairs made earlier (rsa-pool.ts), each used once by this test and the processes it
 * starts; beyond the pool's pairs, or for other algorithms, generated as zgw-auth does.
 */
export function testKeyPair(alg: SigningAlg): crypto.KeyPairKeyObjectResult {
  if (alg !== 'RS256' && alg !== 'PS256') return generateKeyPair(alg);
  const kept = pooledPair();
  if (kept) return kept;
  const pair = generateKeyPair(alg);
  keepPair(pair);
  return pair;
}

/** A real zgw-auth HTTP server on a free port, on SQLite or a fresh, migrated PostgreSQL database. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-test-'));
  // Migrated already: the migrations are not what a test server is for (their tests open databases raw).
  const pgdb = options.dialect === 'postgres' && !options.databaseUrl ? await migratedPostgres() : undefined;
  const config = loadConfig(
    {
      ZGW_AUTH_PORT: '0',
      ZGW_AUTH_DATA_DIR: dataDir,
      ZGW_AUTH_MASTER_KEY: options.masterKey ?? crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_KEY_PUBLISH_DELAY: '0',
      // Request lines on: the secret scans of the logs must see them.
      ZGW_AUTH_ACCESS_LOG: 'true',
      ...(pgdb ? { DATABASE_URL: pgdb.url } : options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      // The routes take the path at start; the address is set below, once the port is known.
      ...(options.issuerPath ? { ZGW_AUTH_ISSUER: `http://127.0.0.1${options.issuerPath}` } : {}),
      ...options.env,
    },
    {},
  );
  const logs: string[] = [];
  const clock = options.clock ?? new Clock();
  const log = createLogger('info', { write: (line: string) => void logs.push(line) });
  const app = await createApp(config, { log, now: clock.now, newKeyPair: testKeyPair });
  const first = await initialize(app);
  const server = await buildServer(app);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  if (options.issuerPath) config.issuer = `${address}${options.issuerPath}`;
  else if (!options.env?.ZGW_AUTH_ISSUER) config.issuer = address;
  const ts: TestServer = {
    app,
    server,
    url: address,
    clock,
    config,
    logs,
    admin: first.admin ?? { clientId: '', secret: '' },
    async createClient(input = {}) {
      const { client, secret } = await app.clients.create(
        { clientId: `client-${++counter}-${crypto.randomBytes(3).toString('hex')}`, rsin: '000000000', ...input },
        { id: 'test' },
      );
      // A client of keys or certificates only has no secret.
      return { clientId: client.clientId, secret: secret?.value ?? '' };
    },
    async token(clientId, secret, scope) {
      const res = await postForm(`${address}/token`, {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        ...(scope ? { scope } : {}),
      });
      if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
      return (res.json as { access_token: string }).access_token;
    },
    async close() {
      await server.close();
      await app.close();
      if (pgdb) await pgdb.drop();
    },
  };
  return ts;
}

/** "METHOD /path" of every route under `prefix` the server serves (HEAD routes aside), from Fastify's route tree. */
export function routesOf(ts: Pick<TestServer, 'server'>, prefix: string): string[] {
  const routes: string[] = [];
  const parents: string[] = [];
  for (const line of ts.server.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    // Four characters of tree drawing per level; top-level routes have one.
    const depth = m[1]!.length / 4 - 1;
    parents.length = depth;
    const full = (depth > 0 ? parents[depth - 1]! : '') + m[2]!;
    parents[depth] = full;
    for (const method of m[3]!.split(', '))
      if (method !== 'HEAD' && full.startsWith(prefix)) routes.push(`${method} ${full}`);
  }
  return routes;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of any shape; each test asserts on the fields it reads
  json: any;
}

/** Collects a response's body as text and, where it parses, JSON. */
export function readResult(res: http.IncomingMessage, resolve: (result: HttpResult) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
  });
}

/** A plain HTTP request through node:http, so tests can pick the source address and send odd bodies. */
export function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    // A declared length: node:http sends GET/DELETE bodies without one, which the server would read as a second request.
    const headers =
      init.body === undefined
        ? init.headers
        : { 'content-length': String(Buffer.byteLength(init.body)), ...init.headers };
    const req = http.request(
      url,
      { method: init.method ?? 'GET', headers, localAddress: init.localAddress, agent: false },
      (res) => readResult(res, resolve),
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

export function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<HttpResult> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
    localAddress,
  });
}

export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return 'Basic ' + Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64');
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Runs `fn` as a test suite once per storage dialect. */
export function forEachDialect(fn: (dialect: DialectName) => void): void {
  for (const d of DIALECTS) fn(d);
}

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

/**
 * A CLI command run in this process, as main.ts runs it (runCli), with `env` over this process's
 * environment, as a command's own process would have it: for tests of what a command does and
 * prints, without the 0.3-0.5 s of CPU that a process of its own spends loading modules. A test of
 * the process itself (its exit, a signal, a hang bounded by a kill) starts one instead.
 */
export async function cliInProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Loaded here, not at the top: most tests run no command, and need neither Commander nor the commands.
  const { runCli } = await import('../src/cli/program.js');
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'zgw-auth', ...args], (line) => (stdout += `${line}\n`), {
    err: (text) => (stderr += text),
    // Log lines go where a process of its own writes them: into its standard output.
    logs: { write: (line: string) => void (stdout += line) },
    env: { ...process.env, ...env },
  });
  return { code, stdout, stderr };
}

/**
 * Starts `zgw-auth serve` as a real process and waits until it listens; `url` is where it listens.
 * Its RSA signing keys come from the test's pool (rsa-pool.ts), unless `ownKeys`: then it generates
 * them, as it does in production (for the tests of key generation and rotation).
 */
export async function startServeProcess(
  dataDir: string,
  env: Record<string, string> = {},
  args: string[] = [],
  { ownKeys = false }: { ownKeys?: boolean } = {},
) {
  // In a process group of its own, registered: stopped with its workers even when the test fails first.
  const child = spawnTracked(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: {
      ...process.env,
      ...(ownKeys ? {} : pooledKeysEnv()),
      ZGW_AUTH_DATA_DIR: dataDir,
      ZGW_AUTH_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcessByStdio<null, Readable, Readable>;
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    // Only a guard against a start that hangs: a busy machine may start slowly, so it is generous.
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`no start within 60 s:\n${out}`))), 60_000);
    child.stdout.on('data', () => {
      // The banner, when there is one, is printed before "zgw-auth listening".
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && out.includes('zgw-auth listening')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`exited ${code}:\n${out}`))));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    url,
    exited,
    output: () => out,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => (child.kill(signal), exited),
  };
}

/**
 * The first-start admin secret of a `serve` process whose stdout is not a terminal: read from the
 * owner-only file that the log line names. Undefined when this process showed none.
 */
export function firstAdminSecret(output: string): string | undefined {
  const file = /"secretFile":"([^"]+)"/.exec(output)?.[1];
  return file ? /client_secret: (\S+)/.exec(fs.readFileSync(file, 'utf8'))?.[1] : undefined;
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns whether it did. */
export async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  do {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < end);
  return false;
}

/** HS256 token with arbitrary header and claims, signed with `secret`: the verifier package's minting. */
export { hs256 } from '@zgw-auth/verifier/testing';

export async function rejectsWith(verifier: Verifier, token: string, code: string, message?: RegExp) {
  await assert.rejects(verifier.verify(token), (err: unknown) => {
    assert.ok(err instanceof TokenError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}
