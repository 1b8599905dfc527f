import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { sql } from '#kysely';
import { hashSecret } from '../src/clients/secrets.js';
import { parseMasterKey } from '../src/keys/master-key.js';
import { migrate } from '../src/storage/migrations.js';
import { clientRowAt, type DialectName } from './helpers.js';
import {
  DB_FILE,
  eachConcurrently,
  median,
  openRegistry,
  registry,
  runCli,
  startAgain,
  tokenFor,
} from './interrupted.js';

// Interrupted migrations: a process is killed at the end of each migration and by signals during
// them, then the next start must migrate the registry whole.

/** A registry as version 0002 of the schema left it: one client with a known secret, and audit events for migration 0004 to file. */
async function registryAtSchema0002(
  dialect: DialectName,
  env: Record<string, string>,
  masterKey: string,
  events: number,
): Promise<{ clientId: string; secret: string }> {
  const db = openRegistry(env, { write: true });
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

/**
 * The registry of before (registryAtSchema0002), made once and copied for each case: the SQLite
 * file, or a PostgreSQL database made with it as its template. Filling it costs more than copying.
 */
async function registriesAtSchema0002(t: TestContext, dialect: DialectName, masterKey: string, events: number) {
  const made = await registry(t, dialect);
  const client = await registryAtSchema0002(dialect, made.env, masterKey, events);
  const copy = async () => {
    const copied = await registry(t, dialect, made.name);
    if (dialect === 'sqlite') fs.copyFileSync(path.join(made.dir, DB_FILE), path.join(copied.dir, DB_FILE));
    return copied;
  };
  return { client, copy };
}

/** After the next start: every migration recorded, 0003 and 0004 done on the data of before. */
async function assertMigrated(env: Record<string, string>, events: number, label: string) {
  const db = openRegistry(env);
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
        '0011_client_key_expiry_announcements',
        '0012_no_secrets_without_secret_methods',
        '0013_autorisaties',
        '0014_notification_outbox',
        '0015_console_sessions',
        '0016_expiry_of_secrets_and_hourly_counts',
        '0017_audit_shipping',
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
  'migration:0011_client_key_expiry_announcements',
  'migration:0012_no_secrets_without_secret_methods',
  'migration:0013_autorisaties',
  'migration:0014_notification_outbox',
  'migration:0015_console_sessions',
  'migration:0016_expiry_of_secrets_and_hourly_counts',
  'migration:0017_audit_shipping',
];
const EVENTS = 5000;

/** The tests of this file for one dialect: each dialect runs as a test file of its own (interrupted-migration-sqlite, interrupted-migration-postgres), so that they run in parallel. */
export function interruptedMigrationTests(dialect: DialectName): void {
  describe(`an interrupted migration (${dialect})`, () => {
    it('killed at the end of each migration and by signals during them: the next start migrates the registry whole, and its clients still authenticate', async (t) => {
      const masterKey = crypto.randomBytes(32).toString('base64');
      // The registry of before has no signing key: each whole start makes one. Ed25519, made in a
      // millisecond, where an RSA key (the default) costs 0.1-0.5 s of CPU, at random, in each of
      // the ~20 starts here; the algorithm is no part of a migration.
      const keys = { ZGW_AUTH_MASTER_KEY: masterKey, ZGW_AUTH_SIGNING_ALG: 'EdDSA' };
      const cases: Array<{ point?: string; signal?: NodeJS.Signals; share?: number }> = [
        ...MIGRATION_POINTS.map((point) => ({ point })),
        { signal: 'SIGKILL', share: 0.4 },
        { signal: 'SIGINT', share: 0.7 },
      ];
      const signalled = cases.filter((c) => c.signal);
      const before = await registriesAtSchema0002(t, dialect, masterKey, EVENTS);
      // How long each start after a named point took to listen: a start that migrates the whole
      // registry (the killed one's migrations were rolled back with it), to spread the signals over.
      const restartMs: number[] = [];
      let startMs = 0;
      const runCase = async (c: (typeof cases)[number]) => {
        const { dir, env: base } = await before.copy();
        const env = { ...base, ...keys };
        const { client } = before;
        const run = runCli(t, ['serve', '--port', '0'], c.point ? { ...env, ZGW_AUTH_TEST_CRASH_AT: c.point } : env);
        const delay = Math.round(startMs * (c.share ?? 0));
        const timer = c.signal ? setTimeout(() => run.child.kill(c.signal), delay) : undefined;
        const ended = await run.exited;
        clearTimeout(timer);
        const label = c.point
          ? `killed at ${c.point}`
          : `${c.signal} after ${delay} ms of a ${startMs} ms start (${ended.signal ?? `exit ${ended.code}`})`;
        if (c.point) assert.equal(ended.signal, 'SIGKILL', `the start reached ${c.point}\n${run.output()}`);
        const began = Date.now();
        const again = await startAgain(t, dir, env);
        if (c.point) restartMs.push(Date.now() - began);
        assert.equal(
          (await tokenFor(again.url, client.clientId, client.secret)).status,
          200,
          `${label}: the client of before authenticates`,
        );
        await again.stop();
        await assertMigrated(env, EVENTS, label);
      };
      // The named points do not depend on timing: several at once, each on a registry of its own;
      // as many at once as the signalled cases after them, so that their starts are timed under the
      // same load.
      await eachConcurrently(
        t,
        cases.filter((c) => c.point),
        runCase,
        signalled.length,
      );
      startMs = median(restartMs);
      await eachConcurrently(t, signalled, runCase, signalled.length);
    });
  });
}
