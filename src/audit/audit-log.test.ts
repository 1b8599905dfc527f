import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ZgwAuthError } from '../errors.js';
import { AuditLog, PENDING_EVENTS_MAX, REPEAT_WINDOW_MS } from './audit-log.js';
import type { AuditRows } from './audit-store.js';
import { MemoryAuditStore } from './memory-audit-store.js';

const DAY = 86_400_000;

describe('AuditLog (memory store)', () => {
  let t: number;
  let store: MemoryAuditStore;
  let audit: AuditLog;
  let appends: number;
  const now = () => t;

  beforeEach(() => {
    t = Date.UTC(2030, 0, 1);
    store = new MemoryAuditStore();
    appends = 0;
    const append = store.append.bind(store);
    store.append = (rows: AuditRows) => (appends++, append(rows));
    audit = new AuditLog(store, undefined, now);
  });

  it('writes a recorded event at once, with its time, and reads newest first', async () => {
    await audit.record({
      actor: 'admin',
      action: 'client.created',
      target: 'a',
      address: '192.0.2.1',
      details: { after: { name: 'A' } },
    });
    t += 1;
    await audit.record({ actor: 'cli', action: 'client.deleted', target: 'a', details: {} });
    const stored = await store.list({ limit: 10 });
    assert.deepEqual(
      stored.map((e) => [e.action, e.at, e.address, e.reason]),
      [
        ['client.deleted', t, null, null],
        ['client.created', t - 1, '192.0.2.1', null],
      ],
    );
    assert.deepEqual(stored[1]?.details, { after: { name: 'A' } });
    assert.ok(stored[0]!.id > stored[1]!.id);
  });

  it('buffers recordLater events and writes them in batches, in order', async () => {
    for (let i = 0; i < 250; i++)
      audit.recordLater({ actor: 'c', action: 'token.issued', target: `t${i}`, details: { i } });
    await audit.flush();
    const written = appends;
    // A write takes what is buffered when its turn comes: batches that filled up meanwhile go along.
    assert.ok(written >= 1 && written <= 3, `written in at most three batches: ${written}`);
    const events = await audit.list({ limit: 1000 });
    assert.equal(events.length, 250);
    assert.deepEqual(
      events.map((e) => e.target),
      Array.from({ length: 250 }, (_, i) => `t${249 - i}`),
    );
    await audit.flush();
    assert.equal(appends, written, 'nothing buffered: nothing written');
  });

  it('list flushes the buffer first, filters, pages backwards and is bounded', async () => {
    audit.recordLater({ actor: 'c', action: 'client_auth.failed', target: 'x', reason: 'wrong_secret', details: {} });
    t += 10;
    audit.recordLater({ actor: 'c', action: 'client_auth.failed', target: 'y', reason: 'revoked_secret', details: {} });
    await audit.flush();
    await audit.record({ actor: 'admin', action: 'client.updated', target: 'x', details: {} });
    assert.deepEqual(
      (await audit.list({ target: 'x' })).map((e) => e.action),
      ['client.updated', 'client_auth.failed'],
    );
    assert.deepEqual(
      (await audit.list({ reason: 'revoked_secret' })).map((e) => e.target),
      ['y'],
    );
    assert.deepEqual(
      (await audit.list({ since: t })).map((e) => e.target),
      ['x', 'y'],
    );
    const [newest] = await audit.list({ limit: 1 });
    assert.deepEqual(
      (await audit.list({ before: newest!.id, limit: 1 })).map((e) => e.target),
      ['y'],
    );
    for (let i = 0; i < 1100; i++) audit.recordLater({ actor: 'c', action: 'token.issued', target: 'z', details: {} });
    assert.equal((await audit.list({ limit: 5000 })).length, 1000);
  });

  it('writes the first of a folded event at once and folds repeats within the window into it', async () => {
    const first = t;
    audit.recordRepeated('k', {
      actor: 'c',
      action: 'client_auth.failed',
      target: 'a',
      reason: 'wrong_secret',
      details: {},
    });
    await audit.flush();
    const [written] = await store.list({ limit: 10 });
    assert.deepEqual(
      [written?.target, written?.at, written?.reason, written?.details],
      ['a', first, 'wrong_secret', { lastAt: first, count: 1 }],
      'visible before its window ends',
    );
    t += 1000;
    audit.recordRepeated('k', {
      actor: 'c',
      action: 'client_auth.failed',
      target: 'b',
      reason: 'wrong_secret',
      details: {},
    });
    audit.recordRepeated('other', { actor: 'd', action: 'client_auth.failed', target: 'c', details: {} });
    await audit.flush();
    assert.deepEqual(
      (await store.list({ limit: 10 })).map((e) => [e.target, e.details]),
      [
        ['c', { lastAt: first + 1000, count: 1 }],
        ['a', { lastAt: first, count: 1 }],
      ],
      'the repeat waits for the end of the window',
    );
    t = first + REPEAT_WINDOW_MS;
    audit.recordRepeated('k', {
      actor: 'c',
      action: 'client_auth.failed',
      target: 'a',
      reason: 'wrong_secret',
      details: {},
    });
    await audit.flush();
    const events = await store.list({ limit: 10 });
    assert.equal(events.length, 3, 'a new window: a new event');
    assert.deepEqual(
      events.map((e) => [e.target, e.at, e.details]),
      [
        ['a', first + REPEAT_WINDOW_MS, { lastAt: first + REPEAT_WINDOW_MS, count: 1 }],
        ['c', first + 1000, { lastAt: first + 1000, count: 1 }],
        ['a', first, { lastAt: first + 1000, count: 2, targets: ['a', 'b'] }],
      ],
    );
  });

  it('list shows the counts of open windows and keeps them open', async () => {
    const first = t;
    for (let i = 0; i < 3; i++) {
      audit.recordRepeated('k', { actor: 'c', action: 'client_auth.failed', target: 'a', details: {} });
      t += 10;
    }
    assert.deepEqual(
      (await audit.list()).map((e) => e.details),
      [{ lastAt: first + 20, count: 3 }],
    );
    audit.recordRepeated('k', { actor: 'c', action: 'client_auth.failed', target: 'a', details: {} });
    assert.deepEqual(
      (await audit.list()).map((e) => e.details),
      [{ lastAt: first + 30, count: 4 }],
      'folded into the same event',
    );
  });

  it('writes a bounded number of events for a flood: one per key and window', async () => {
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 500; i++) {
        audit.recordRepeated('k', { actor: 'c', action: 'client_auth.failed', target: 'a', details: {} });
        t += 10;
      }
      await audit.flush();
      t += REPEAT_WINDOW_MS;
    }
    await audit.flush(true);
    const events = await store.list({ limit: 100 });
    assert.equal(events.length, 3);
    assert.deepEqual(
      events.map((e) => e.details.count),
      [500, 500, 500],
    );
  });

  it('keeps a folded event while the database is away and writes it, with its count, when it is back', async () => {
    let away = true;
    const errors: unknown[] = [];
    const appendReturningIds = store.appendReturningIds.bind(store);
    store.appendReturningIds = (rows: AuditRows) =>
      away ? Promise.reject(new ZgwAuthError('storage_unavailable', 'away')) : appendReturningIds(rows);
    const log = new AuditLog(store, (err) => errors.push(err), now);
    const first = t;
    log.recordRepeated('k', { actor: 'c', action: 'client_auth.failed', target: 'a', details: {} });
    await log.flush();
    assert.equal(errors.length, 1);
    t += 5;
    log.recordRepeated('k', { actor: 'c', action: 'client_auth.failed', target: 'a', details: {} });
    away = false;
    await log.flush(true);
    assert.deepEqual(
      (await store.list({ limit: 10 })).map((e) => e.details),
      [{ lastAt: first + 5, count: 2 }],
    );
  });

  it('keeps the organisation of every event, written at once, buffered or counted, and lists by it', async () => {
    await audit.record({
      actor: 'admin',
      action: 'client.created',
      target: 'a',
      organisation: '123456782',
      details: {},
    });
    audit.recordLater({ actor: 'a', action: 'token.issued', target: 'a', organisation: '123456782', details: {} });
    audit.recordRepeated('k', {
      actor: 'b',
      action: 'client_auth.failed',
      target: 'b',
      organisation: '111222333',
      details: {},
    });
    await audit.record({ actor: 'admin', action: 'key.rotated', target: 'k1', details: {} });
    assert.deepEqual(
      (await audit.list()).map((e) => [e.action, e.organisation]),
      [
        ['client_auth.failed', '111222333'],
        ['token.issued', '123456782'],
        ['key.rotated', null],
        ['client.created', '123456782'],
      ],
    );
    assert.deepEqual(
      (await audit.list({ organisation: '123456782' })).map((e) => e.action),
      ['token.issued', 'client.created'],
    );
  });

  it('prunes events older than the retention and says how many', async () => {
    await audit.record({ actor: 'a', action: 'old', target: 'x', details: {} });
    t += 10 * DAY;
    await audit.record({ actor: 'a', action: 'new', target: 'x', details: {} });
    t += 1;
    assert.equal(await audit.prune(10), 1);
    assert.deepEqual(
      (await audit.list()).map((e) => e.action),
      ['new'],
    );
  });

  it('reports a failed batch write instead of throwing', async () => {
    const errors: unknown[] = [];
    const failing = new AuditLog(
      {
        append: () => Promise.reject(new Error('database down')),
        appendReturningIds: () => Promise.reject(new Error('database down')),
        updateDetails: async () => {},
        list: async () => [],
        deleteBefore: async () => 0,
      },
      (err) => errors.push(err),
      now,
    );
    failing.recordLater({ actor: 'c', action: 'token.issued', target: 'x', details: {} });
    await failing.flush();
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /database down/);
  });

  it('keeps events the store could not write while the database is away, in order, and writes them when it is back', async () => {
    const errors: unknown[] = [];
    let away = true;
    const append = store.append.bind(store);
    store.append = (rows: AuditRows) =>
      away ? Promise.reject(new ZgwAuthError('storage_unavailable', 'the database is unreachable')) : append(rows);
    const log = new AuditLog(store, (err) => errors.push(err), now);
    for (const target of ['a', 'b']) log.recordLater({ actor: 'c', action: 'token.issued', target, details: {} });
    await log.flush();
    log.recordLater({ actor: 'c', action: 'token.issued', target: 'c', details: {} });
    await log.flush();
    assert.equal(errors.length, 1, 'one attempt until the retry is due, not one per batch');
    away = false;
    await log.flush(true);
    assert.deepEqual(
      (await store.list({ limit: 10 })).map((e) => e.target),
      ['c', 'b', 'a'],
    );
  });

  it('does not retry a batch the store refused for another reason (it would hold back every later event)', async () => {
    let calls = 0;
    const append = store.append.bind(store);
    store.append = (rows: AuditRows) => (calls++ === 0 ? Promise.reject(new Error('value too long')) : append(rows));
    const log = new AuditLog(store, () => {}, now);
    log.recordLater({ actor: 'c', action: 'poison', target: 'x', details: {} });
    await log.flush();
    log.recordLater({ actor: 'c', action: 'token.issued', target: 'y', details: {} });
    await log.flush();
    assert.deepEqual(
      (await store.list({ limit: 10 })).map((e) => e.action),
      ['token.issued'],
    );
  });

  it('keeps at most PENDING_EVENTS_MAX events for a database that stays away, dropping the oldest', async () => {
    const errors: { auditEventsDropped?: number }[] = [];
    const log = new AuditLog(
      {
        append: () => Promise.reject(new ZgwAuthError('storage_unavailable', 'away')),
        appendReturningIds: () => Promise.reject(new ZgwAuthError('storage_unavailable', 'away')),
        updateDetails: async () => {},
        list: async () => [],
        deleteBefore: async () => 0,
      },
      (err) => errors.push(err as never),
      now,
    );
    for (let i = 0; i < PENDING_EVENTS_MAX + 5; i++)
      log.recordLater({ actor: 'c', action: 'token.issued', target: String(i), details: {} });
    await log.flush();
    assert.equal(
      errors.reduce((n, e) => n + (e.auditEventsDropped ?? 0), 0),
      5,
    );
  });
});
