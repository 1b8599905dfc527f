import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { sql } from '#kysely';
import { migrate, upToDate } from '../src/storage/migrations.js';
import { forEachDialect, rawDatabase } from './helpers.js';

forEachDialect((dialect) => {
  describe(`the start's check that no migration is pending (${dialect})`, () => {
    it('says up to date only when every migration of this build, and no other, has run', async () => {
      const raw = await rawDatabase(dialect);
      try {
        assert.equal(await upToDate(raw.db, dialect), false, 'no registry yet');
        await migrate(raw.db, dialect, '0016_expiry_of_secrets_and_hourly_counts');
        assert.equal(await upToDate(raw.db, dialect), false, 'a migration pending');
        await migrate(raw.db, dialect);
        assert.equal(await upToDate(raw.db, dialect), true, 'all migrated');
        // Another process migrating (a newer build, not committed yet): what it holds is held, so not up to date.
        const release = await holdMigrationLock(dialect, raw.url);
        try {
          assert.equal(await upToDate(raw.db, dialect), false, 'another process is migrating');
        } finally {
          await release();
        }
        assert.equal(await upToDate(raw.db, dialect), true, 'all migrated, and nobody migrating');
        // A migration of a newer build: not this build's registry to serve (the migrator refuses it).
        await sql`insert into kysely_migration (name, timestamp) values ('9999_of_a_newer_build', '2030-01-01T00:00:00.000Z')`.execute(
          raw.db,
        );
        assert.equal(await upToDate(raw.db, dialect), false, 'a migration this build does not know');
        await assert.rejects(migrate(raw.db, dialect), /9999_of_a_newer_build/);
      } finally {
        await raw.db.destroy();
        await raw.drop();
      }
    });
  });
});

/**
 * Holds, from another connection, what a migrator holds while it migrates: Kysely's advisory lock
 * on PostgreSQL, the write lock on SQLite (a transaction begun immediate).
 */
async function holdMigrationLock(dialect: string, url: string): Promise<() => Promise<void>> {
  if (dialect === 'sqlite') {
    const other = new SQLite(url.slice('sqlite:'.length));
    other.exec('begin immediate');
    return async () => {
      other.exec('rollback');
      other.close();
    };
  }
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  await other.query(`select pg_advisory_lock(3853314791062309107)`);
  return async () => {
    await other.query(`select pg_advisory_unlock(3853314791062309107)`);
    await other.end();
  };
}
