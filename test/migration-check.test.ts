import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
