import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Change, LocalChangeFeed } from '../changes/change-feed.js';
import { MemoryRevocationStore } from './memory-revocation-store.js';
import { Revocations } from './revocations.js';

describe('Revocations (memory store)', () => {
  it('records a revocation, tells every verifier, and keeps the first record of a jti', async () => {
    const changes = new LocalChangeFeed();
    const seen: Change[] = [];
    changes.onChange((c) => seen.push(c));
    const t = Date.UTC(2030, 0, 1);
    const revocations = new Revocations(new MemoryRevocationStore(), changes, () => t);
    assert.equal(await revocations.isRevoked('jti-1'), false);
    await revocations.revoke('jti-1', 'client', t / 1000 + 60);
    assert.equal(await revocations.isRevoked('jti-1'), true);
    assert.equal(await revocations.isRevoked('jti-2'), false);
    assert.deepEqual(seen, [{ kind: 'revocation', jti: 'jti-1' }]);
    await revocations.revoke('jti-1', 'client', t / 1000 + 7200);
    assert.equal(seen.length, 2, 'announced again: harmless, and a verifier may have cached it since');
  });

  it('forgets a revocation an hour after its token expired, not before', async () => {
    let t = Date.UTC(2030, 0, 1);
    const store = new MemoryRevocationStore();
    const revocations = new Revocations(store, new LocalChangeFeed(), () => t);
    await revocations.revoke('short', 'client', t / 1000 + 60);
    await revocations.revoke('long', 'client', t / 1000 + 7200);
    t += 60_000 + 3_600_000;
    await revocations.prune();
    assert.equal(await revocations.isRevoked('short'), true, 'exactly an hour after expiry: kept');
    t += 1;
    await revocations.prune();
    assert.equal(await revocations.isRevoked('short'), false);
    assert.equal(await revocations.isRevoked('long'), true);
  });
});
