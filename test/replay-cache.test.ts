import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from '#kysely';
import { replayKey } from '../src/limits/replay-cache.js';
import { MAX_BATCH, KyselyReplayCache, type UsedOnceRow } from '../src/storage/kysely-replay-cache.js';
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

/**
 * Holds `racers` retakes once armed, until the test releases them: the moment between a conflicting
 * insert and the retake's update, where another process's purge may delete the expired row.
 */
function retakeGate(racers: number) {
  let armed = false;
  let waiting = 0;
  let allWaiting!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((resolve) => (allWaiting = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    retakes: 0,
    arm() {
      armed = true;
    },
    async pass(): Promise<void> {
      if (!armed) return;
      this.retakes++;
      if (++waiting === racers) allWaiting();
      await released;
    },
    /** Settles when every racer waits at the gate; fails (never hangs) when they do not get there. */
    allWaiting(): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${waiting} of ${racers} uses reached the retake`)), 20_000);
      });
      return Promise.race([arrived, late]).finally(() => clearTimeout(timer));
    },
    release,
  };
}

/** The used_once cache with its retake step held at a gate. */
class GatedReplayCache extends KyselyReplayCache {
  constructor(
    db: Storage['db'],
    now: () => number,
    private readonly gate: ReturnType<typeof retakeGate>,
  ) {
    super(db, now);
  }

  protected override async retake(use: UsedOnceRow, t: number): Promise<boolean> {
    await this.gate.pass();
    return super.retake(use, t);
  }
}

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

    it('an expired row purged between the conflicting insert and the retake is taken again by exactly one racer', async () => {
      // Two processes both met the expired row (their inserts conflicted); a purge (a third
      // process's, say) deletes it before either retakes it. The retakes' update then finds
      // nothing, and the insert after it must decide: one racer wins, the other is a replay.
      const gate = retakeGate(2);
      const one = new GatedReplayCache(a.db, clock, gate);
      const other = new GatedReplayCache(b.db, clock, gate);
      // A first use each: each cache's once-a-minute purge runs now, not in the middle of the race.
      await Promise.all([
        one.useOnce('dpop', ids(1)[0]!, t.now + 60_000),
        other.useOnce('dpop', ids(1)[0]!, t.now + 60_000),
      ]);
      const [id] = ids(1);
      assert.equal(await one.useOnce('dpop', id!, t.now + 1000), true);
      t.now += 2000;
      const until = t.now + 60_000;
      gate.arm();
      const racing = Promise.all([one.useOnce('dpop', id!, until), other.useOnce('dpop', id!, until)]);
      await gate.allWaiting();
      const idHash = replayKey(id!);
      const purged =
        await sql`delete from used_once where namespace = 'dpop' and id_hash = ${idHash} and expires_at <= ${t.now}`.execute(
          b.db,
        );
      assert.equal(Number(purged.numAffectedRows), 1, 'the expired row was there until the purge');
      gate.release();
      const results = await racing;
      assert.equal(gate.retakes, 2, 'both uses went through the retake');
      assert.equal(count(results), 1, 'exactly one racer takes the purged identifier');
      const rows = await sql<{
        expires_at: number | string;
      }>`select expires_at from used_once where namespace = 'dpop' and id_hash = ${idHash}`.execute(a.db);
      assert.deepEqual(
        rows.rows.map((r) => Number(r.expires_at)),
        [until],
        "the winner's use is recorded, with its own expiry",
      );
      assert.equal(await one.useOnce('dpop', id!, until), false, 'a later use is a replay');
      assert.equal(await other.useOnce('dpop', id!, until), false, 'at the other process too');
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
