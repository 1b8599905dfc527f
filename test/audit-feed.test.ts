import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from '#kysely';
import pg from 'pg';
import type { AuditFeed, FedEvent } from '../src/audit/audit-feed.js';
import type { AuditRows } from '../src/audit/audit-store.js';
import { KyselyAuditFeed } from '../src/storage/kysely-audit-feed.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import { type DialectName, DIALECTS, migratedPostgres } from './helpers.js';

const T0 = Date.UTC(2030, 0, 1);

/** One audit row per action, in AuditRows form. */
function rows(...actions: string[]): AuditRows {
  return actions.flatMap((action, i) => [T0 + i, 'cli', action, 't', null, null, '{}', null]);
}

async function withFeed(
  dialect: DialectName,
  run: (s: { storage: Storage; feed: AuditFeed; store: KyselyAuditStore; url: string | undefined }) => Promise<void>,
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-audit-feed-'));
  const pgDb = dialect === 'postgres' ? await migratedPostgres() : undefined;
  const storage = await openStorage(pgDb?.url, dir);
  try {
    await run({
      storage,
      feed: new KyselyAuditFeed(storage.db, storage.dialect),
      store: new KyselyAuditStore(storage.db, storage.dialect),
      url: pgDb?.url,
    });
  } finally {
    await storage.close();
    await pgDb?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const actions = (events: FedEvent[]) => events.map((e) => e.action);

/**
 * Reads until `n` events are there (at most 10 s): on PostgreSQL a transaction another test file
 * holds open anywhere in the cluster keeps later rows back until it ends.
 */
async function readAll(feed: AuditFeed, position: string, limit: number, n: number): Promise<FedEvent[]> {
  const end = Date.now() + 10_000;
  for (;;) {
    const events = await feed.read(position, limit);
    if (events.length >= n || Date.now() > end) return events;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PostgreSQL: until every row there is final (no transaction older than them still runs), so that a new sink starts after them. */
async function settled(storage: Storage): Promise<void> {
  if (storage.dialect !== 'postgres') return;
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const { rows } = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM audit_events WHERE tx >= pg_snapshot_xmin(pg_current_snapshot())`.execute(storage.db);
    if (Number(rows[0]!.n) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const dialect of DIALECTS) {
  describe(`the audit trail as a stream for sinks (${dialect})`, () => {
    it('a new sink starts after the events there are; later ones come in order, a changed one again with its new details', async () => {
      await withFeed(dialect, async ({ feed, store, storage }) => {
        await store.append(rows('before-1', 'before-2'));
        await settled(storage);
        await feed.ensureSink('syslog', T0);
        // A second process making the row again changes nothing.
        await store.append(rows('a'));
        const hold = await feed.hold('syslog', 'p1', T0, T0 + 10_000);
        assert.ok(hold.held);
        await feed.ensureSink('syslog', T0);
        assert.deepEqual(actions(await readAll(feed, hold.position, 10, 1)), ['a']);
        const ids = await store.appendReturningIds(rows('b', 'c'));
        const all = await readAll(feed, hold.position, 10, 3);
        assert.deepEqual(actions(all), ['a', 'b', 'c']);
        assert.deepEqual(
          actions(await feed.read(all[0]!.position, 10)),
          ['b', 'c'],
          'from each position, what follows it',
        );
        assert.deepEqual(actions(await feed.read(hold.position, 2)), ['a', 'b'], 'at most the limit');
        const end = all[2]!.position;
        assert.deepEqual(await feed.read(end, 10), []);
        // A folded event's count grows: it is handed out again, after the events before the change.
        await store.updateDetails([[ids[0]!, JSON.stringify({ count: 5 })]]);
        await store.append(rows('d'));
        const again = await readAll(feed, end, 10, 2);
        assert.deepEqual(
          again.map((e) => [e.action, JSON.parse(e.details)]),
          [
            ['b', { count: 5 }],
            ['d', {}],
          ],
        );
        assert.equal(again[0]!.id, ids[0], 'the same event, by its id');
        // Changed twice before being read: handed out once, as it is now; and again later, after others.
        await store.updateDetails([[ids[1]!, JSON.stringify({ count: 2 })]]);
        await store.updateDetails([[ids[0]!, JSON.stringify({ count: 9 })]]);
        await store.updateDetails([[ids[1]!, JSON.stringify({ count: 3 })]]);
        assert.deepEqual(
          (await readAll(feed, again[1]!.position, 10, 2)).map((e) => [e.action, JSON.parse(e.details)]),
          [
            ['b', { count: 9 }],
            ['c', { count: 3 }],
          ],
        );
      });
    });

    it('one holder at a time: a lapsed lease is taken over, and the old holder can no longer move the position', async () => {
      await withFeed(dialect, async ({ feed, store }) => {
        await feed.ensureSink('jsonl', T0);
        const p1 = await feed.hold('jsonl', 'p1', T0, T0 + 10_000);
        assert.ok(p1.held);
        assert.deepEqual(await feed.hold('jsonl', 'p2', T0 + 5000, T0 + 15_000), { held: false });
        // The holder renews its own lease.
        assert.ok((await feed.hold('jsonl', 'p1', T0 + 6000, T0 + 16_000)).held);
        assert.deepEqual(await feed.hold('jsonl', 'p2', T0 + 15_000, T0 + 25_000), { held: false });
        await store.append(rows('a', 'b'));
        const events = await readAll(feed, p1.position, 10, 2);
        assert.ok(await feed.advance('jsonl', 'p1', events[0]!.position, T0 + 7000, T0 + 17_000));
        // p1 stalls past its lease; p2 takes the sink where p1 left it.
        const p2 = await feed.hold('jsonl', 'p2', T0 + 17_000, T0 + 27_000);
        assert.deepEqual(p2, { held: true, position: events[0]!.position });
        assert.equal(await feed.advance('jsonl', 'p1', events[1]!.position, T0 + 18_000, T0 + 28_000), false);
        assert.deepEqual(await feed.hold('jsonl', 'p1', T0 + 18_000, T0 + 28_000), { held: false });
        // A stopping holder gives the sink up: the next takes it at once.
        await feed.release('jsonl', 'p1');
        assert.deepEqual(await feed.hold('jsonl', 'p3', T0 + 18_000, T0 + 28_000), { held: false }, 'not p1’s to give');
        await feed.release('jsonl', 'p2');
        assert.deepEqual(await feed.hold('jsonl', 'p3', T0 + 18_000, T0 + 28_000), {
          held: true,
          position: events[0]!.position,
        });
        // Sinks are independent.
        await feed.ensureSink('syslog', T0);
        assert.ok((await feed.hold('syslog', 'p1', T0 + 18_000, T0 + 28_000)).held);
      });
    });

    it('trim: beyond `keep` waiting events, the position that leaves the newest `keep`, and how many it skips', async () => {
      await withFeed(dialect, async ({ feed, store }) => {
        await feed.ensureSink('syslog', T0);
        const hold = await feed.hold('syslog', 'p1', T0, T0 + 10_000);
        assert.ok(hold.held);
        const ids = await store.appendReturningIds(rows(...Array.from({ length: 10 }, (_, i) => `e${i}`)));
        // A changed event counts once, at its new place.
        await store.updateDetails([[ids[2]!, JSON.stringify({ count: 2 })]]);
        await readAll(feed, hold.position, 20, 10);
        assert.equal(await feed.trim(hold.position, 10), undefined);
        assert.equal(await feed.trim(hold.position, 11), undefined);
        const trimmed = await feed.trim(hold.position, 3);
        assert.ok(trimmed);
        assert.equal(trimmed.skipped, 7);
        assert.deepEqual(actions(await readAll(feed, trimmed.position, 10, 3)), ['e8', 'e9', 'e2']);
        assert.equal(await feed.trim(trimmed.position, 3), undefined);
      });
    });
  });
}

describe('the audit stream on PostgreSQL: rows of transactions still open are never passed', () => {
  it('an event committed after a later one (lower id, written first) is handed out before it, not skipped', async () => {
    await withFeed('postgres', async ({ feed, store, url }) => {
      await feed.ensureSink('syslog', T0);
      const hold = await feed.hold('syslog', 'p1', T0, T0 + 10_000);
      assert.ok(hold.held);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        // Another process's batch: written (its id and transaction taken) but not committed yet.
        await other.query('BEGIN');
        await other.query(
          "INSERT INTO audit_events (at, actor, action, target, details) VALUES ($1, 'cli', 'slow', 't', '{}')",
          [T0],
        );
        await store.append(rows('quick'));
        // The quick one is committed, but a row may still come before it: nothing is handed out yet.
        assert.deepEqual(await feed.read(hold.position, 10), []);
        assert.equal(await feed.trim(hold.position, 0), undefined, 'nor dropped');
        await other.query('COMMIT');
        const events = await readAll(feed, hold.position, 10, 2);
        assert.deepEqual(actions(events), ['slow', 'quick']);
        assert.ok(events[0]!.id < events[1]!.id);
      } finally {
        await other.end();
      }
    });
  });
});
