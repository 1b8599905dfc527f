import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { createVerifier } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/testing';
import { BoundedCache } from '@zgw-auth/verifier/internal';
import { MemoryKeySource } from './memory-sources.js';

const held = <K, V>(cache: BoundedCache<K, V>, keys: K[]) => keys.filter((k) => cache.get(k) !== undefined);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('BoundedCache', () => {
  it('never holds more than maxEntries, however many are added', () => {
    const cache = new BoundedCache<number, string>(10);
    for (const i of range(1000)) cache.set(i, `v${i}`);
    const kept = held(cache, range(1000));
    assert.ok(kept.length <= 10 && kept.length >= 5, `kept ${kept.length}`);
    assert.ok(
      kept.every((k) => k >= 990),
      'the newest',
    );
  });

  it('entries in use stay; unused ones go', () => {
    const cache = new BoundedCache<string, number>(4);
    cache.set('hot', 1);
    for (const i of range(50)) {
      cache.set(`cold${i}`, i);
      assert.equal(cache.get('hot'), 1, `after ${i}`);
    }
    assert.equal(cache.get('cold0'), undefined);
  });

  it('never holds more than maxWeight; an entry heavier than half of it is not stored', () => {
    const cache = new BoundedCache<number, string>(1000, 100, (_k, v) => v.length);
    for (const i of range(100)) cache.set(i, 'x'.repeat(10));
    const weight = held(cache, range(100)).length * 10;
    assert.ok(weight <= 100, `weight ${weight}`);
    cache.set(1000, 'x'.repeat(51));
    assert.equal(cache.get(1000), undefined);
    cache.set(1001, 'x'.repeat(50));
    assert.equal(cache.get(1001), 'x'.repeat(50));
  });

  it('delete and clear', () => {
    const cache = new BoundedCache<string, number>(10);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.delete('a');
    assert.deepEqual(held(cache, ['a', 'b']), ['b']);
    cache.clear();
    assert.deepEqual(held(cache, ['a', 'b']), []);
  });
});

describe("the verifier's memory of accepted tokens is bounded", () => {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const t = 1_700_000_000;
  const tokens = range(40).map((i) =>
    signJws(
      { alg: 'RS256', typ: 'at+jwt', kid: 'rs' },
      { client_id: 'c1', exp: t + 600, jti: `j${i}`, pad: 'p'.repeat(i * 10) },
      rsa.privateKey,
    ),
  );
  const setup = (cache: { maxEntries?: number; maxBytes?: number }) => {
    const keys = new MemoryKeySource();
    keys.keys.set('rs', { key: rsa.publicKey, alg: 'RS256' });
    return { keys, v: createVerifier({ keys, now: () => t * 1000, cache }) };
  };

  it('by entries: a token verified again after many others is verified anew', async () => {
    const { keys, v } = setup({ maxEntries: 8 });
    for (const token of tokens) await v.verify(token);
    assert.equal(keys.lookups, 40);
    await v.verify(tokens[39]!);
    assert.equal(keys.lookups, 40, 'the newest is remembered');
    await v.verify(tokens[0]!);
    assert.equal(keys.lookups, 41, 'the oldest is gone');
  });

  it('by bytes: a token longer than half the budget is never remembered', async () => {
    const { keys, v } = setup({ maxBytes: 2 * tokens[0]!.length + 1 });
    await v.verify(tokens[0]!);
    await v.verify(tokens[0]!);
    assert.equal(keys.lookups, 1, 'a small token is remembered');
    await v.verify(tokens[39]!);
    await v.verify(tokens[39]!);
    assert.equal(keys.lookups, 3, 'a large one is not');
  });

  it('refused tokens are never remembered', async () => {
    const { keys, v } = setup({});
    const expired = signJws(
      { alg: 'RS256', typ: 'at+jwt', kid: 'rs' },
      { client_id: 'c1', exp: t - 600 },
      rsa.privateKey,
    );
    for (const _ of range(3)) await assert.rejects(v.verify(expired));
    assert.equal(keys.lookups, 3);
  });
});
