import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from '#kysely';
import { MemoryOrganisationStore } from '../src/organisations/memory-organisation-store.js';
import type { Organisation } from '../src/organisations/model.js';
import type { OrganisationStore } from '../src/organisations/organisation-store.js';
import { KyselyOrganisationStore } from '../src/storage/kysely-organisation-store.js';
import { migrate } from '../src/storage/migrations.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import type { NewClientRow } from '../src/storage/schema.js';
import { clientRowAt, freshPostgres, rawDatabase } from './helpers.js';

// RSINs passing the 11-test, in sort order.
const [R1, R2, R3, R4] = ['002220647', '111222333', '123456782', '999999990'];
const T = 1_700_000_000_000;

/** A store under test, and a way to register clients beside it (the counts come from them). */
interface Fixture {
  store: OrganisationStore;
  addClient(clientId: string, rsin: string, enabled: boolean): Promise<void>;
  close(): Promise<void>;
}

function clientRow(clientId: string, rsin: string, enabled: boolean): NewClientRow {
  return clientRowAt(clientId, rsin, enabled, T);
}

function memoryFixture(): Fixture {
  const clients = new Map<string, { rsin: string; enabled: boolean }>();
  const store = new MemoryOrganisationStore((rsin) => {
    const mine = [...clients.values()].filter((c) => c.rsin === rsin);
    return { clientCount: mine.length, enabledClientCount: mine.filter((c) => c.enabled).length };
  });
  return {
    store,
    async addClient(clientId, rsin, enabled) {
      clients.set(clientId, { rsin, enabled });
    },
    async close() {},
  };
}

function storageFixture(storage: Storage, cleanUp: () => Promise<void>): Fixture {
  return {
    store: new KyselyOrganisationStore(storage.db),
    async addClient(clientId, rsin, enabled) {
      await storage.db
        .insertInto('clients')
        .values(clientRow(clientId, rsin, enabled))
        .execute();
    },
    async close() {
      await storage.close();
      await cleanUp();
    },
  };
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-orgs-'));

const FIXTURES: Record<string, () => Promise<Fixture>> = {
  memory: async () => memoryFixture(),
  sqlite: async () => {
    const dir = tempDir();
    return storageFixture(await openStorage(undefined, dir), async () =>
      fs.rmSync(dir, { recursive: true, force: true }),
    );
  },
  postgres: async () => {
    const db = await freshPostgres();
    return storageFixture(await openStorage(db.url, tempDir()), db.drop);
  },
};

const org = (rsin: string, name: string, enabled = true, at = T): Organisation => ({
  rsin,
  name,
  enabled,
  createdAt: at,
  updatedAt: at,
});

for (const [kind, open] of Object.entries(FIXTURES)) {
  describe(`OrganisationStore contract: ${kind}`, () => {
    let f: Fixture;
    before(async () => {
      f = await open();
    });
    after(async () => {
      await f.close();
    });

    it('inserts and reads back every field; a second insert of the RSIN changes nothing and says so', async () => {
      const far = 253_402_300_799_999;
      const a = { ...org(R1, "Gemeente 's-Hertogenbosch — Ĳsselstein 🏛", false, T), updatedAt: far };
      assert.equal(await f.store.insert(a), true);
      assert.deepEqual(await f.store.get(R1), a);
      assert.equal(await f.store.insert(org(R1, 'Other')), false);
      assert.deepEqual(await f.store.get(R1), a);
      assert.equal(await f.store.get(R2), undefined);
      // A returned organisation is a copy: changing it changes nothing stored.
      (await f.store.get(R1))!.name = 'changed';
      assert.equal((await f.store.get(R1))!.name, a.name);
    });

    it('updates the fields given, returns the stored organisation, and creates none for an unknown RSIN', async () => {
      await f.store.insert(org(R2, 'Two'));
      assert.deepEqual(await f.store.update(R2, { name: 'Renamed', updatedAt: T + 5 }), {
        ...org(R2, 'Renamed'),
        updatedAt: T + 5,
      });
      assert.deepEqual(await f.store.update(R2, { enabled: false, updatedAt: T + 6 }), {
        ...org(R2, 'Renamed', false),
        updatedAt: T + 6,
      });
      assert.deepEqual(await f.store.get(R2), { ...org(R2, 'Renamed', false), updatedAt: T + 6 });
      assert.equal(await f.store.update(R4, { name: 'ghost', updatedAt: T }), undefined);
      assert.equal(await f.store.get(R4), undefined);
    });

    it('counts clients per RSIN, total and enabled, whether or not the organisation exists', async () => {
      await f.addClient('c-3a', R3, true);
      await f.addClient('c-3b', R3, false);
      await f.addClient('c-3c', R3, true);
      await f.addClient('c-2a', R2, false);
      await f.addClient('c-4a', R4, true);
      assert.deepEqual(await f.store.clientCounts(R3), { clientCount: 3, enabledClientCount: 2 });
      assert.deepEqual(await f.store.clientCounts(R2), { clientCount: 1, enabledClientCount: 0 });
      assert.deepEqual(await f.store.clientCounts(R1), { clientCount: 0, enabledClientCount: 0 });
      assert.deepEqual(
        await f.store.clientCounts(R4),
        { clientCount: 1, enabledClientCount: 1 },
        'R4 has a client but no organisation',
      );
    });

    it('lists ordered by RSIN with the counts, pages with a total that ignores paging, and filters', async () => {
      await f.store.insert(org(R3, 'Provincie 100%_zeker'));
      const all = await f.store.list({ limit: 100, offset: 0 });
      assert.equal(all.total, 3);
      assert.deepEqual(
        all.items.map((o) => [o.rsin, o.clientCount, o.enabledClientCount]),
        [
          [R1, 0, 0],
          [R2, 1, 0],
          [R3, 3, 2],
        ],
      );
      assert.deepEqual(all.items[1], {
        ...org(R2, 'Renamed', false),
        updatedAt: T + 6,
        clientCount: 1,
        enabledClientCount: 0,
      });
      const page = await f.store.list({ limit: 1, offset: 1 });
      assert.deepEqual(
        page.items.map((o) => o.rsin),
        [R2],
      );
      assert.equal(page.total, 3);
      assert.deepEqual((await f.store.list({ limit: 10, offset: 3 })).items, []);
      const disabled = await f.store.list({ enabled: false, limit: 100, offset: 0 });
      assert.deepEqual(
        disabled.items.map((o) => o.rsin),
        [R1, R2],
      );
      assert.equal(disabled.total, 2);
      assert.deepEqual(
        (await f.store.list({ enabled: true, limit: 100, offset: 0 })).items.map((o) => o.rsin),
        [R3],
      );
      const search = async (q: string) => (await f.store.list({ q, limit: 100, offset: 0 })).items.map((o) => o.rsin);
      assert.deepEqual(await search('RENAMED'), [R2], 'case-insensitive');
      assert.deepEqual(await search('hertogenbosch'), [R1]);
      assert.deepEqual(await search('Ĳsselstein 🏛'), [R1], 'letters beyond ASCII, as written');
      assert.deepEqual(await search('2220'), [R1], 'RSIN substring');
      assert.deepEqual(await search('%_'), [R3], 'wildcards are text');
      assert.deepEqual(await search('_'), [R3]);
      assert.deepEqual(await search('\\'), []);
      const none = await f.store.list({ q: 'nothing like it', limit: 100, offset: 0 });
      assert.deepEqual(none, { items: [], total: 0 });
      const both = await f.store.list({ q: 'e', enabled: false, limit: 1, offset: 0 });
      assert.deepEqual([both.items.map((o) => o.rsin), both.total], [[R1], 2]);
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migrations 0003_organisations and 0004_audit_event_organisations: ${dialect}`, () => {
    it("turns existing clients' RSINs into enabled organisations named after them, keeps the audit trail and adds its organisation column", async () => {
      const earlier = await rawDatabase(dialect);
      let storage: Storage | undefined;
      try {
        await migrate(earlier.db, dialect, '0002_weak_secrets_and_failure_reasons');
        await earlier.db
          .insertInto('clients')
          .values([clientRow('a-1', R3, true), clientRow('a-2', R3, false), clientRow('b-1', R1, true)])
          .execute();
        await sql`INSERT INTO audit_events (at, actor, action, target, address, details, reason) VALUES (${T}, 'cli', 'client.created', 'a-1', NULL, '{}', NULL)`.execute(
          earlier.db,
        );
        await sql`INSERT INTO audit_events (at, actor, action, target, address, details, reason) VALUES (${T}, 'cli', 'secret.revoked', 'b-1', NULL, '{}', NULL)`.execute(
          earlier.db,
        );
        await sql`INSERT INTO audit_events (at, actor, action, target, address, details, reason) VALUES (${T}, 'a-1', 'token.issued', 'a-1', NULL, '{}', NULL)`.execute(
          earlier.db,
        );
        await sql`INSERT INTO audit_events (at, actor, action, target, address, details, reason) VALUES (${T}, 'cli', 'client.deleted', 'gone', NULL, '{}', NULL)`.execute(
          earlier.db,
        );
        await earlier.db.destroy();

        const started = Date.now();
        storage = await openStorage(earlier.url, tempDir(), { create: false });
        const store = new KyselyOrganisationStore(storage.db);
        const { items, total } = await store.list({ limit: 100, offset: 0 });
        assert.equal(total, 2);
        assert.deepEqual(
          items.map((o) => [o.rsin, o.name, o.enabled, o.clientCount, o.enabledClientCount]),
          [
            [R1, R1, true, 1, 1],
            [R3, R3, true, 2, 1],
          ],
        );
        for (const o of items) {
          assert.ok(o.createdAt >= started - 1000 && o.createdAt <= Date.now(), 'created at migration time');
          assert.equal(o.updatedAt, o.createdAt);
        }
        // Changes of clients that still exist are filed under their organisation (0004); the many
        // token events and a deleted client's are left without one.
        const events = await storage.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
        assert.deepEqual(
          events.map((e) => [e.action, e.organisation]),
          [
            ['client.created', R3],
            ['secret.revoked', R1],
            ['token.issued', null],
            ['client.deleted', null],
          ],
        );
        await storage.db
          .insertInto('audit_events')
          .values({
            at: T,
            actor: 'cli',
            action: 'x',
            target: 'y',
            address: null,
            reason: null,
            details: '{}',
            organisation: R3,
          })
          .execute();
        assert.equal(
          (await storage.db.selectFrom('audit_events').select('id').where('organisation', '=', R3).execute()).length,
          2,
        );
        const indexes =
          dialect === 'sqlite'
            ? (
                await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index'`.execute(storage.db)
              ).rows.map((r) => r.name)
            : (
                await sql<{
                  name: string;
                }>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'`.execute(storage.db)
              ).rows.map((r) => r.name);
        assert.ok(indexes.includes('clients_rsin_enabled'), indexes.join());
        assert.ok(indexes.includes('audit_events_organisation'), indexes.join());
        assert.ok(!indexes.includes('clients_rsin'), 'the single-column index is replaced by the wider one');
      } finally {
        await storage?.close();
        await earlier.drop();
      }
    });
  });
}
