import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConsoleSessionStore, MemoryConsoleSessionStore } from './console-session-store.js';
import {
  ConsoleSessions,
  type EndedSession,
  type SessionEnd,
  SESSIONS_PER_CLIENT,
  SWEEP_BATCH,
  SWEEP_MARGIN_MS,
} from './console-sessions.js';
import { csrfTokenOf, sessionIdHash } from './session-secrets.js';

function sessions(max: number) {
  const ended: [string, SessionEnd][] = [];
  const store = new MemoryConsoleSessionStore();
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const service = new ConsoleSessions(
    store,
    { idleMs: 60_000, lifetimeMs: 3_600_000, max },
    clock.now,
    (s: EndedSession, why) => void ended.push([s.clientId, why]),
  );
  const signIn = async (clientId: string, accessToken = 't') =>
    (
      await service.create({
        clientId,
        rsin: '123456782',
        scope: 'zgw-auth:admin',
        accessToken,
        jti: 'j',
        secretId: 's',
        tokenExpiresAt: 10_000,
      })
    ).id;
  return { service, store, ended, signIn, clock };
}

describe('console sessions: bounded without one administrator signing out the others', () => {
  it('a client signing in again and again ends only its own oldest sessions', async () => {
    const { service, ended, signIn } = sessions(10_000);
    const victim = await signIn('global-admin');
    for (let i = 0; i < SESSIONS_PER_CLIENT + 50; i++) await signIn('flooder');
    assert.ok(await service.get(victim), "the other administrator's session lives");
    assert.equal(await service.size(), SESSIONS_PER_CLIENT + 1);
    assert.ok(ended.every(([clientId, why]) => clientId === 'flooder' && why === 'evicted'));
  });

  it('when the store is full, the client holding the most sessions gives one up', async () => {
    const { service, ended, signIn } = sessions(6);
    const victim = await signIn('global-admin');
    for (let i = 0; i < 5; i++) await signIn(`flooder-${i % 2}`);
    await signIn('newcomer');
    assert.ok(await service.get(victim), 'a client with one session keeps it');
    assert.equal(await service.size(), 6);
    assert.deepEqual(ended, [['flooder-0', 'evicted']]);
  });
});

/** A store that counts the serialized steps under way (called and not settled) at most, and whose steps wait until released. */
function gatedStore() {
  const inner = new MemoryConsoleSessionStore();
  let underWay = 0;
  let most = 0;
  const inserted: string[] = [];
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const store: ConsoleSessionStore = Object.assign(Object.create(inner) as ConsoleSessionStore, {
    async serialized<T>(work: (s: ConsoleSessionStore) => Promise<T>): Promise<T> {
      most = Math.max(most, ++underWay);
      try {
        // Waits as a database lock would, holding what a step holds (a connection) meanwhile.
        await opened;
        return await inner.serialized((s) =>
          work(
            Object.assign(Object.create(s) as ConsoleSessionStore, {
              insert: (row: Parameters<ConsoleSessionStore['insert']>[0]) => (
                inserted.push(row.clientId),
                s.insert(row)
              ),
            }),
          ),
        );
      } finally {
        underWay--;
      }
    },
  });
  return { store, inserted, open, most: () => most };
}

describe('console sign-ins at once in one process', () => {
  const data = (clientId: string) => ({
    clientId,
    rsin: '123456782',
    scope: 'zgw-auth:admin',
    accessToken: 't',
    jti: 'j',
    secretId: 's',
    tokenExpiresAt: 10_000,
  });

  it('reach the store one at a time: racing sign-ins do not each hold a connection while they wait for the lock', async () => {
    const { store, open, most } = gatedStore();
    const service = new ConsoleSessions(
      store,
      { idleMs: 60_000, lifetimeMs: 3_600_000 },
      () => 1_000_000,
      () => {},
    );
    const all = Promise.all(Array.from({ length: 30 }, (_, k) => service.create(data(`c${k % 3}`))));
    await new Promise((r) => setTimeout(r, 20));
    open();
    await all;
    assert.equal(most(), 1);
    assert.equal(await service.size(), 30);
  });

  it('a client flooding sign-ins delays another administrator by one of its own, not by its whole queue', async () => {
    const { store, open, inserted } = gatedStore();
    const service = new ConsoleSessions(
      store,
      { idleMs: 60_000, lifetimeMs: 3_600_000 },
      () => 1_000_000,
      () => {},
    );
    const flood = Array.from({ length: 40 }, () => service.create(data('flooder')));
    await new Promise((r) => setTimeout(r, 5));
    const victim = service.create(data('global-admin'));
    open();
    await Promise.all([...flood, victim]);
    assert.ok(inserted.indexOf('global-admin') <= 2, `signed in as number ${inserted.indexOf('global-admin') + 1}`);
    assert.equal(inserted.length, 41);
  });
});

describe('console sessions: what the store keeps', () => {
  it('neither the id, the admin token nor the form token, yet the id alone opens them again', async () => {
    const { service, store, signIn } = sessions(100);
    const token = 'eyJ.secret-admin-token.sig';
    const id = await signIn('admin', token);
    const row = await store.get(sessionIdHash(id));
    assert.ok(row);
    const stored = JSON.stringify(row);
    for (const secret of [id, token, csrfTokenOf(id)]) assert.ok(!stored.includes(secret), 'not stored in the clear');
    const again = await service.get(id);
    assert.equal(again?.accessToken, token);
    assert.equal(again?.csrf, csrfTokenOf(id));
    // Another id whose hash was planted on the row opens nothing.
    const other = 'x'.repeat(43);
    await store.insert({ ...row, idHash: sessionIdHash(other) });
    assert.equal(await service.get(other), undefined, 'a row sealed under another id is no session');
  });

  it('a notice set by one request is read by the next, sealed, and gone once shown', async () => {
    const { service, store, signIn } = sessions(100);
    const id = await signIn('admin');
    const s = (await service.get(id))!;
    s.flash = { kind: 'ok', text: 'Client secret-name saved' };
    await service.save(s);
    assert.ok(!JSON.stringify(await store.get(sessionIdHash(id))).includes('secret-name'));
    const next = (await service.get(id))!;
    assert.deepEqual(next.flash, { kind: 'ok', text: 'Client secret-name saved' });
    delete next.flash;
    await service.save(next);
    assert.equal((await service.get(id))!.flash, undefined);
  });

  it('the sweep ends run-out sessions in bounded batches, each once', async () => {
    const { service, ended, signIn, clock } = sessions(100_000);
    const n = SWEEP_BATCH * 2 + 7;
    for (let i = 0; i < n; i++) await signIn(`c${i}`);
    // Swept only once run out by the margin (a clock behind the others' must not end them early).
    clock.advance(60_000 + SWEEP_MARGIN_MS);
    const live = await signIn('live');
    await service.sweep();
    assert.equal(ended.filter(([, why]) => why === 'idle').length, n);
    assert.equal(await service.size(), 1);
    assert.ok(await service.get(live));
  });
});
