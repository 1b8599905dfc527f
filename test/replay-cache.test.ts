import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { MAX_BATCH, KyselyReplayCache } from '../src/storage/kysely-replay-cache.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import { freshPostgres } from './helpers.js';

/**
 * The used_once table as DPoP proofs and client assertions spend it: uses that arrive together go
 * to the database as one statement, and each still learns on its own whether it came first. Two
 * caches on connections of their own stand for two server processes sharing a registry.
 */

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-replay-'));
const ids = (n: number) => Array.from({ length: n }, () => crypto.randomBytes(12).toString('base64url'));
const count = (results: boolean[]) => results.filter(Boolean).length;

for (const dialect of ['SQLite', 'PostgreSQL'] as const) {
  describe(`the used_once replay cache (${dialect})`, () => {
    let a: Storage;
    let b: Storage;
    let dropDatabase: (() => Promise<void>) | undefined;
    const t = { now: Date.now() };
    const clock = () => t.now;

    before(async () => {
      if (dialect === 'PostgreSQL') {
        const db = await freshPostgres();
        dropDatabase = db.drop;
        a = await openStorage(db.url, tmp());
        b = await openStorage(db.url, tmp());
      } else {
        const dir = tmp();
        a = await openStorage(undefined, dir);
        b = await openStorage(undefined, dir);
      }
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await dropDatabase?.();
    });

    it('uses made together are each decided: new ones pass, repeats within the batch and later ones do not', async () => {
      const cache = new KyselyReplayCache(a.db, clock);
      const fresh = ids(10);
      const until = t.now + 60_000;
      // Every identifier twice in the same turn: one statement, one winner each.
      const together = await Promise.all([...fresh, ...fresh].map((id) => cache.useOnce('dpop', id, until)));
      assert.deepEqual(together.slice(0, 10), Array(10).fill(true), 'the first use of each');
      assert.deepEqual(together.slice(10), Array(10).fill(false), 'the repeat in the same batch');
      const later = await Promise.all(fresh.map((id) => cache.useOnce('dpop', id, until)));
      assert.deepEqual(later, Array(10).fill(false), 'a replay in a later batch');
      // Namespaces are separate: the same identifier as another kind of use is new.
      assert.equal(await cache.useOnce('assertion', fresh[0]!, until), true);
    });

    it(`more uses at once than one statement takes (${MAX_BATCH}) are all decided`, async () => {
      const cache = new KyselyReplayCache(a.db, clock);
      const many = ids(MAX_BATCH * 2 + 7);
      const until = t.now + 60_000;
      const first = await Promise.all(many.map((id) => cache.useOnce('dpop', id, until)));
      assert.equal(count(first), many.length);
      const again = await Promise.all(many.map((id) => cache.useOnce('dpop', id, until)));
      assert.equal(count(again), 0);
    });

    it('two processes racing the same identifiers: each is accepted exactly once', async () => {
      const one = new KyselyReplayCache(a.db, clock);
      const other = new KyselyReplayCache(b.db, clock);
      const raced = ids(100);
      const until = t.now + 60_000;
      const [x, y] = await Promise.all([
        Promise.all(raced.map((id) => one.useOnce('dpop', id, until))),
        Promise.all(raced.map((id) => other.useOnce('dpop', id, until))),
      ]);
      raced.forEach((_, i) => assert.equal(Number(x[i]) + Number(y[i]), 1, `identifier ${i}: one winner`));
    });

    it('an identifier whose time is over may be used again, once; one still live may not', async () => {
      const one = new KyselyReplayCache(a.db, clock);
      const other = new KyselyReplayCache(b.db, clock);
      const [expiring, live] = ids(2);
      assert.equal(await one.useOnce('dpop', expiring!, t.now + 1000), true);
      assert.equal(await one.useOnce('dpop', live!, t.now + 60_000), true);
      t.now += 2000;
      const retaken = await Promise.all([
        one.useOnce('dpop', expiring!, t.now + 60_000),
        other.useOnce('dpop', expiring!, t.now + 60_000),
      ]);
      assert.equal(count(retaken), 1, 'retaken by one of the two');
      assert.equal(await other.useOnce('dpop', live!, t.now + 60_000), false);
    });

    it('a database that fails refuses every use of the batch with its error, and none is spent', async () => {
      const cache = new KyselyReplayCache(a.db, clock);
      const batch = ids(3);
      const until = t.now + 60_000;
      // The table away (from the other connection, as an operator might): every insert fails.
      await sql`alter table used_once rename to used_once_away`.execute(b.db);
      let results;
      try {
        results = await Promise.allSettled(batch.map((id) => cache.useOnce('dpop', id, until)));
      } finally {
        await sql`alter table used_once_away rename to used_once`.execute(b.db);
      }
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'rejected', 'rejected'],
      );
      assert.match(String((results[0] as PromiseRejectedResult).reason), /used_once/);
      // Nothing was recorded: the same identifiers are new once the table is back.
      assert.equal(count(await Promise.all(batch.map((id) => cache.useOnce('dpop', id, until)))), 3);
    });
  });
}
