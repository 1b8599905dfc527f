import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { LocalChangeFeed } from '../changes/change-feed.js';
import { type KeyTimes } from './key-plan.js';
import { KeyRing } from './key-ring.js';
import { MasterKey } from './master-key.js';
import { MemoryKeyStore } from './memory-key-store.js';

/** A token lifetime of an hour, leeway and propagation as the defaults give them. */
const TIMES: KeyTimes = { retentionMs: 3700_000, propagationMs: 40_000 };

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
    ring = new KeyRing(store, masterKey, now, TIMES, changes);
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
    assert.equal(await ring.get('other'), undefined);
    assert.equal(ring.get(undefined), undefined);
    const key = ring.current()!;
    const signature = crypto.sign('sha256', Buffer.from('data'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    assert.ok(
      crypto.verify(
        'sha256',
        Buffer.from('data'),
        { key: crypto.createPublicKey({ key: ring.publicKeys()[0]!, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
        signature,
      ),
    );
    assert.deepEqual(JSON.parse(Buffer.from(key.encodedHeader, 'base64url').toString()), {
      alg: 'ES256',
      typ: 'at+jwt',
      kid,
    });
  });

  it('keeps the private key only sealed under the master key', async () => {
    const kid = (await ring.ensureKey('EdDSA'))!;
    const [stored] = await store.list();
    assert.ok(!stored!.privateKeySealed.includes('PRIVATE KEY'));
    assert.equal(Object.keys(stored!.publicJwk).includes('d'), false, 'no private member in the published JWK');
    const other = new KeyRing(store, new MasterKey(crypto.randomBytes(32)), now, TIMES);
    await assert.rejects(other.load(), /master key/);
    const same = new KeyRing(store, masterKey, now, TIMES);
    await same.load();
    assert.equal(same.current()?.kid, kid);
  });

  it('rotation publishes the new key first, signs with it from its activation, retires the old one when its tokens expired', async () => {
    const first = (await ring.ensureKey('RS256'))!;
    t += 1000;
    const { kid, activatesAt, previousRetireAt } = await ring.rotate('ES256', 60);
    assert.equal(activatesAt, t + 60_000);
    assert.equal(previousRetireAt, activatesAt + TIMES.retentionMs);
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
      (await ring.list()).map((k) => [k.kid, k.state, k.signsUntil, k.retiresAt]),
      [
        [first, 'published', activatesAt, previousRetireAt],
        [kid, 'active', null, null],
      ],
    );
    t = previousRetireAt;
    await ring.load();
    assert.deepEqual(
      ring.publicKeys().map((k) => k.kid),
      [kid],
      'retired: no longer published',
    );
    assert.equal(await ring.get(first), undefined, 'nor trusted');
    assert.equal((await ring.list())[0]?.state, 'retired');
  });

  it('an emergency rotation supersedes a pending key: it never signs, and no key signing before it retires early', async () => {
    const a = (await ring.ensureKey('ES256'))!;
    t += 1000;
    const b = await ring.rotate('ES256', 600);
    t += 1000;
    const c = await ring.rotate('ES256', 0);
    assert.deepEqual(c.superseded, [b.kid]);
    assert.equal(ring.current()?.kid, c.kid);
    assert.ok(!ring.publicKeys().some((k) => k.kid === b.kid), 'never signed: retired at once');
    const plan = async () =>
      (await ring.list()).map((k) => [k.kid, k.state, k.signsUntil, k.retiresAt, k.supersededAt]);
    const expected = [
      [a, 'published', c.activatesAt, c.activatesAt + TIMES.retentionMs, null],
      [c.kid, 'active', null, null, null],
      [b.kid, 'superseded', null, t, t],
    ];
    assert.deepEqual(await plan(), expected);
    t = b.activatesAt;
    await ring.load();
    assert.equal(ring.current()?.kid, c.kid, "the superseded key's start changes nothing");
    assert.deepEqual(await plan(), expected);
    const restarted = new KeyRing(store, masterKey, now, TIMES);
    await restarted.load();
    assert.equal(restarted.current()?.kid, c.kid, 'a restart derives the same plan');
    assert.deepEqual(restarted.publicKeys(), ring.publicKeys());
  });

  it('a key superseded within the propagation time of its start stays published: a process not yet told may have signed with it', async () => {
    await ring.ensureKey('ES256');
    const b = await ring.rotate('ES256', 10);
    const c = await ring.rotate('ES256', 0);
    assert.deepEqual(c.superseded, [b.kid]);
    assert.equal(ring.current()?.kid, c.kid);
    const info = (await ring.list()).find((k) => k.kid === b.kid)!;
    assert.deepEqual([info.state, info.retiresAt], ['superseded', t + TIMES.retentionMs]);
    assert.ok(ring.get(b.kid));
  });

  it('of keys activating in the same millisecond the newer signs; every key that signed stays until its tokens expired', async () => {
    const a = (await ring.ensureKey('ES256'))!;
    const b = await ring.rotate('ES256', 0);
    const c = await ring.rotate('ES256', 0);
    assert.equal(ring.current()?.kid, c.kid);
    assert.deepEqual(
      (await ring.list()).map((k) => [k.kid, k.state, k.retiresAt]),
      [
        [a, 'published', t + TIMES.retentionMs],
        [b.kid, 'published', t + TIMES.retentionMs],
        [c.kid, 'active', null],
      ],
    );
  });

  it('a later rotation with a longer delay queues behind a pending key instead of superseding it', async () => {
    const a = (await ring.ensureKey('ES256'))!;
    const b = await ring.rotate('ES256', 60);
    const c = await ring.rotate('ES256', 600);
    assert.deepEqual(c.superseded, []);
    assert.deepEqual(
      (await ring.list()).map((k) => [k.kid, k.state, k.activatesAt, k.signsUntil]),
      [
        [a, 'active', t, b.activatesAt],
        [b.kid, 'pending', b.activatesAt, c.activatesAt],
        [c.kid, 'pending', c.activatesAt, null],
      ],
    );
  });

  it('reloads when another process announces a key change', async () => {
    await ring.ensureKey('ES256');
    const elsewhere = new KeyRing(store, masterKey, now, TIMES);
    await elsewhere.load();
    const { kid } = await elsewhere.rotate('ES256', 0);
    assert.ok(!ring.publicKeys().some((k) => k.kid === kid), 'not seen yet');
    await changes.publish({ kind: 'keys' });
    await new Promise((r) => setImmediate(r));
    assert.ok(ring.get(kid));
    assert.equal(ring.current()?.kid, kid);
  });

  it('trusts a key another process stored before it is announced, reading the store at most once a second for unknown kids', async () => {
    await ring.ensureKey('ES256');
    const elsewhere = new KeyRing(store, masterKey, now, TIMES);
    await elsewhere.load();
    const { kid } = await elsewhere.rotate('ES256', 0);
    let reads = 0;
    const list = store.list.bind(store);
    store.list = () => (reads++, list());
    try {
      assert.ok(await ring.get(kid), 'found in the store on its first sight');
      assert.equal(reads, 1);
      for (let i = 0; i < 100; i++) assert.equal(await ring.get(`made-up-${i}`), undefined);
      assert.equal(reads, 1, 'made-up kids within the second read nothing');
      assert.ok(await ring.get(kid), 'known now without a read');
      assert.equal(reads, 1);
    } finally {
      store.list = list;
    }
  });
});
