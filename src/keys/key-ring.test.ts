import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { LocalChangeFeed } from '../storage/change-feed.js';
import { KeyRing } from './key-ring.js';
import { MasterKey } from './master-key.js';
import { MemoryKeyStore } from './memory-key-store.js';

describe('KeyRing (memory store)', () => {
  let t: number;
  let store: MemoryKeyStore;
  let masterKey: MasterKey;
  let changes: LocalChangeFeed;
  let ring: KeyRing;
  const now = () => t;

  beforeEach(() => {
    t = Date.UTC(2030, 0, 1);
    store = new MemoryKeyStore();
    masterKey = new MasterKey(crypto.randomBytes(32));
    changes = new LocalChangeFeed();
    ring = new KeyRing(store, masterKey, now, changes);
  });

  it('creates the first key once, signs with it and publishes it', async () => {
    const kid = await ring.ensureKey('ES256');
    assert.ok(kid);
    assert.equal(await ring.ensureKey('ES256'), undefined, 'a key that signs exists');
    assert.equal(ring.current()?.kid, kid);
    assert.deepEqual(
      ring.publicKeys().map((k) => k.kid),
      [kid],
    );
    assert.deepEqual(JSON.parse(ring.jwksDocument()), { keys: ring.publicKeys() });
    assert.ok(ring.get(kid), 'trusted by the in-process verifier');
    assert.equal(ring.get('other'), undefined);
    assert.equal(ring.get(undefined), undefined);
    const key = ring.current()!;
    const signature = crypto.sign('sha256', Buffer.from('data'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    assert.ok(crypto.verify('sha256', Buffer.from('data'), { key: crypto.createPublicKey({ key: ring.publicKeys()[0]!, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature));
    assert.deepEqual(JSON.parse(Buffer.from(key.encodedHeader, 'base64url').toString()), { alg: 'ES256', typ: 'at+jwt', kid });
  });

  it('keeps the private key only sealed under the master key', async () => {
    const kid = (await ring.ensureKey('EdDSA'))!;
    const [stored] = await store.list();
    assert.ok(!stored!.privateKeySealed.includes('PRIVATE KEY'));
    assert.equal(Object.keys(stored!.publicJwk).includes('d'), false, 'no private member in the published JWK');
    const other = new KeyRing(store, new MasterKey(crypto.randomBytes(32)), now);
    await assert.rejects(other.load(), /master key/);
    const same = new KeyRing(store, masterKey, now);
    await same.load();
    assert.equal(same.current()?.kid, kid);
  });

  it('rotation publishes the new key first, signs with it from its activation, retires the old one when its tokens expired', async () => {
    const first = (await ring.ensureKey('RS256'))!;
    t += 1000;
    const { kid, activatesAt, previousRetireAt } = await ring.rotate('ES256', 60, 3600);
    assert.equal(activatesAt, t + 60_000);
    assert.equal(previousRetireAt, activatesAt + 3600_000 + 60_000);
    assert.deepEqual(
      ring.publicKeys().map((k) => k.kid),
      [first, kid],
      'both published',
    );
    assert.equal(ring.current()?.kid, first, 'the new key does not sign before its activation');
    assert.deepEqual(
      (await ring.list()).map((k) => [k.kid, k.state]),
      [
        [first, 'active'],
        [kid, 'pending'],
      ],
    );
    t = activatesAt;
    assert.equal(ring.current()?.kid, kid);
    assert.deepEqual(
      (await ring.list()).map((k) => [k.kid, k.state, k.retiresAt]),
      [
        [first, 'published', previousRetireAt],
        [kid, 'active', null],
      ],
    );
    t = previousRetireAt;
    await ring.load();
    assert.deepEqual(
      ring.publicKeys().map((k) => k.kid),
      [kid],
      'retired: no longer published',
    );
    assert.equal(ring.get(first), undefined, 'nor trusted');
    assert.equal((await ring.list())[0]?.state, 'retired');
  });

  it('a second rotation never postpones an earlier retirement', async () => {
    const first = (await ring.ensureKey('ES256'))!;
    const one = await ring.rotate('ES256', 0, 60);
    t += 10_000;
    const two = await ring.rotate('ES256', 0, 3600);
    const retires = new Map((await ring.list()).map((k) => [k.kid, k.retiresAt]));
    assert.equal(retires.get(first), one.previousRetireAt, 'kept the earlier retirement');
    assert.equal(retires.get(one.kid), two.previousRetireAt);
    assert.equal(retires.get(two.kid), null);
  });

  it('reloads when another process announces a key change', async () => {
    await ring.ensureKey('ES256');
    const elsewhere = new KeyRing(store, masterKey, now);
    await elsewhere.load();
    const { kid } = await elsewhere.rotate('ES256', 0, 60);
    assert.equal(ring.get(kid), undefined, 'not seen yet');
    await changes.publish({ kind: 'keys' });
    await new Promise((r) => setImmediate(r));
    assert.ok(ring.get(kid));
    assert.equal(ring.current()?.kid, kid);
  });
});
