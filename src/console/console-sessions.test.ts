import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConsoleSession, ConsoleSessions, type SessionEnd, SESSIONS_PER_CLIENT } from './console-sessions.js';

function sessions(max: number) {
  const ended: [string, SessionEnd][] = [];
  const store = new ConsoleSessions(
    { idleMs: 60_000, lifetimeMs: 3_600_000, max },
    () => 1_000_000,
    (s: ConsoleSession, why) => ended.push([s.clientId, why]),
  );
  const signIn = (clientId: string) =>
    store.create({
      clientId,
      rsin: '123456782',
      scope: 'zgw-auth:admin',
      accessToken: 't',
      jti: 'j',
      secretId: 's',
      tokenExpiresAt: 10_000,
    }).id;
  return { store, ended, signIn };
}

describe('console sessions: bounded without one administrator signing out the others', () => {
  it('a client signing in again and again ends only its own oldest sessions', () => {
    const { store, ended, signIn } = sessions(10_000);
    const victim = signIn('global-admin');
    for (let i = 0; i < SESSIONS_PER_CLIENT + 50; i++) signIn('flooder');
    assert.ok(store.get(victim), "the other administrator's session lives");
    assert.equal(store.size, SESSIONS_PER_CLIENT + 1);
    assert.ok(ended.every(([clientId, why]) => clientId === 'flooder' && why === 'evicted'));
  });

  it('when the store is full, the client holding the most sessions gives one up', () => {
    const { store, ended, signIn } = sessions(6);
    const victim = signIn('global-admin');
    for (let i = 0; i < 5; i++) signIn(`flooder-${i % 2}`);
    signIn('newcomer');
    assert.ok(store.get(victim), 'a client with one session keeps it');
    assert.equal(store.size, 6);
    assert.deepEqual(ended, [['flooder-0', 'evicted']]);
  });
});
