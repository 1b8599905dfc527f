import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { hashSecret } from '../src/clients/secrets.js';
import { parseMasterKey } from '../src/keys/master-key.js';
import { migrate } from '../src/storage/migrations.js';
import {
  CLI,
  clientRowAt,
  DIALECTS,
  type DialectName,
  freshPostgres,
  postForm,
  request,
  startServeProcess,
} from './helpers.js';

// Interrupted starts, migrations and imports: a process is killed at many points (named points it
// reaches through ZGW_AUTH_TEST_CRASH_AT, and signals after a range of delays), then the next
// start must either accept the registry or refuse it with a clear message.

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-interrupted-'));
const SECRET_FILE = 'first-admin-secret.txt';
/** No run here needs this long; a process still running then is killed and the test fails. */
const RUN_LIMIT_MS = 60_000;

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The CLI as a real process; killed when the test ends, however it ends. */
function runCli(t: TestContext, args: string[], env: Record<string, string>, cwd?: string): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ZGW_AUTH_LOG_LEVEL: 'info', ...env },
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

/** A registry of `dialect`: a fresh folder, and for PostgreSQL a fresh database (dropped after the test). */
async function registry(
  t: TestContext,
  dialect: DialectName,
): Promise<{ dir: string; env: Record<string, string>; url?: string }> {
  const dir = tempDir();
  if (dialect === 'sqlite') return { dir, env: { ZGW_AUTH_DATA_DIR: dir } };
  const db = await freshPostgres();
  t.after(() => db.drop());
  return { dir, env: { ZGW_AUTH_DATA_DIR: dir, DATABASE_URL: db.url }, url: db.url };
}

async function startAgain(t: TestContext, dir: string, env: Record<string, string>) {
  const server = await startServeProcess(dir, env);
  t.after(() => (server.child.exitCode === null ? server.stop('SIGKILL') : undefined));
  return server;
}

async function tokenFor(url: string, clientId: string, secret: string) {
  return postForm(`${url}/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
}

/**
 * What an interrupted first start may leave: an administrator whose secret was delivered (the
 * owner-only file holds a secret that works), made by the interrupted start or by this one, and
 * never a second administrator or one whose secret nobody has.
 */
async function assertOneDeliveredAdministrator(
  dir: string,
  server: { url: string; output: () => string },
  label: string,
) {
  const file = path.join(dir, SECRET_FILE);
  assert.ok(fs.existsSync(file), `${label}: the administrator's secret was delivered\n${server.output()}`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const secret = /client_secret: (\S+)/.exec(fs.readFileSync(file, 'utf8'))?.[1];
  assert.ok(secret, `${label}: the file holds a secret`);
  const token = await tokenFor(server.url, 'zgw-auth-admin', secret);
  assert.equal(
    token.status,
    200,
    `${label}: the delivered secret is the administrator's (${/"secretFile"/.test(server.output()) ? 'made by this start' : 'made by the interrupted one'})`,
  );
  const clients = await request(`${server.url}/admin/clients`, {
    headers: { authorization: `Bearer ${token.json.access_token}` },
  });
  assert.equal(clients.json.total, 1, `${label}: one administrator, never a second`);
  assert.doesNotMatch(server.output(), /has never been used/, `${label}: nothing to recover`);
}

/** The crash points of a first start, in order. */
const FIRST_START_POINTS = [
  'start:master-key-checked',
  'migration:0001_initial',
  'migration:0007_registry_state',
  'first-start:signing-key',
  'first-start:admin-inserted',
  'first-start:delivered',
  'first-start:committed',
];
/** Signals and when they come, as a share of a start measured in the same run (machines and load differ). */
const TIMED: Array<[NodeJS.Signals, number]> = [
  ['SIGINT', 0.2],
  ['SIGKILL', 0.4],
  ['SIGINT', 0.6],
  ['SIGKILL', 0.8],
  ['SIGTERM', 1],
];

for (const dialect of DIALECTS) {
  describe(`an interrupted first start (${dialect})`, () => {
    for (const point of FIRST_START_POINTS) {
      it(`killed at ${point}: the next start accepts the registry and there is one administrator, its secret delivered`, async (t) => {
        const { dir, env } = await registry(t, dialect);
        const run = runCli(t, ['serve', '--port', '0'], { ...env, ZGW_AUTH_TEST_CRASH_AT: point });
        assert.equal((await run.exited).signal, 'SIGKILL', `the start reached ${point}\n${run.output()}`);
        const again = await startAgain(t, dir, env);
        await assertOneDeliveredAdministrator(dir, again, point);
      });
    }

    it('killed or interrupted by signals across the whole start: each next start accepts the registry, one administrator, its secret delivered', async (t) => {
      // How long a whole first start takes here and now, to spread the signals over it.
      const baseline = await registry(t, dialect);
      const began = Date.now();
      const measured = await startAgain(t, baseline.dir, baseline.env);
      const startMs = Date.now() - began;
      await measured.stop();
      for (const [signal, share] of TIMED) {
        const { dir, env } = await registry(t, dialect);
        const run = runCli(t, ['serve', '--port', '0'], env);
        const delay = Math.round(startMs * share);
        const timer = setTimeout(() => run.child.kill(signal), delay);
        const ended = await run.exited;
        clearTimeout(timer);
        const label = `${signal} after ${delay} ms of a ${startMs} ms start (${ended.signal ?? `exit ${ended.code}`})`;
        const again = await startAgain(t, dir, env);
        await assertOneDeliveredAdministrator(dir, again, label);
        await again.stop();
      }
    });
  });
}

/** A registry as version 0002 of the schema left it: one client with a known secret, and audit events for migration 0004 to file. */
async function registryAtSchema0002(
  dialect: DialectName,
  dir: string,
  url: string | undefined,
  masterKey: string,
  events: number,
): Promise<{ clientId: string; secret: string }> {
  const db =
    dialect === 'sqlite'
      ? new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(path.join(dir, 'zgw-auth.db')) }) }) // eslint-disable-line @typescript-eslint/no-explicit-any -- the schema of then
      : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any -- the schema of then
  try {
    await migrate(db, dialect, '0002_weak_secrets_and_failure_reasons');
    const t = Date.now();
    const clientId = 'before-0003';
    const secret = crypto.randomBytes(32).toString('base64url');
    await db
      .insertInto('clients')
      .values(clientRowAt(clientId, '000000000', true, t))
      .execute();
    const hash = hashSecret(parseMasterKey(masterKey).hashKey, secret).toString('base64url');
    await db
      .insertInto('client_secrets')
      .values({
        secret_id: 'sec_before',
        client_id: clientId,
        label: 'initial',
        hash,
        sealed: null,
        created_at: t,
        expires_at: null,
        last_used_at: null,
        revoked_at: null,
        weak: 0,
      })
      .execute();
    for (let i = 0; i < events; i += 500) {
      const rows = Array.from({ length: Math.min(500, events - i) }, () => ({
        at: t,
        actor: 'cli',
        action: 'client.updated',
        target: clientId,
        address: null,
        details: '{}',
        reason: null,
      }));
      await db.insertInto('audit_events').values(rows).execute();
    }
    return { clientId, secret };
  } finally {
    await db.destroy();
  }
}

/** After the next start: every migration recorded, 0003 and 0004 done on the data of before. */
async function assertMigrated(
  dialect: DialectName,
  dir: string,
  url: string | undefined,
  events: number,
  label: string,
) {
  /* eslint-disable @typescript-eslint/no-explicit-any -- read as stored, whatever the version's schema */
  const db =
    dialect === 'sqlite'
      ? new Kysely<any>({
          dialect: new SqliteDialect({ database: new SQLite(path.join(dir, 'zgw-auth.db'), { readonly: true }) }),
        })
      : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  /* eslint-enable @typescript-eslint/no-explicit-any */
  try {
    const done = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute();
    assert.deepEqual(
      done.map((r) => r.name),
      [
        '0001_initial',
        '0002_weak_secrets_and_failure_reasons',
        '0003_organisations',
        '0004_audit_event_organisations',
        '0005_clients_by_last_token',
        '0006_signing_key_supersession',
        '0007_registry_state',
        '0008_client_auth_methods_and_keys',
        '0009_client_dpop_bound_access_tokens',
        '0010_client_certificate_bound_access_tokens',
      ],
      label,
    );
    assert.deepEqual(await db.selectFrom('organisations').select('rsin').execute(), [{ rsin: '000000000' }], label);
    const filed = await db
      .selectFrom('audit_events')
      .select(sql<number>`count(*)`.as('n'))
      .where('organisation', '=', '000000000')
      .where('action', '=', 'client.updated')
      .executeTakeFirstOrThrow();
    assert.equal(Number(filed.n), events, `${label}: every event of before filed once under its organisation`);
  } finally {
    await db.destroy();
  }
}

const MIGRATION_POINTS = [
  'start:master-key-checked',
  'migration:0003_organisations',
  'migration:0004_audit_event_organisations',
  'migration:0005_clients_by_last_token',
  'migration:0006_signing_key_supersession',
  'migration:0007_registry_state',
  'migration:0008_client_auth_methods_and_keys',
  'migration:0009_client_dpop_bound_access_tokens',
  'migration:0010_client_certificate_bound_access_tokens',
];
const EVENTS = 5000;

for (const dialect of DIALECTS) {
  describe(`an interrupted migration (${dialect})`, () => {
    it('killed at the end of each migration and by signals during them: the next start migrates the registry whole, and its clients still authenticate', async (t) => {
      const masterKey = crypto.randomBytes(32).toString('base64');
      const cases: Array<{ point?: string; signal?: NodeJS.Signals; share?: number }> = [
        ...MIGRATION_POINTS.map((point) => ({ point })),
        { signal: 'SIGKILL', share: 0.4 },
        { signal: 'SIGINT', share: 0.7 },
      ];
      // How long a start that migrates takes here and now, to spread the signals over it.
      const startMs = await (async () => {
        const { dir, env, url } = await registry(t, dialect);
        await registryAtSchema0002(dialect, dir, url, masterKey, EVENTS);
        const began = Date.now();
        const measured = await startAgain(t, dir, { ...env, ZGW_AUTH_MASTER_KEY: masterKey });
        const ms = Date.now() - began;
        await measured.stop();
        await assertMigrated(dialect, dir, url, EVENTS, 'uninterrupted');
        return ms;
      })();
      for (const c of cases) {
        const { dir, env: base, url } = await registry(t, dialect);
        const env = { ...base, ZGW_AUTH_MASTER_KEY: masterKey };
        const client = await registryAtSchema0002(dialect, dir, url, masterKey, EVENTS);
        const run = runCli(t, ['serve', '--port', '0'], c.point ? { ...env, ZGW_AUTH_TEST_CRASH_AT: c.point } : env);
        const delay = Math.round(startMs * (c.share ?? 0));
        const timer = c.signal ? setTimeout(() => run.child.kill(c.signal), delay) : undefined;
        const ended = await run.exited;
        clearTimeout(timer);
        const label = c.point
          ? `killed at ${c.point}`
          : `${c.signal} after ${delay} ms of a ${startMs} ms start (${ended.signal ?? `exit ${ended.code}`})`;
        if (c.point) assert.equal(ended.signal, 'SIGKILL', `the start reached ${c.point}\n${run.output()}`);
        const again = await startAgain(t, dir, env);
        assert.equal(
          (await tokenFor(again.url, client.clientId, client.secret)).status,
          200,
          `${label}: the client of before authenticates`,
        );
        await again.stop();
        await assertMigrated(dialect, dir, url, EVENTS, label);
      }
    });
  });
}

describe('an interrupted import', () => {
  it('killed at each step and by signals: importing again either completes or finds the whole registry already there', async (t) => {
    const masterKey = crypto.randomBytes(32).toString('base64');
    // The source: a registry with an administrator and a client, exported.
    const source = await registry(t, 'sqlite');
    const sourceEnv = { ...source.env, ZGW_AUTH_MASTER_KEY: masterKey };
    const first = await startAgain(t, source.dir, sourceEnv);
    await first.stop();
    const admin = /client_secret: (\S+)/.exec(fs.readFileSync(path.join(source.dir, SECRET_FILE), 'utf8'))![1]!;
    const created = runCli(
      t,
      ['clients', 'create', '--client-id', 'moved', '--rsin', '000000000', '--json'],
      sourceEnv,
    );
    assert.equal((await created.exited).code, 0, created.output());
    const moved = JSON.parse(created.output()) as { client_secret: string };
    const file = path.join(tempDir(), 'registry.json');
    const exported = runCli(t, ['export', '--file', file], sourceEnv);
    assert.equal((await exported.exited).code, 0, exported.output());

    for (const dialect of DIALECTS) {
      const cases: Array<{ point?: string; signal?: NodeJS.Signals; delay?: number }> = [
        ...[
          'start:master-key-checked',
          'migration:0007_registry_state',
          'import:rows-inserted',
          'import:committed',
        ].map((point) => ({ point })),
        ...[200, 600].map((delay, i) => ({ signal: (i % 2 ? 'SIGINT' : 'SIGKILL') as NodeJS.Signals, delay })),
      ];
      for (const c of cases) {
        const { dir, env: base } = await registry(t, dialect);
        const env = { ...base, ZGW_AUTH_MASTER_KEY: masterKey };
        const run = runCli(t, ['import', '--file', file], c.point ? { ...env, ZGW_AUTH_TEST_CRASH_AT: c.point } : env);
        const timer = c.signal ? setTimeout(() => run.child.kill(c.signal), c.delay) : undefined;
        const ended = await run.exited;
        clearTimeout(timer);
        const label = `${dialect}: ${c.point ? `killed at ${c.point}` : `${c.signal} after ${c.delay} ms (${ended.signal ?? `exit ${ended.code}`})`}`;
        if (c.point) assert.equal(ended.signal, 'SIGKILL', `${label}: the import reached the point\n${run.output()}`);
        const again = runCli(t, ['import', '--file', file], env);
        const { code } = await again.exited;
        if (code !== 0)
          assert.match(
            again.output(),
            /the target registry is not empty/,
            `${label}: a second import is refused only because the first one completed`,
          );
        const server = await startAgain(t, dir, env);
        assert.equal(
          (await tokenFor(server.url, 'moved', moved.client_secret)).status,
          200,
          `${label}: the imported client authenticates`,
        );
        const token = await tokenFor(server.url, 'zgw-auth-admin', admin);
        assert.equal(token.status, 200, `${label}: the imported administrator authenticates`);
        const clients = await request(`${server.url}/admin/clients`, {
          headers: { authorization: `Bearer ${token.json.access_token}` },
        });
        assert.equal(clients.json.total, 2, `${label}: the registry as exported, no administrator made on top`);
        await server.stop();
      }
    }
  });
});
