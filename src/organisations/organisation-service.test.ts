import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditLog } from '../audit/audit-log.js';
import { MemoryAuditStore } from '../audit/memory-audit-store.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { type Change, LocalChangeFeed } from '../changes/change-feed.js';
import { MemoryOrganisationStore } from './memory-organisation-store.js';
import type { ClientCounts } from './model.js';
import { OrganisationService } from './organisation-service.js';

const ADMIN = { id: 'admin-1', address: '192.0.2.7' };
// RSINs passing the 11-test.
const A = '123456782';
const B = '111222333';
const C = '002220647';

function auditLog(): AuditLog {
  return new AuditLog(new MemoryAuditStore());
}

async function setUp(clients: Record<string, ClientCounts> = {}) {
  let t = 1_700_000_000_000;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const audit = auditLog();
  const feed = new LocalChangeFeed();
  const published: Change[] = [];
  feed.onChange((c) => published.push(c));
  const store = new MemoryOrganisationStore((rsin) => clients[rsin] ?? { clientCount: 0, enabledClientCount: 0 });
  const service = new OrganisationService(store, audit, feed, clock.now);
  return { service, audit, published, clock, events: () => audit.list() };
}

function rejectsWith(
  promise: Promise<unknown>,
  type: typeof ValidationError | typeof NotFoundError | typeof ConflictError,
  field?: string,
) {
  return assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    if (field !== undefined) assert.equal((err as ValidationError).field, field);
    return true;
  });
}

describe('OrganisationService', () => {
  it('creates an organisation, audits it with who and from where, and announces it', async () => {
    const { service, published, events, clock } = await setUp();
    const created = await service.create({ rsin: A, name: 'Gemeente Voorbeeld' }, ADMIN);
    assert.deepEqual(created, {
      rsin: A,
      name: 'Gemeente Voorbeeld',
      enabled: true,
      createdAt: clock.now(),
      updatedAt: clock.now(),
    });
    assert.deepEqual(await service.get(A), { ...created, clientCount: 0, enabledClientCount: 0 });
    const [event, ...rest] = await events();
    assert.equal(rest.length, 0);
    assert.equal(event!.action, 'organisation.created');
    assert.equal(event!.actor, 'admin-1');
    assert.equal(event!.address, '192.0.2.7');
    assert.equal(event!.target, A);
    assert.equal(event!.organisation, A, "filed under the organisation's own RSIN");
    assert.deepEqual(event!.details.after, created);
    assert.deepEqual(published, [{ kind: 'organisation', rsin: A }]);
  });

  it('refuses a second organisation with the same RSIN, changing nothing', async () => {
    const { service, published, events } = await setUp();
    await service.create({ rsin: A, name: 'First' }, ADMIN);
    await rejectsWith(service.create({ rsin: A, name: 'Second' }, ADMIN), ConflictError);
    assert.equal((await service.get(A)).name, 'First');
    assert.equal((await events()).length, 1);
    assert.equal(published.length, 1);
  });

  it('refuses RSINs failing the 11-test and names that are empty, too long or hold control characters', async () => {
    const { service, events } = await setUp();
    for (const rsin of ['123456789', '12345678', '1234567820', 'abcdefghi', '', ' 23456782'])
      await rejectsWith(service.create({ rsin, name: 'x' }, ADMIN), ValidationError, 'rsin');
    await rejectsWith(service.create({ rsin: 42 as unknown as string, name: 'x' }, ADMIN), ValidationError, 'rsin');
    const bad = [
      '',
      '   ',
      'x'.repeat(201),
      'a\nb',
      'a\tb',
      'a\u0000b',
      'a\u007fb',
      'a\u0085b',
      'a\u2028b',
      'evil\u202egnp.exe',
      'a\u2066b',
      'a\ud800b',
    ];
    for (const name of bad) await rejectsWith(service.create({ rsin: A, name }, ADMIN), ValidationError, 'name');
    assert.equal((await events()).length, 0);
    // At the bounds, and letters of any script.
    await service.create({ rsin: A, name: 'x'.repeat(200) }, ADMIN);
    await service.create({ rsin: B, name: "Gemeente 's-Hertogenbosch — Ĳsselstein 🏛" }, ADMIN);
    assert.equal((await service.get(B)).name, "Gemeente 's-Hertogenbosch — Ĳsselstein 🏛");
  });

  it('gets an organisation with the counts of its clients; unknown is not found, malformed is invalid', async () => {
    const { service } = await setUp({ [A]: { clientCount: 3, enabledClientCount: 2 } });
    await service.create({ rsin: A, name: 'A' }, ADMIN);
    const found = await service.get(A);
    assert.equal(found.clientCount, 3);
    assert.equal(found.enabledClientCount, 2);
    await rejectsWith(service.get(B), NotFoundError);
    await rejectsWith(service.get('123456789'), ValidationError, 'rsin');
  });

  it('lists by RSIN with paging, filters and counts, and refuses unbounded pages', async () => {
    const { service } = await setUp({ [B]: { clientCount: 5, enabledClientCount: 4 } });
    await service.create({ rsin: B, name: 'Gemeente Beta' }, ADMIN);
    await service.create({ rsin: A, name: 'Provincie 100%_zeker' }, ADMIN);
    await service.create({ rsin: C, name: 'Waterschap Gamma' }, ADMIN);
    await service.disable(C, ADMIN);
    const all = await service.list({ limit: 100, offset: 0 });
    assert.deepEqual(
      all.items.map((o) => o.rsin),
      [C, B, A],
    );
    assert.equal(all.total, 3);
    assert.deepEqual(
      all.items.map((o) => [o.clientCount, o.enabledClientCount]),
      [
        [0, 0],
        [5, 4],
        [0, 0],
      ],
    );
    const page = await service.list({ limit: 1, offset: 1 });
    assert.deepEqual(
      page.items.map((o) => o.rsin),
      [B],
    );
    assert.equal(page.total, 3);
    assert.deepEqual(
      (await service.list({ enabled: false, limit: 100, offset: 0 })).items.map((o) => o.rsin),
      [C],
    );
    assert.deepEqual(
      (await service.list({ q: 'GEMEENTE', limit: 100, offset: 0 })).items.map((o) => o.rsin),
      [B],
    );
    assert.deepEqual(
      (await service.list({ q: '2220', limit: 100, offset: 0 })).items.map((o) => o.rsin),
      [C],
    );
    // LIKE's wildcards are searched for as text.
    assert.deepEqual(
      (await service.list({ q: '%_', limit: 100, offset: 0 })).items.map((o) => o.rsin),
      [A],
    );
    assert.equal((await service.list({ q: '_', limit: 100, offset: 0 })).total, 1);
    for (const filter of [
      { limit: 0, offset: 0 },
      { limit: 1001, offset: 0 },
      { limit: 1.5, offset: 0 },
      { limit: 10, offset: -1 },
      { limit: 10, offset: 0, q: 'x'.repeat(101) },
      { limit: 10, offset: 0, q: 'a\u0000' },
    ]) {
      await rejectsWith(service.list(filter), ValidationError);
    }
  });

  it('renames with before and after in the audit trail; a rename to the same name changes and audits nothing', async () => {
    const { service, published, events, clock } = await setUp();
    const created = await service.create({ rsin: A, name: 'Old' }, ADMIN);
    clock.advance(1000);
    const renamed = await service.update(A, { name: 'New' }, { id: 'cli' });
    assert.deepEqual(renamed, { ...created, name: 'New', updatedAt: created.updatedAt + 1000 });
    const [event] = await events();
    assert.equal(event!.action, 'organisation.updated');
    assert.equal(event!.actor, 'cli');
    assert.deepEqual(event!.details, { before: created, after: renamed });
    assert.deepEqual(published.at(-1), { kind: 'organisation', rsin: A });
    const publishedBefore = published.length;
    assert.deepEqual(await service.update(A, { name: 'New' }, ADMIN), renamed);
    assert.equal((await events()).length, 2);
    assert.equal(published.length, publishedBefore);
    await rejectsWith(service.update(A, { name: 'a\rb' }, ADMIN), ValidationError, 'name');
    await rejectsWith(service.update(B, { name: 'x' }, ADMIN), NotFoundError);
    assert.equal((await service.get(A)).name, 'New');
  });

  it('disables and enables, each audited and announced once; repeating one changes nothing', async () => {
    const { service, published, events } = await setUp();
    await service.create({ rsin: A, name: 'A' }, ADMIN);
    assert.equal((await service.disable(A, ADMIN)).enabled, false);
    assert.equal((await service.get(A)).enabled, false);
    assert.equal((await service.disable(A, ADMIN)).enabled, false);
    assert.equal((await service.enable(A, ADMIN)).enabled, true);
    assert.equal((await service.get(A)).enabled, true);
    const actions = (await events()).map((e) => e.action).reverse();
    assert.deepEqual(actions, ['organisation.created', 'organisation.disabled', 'organisation.enabled']);
    const disabled = (await events()).find((e) => e.action === 'organisation.disabled')!;
    assert.equal((disabled.details.before as { enabled: boolean }).enabled, true);
    assert.equal((disabled.details.after as { enabled: boolean }).enabled, false);
    assert.equal(published.length, 3);
    await rejectsWith(service.disable(B, ADMIN), NotFoundError);
    await rejectsWith(service.enable('000000001', ADMIN), ValidationError, 'rsin');
  });

  it('ensure creates the organisation of an RSIN once, named after the RSIN, and leaves an existing one as it is', async () => {
    const { service, events, published } = await setUp();
    const first = await service.ensure(A, { id: 'system' });
    assert.equal(first.created, true);
    assert.deepEqual(
      { rsin: first.organisation.rsin, name: first.organisation.name, enabled: first.organisation.enabled },
      { rsin: A, name: A, enabled: true },
    );
    const again = await service.ensure(A, { id: 'system' });
    assert.deepEqual(again, { organisation: first.organisation, created: false });
    await service.create({ rsin: B, name: 'Named' }, ADMIN);
    await service.disable(B, ADMIN);
    const existing = await service.ensure(B, { id: 'system' });
    assert.equal(existing.created, false);
    assert.equal(existing.organisation.name, 'Named');
    assert.equal(existing.organisation.enabled, false, 'ensure does not enable a disabled organisation');
    const created = (await events()).filter((e) => e.action === 'organisation.created');
    assert.equal(created.length, 2);
    assert.equal(created.find((e) => e.target === A)!.details.ensured, true);
    assert.equal(published.filter((c) => c.kind === 'organisation' && c.rsin === A).length, 1);
    await rejectsWith(service.ensure('123456789', { id: 'system' }), ValidationError, 'rsin');
  });

  it('ensure at the same moment from several callers creates and audits one organisation', async () => {
    const { service, events } = await setUp();
    const results = await Promise.all([1, 2, 3, 4].map(() => service.ensure(C, { id: 'system' })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.ok(results.every((r) => r.organisation.rsin === C));
    assert.equal((await events()).filter((e) => e.action === 'organisation.created').length, 1);
  });
});
