import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from '#kysely';
import { crashPoint } from '../crash-point.js';
import type { Dialect } from './dialect.js';

// Migrations are written against the schema of their own time, not today's `Database` type (Kysely's advice).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * Migrations are frozen in time: never edit one that has shipped, add a new one. Each receives the
 * dialect so that the few type differences (auto-increment ids) stay inside this folder.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const ms = 'bigint' as const;
  return {
    '0001_initial': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('signing_keys')
          .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('alg', 'varchar(16)', (c) => c.notNull())
          .addColumn('public_jwk', 'text', (c) => c.notNull())
          .addColumn('private_key_sealed', 'text', (c) => c.notNull())
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('activates_at', ms, (c) => c.notNull())
          .addColumn('retires_at', ms)
          .execute();

        await db.schema
          .createTable('clients')
          .addColumn('client_id', 'varchar(50)', (c) => c.primaryKey())
          .addColumn('name', 'varchar(200)', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('rsin', 'varchar(9)', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('grant_types', 'text', (c) => c.notNull())
          .addColumn('allowed_scopes', 'text', (c) => c.notNull())
          .addColumn('default_scopes', 'text', (c) => c.notNull())
          .addColumn('token_lifetime', 'integer')
          .addColumn('static_claims', 'text', (c) => c.notNull())
          .addColumn('self_signed_allowed', 'integer', (c) => c.notNull())
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('updated_at', ms, (c) => c.notNull())
          .addColumn('last_token_at', ms)
          .execute();
        await db.schema.createIndex('clients_rsin').on('clients').column('rsin').execute();

        await db.schema
          .createTable('client_secrets')
          .addColumn('secret_id', 'varchar(40)', (c) => c.primaryKey())
          .addColumn('client_id', 'varchar(50)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
          .addColumn('label', 'varchar(200)', (c) => c.notNull())
          .addColumn('hash', 'varchar(64)', (c) => c.notNull())
          .addColumn('sealed', 'text')
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('expires_at', ms)
          .addColumn('last_used_at', ms)
          .addColumn('revoked_at', ms)
          .execute();
        await db.schema.createIndex('client_secrets_client').on('client_secrets').column('client_id').execute();

        await db.schema
          .createTable('audit_events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', ms, (c) => c.notNull())
          .addColumn('actor', 'varchar(100)', (c) => c.notNull())
          .addColumn('action', 'varchar(60)', (c) => c.notNull())
          .addColumn('target', 'varchar(100)', (c) => c.notNull())
          .addColumn('address', 'varchar(64)')
          .addColumn('details', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();

        await db.schema
          .createTable('revoked_tokens')
          .addColumn('jti', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('client_id', 'varchar(50)', (c) => c.notNull())
          .addColumn('expires_at', ms, (c) => c.notNull())
          .execute();
      },
    },
    '0002_weak_secrets_and_failure_reasons': {
      async up(db: AnyDb) {
        // 1: an imported secret below the strength rule (secrets.ts), kept only when allowed explicitly.
        await db.schema
          .alterTable('client_secrets')
          .addColumn('weak', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable('audit_events').addColumn('reason', 'varchar(40)').execute();
      },
    },
    '0003_organisations': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('organisations')
          .addColumn('rsin', 'varchar(9)', (c) => c.primaryKey())
          .addColumn('name', 'varchar(200)', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('updated_at', ms, (c) => c.notNull())
          .execute();
        // Every RSIN in use becomes an organisation, named after its RSIN until someone names it.
        // The time is a literal: PostgreSQL types an INSERT … SELECT parameter as text, not bigint.
        const t = sql.lit(Date.now());
        await db
          .insertInto('organisations')
          .columns(['rsin', 'name', 'enabled', 'created_at', 'updated_at'])
          .expression(
            db
              .selectFrom('clients')
              .select(['rsin', 'rsin as name', sql.lit(1).as('enabled'), t.as('created_at'), t.as('updated_at')])
              .distinct(),
          )
          .execute();
        // Client counts per organisation, total and enabled, from the index alone; it also serves
        // every lookup by RSIN that the old single-column index did.
        await db.schema.createIndex('clients_rsin_enabled').on('clients').columns(['rsin', 'enabled']).execute();
        await db.schema.dropIndex('clients_rsin').execute();
        // The organisation an event concerns, newest first: what an organisation's own audit view reads.
        await db.schema.alterTable('audit_events').addColumn('organisation', 'varchar(9)').execute();
        await db.schema
          .createIndex('audit_events_organisation')
          .on('audit_events')
          .columns(['organisation', 'id'])
          .execute();
      },
    },
    '0004_audit_event_organisations': {
      async up(db: AnyDb) {
        // Changes recorded before events named their organisation: a client's under the RSIN its
        // client has now, an organisation's under its own. The many token and failure events of
        // before stay without one (global administrators see them); a deleted client's too.
        await db
          .updateTable('audit_events')
          .set((eb) => ({
            organisation: eb
              .selectFrom('clients')
              .select('clients.rsin')
              .whereRef('clients.client_id', '=', 'audit_events.target'),
          }))
          .where('organisation', 'is', null)
          .where((eb) => eb.or([eb('action', 'like', 'client.%'), eb('action', 'like', 'secret.%')]))
          .execute();
        await db
          .updateTable('audit_events')
          .set((eb) => ({ organisation: eb.ref('target') }))
          .where('organisation', 'is', null)
          .where('action', 'like', 'organisation.%')
          .execute();
      },
    },
    '0005_clients_by_last_token': {
      async up(db: AnyDb) {
        // The console's "latest token first": a page of a large registry read in index order. The
        // expression sorts clients that never had a token last in both dialects.
        await sql`create index clients_last_token on clients ((coalesce(last_token_at, -1)) desc, client_id)`.execute(
          db,
        );
      },
    },
    '0006_signing_key_supersession': {
      async up(db: AnyDb) {
        // The key plan is derived from activation times from now on; `retires_at` stays for older
        // versions. Keys of before were never superseded: a pending one took over at its start.
        await db.schema.alterTable('signing_keys').addColumn('superseded_at', ms).execute();
      },
    },
    '0007_registry_state': {
      async up(db: AnyDb) {
        // Facts about the registry itself: the value the master key is checked against at start.
        await db.schema
          .createTable('registry_state')
          .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0008_client_auth_methods_and_keys': {
      async up(db: AnyDb) {
        // Clients of before authenticate with secrets, as they always did.
        await db.schema
          .alterTable('clients')
          .addColumn('auth_methods', 'text', (c) =>
            c.notNull().defaultTo('["client_secret_basic","client_secret_post"]'),
          )
          .execute();
        await db.schema.alterTable('clients').addColumn('jwks_uri', 'varchar(2048)').execute();
        await db.schema.alterTable('clients').addColumn('tls_subject_field', 'varchar(16)').execute();
        await db.schema.alterTable('clients').addColumn('tls_subject_value', 'varchar(1024)').execute();
        await db.schema.alterTable('clients').addColumn('oin', 'varchar(20)').execute();
        await db.schema
          .createTable('client_keys')
          .addColumn('client_id', 'varchar(50)', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
          .addColumn('kid', 'varchar(200)', (c) => c.notNull())
          .addColumn('thumbprint', 'varchar(43)', (c) => c.notNull())
          .addColumn('kty', 'varchar(8)', (c) => c.notNull())
          .addColumn('alg', 'varchar(16)')
          .addColumn('public_jwk', 'text', (c) => c.notNull())
          .addColumn('expires_at', ms)
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('last_used_at', ms)
          .addPrimaryKeyConstraint('client_keys_pk', ['client_id', 'kid'])
          .execute();
        // Identifiers used once across every process sharing the registry (assertion jti).
        await db.schema
          .createTable('used_once')
          .addColumn('namespace', 'varchar(32)', (c) => c.notNull())
          .addColumn('id_hash', 'varchar(43)', (c) => c.notNull())
          .addColumn('expires_at', ms, (c) => c.notNull())
          .addPrimaryKeyConstraint('used_once_pk', ['namespace', 'id_hash'])
          .execute();
        await db.schema.createIndex('used_once_expires').on('used_once').column('expires_at').execute();
      },
    },
    '0009_client_dpop_bound_access_tokens': {
      async up(db: AnyDb) {
        // Clients of before may go on getting bearer tokens.
        await db.schema
          .alterTable('clients')
          .addColumn('dpop_bound_access_tokens', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0010_client_certificate_bound_access_tokens': {
      async up(db: AnyDb) {
        await db.schema
          .alterTable('clients')
          .addColumn('certificate_bound_access_tokens', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0011_client_key_expiry_announcements': {
      async up(db: AnyDb) {
        // When a key's certificate was announced as expiring soon (audit): once, across restarts and processes.
        await db.schema.alterTable('client_keys').addColumn('expiry_announced_at', ms).execute();
        await db.schema.createIndex('client_keys_expires').on('client_keys').column('expires_at').execute();
      },
    },
    '0012_no_secrets_without_secret_methods': {
      async up(db: AnyDb) {
        // Clients registered for keys or certificates only were given a secret they could not use;
        // adding a secret method later would have brought it to life unseen. Such secrets are
        // revoked (kept as former ones, so a consumer still sending one is told apart), audited
        // as done by the system. No schema change: a client without secrets has no rows.
        const now = Date.now();
        const unusable = await db
          .selectFrom('client_secrets as s')
          .innerJoin('clients as c', 'c.client_id', 's.client_id')
          .select(['s.secret_id', 's.client_id', 'c.rsin'])
          .where('s.revoked_at', 'is', null)
          .where('c.auth_methods', 'not like', '%"client_secret_basic"%')
          .where('c.auth_methods', 'not like', '%"client_secret_post"%')
          .execute();
        for (const s of unusable as { secret_id: string; client_id: string; rsin: string }[]) {
          await db
            .updateTable('client_secrets')
            .set({ revoked_at: now })
            .where('secret_id', '=', s.secret_id)
            .execute();
          await db
            .insertInto('audit_events')
            .values({
              at: now,
              actor: 'system',
              action: 'secret.revoked',
              target: s.client_id,
              address: null,
              reason: null,
              details: JSON.stringify({
                secretId: s.secret_id,
                why: 'the client authenticates without a secret (no client_secret_* method)',
              }),
              organisation: s.rsin,
            })
            .execute();
        }
      },
    },
    '0013_autorisaties': {
      async up(db: AnyDb) {
        // The ZGW Autorisaties API: applicaties, their autorisaties as JSON (read and written whole).
        await db.schema
          .createTable('applicaties')
          // The order of creation, newest first in the API's lists (times may be equal).
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
          .addColumn('label', 'varchar(100)', (c) => c.notNull())
          .addColumn('heeft_alle_autorisaties', 'integer', (c) => c.notNull())
          .addColumn('alleen_is_gereed_voor_publicatie', 'integer', (c) => c.notNull())
          .addColumn('autorisaties', 'text', (c) => c.notNull())
          .addColumn('organisation', 'varchar(9)', (c) => c.notNull())
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('updated_at', ms, (c) => c.notNull())
          .execute();
        // A client id in one applicatie at a time (ac-001), of a client of the registry: the keys hold it.
        await db.schema
          .createTable('applicatie_clients')
          .addColumn('client_id', 'varchar(50)', (c) => c.primaryKey().references('clients.client_id'))
          .addColumn('applicatie_uuid', 'varchar(36)', (c) =>
            c.notNull().references('applicaties.uuid').onDelete('cascade'),
          )
          .addColumn('position', 'integer', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('applicatie_clients_applicatie')
          .on('applicatie_clients')
          .column('applicatie_uuid')
          .execute();
      },
    },
    '0014_notification_outbox': {
      async up(db: AnyDb) {
        // Notifications of the Autorisaties API, written in the transaction of the change they announce.
        await db.schema
          .createTable('notification_outbox')
          // The order of writing: per applicatie, notifications are sent in this order.
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('applicatie_uuid', 'varchar(36)', (c) => c.notNull())
          // The Notificatie as JSON, as it is sent.
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', ms, (c) => c.notNull())
          // A process sending the row holds it until then; after, another may take it over.
          .addColumn('claimed_until', ms)
          // Refused for good by the Notificaties API (a 4xx other than 429): kept for the operator, not retried.
          .addColumn('failed_at', ms)
          .addColumn('last_error', 'varchar(500)')
          .addColumn('created_at', ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('notification_outbox_applicatie')
          .on('notification_outbox')
          .columns(['applicatie_uuid', 'id'])
          .execute();
      },
    },
    '0015_console_sessions': {
      async up(db: AnyDb) {
        // Console sessions, shared by every process: found by the SHA-256 of their id, their admin
        // token sealed under a key only the id gives. No foreign key to clients: a deleted client's
        // sessions end through the console (token revoked, audited), not silently by a cascade.
        await db.schema
          .createTable('console_sessions')
          .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('client_id', 'varchar(50)', (c) => c.notNull())
          .addColumn('rsin', 'varchar(9)', (c) => c.notNull())
          .addColumn('scope', 'varchar(200)', (c) => c.notNull())
          .addColumn('jti', 'varchar(64)', (c) => c.notNull())
          .addColumn('secret_id', 'varchar(40)', (c) => c.notNull())
          .addColumn('token_expires_at', ms, (c) => c.notNull())
          .addColumn('token_sealed', 'text', (c) => c.notNull())
          .addColumn('flash_sealed', 'text')
          .addColumn('created_at', ms, (c) => c.notNull())
          .addColumn('last_seen_at', ms, (c) => c.notNull())
          .addColumn('ends_at', ms, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('console_sessions_client')
          .on('console_sessions')
          .columns(['client_id', 'created_at'])
          .execute();
        await db.schema.createIndex('console_sessions_ends').on('console_sessions').column('ends_at').execute();
        await db.schema
          .createIndex('console_sessions_last_seen')
          .on('console_sessions')
          .column('last_seen_at')
          .execute();
      },
    },
    '0016_expiry_of_secrets_and_hourly_counts': {
      async up(db: AnyDb) {
        // When a secret's coming expiry was announced in the audit trail: once, across restarts and processes.
        await db.schema.alterTable('client_secrets').addColumn('expiry_announced_at', ms).execute();
        await db.schema.createIndex('client_secrets_expires').on('client_secrets').column('expires_at').execute();
        // Tokens issued and failed authentications per hour, organisation ('' for none), client id
        // and action, kept as events are written: the activity report reads these instead of
        // grouping the events themselves.
        await db.schema
          .createTable('audit_hourly_counts')
          .addColumn('hour', ms, (c) => c.notNull())
          .addColumn('organisation', 'varchar(9)', (c) => c.notNull())
          .addColumn('client_id', 'varchar(100)', (c) => c.notNull())
          .addColumn('action', 'varchar(60)', (c) => c.notNull())
          .addColumn('count', ms, (c) => c.notNull())
          .addPrimaryKeyConstraint('audit_hourly_counts_pk', ['hour', 'organisation', 'client_id', 'action'])
          .execute();
        // One organisation's or one client's report reads its own rows only.
        await db.schema
          .createIndex('audit_hourly_counts_organisation')
          .on('audit_hourly_counts')
          .columns(['organisation', 'hour'])
          .execute();
        await db.schema
          .createIndex('audit_hourly_counts_client')
          .on('audit_hourly_counts')
          .columns(['client_id', 'hour'])
          .execute();
        // The events of before, counted as the writers count them: a failure folded with a `count` counts that many.
        const count =
          dialect === 'postgres' ? sql`(details::jsonb ->> 'count')::bigint` : sql`json_extract(details, '$.count')`;
        await sql`insert into audit_hourly_counts (hour, organisation, client_id, action, count)
          select (at / 3600000) * 3600000, coalesce(organisation, ''), target, action,
                 sum(case when action = 'client_auth.failed' then coalesce(${count}, 1) else 1 end)
          from audit_events
          where action in ('token.issued', 'client_auth.failed')
          group by (at / 3600000) * 3600000, coalesce(organisation, ''), target, action`.execute(db);
      },
    },
    '0017_audit_shipping': {
      async up(db: AnyDb) {
        // The order in which audit events are shipped to a SIEM (src/audit/audit-shipping.ts), and
        // a folded event shipped again when its count grows. PostgreSQL: the id of the transaction
        // that wrote or last changed the row, so that a reader can tell which rows are final (every
        // transaction below the oldest running one has ended); ids alone may become visible out of
        // order. SQLite commits one writer at a time, so ids are in commit order; there the column
        // holds only a changed row's new place, a number taken from the table's AUTOINCREMENT
        // sequence (above every id so far, below every id to come). Earlier rows keep NULL: they
        // were written before any sink could have wanted them.
        if (dialect === 'postgres') {
          await db.schema
            .alterTable('audit_events')
            .addColumn('tx', sql`xid8`)
            .execute();
          // Only rows written from now on: a default set apart from the column rewrites no old row.
          await sql`ALTER TABLE audit_events ALTER COLUMN tx SET DEFAULT pg_current_xact_id()`.execute(db);
          await db.schema.createIndex('audit_events_stream').on('audit_events').columns(['tx', 'id']).execute();
        } else {
          await db.schema.alterTable('audit_events').addColumn('tx', 'integer').execute();
          await db.schema
            .createIndex('audit_events_revised')
            .on('audit_events')
            .column('tx')
            .where(sql.ref('tx'), 'is not', null)
            .execute();
        }
        // Per sink: how far it has shipped, and which process ships it now (a lease).
        await db.schema
          .createTable('audit_sinks')
          .addColumn('name', 'varchar(40)', (c) => c.primaryKey())
          .addColumn('position', 'varchar(100)', (c) => c.notNull())
          .addColumn('holder', 'varchar(100)')
          .addColumn('held_until', ms)
          .addColumn('updated_at', ms, (c) => c.notNull())
          .execute();
      },
    },
  };
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations() {
    const all = migrations(this.dialect);
    // Each migration ends at a crash point, inside the transaction that holds it (tests only).
    for (const [name, m] of Object.entries(all))
      all[name] = { up: async (db) => (await m.up(db), crashPoint(`migration:${name}`)) };
    return all;
  }
}

/**
 * Runs pending migrations, up to `target` when given (tests of a migration start from the one
 * before). Kysely's migrator takes a lock row, so processes starting at once are safe.
 */
export async function migrate(db: AnyDb, dialect: Dialect, target?: string): Promise<void> {
  if (dialect === 'sqlite') return inOneTransaction(db, () => runMigrations(db, dialect, target));
  return runMigrations(db, dialect, target);
}

/**
 * Whether every migration of this build, and no other, has run on `db`: then a start needs no
 * migrator, its lock and its connection. Read from Kysely's table as its migrator writes it; a
 * missing table, a migration pending or one this build does not know is "no" (the migrator then
 * runs, or refuses, as always). So is a migration running in another process (a newer build's,
 * not committed yet): the table is read only while holding what that migrator holds, without
 * waiting for it (PostgreSQL: Kysely's advisory lock; SQLite: the write lock, within the serving
 * connection's busy timeout). The migrator then waits for it, and sees what it did.
 */
export async function upToDate(db: AnyDb, dialect: Dialect): Promise<boolean> {
  const known = Object.keys(migrations(dialect));
  try {
    return await db.connection().execute(async (conn) => {
      if (dialect === 'postgres') {
        const { rows } = await sql<{
          free: boolean;
        }>`select pg_try_advisory_lock(${sql.lit(KYSELY_LOCK_ID)}) as free`.execute(conn);
        if (!rows[0]?.free) return false;
      } else await sql`begin immediate`.execute(conn);
      try {
        const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(conn);
        const ran = new Set(rows.map((r) => r.name));
        return ran.size === known.length && known.every((name) => ran.has(name));
      } finally {
        if (dialect === 'postgres') await sql`select pg_advisory_unlock(${sql.lit(KYSELY_LOCK_ID)})`.execute(conn);
        else await sql`rollback`.execute(conn);
      }
    });
  } catch {
    return false;
  }
}

/** The advisory lock Kysely's PostgreSQL migrator holds while it migrates (its adapter's LOCK_ID). */
const KYSELY_LOCK_ID = BigInt('3853314791062309107');

/**
 * The order of migration names. Every name begins with its own four digits, so this code-point
 * order is the order of Kysely's default, localeCompare, which loads ICU's collation on first use
 * (about 40 ms of CPU of every start).
 */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function runMigrations(db: AnyDb, dialect: Dialect, target?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider(dialect), nameComparator: byName });
  const { error } = target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  if (error) throw error;
}

/**
 * Kysely runs PostgreSQL's migrations in one transaction, but SQLite's statement by statement: a
 * process killed half-way through left tables that the next start's rerun trips over ("table
 * already exists"), and a registry that never starts again. SQLite's DDL is transactional, so all
 * pending migrations run in one transaction on the (single) connection: all or nothing. IMMEDIATE
 * takes the write lock at once, so a second process starting waits for the first one's migrations
 * instead of failing on a stale read.
 */
async function inOneTransaction(db: AnyDb, run: () => Promise<void>): Promise<void> {
  await sql`begin immediate`.execute(db);
  try {
    await run();
  } catch (err) {
    await sql`rollback`.execute(db).catch(() => {});
    throw err;
  }
  await sql`commit`.execute(db);
}
