import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from '#kysely';
import { HOUR_MS, hourOf } from '../src/audit/activity.js';
import { Activity, ACTIVITY_HOURS, type ActivityReport } from '../src/audit/activity-report.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { MasterKey } from '../src/keys/master-key.js';
import { KyselyActivityStore } from '../src/storage/kysely-activity-store.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import { migrate } from '../src/storage/migrations.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import { type DialectName, migratedPostgres, rawDatabase, transferOn } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
// Organisations and client ids that sort alike in JavaScript and in either database's collation.
const ORGS = ['111222333', '123456782', '999999990', null] as const;
const CLIENTS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
const ACTIONS = ['token.issued', 'client_auth.failed', 'client.updated'] as const;
const TOP = 20;

interface RawEvent {
  at: number;
  action: string;
  target: string;
  organisation: string | null;
  details: string;
}

/** The report as computed from the stored events themselves: what the counts must always equal. */
function fromRawEvents(
  events: readonly RawEvent[],
  now: number,
  filter: { clientId?: string; rsin?: string } = {},
): ActivityReport {
  const since = hourOf(now) - (ACTIVITY_HOURS - 1) * HOUR_MS;
  const hours = Array.from({ length: ACTIVITY_HOURS }, (_, i) => ({ hour: since + i * HOUR_MS, issued: 0, failed: 0 }));
  const clients = new Map<string, { clientId: string; rsin: string | null; issued: number; failed: number }>();
  const organisations = new Map<string, { rsin: string | null; issued: number; failed: number }>();
  for (const e of events) {
    if (e.at < since || (e.action !== 'token.issued' && e.action !== 'client_auth.failed')) continue;
    if (filter.clientId !== undefined && e.target !== filter.clientId) continue;
    if (filter.rsin !== undefined && e.organisation !== filter.rsin) continue;
    const count = (JSON.parse(e.details) as { count?: number }).count;
    const field = e.action === 'token.issued' ? 'issued' : 'failed';
    const n = field === 'issued' ? 1 : (count ?? 1);
    hours[(hourOf(e.at) - since) / HOUR_MS]![field] += n;
    const c = clients.get(`${e.target} ${e.organisation}`) ?? {
      clientId: e.target,
      rsin: e.organisation,
      issued: 0,
      failed: 0,
    };
    c[field] += n;
    clients.set(`${e.target} ${e.organisation}`, c);
    const o = organisations.get(String(e.organisation)) ?? { rsin: e.organisation, issued: 0, failed: 0 };
    o[field] += n;
    organisations.set(String(e.organisation), o);
  }
  const total = (x: { issued: number; failed: number }) => x.issued + x.failed;
  const byName = (a: string | null, b: string | null) => ((a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0);
  return {
    since,
    hours,
    clients: [...clients.values()]
      .sort((a, b) => total(b) - total(a) || byName(a.clientId, b.clientId) || byName(a.rsin, b.rsin))
      .slice(0, TOP),
    organisations: [...organisations.values()]
      .sort((a, b) => total(b) - total(a) || byName(a.rsin, b.rsin))
      .slice(0, TOP),
  };
}

async function rawEvents(storage: Storage): Promise<RawEvent[]> {
  const rows = await storage.db
    .selectFrom('audit_events')
    .select(['at', 'action', 'target', 'organisation', 'details'])
    .execute();
  return rows.map((r) => ({ ...r, at: Number(r.at) }));
}

/** One audit write, as the server makes them: at once, buffered, or folded with its repeats. */
interface Write {
  way: 'record' | 'later' | 'repeated';
  /** Hours before the report's time (beyond 167: before the report's period). */
  hoursBack: number;
  /** Where in that hour: at its very start, a millisecond either side, or anywhere. */
  within: number;
  action: (typeof ACTIONS)[number];
  client: number;
  organisation: number;
  /** Further repeats of a folded event, this many ms apart. */
  repeats: number;
  gap: number;
  /** The folded event is stored after its first occurrence: its repeats then grow the stored count. */
  storedFirst: boolean;
}

const writeArb: fc.Arbitrary<Write> = fc.record({
  way: fc.constantFrom('record', 'later', 'repeated'),
  hoursBack: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: ACTIVITY_HOURS + 2 })),
  within: fc.oneof(fc.constantFrom(0, 1, HOUR_MS - 1), fc.integer({ min: 0, max: HOUR_MS - 1 })),
  action: fc.constantFrom(...ACTIONS),
  client: fc.integer({ min: 0, max: CLIENTS.length - 1 }),
  organisation: fc.integer({ min: 0, max: ORGS.length - 1 }),
  repeats: fc.integer({ min: 0, max: 4 }),
  gap: fc.oneof(fc.constantFrom(1, 1000), fc.integer({ min: 1, max: 90_000 })),
  storedFirst: fc.boolean(),
});

/** The tests of this file for one dialect: each dialect runs as a test file of its own. */
export function activityCountsTests(dialect: DialectName): void {
  describe(`activity counts kept per hour equal the audit events (${dialect})`, () => {
    let storage: Storage;
    let drop: (() => Promise<void>) | undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-activity-'));
    before(async () => {
      const database = dialect === 'postgres' ? await migratedPostgres() : undefined;
      drop = database?.drop;
      storage = await openStorage(database?.url, dir);
    });
    after(async () => {
      await storage?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the report equals the one computed from the raw events: hour boundaries, folded repeats, organisations, clients, pruning', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(writeArb, { minLength: 1, maxLength: 40 }),
          fc.array(writeArb, { maxLength: 15 }),
          // The report's moment within its hour, and a prune back to the hour of one of the first writes.
          fc.oneof(fc.constantFrom(0, 1, HOUR_MS - 1), fc.integer({ min: 0, max: HOUR_MS - 1 })),
          fc.option(fc.nat()),
          async (first, second, nowWithin, pruneAt) => {
            await storage.db.deleteFrom('audit_events').execute();
            await storage.db.deleteFrom('audit_hourly_counts').execute();
            const now = 1_900_000_000_000 - (1_900_000_000_000 % HOUR_MS) + nowWithin;
            let t = now;
            const audit = new AuditLog(
              new KyselyAuditStore(storage.db, storage.dialect),
              (err) => {
                throw err;
              },
              () => t,
            );
            const activity = new Activity(new KyselyActivityStore(storage.db), audit, () => t);
            const write = async (writes: Write[]) => {
              const atOf = (w: Write) => Math.min(now, hourOf(now) - w.hoursBack * HOUR_MS + w.within);
              // In the order of their time, as a server writes them.
              for (const w of [...writes].sort((a, b) => atOf(a) - atOf(b))) {
                t = atOf(w);
                const event = {
                  actor: CLIENTS[w.client]!,
                  action: w.action,
                  target: CLIENTS[w.client]!,
                  organisation: ORGS[w.organisation]!,
                  details: {},
                  ...(w.action === 'client_auth.failed' ? { reason: 'wrong_secret' } : {}),
                };
                if (w.way === 'record') await audit.record(event);
                else if (w.way === 'later') audit.recordLater(event, t);
                else
                  for (let i = 0; i <= w.repeats; i++) {
                    audit.recordRepeated(`${w.action} ${w.client} ${w.organisation}`, event);
                    if (i === 0 && w.storedFirst) await audit.flush();
                    t = Math.min(now, t + w.gap);
                  }
              }
              t = now;
            };
            const check = async () => {
              // Buffered events and open folds stored first, as the report stores them.
              await audit.flush(true);
              const raw = await rawEvents(storage);
              assert.deepEqual(await activity.report(), fromRawEvents(raw, now));
              for (const rsin of ORGS.filter((o) => o !== null))
                assert.deepEqual(await activity.report({ rsin }), fromRawEvents(raw, now, { rsin }), rsin);
              assert.deepEqual(await activity.report({ clientId: 'c1' }), fromRawEvents(raw, now, { clientId: 'c1' }));
            };
            await write(first);
            await check();
            // More repeats of the same folds (their stored counts grow) and new events.
            await write(second);
            await check();
            if (pruneAt !== null) {
              // Mid-hour unless the report's moment is on the hour: the hour it cuts keeps only its later events' counts.
              const retentionHours = first[pruneAt % first.length]!.hoursBack;
              await audit.prune(retentionHours / 24);
              await check();
            }
          },
        ),
        { seed: SEED, numRuns: 50 * SCALE },
      );
    });
  });

  describe(`registry import: the counts of the imported events (${dialect})`, () => {
    it('an imported registry reports what its events say', async () => {
      const dirs = [
        fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-activity-')),
        fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-activity-')),
      ];
      const databases = dialect === 'postgres' ? [await migratedPostgres(), await migratedPostgres()] : [];
      const [source, target] = await Promise.all(dirs.map((d, i) => openStorage(databases[i]?.url, d)));
      try {
        const now = 1_900_000_000_000 + 5 * 60_000;
        let t = now;
        const audit = new AuditLog(
          new KyselyAuditStore(source!.db, source!.dialect),
          () => {},
          () => t,
        );
        for (let i = 0; i < 120; i++) {
          t = now - ((i * 7_919_000) % ((ACTIVITY_HOURS + 3) * HOUR_MS));
          await audit.record({
            actor: CLIENTS[i % CLIENTS.length]!,
            action: ACTIONS[i % ACTIONS.length]!,
            target: CLIENTS[i % CLIENTS.length]!,
            organisation: ORGS[i % ORGS.length]!,
            details: i % 4 === 1 ? { count: i } : {},
          });
        }
        const masterKey = new MasterKey(crypto.randomBytes(32));
        const exported = JSON.parse(JSON.stringify(await exportRegistry(transferOn(source!, masterKey)))) as unknown;
        await importRegistry(transferOn(target!, masterKey), exported);
        const activity = new Activity(new KyselyActivityStore(target!.db), { flush: async () => {} }, () => now);
        const report = await activity.report();
        assert.deepEqual(report, fromRawEvents(await rawEvents(target!), now));
        assert.ok(report.hours.some((h) => h.issued > 0) && report.hours.some((h) => h.failed > 1));
      } finally {
        await Promise.all([source?.close(), target?.close()]);
        await Promise.all(databases.map((d) => d.drop()));
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      }
    });
  });

  describe(`migration 0015: the counts of the events of before (${dialect})`, () => {
    it('counts every event stored before the migration, as the writers count them', async () => {
      const earlier = await rawDatabase(dialect);
      let storage: Storage | undefined;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-activity-'));
      try {
        await migrate(earlier.db, dialect, '0014_notification_outbox');
        const now = 1_900_000_000_000 + 1234;
        const events: RawEvent[] = [];
        for (let i = 0; i < 400; i++) {
          const hour = hourOf(now) - (i % 180) * HOUR_MS;
          const at = Math.min(now, hour + [0, 1, HOUR_MS - 1, (i * 7919) % HOUR_MS][i % 4]!);
          const action = ACTIONS[i % 3]!;
          const folded = action === 'client_auth.failed' && i % 5 === 0;
          events.push({
            at,
            action,
            target: CLIENTS[i % CLIENTS.length]!,
            organisation: ORGS[i % ORGS.length]!,
            details: JSON.stringify(folded ? { lastAt: at + 10, count: (i % 9) + 2 } : {}),
          });
        }
        await earlier.db
          .insertInto('audit_events')
          .values(events.map((e) => ({ ...e, actor: e.target, address: null, reason: null })))
          .execute();
        await earlier.db.destroy();
        storage = await openStorage(earlier.url, dir, { create: false });
        const activity = new Activity(new KyselyActivityStore(storage.db), { flush: async () => {} }, () => now);
        assert.deepEqual(await activity.report(), fromRawEvents(events, now));
        assert.deepEqual(
          await activity.report({ rsin: '123456782' }),
          fromRawEvents(events, now, { rsin: '123456782' }),
        );
        // Events of the period that the report leaves out were counted too: nothing lost before it either.
        const { n } = await storage.db
          .selectFrom('audit_hourly_counts')
          .select(sql<number>`sum(count)`.as('n'))
          .executeTakeFirstOrThrow();
        const counted = events.filter((e) => e.action !== 'client.updated');
        assert.equal(
          Number(n),
          counted.reduce((s, e) => s + ((JSON.parse(e.details) as { count?: number }).count ?? 1), 0),
        );
      } finally {
        await storage?.close();
        await earlier.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
