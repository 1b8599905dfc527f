import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import {
  accessTokenHash,
  createVerifier,
  DpopNonces,
  DpopProofChecker,
  jwkThumbprint,
  MemoryReplayCache,
  normaliseHtu,
  redisReplayCache,
  refusal,
  ReplayCacheFull,
  TokenError,
  type TokenErrorCode,
} from '@zgw-auth/verifier';
import { importedKeyCount } from '@zgw-auth/verifier/internal';
import { base64urlJson, signJws } from '@zgw-auth/verifier/testing';
import * as DPoP from 'dpop';
import { Redis } from 'ioredis';

/**
 * The DPoP proof checker (RFC 9449 §4.3) that zgw-auth's /token and the verifier's adapters share.
 * Good proofs come from panva's `dpop` package, an independent implementation; bad ones are
 * signed here, one fault each.
 */
const URL_ = 'https://api.example/zaken/api/v1/zaken';

async function clientKey(alg: DPoP.JWSAlgorithm = 'ES256') {
  const pair = await DPoP.generateKeyPair(alg);
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as Record<string, unknown>;
  return { pair, jwk, jkt: await DPoP.calculateThumbprint(pair.publicKey) };
}

/** A proof signed here with node:crypto, for proofs `dpop` would never make. */
function forged(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: crypto.KeyObject = ecKey.privateKey,
): string {
  return signJws({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecPublicJwk, ...header } as { alg: string }, claims, key);
}
const ecKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPublicJwk = ecKey.publicKey.export({ format: 'jwk' });
const claimsNow = (extra: Record<string, unknown> = {}) => ({
  jti: crypto.randomUUID(),
  htm: 'GET',
  htu: URL_,
  iat: Math.floor(Date.now() / 1000),
  ...extra,
});

async function refusedWith(check: () => unknown, code: TokenErrorCode, message?: RegExp): Promise<TokenError> {
  let caught: unknown;
  try {
    await check();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TokenError, `expected a TokenError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('DPoP proofs: accepted', () => {
  for (const alg of ['ES256', 'PS256', 'RS256', 'Ed25519'] as const) {
    it(`a proof of panva's dpop package with ${alg}; jkt is the RFC 7638 thumbprint`, async () => {
      const { pair, jwk, jkt } = await clientKey(alg);
      const checker = new DpopProofChecker();
      const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjMSJ9.sig';
      const proof = await DPoP.generateProof(pair, URL_, 'GET', undefined, token);
      const checked = await checker.check({ proof, method: 'GET', urls: [URL_], accessToken: token, jkt });
      assert.equal(checked.jkt, jkt);
      assert.equal(jwkThumbprint(jwk), jkt);
      assert.equal(checked.alg, alg);
    });
  }

  it('the RFC 7638 §3.1 example thumbprint', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('ath as RFC 9449 §7.1 computes it; a token with other than ASCII is hashed as before (its ASCII reading)', () => {
    assert.equal(
      accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU'),
      'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
    );
    // Such a token never verifies; the hash of one is still the one each earlier version computed.
    for (const odd of ['tökén', 'token\u20ac', 'a\ud83d\ude00b'])
      assert.equal(accessTokenHash(odd), crypto.createHash('sha256').update(odd, 'ascii').digest('base64url'));
  });

  it('htu is compared normalised: scheme and host case, default port, without query and fragment', async () => {
    assert.equal(normaliseHtu('HTTPS://API.Example:443/zaken?x=1#f'), 'https://api.example/zaken');
    assert.equal(normaliseHtu('http://api.example:80/a/./b/../c'), 'http://api.example/a/c');
    assert.equal(normaliseHtu('http://api.example:8080/a'), 'http://api.example:8080/a');
    assert.equal(normaliseHtu('ftp://api.example/a'), undefined);
    assert.equal(normaliseHtu('/relative'), undefined);
    const { pair } = await clientKey();
    const proof = await DPoP.generateProof(pair, 'HTTPS://API.EXAMPLE:443/zaken/api/v1/zaken', 'GET');
    await new DpopProofChecker().check({ proof, method: 'GET', urls: [`${URL_}?page=2`] });
  });

  it('htu percent-encoding is normalised (RFC 3986 §6.2.2.1, §6.2.2.2): unreserved decoded, hex in upper case', async () => {
    // RFC 9449 §4.3: a client library that encodes a path differently from the API's HTTP stack
    // must not be refused for a request it did make.
    const same = (a: string, b: string) => assert.equal(normaliseHtu(a), normaliseHtu(b), `${a} = ${b}`);
    same('https://api.example/zaken/%7Ejan', 'https://api.example/zaken/~jan');
    same('https://api.example/zaken/%7ejan', 'https://api.example/zaken/~jan');
    same('https://api.example/zaken/%61%2D%2e%5F', 'https://api.example/zaken/a-._');
    same('https://api.example/a%2fb', 'https://api.example/a%2Fb');
    same('https://api.example/a%c3%a9', 'https://api.example/a%C3%A9');
    same('https://api.example/a%c3%a9', 'https://api.example/aé');
    assert.equal(normaliseHtu('https://api.example/zaken/%7ejan%3a%20x'), 'https://api.example/zaken/~jan%3A%20x');
    // Reserved characters stay encoded: /a%2Fb is not /a/b, %25 is not %.
    assert.notEqual(normaliseHtu('https://api.example/a%2Fb'), normaliseHtu('https://api.example/a/b'));
    assert.equal(normaliseHtu('https://api.example/a%252F'), 'https://api.example/a%252F');
    const { pair } = await clientKey();
    const proof = await DPoP.generateProof(pair, 'https://api.example/zaken/%7Ejan', 'GET');
    await new DpopProofChecker().check({ proof, method: 'GET', urls: ['https://api.example/zaken/~jan'] });
    const other = await DPoP.generateProof(pair, 'https://api.example/zaken%2Fjan', 'GET');
    await refusedWith(
      () => new DpopProofChecker().check({ proof: other, method: 'GET', urls: ['https://api.example/zaken/jan'] }),
      'dpop_wrong_request',
    );
  });
});

describe('DPoP proofs: refused', () => {
  it('a replayed proof, across checkers that share the replay cache', async () => {
    const { pair } = await clientKey();
    const replay = new MemoryReplayCache();
    const proof = await DPoP.generateProof(pair, URL_, 'GET');
    await new DpopProofChecker({ replay }).check({ proof, method: 'GET', urls: [URL_] });
    await refusedWith(
      () => new DpopProofChecker({ replay }).check({ proof, method: 'GET', urls: [URL_] }),
      'dpop_replayed',
    );
  });

  it("a jti is single use per key: another key's proof with the same jti is its own, each replay is refused", async () => {
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherJwk = other.publicKey.export({ format: 'jwk' });
    const ids: string[] = [];
    const seen = new Set<string>();
    // A store that processes share, as zgw-auth's and Redis's: it is given the whole thumbprint.
    const shared = {
      useOnce(namespace: string, id: string) {
        ids.push(id);
        if (seen.has(`${namespace}:${id}`)) return false;
        seen.add(`${namespace}:${id}`);
        return true;
      },
    };
    for (const replay of [new MemoryReplayCache(), shared]) {
      const checker = new DpopProofChecker({ replay });
      for (const jti of ['short', crypto.randomBytes(16).toString('base64url'), crypto.randomUUID(), 'j'.repeat(256)]) {
        const mine = forged({}, claimsNow({ jti }));
        const theirs = forged({ jwk: otherJwk }, claimsNow({ jti }), other.privateKey);
        await checker.check({ proof: mine, method: 'GET', urls: [URL_] });
        await checker.check({ proof: theirs, method: 'GET', urls: [URL_] });
        await refusedWith(() => checker.check({ proof: mine, method: 'GET', urls: [URL_] }), 'dpop_replayed');
        await refusedWith(() => checker.check({ proof: theirs, method: 'GET', urls: [URL_] }), 'dpop_replayed');
      }
    }
    // Its records name the key by its whole thumbprint, as every earlier version did: processes of
    // two versions that share it during a rolling update find each other's proofs.
    assert.equal(ids[0], `${jwkThumbprint(ecPublicJwk)}.short`);
  });

  it('a header whose last character carries stray bits is refused, also after the canonical one was seen', async () => {
    // The decoder skips the header's checks for a segment it has cached: only the exact string.
    // The key holder signs the odd header itself, so that only the canonical check can refuse it.
    let pad = '';
    const header = () => ({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecPublicJwk, pad });
    while (base64urlJson(header()).length % 4 !== 2) pad += 'p';
    const canonical = base64urlJson(header());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Two characters over a 4-character group: the last one's low 4 bits are spare.
    const odd = canonical.slice(0, -1) + alphabet[alphabet.indexOf(canonical.at(-1)!) ^ 1]!;
    assert.deepEqual(Buffer.from(odd, 'base64url'), Buffer.from(canonical, 'base64url'));
    const checker = new DpopProofChecker();
    const sign = (encodedHeader: string) => signJws({ alg: 'ES256', encodedHeader }, claimsNow(), ecKey.privateKey);
    for (const encodedHeader of [odd, canonical, odd, `${canonical}=`]) {
      const proof = sign(encodedHeader);
      if (encodedHeader === canonical) await checker.check({ proof, method: 'GET', urls: [URL_] });
      else
        await refusedWith(
          () => checker.check({ proof, method: 'GET', urls: [URL_] }),
          'invalid_dpop_proof',
          /base64url/,
        );
    }
  });

  it('a proof for another URL or another method', async () => {
    const { pair } = await clientKey();
    const checker = new DpopProofChecker();
    const other = await DPoP.generateProof(pair, 'https://api.example/zaken/api/v1/statussen', 'GET');
    await refusedWith(() => checker.check({ proof: other, method: 'GET', urls: [URL_] }), 'dpop_wrong_request', /htu/);
    const otherHost = await DPoP.generateProof(pair, 'https://evil.example/zaken/api/v1/zaken', 'GET');
    await refusedWith(() => checker.check({ proof: otherHost, method: 'GET', urls: [URL_] }), 'dpop_wrong_request');
    const post = await DPoP.generateProof(pair, URL_, 'POST');
    await refusedWith(() => checker.check({ proof: post, method: 'GET', urls: [URL_] }), 'dpop_wrong_request', /POST/);
  });

  it('an old iat, or one from the future, beyond the window and leeway', async () => {
    const checker = new DpopProofChecker({ window: 60, leeway: 5 });
    const t = Math.floor(Date.now() / 1000);
    for (const iat of [t - 70, t + 70])
      await refusedWith(
        () => checker.check({ proof: forged({}, claimsNow({ iat })), method: 'GET', urls: [URL_] }),
        'dpop_stale',
      );
    await checker.check({ proof: forged({}, claimsNow({ iat: t - 60 })), method: 'GET', urls: [URL_] });
  });

  it('a proof with a private key in jwk, a symmetric key, or no jwk', async () => {
    const checker = new DpopProofChecker();
    const privateJwk = ecKey.privateKey.export({ format: 'jwk' });
    for (const [jwk, message] of [
      [privateJwk, /private key material/],
      [{ kty: 'oct', k: 'c2VjcmV0' }, /private key material/],
      [undefined, /needs a jwk/],
      ['a string', /needs a jwk/],
      [{ kty: 'EC', crv: 'P-256', x: ecPublicJwk.x }, /lacks "y"/],
    ] as const)
      await refusedWith(
        () => checker.check({ proof: forged({ jwk }, claimsNow()), method: 'GET', urls: [URL_] }),
        'invalid_dpop_proof',
        message,
      );
  });

  it('alg none, HS256, an algorithm that does not fit the key, a wrong typ, crit', async () => {
    const checker = new DpopProofChecker();
    const unsigned = `${base64urlJson({ alg: 'none', typ: 'dpop+jwt', jwk: ecPublicJwk })}.${base64urlJson(claimsNow())}.`;
    const hs = signJws(
      { alg: 'HS256', typ: 'dpop+jwt', jwk: ecPublicJwk } as { alg: string },
      claimsNow(),
      'shared-secret',
    );
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsJwkEs = signJws(
      { alg: 'RS256', typ: 'dpop+jwt', jwk: ecPublicJwk } as { alg: string },
      claimsNow(),
      rsa.privateKey,
    );
    for (const [proof, message] of [
      [unsigned, /algorithm "none"/],
      [hs, /algorithm "HS256"/],
      [rsJwkEs, /not a key for RS256/],
      [forged({ typ: 'JWT' }, claimsNow()), /typ "dpop\+jwt"/],
      [forged({ crit: ['x'], x: 1 }, claimsNow()), /crit/],
    ] as const)
      await refusedWith(() => checker.check({ proof, method: 'GET', urls: [URL_] }), 'invalid_dpop_proof', message);
    await refusedWith(
      () =>
        new DpopProofChecker({ algorithms: ['PS256'] }).check({
          proof: forged({}, claimsNow()),
          method: 'GET',
          urls: [URL_],
        }),
      'invalid_dpop_proof',
      /use PS256/,
    );
    assert.throws(() => new DpopProofChecker({ algorithms: ['HS256'] }), /not allowed/);
  });

  it('a window or leeway that is no number of seconds is refused when the checker is made', async () => {
    // NaN (Number of an unset variable) would accept a proof of any age and remember none of them.
    for (const bad of [NaN, -1, Infinity]) {
      assert.throws(() => new DpopProofChecker({ window: bad }), /window/);
      assert.throws(() => new DpopProofChecker({ leeway: bad }), /leeway/);
      assert.throws(
        () => createVerifier({ issuer: 'https://idp.example', audience: 'a', dpop: { window: bad } }),
        /window/,
      );
    }
    const checker = new DpopProofChecker({ window: 0, leeway: 0, now: () => 1_700_000_000_000 });
    await checker.check({ proof: forged({}, claimsNow({ iat: 1_700_000_000 })), method: 'GET', urls: [URL_] });
  });

  it('a signature by another key than the jwk, missing claims, an oversized jti, two headers', async () => {
    const checker = new DpopProofChecker();
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: Array<[string | string[], RegExp]> = [
      [forged({}, claimsNow(), other.privateKey), /signature does not verify/],
      [forged({}, claimsNow({ jti: undefined })), /jti/],
      [forged({}, claimsNow({ jti: 'j'.repeat(257) })), /jti/],
      [forged({}, claimsNow({ htu: undefined })), /htm and htu/],
      [forged({}, claimsNow({ iat: '1' })), /iat/],
      [[forged({}, claimsNow()), forged({}, claimsNow())], /one DPoP header/],
      [`${forged({}, claimsNow())}, ${forged({}, claimsNow())}`, /one DPoP header/],
      ['x'.repeat(8193), /longer than 8192/],
      ['not.a.jwt!', /not a JWT/],
    ];
    for (const [proof, message] of cases)
      await refusedWith(() => checker.check({ proof, method: 'GET', urls: [URL_] }), 'invalid_dpop_proof', message);
    await refusedWith(() => checker.check({ proof: undefined, method: 'GET', urls: [URL_] }), 'dpop_proof_missing');
    // The same on the thread pool, as zgw-auth's /token checks.
    const pooled = new DpopProofChecker({ threadPool: true });
    await refusedWith(
      () => pooled.check({ proof: cases[0]![0], method: 'GET', urls: [URL_] }),
      'invalid_dpop_proof',
      /signature does not verify/,
    );
    await pooled.check({ proof: forged({}, claimsNow()), method: 'GET', urls: [URL_] });
  });

  it('at an API: a proof without ath, for another token, or by another key than cnf.jkt', async () => {
    const { pair, jkt } = await clientKey();
    const other = await clientKey();
    const checker = new DpopProofChecker();
    const input = { method: 'GET', urls: [URL_], accessToken: 'the.access.token', jkt };
    const noAth = await DPoP.generateProof(pair, URL_, 'GET');
    await refusedWith(() => checker.check({ ...input, proof: noAth }), 'dpop_wrong_token');
    const otherToken = await DPoP.generateProof(pair, URL_, 'GET', undefined, 'another.access.token');
    await refusedWith(() => checker.check({ ...input, proof: otherToken }), 'dpop_wrong_token');
    const otherKey = await DPoP.generateProof(other.pair, URL_, 'GET', undefined, 'the.access.token');
    await refusedWith(() => checker.check({ ...input, proof: otherKey }), 'dpop_wrong_key');
    assert.equal(
      accessTokenHash('the.access.token'),
      crypto.createHash('sha256').update('the.access.token').digest('base64url'),
    );
  });
});

describe('DPoP proof keys, imported once per key', () => {
  it('the key cache never confuses two keys: each proof verifies with its own jwk and reports its thumbprint', async () => {
    const checker = new DpopProofChecker();
    const a = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwkA = a.publicKey.export({ format: 'jwk' });
    const jwkB = b.publicKey.export({ format: 'jwk' });
    const proof = (jwk: object, key: crypto.KeyObject, header: Record<string, unknown> = {}) =>
      forged({ jwk, ...header }, claimsNow(), key);
    const check = (p: string) => checker.check({ proof: p, method: 'GET', urls: [URL_] });
    // Both keys in the cache, each found again through a header of another shape (a kid added).
    assert.equal((await check(proof(jwkA, a.privateKey))).jkt, jwkThumbprint(jwkA));
    assert.equal((await check(proof(jwkB, b.privateKey))).jkt, jwkThumbprint(jwkB));
    assert.equal((await check(proof(jwkA, a.privateKey, { kid: 'a' }))).jkt, jwkThumbprint(jwkA));
    assert.equal((await check(proof(jwkB, b.privateKey, { kid: 'b' }))).jkt, jwkThumbprint(jwkB));
    // A header naming one key, signed with the other: refused both ways, cached or not.
    for (const [jwk, key] of [
      [jwkA, b.privateKey],
      [jwkB, a.privateKey],
    ] as const)
      await refusedWith(() => check(proof(jwk, key, { kid: 'x' })), 'invalid_dpop_proof', /signature does not verify/);
    // A's x with B's y is another key (no point of P-256 at all): never A's cached import.
    await refusedWith(
      () => check(proof({ kty: 'EC', crv: 'P-256', x: jwkA.x, y: jwkB.y }, a.privateKey)),
      'invalid_dpop_proof',
      /not a valid public key/,
    );
    // Members the thumbprint does not cover change nothing; a private member is refused even for a cached key.
    await refusedWith(
      () => check(proof(a.privateKey.export({ format: 'jwk' }), a.privateKey)),
      'invalid_dpop_proof',
      /private key material/,
    );
  });

  it('a flood of distinct keys keeps the key cache within its bound (entries, and bytes of members)', () => {
    for (let i = 0; i < 1500; i++) {
      const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      jwkThumbprint(publicKey.export({ format: 'jwk' }));
    }
    assert.ok(importedKeyCount() <= 1024, `${importedKeyCount()} keys held`);
    assert.ok(importedKeyCount() >= 256, 'the cache holds keys at all');
    // Members of 1,400 characters each (no valid key, refused and remembered as such): the byte bound holds first.
    const big = (i: number) => `${'A'.repeat(1390)}${String(i).padStart(10, '0')}`;
    for (let i = 0; i < 1500; i++)
      assert.throws(() => jwkThumbprint({ kty: 'EC', crv: 'P-256', x: big(i), y: big(i) }), /not a valid public key/);
    assert.ok(importedKeyCount() <= 400, `${importedKeyCount()} keys of 2,800 bytes of members held`);
  });

  it('a header is judged per checker: one that allows only PS256 refuses an ES256 header another accepted', async () => {
    const header = { kid: 'per-checker' };
    await new DpopProofChecker().check({ proof: forged(header, claimsNow()), method: 'GET', urls: [URL_] });
    await refusedWith(
      () =>
        new DpopProofChecker({ algorithms: ['PS256'] }).check({
          proof: forged(header, claimsNow()),
          method: 'GET',
          urls: [URL_],
        }),
      'invalid_dpop_proof',
      /use PS256/,
    );
  });
});

describe('DPoP server nonces', () => {
  it('without a current nonce: use_dpop_nonce naming it; with it accepted; a forged or expired one refused', async () => {
    let t = 1_700_000_000_000;
    const nonces = new DpopNonces('a nonce secret of 32 bytes......', { lifetime: 300, now: () => t });
    const checker = new DpopProofChecker({ nonces });
    const { pair } = await clientKey();
    const err = await refusedWith(
      async () => checker.check({ proof: await DPoP.generateProof(pair, URL_, 'GET'), method: 'GET', urls: [URL_] }),
      'use_dpop_nonce',
    );
    assert.equal(err.dpopNonce, nonces.current());
    const withNonce = await DPoP.generateProof(pair, URL_, 'GET', err.dpopNonce);
    await checker.check({ proof: withNonce, method: 'GET', urls: [URL_] });
    const [slot] = err.dpopNonce!.split('.');
    const forgedNonce = `${slot}.${'A'.repeat(22)}`;
    await refusedWith(
      async () =>
        checker.check({ proof: await DPoP.generateProof(pair, URL_, 'GET', forgedNonce), method: 'GET', urls: [URL_] }),
      'use_dpop_nonce',
    );
    // The next slot still accepts it; the one after does not.
    t += 300_000;
    assert.ok(nonces.accepts(err.dpopNonce));
    t += 300_000;
    assert.ok(!nonces.accepts(err.dpopNonce));
    assert.ok(!new DpopNonces('another secret of 32 bytes......', { now: () => t }).accepts(nonces.current()));
  });
});

describe('replay caches', () => {
  it('memory: refuses a replay until expiry, drops expired generations, refuses when full of live ids', () => {
    let t = 1_000_000;
    const cache = new MemoryReplayCache(4, () => t);
    assert.equal(cache.useOnce('dpop', 'a', t + 1000), true);
    assert.equal(cache.useOnce('dpop', 'a', t + 1000), false);
    assert.equal(cache.useOnce('other', 'a', t + 1000), true, 'namespaces are apart');
    assert.equal(cache.useOnce('dpop', 'b', t + 1000), true);
    assert.equal(cache.useOnce('dpop', 'c', t + 1000), true);
    assert.throws(() => cache.useOnce('dpop', 'd', t + 1000), ReplayCacheFull);
    assert.equal(cache.useOnce('dpop', 'a', t + 1000), false, 'still a replay when full');
    t += 1001;
    assert.equal(cache.useOnce('dpop', 'd', t + 1000), true, 'room again once the old ones expired');
    t += 1001;
    for (const id of ['e', 'f', 'g']) assert.equal(cache.useOnce('dpop', id, t + 1000), true);
    assert.ok(cache.size <= 4);
  });

  it('memory: does not refuse proofs while it holds fewer live ones than its size', () => {
    // One proof a second, each remembered 65 s (the default window and leeway): at most 66 are live
    // at any time, well under a cache of 100. Counting expired ones too, the cache would be "full"
    // with about 66 live ones, and a busy API answer 503 far below the size it was given.
    let t = 0;
    const cache = new MemoryReplayCache(100, () => t);
    const refusedAt: number[] = [];
    for (let second = 0; second < 400; second++) {
      t = second * 1000;
      try {
        assert.equal(cache.useOnce('dpop', `proof-${second}`, t + 65_000 + 1), true);
      } catch (err) {
        if (!(err instanceof ReplayCacheFull)) throw err;
        refusedAt.push(second);
      }
      assert.ok(cache.size <= 100, `holds ${cache.size} identifiers`);
    }
    assert.deepEqual(refusedAt, [], `refused as full at seconds ${refusedAt.slice(0, 5).join(', ')}, ...`);
    assert.equal(cache.useOnce('dpop', 'proof-399', t + 65_001), false, 'a live one is still a replay');
  });

  it('memory: a flood of unique identifiers never holds more than its size; live ones are never forgotten', () => {
    let t = 1_000_000;
    const size = 1000;
    const cache = new MemoryReplayCache(size, () => t);
    let accepted = 0;
    let full = 0;
    const recent: string[] = [];
    // 20,000 unique ids, 50 a second (the clock steps 20 ms), lifetimes of 1 to 130 s as iat jitter gives.
    for (let i = 0; i < 20_000; i++) {
      t += 20;
      const id = `flood-${i}`;
      try {
        cache.useOnce('dpop', id, t + 1000 + ((i * 7919) % 130_000));
        accepted++;
        recent.push(id);
      } catch (err) {
        if (!(err instanceof ReplayCacheFull)) throw err;
        full++;
      }
      assert.ok(cache.size <= size, `holds ${cache.size} identifiers at ${i}`);
    }
    assert.ok(accepted > size && full > 0, `accepted ${accepted}, refused as full ${full}`);
    // The last one accepted is live (its lifetime is at least a second): still a replay.
    assert.equal(cache.useOnce('dpop', recent.at(-1)!, t + 1000), false);
  });

  it('memory: every live identifier is still a replay after the cache grows and after a sweep', () => {
    // 5,000 records start as room for 1,024 and grow by doubling: each growth and each sweep
    // rebuilds the index, which must still find every identifier it keeps.
    let t = 1_000_000;
    const cache = new MemoryReplayCache(5000, () => t);
    for (let i = 0; i < 3000; i++) assert.equal(cache.useOnce('dpop', `short-${i}`, t + 1000), true);
    for (let i = 0; i < 2000; i++) assert.equal(cache.useOnce('dpop', `long-${i}`, t + 100_000), true);
    assert.equal(cache.size, 5000);
    for (let i = 0; i < 3000; i += 7) assert.equal(cache.useOnce('dpop', `short-${i}`, t + 1000), false);
    assert.throws(() => cache.useOnce('other', 'short-0', t + 1000), ReplayCacheFull, 'full of live ones');
    t += 1001;
    // Full of records, 2,000 live: the next new one sweeps the 3,000 expired ones out.
    assert.equal(cache.useOnce('dpop', 'after-sweep', t + 1000), true);
    assert.equal(cache.size, 2001);
    for (let i = 0; i < 2000; i++) assert.equal(cache.useOnce('dpop', `long-${i}`, t + 100_000), false, `long-${i}`);
    assert.equal(cache.useOnce('dpop', 'after-sweep', t + 1000), false);
    assert.equal(cache.useOnce('dpop', 'short-5', t + 1000), true, 'an expired identifier may be used again');
    assert.equal(cache.useOnce('other', 'long-0', t + 1000), true, 'namespaces are apart');
    for (const far of [t + 100 * 365 * 86_400_000, Infinity]) {
      assert.equal(cache.useOnce('far', String(far), far), true);
      assert.equal(cache.useOnce('far', String(far), far), false, `expiring at ${far}: still a replay`);
    }
  });

  it('memory: after the clock steps back it holds no more than its size and forgets no live identifier', () => {
    // The wall clock can step back (NTP, a resumed VM): identifiers no longer counted once their
    // expiry passed are live again at the earlier time. The cache must then refuse new ones rather
    // than take more than its arrays hold, where one would be dropped unseen and could be replayed.
    let t = 1_000_000;
    const cache = new MemoryReplayCache(8, () => t);
    const use = (id: string) => {
      try {
        return cache.useOnce('dpop', id, t + 10_000);
      } catch (err) {
        if (err instanceof ReplayCacheFull) return 'full';
        throw err;
      }
    };
    for (const id of ['a', 'b', 'c', 'd']) assert.equal(use(id), true);
    t += 11_000;
    assert.equal(use('x'), true, 'a to d expired: no longer counted');
    t -= 6_000;
    const accepted = ['x'];
    for (let i = 0; i < 8; i++) {
      if (use(`n${i}`) === true) accepted.push(`n${i}`);
      assert.ok(cache.size <= 8, `holds ${cache.size} identifiers`);
    }
    for (const id of ['a', 'b', 'c', 'd', ...accepted]) assert.equal(use(id), false, `${id}: still a replay`);
  });

  it('memory: an expiry that is no number is refused, never remembered as nothing', () => {
    const t = 1_000_000;
    const cache = new MemoryReplayCache(8, () => t);
    assert.throws(() => cache.useOnce('dpop', 'nan', NaN), RangeError);
    assert.throws(() => cache.useOnce('dpop', 'nan', NaN), RangeError);
    assert.equal(cache.size, 0);
    assert.equal(cache.useOnce('dpop', 'nan', t + 1000), true);
    assert.equal(cache.useOnce('dpop', 'nan', t + 1000), false);
  });

  it('memory: one owner (DPoP key) holds at most its share; another keeps working', () => {
    let t = 0;
    assert.equal(new MemoryReplayCache().maxPerOwner, 12_500, 'an eighth of 100,000');
    assert.equal(new MemoryReplayCache(4000).maxPerOwner, 1000, 'at least 1,000');
    const cache = new MemoryReplayCache(100, () => t, { maxPerOwner: 10 });
    for (let i = 0; i < 10; i++) assert.equal(cache.useOnce('dpop', `a${i}`, t + 60_000, 'key-a'), true);
    assert.throws(() => cache.useOnce('dpop', 'a10', t + 60_000, 'key-a'), ReplayCacheFull);
    assert.equal(cache.useOnce('dpop', 'a3', t + 60_000, 'key-a'), false, 'a replay is still a replay');
    for (let i = 0; i < 10; i++) assert.equal(cache.useOnce('dpop', `b${i}`, t + 60_000, 'key-b'), true);
    assert.equal(cache.useOnce('dpop', 'n0', t + 60_000), true, 'identifiers of no owner');
    t = 60_001;
    assert.equal(cache.useOnce('dpop', 'a10', t + 60_000, 'key-a'), true, 'room again once its own expired');
  });

  it('DPoP: one key that floods the memory cache is refused 503 replay_cache_full; another key still works', async () => {
    // 8,000 proofs of room: one key may hold 1,000 of them (max(1000, 8000 / 8)).
    const checker = new DpopProofChecker({ replay: new MemoryReplayCache(8000) });
    const flooder = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const flooderJwk = flooder.publicKey.export({ format: 'jwk' });
    const proofOf = (pair: typeof flooder, jwk: typeof flooderJwk) =>
      signJws({ alg: 'ES256', typ: 'dpop+jwt', jwk } as { alg: string }, claimsNow(), pair.privateKey);
    for (let i = 0; i < 1000; i++)
      await checker.check({ proof: proofOf(flooder, flooderJwk), method: 'GET', urls: [URL_] });
    const err = await refusedWith(
      () => checker.check({ proof: proofOf(flooder, flooderJwk), method: 'GET', urls: [URL_] }),
      'replay_cache_full',
    );
    const answer = refusal(err);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '1');
    const { pair } = await clientKey();
    await checker.check({ proof: await DPoP.generateProof(pair, URL_, 'GET'), method: 'GET', urls: [URL_] });
  });

  it('redis: one identifier used once across caches on the same Redis; forgotten at its expiry', async () => {
    const redis = new Redis('redis://127.0.0.1:6379/0', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const prefix = `zgw-auth-test:dpop:${crypto.randomUUID()}:`;
      const one = redisReplayCache(redis, prefix);
      const two = redisReplayCache(redis, prefix);
      const expiresAt = Date.now() + 400;
      assert.equal(await one.useOnce('dpop', 'j'.repeat(200), expiresAt), true);
      assert.equal(await two.useOnce('dpop', 'j'.repeat(200), expiresAt), false, 'another process sees the replay');
      const keys = await redis.keys(`${prefix}*`);
      assert.equal(keys.length, 1);
      assert.match(keys[0]!, /:[A-Za-z0-9_-]{22}$/, 'a short hash, not the identifier');
      const ttl = await redis.pttl(keys[0]!);
      assert.ok(ttl > 0 && ttl <= 400, `expires with the proof (${ttl} ms left)`);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
      assert.equal(await two.useOnce('dpop', 'j'.repeat(200), Date.now() + 400), true, 'forgotten after expiry');
      await redis.del(...(await redis.keys(`${prefix}*`)));
    } finally {
      redis.disconnect();
    }
  });
});

describe('bound tokens in createVerifier', () => {
  const idp = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = { get: () => ({ key: idp.publicKey, alg: 'ES256' }) };
  const issued = (cnf: unknown) => {
    const t = Math.floor(Date.now() / 1000);
    return signJws(
      { alg: 'ES256', typ: 'at+jwt', kid: 'k' },
      { iss: 'https://idp.example', client_id: 'c1', iat: t, exp: t + 600, scope: 'zaken.lezen', cnf },
      idp.privateKey,
    );
  };
  const verifier = createVerifier({ issuer: 'https://idp.example', keys });

  it('verify refuses a bound token unless asked to pass cnf on; verifyRequest checks a proof on every request', async () => {
    const { pair, jkt } = await clientKey();
    const token = issued({ jkt });
    await refusedWith(() => verifier.verify(token), 'bound_token_as_bearer');
    const passed = await verifier.verify(token, [], { acceptBoundTokens: true });
    assert.deepEqual(passed.confirmation, { jkt });
    const request = async () => ({
      authorization: `DPoP ${token}`,
      dpop: await DPoP.generateProof(pair, URL_, 'GET', undefined, token),
      method: 'GET',
      url: URL_,
    });
    assert.equal((await verifier.verifyRequest(await request(), ['zaken.lezen'])).clientId, 'c1');
    // The token's verification is cached; its proof is not.
    const again = await request();
    await verifier.verifyRequest(again);
    await refusedWith(() => verifier.verifyRequest(again), 'dpop_replayed');
    await refusedWith(() => verifier.verifyRequest({ ...again, dpop: undefined }), 'dpop_proof_missing');
    // The scheme in any case, spaces around the token; whitespace inside it is no token.
    for (const authorization of [`dpop   ${token}  `, `DPOP ${token}`])
      await verifier.verifyRequest({ ...(await request()), authorization });
    const [head, rest] = [token.slice(0, 20), token.slice(20)];
    for (const authorization of [`DPoP ${head} ${rest}`, `DPoP ${head}\t${rest}`, `DPoP\t${token}`, 'DPoP ', 'DPoP  '])
      await assert.rejects(verifier.verifyRequest({ ...(await request()), authorization }), TokenError);
  });

  it('a cnf that is not an object, holds a malformed thumbprint or only another confirmation method is refused', async () => {
    const thumbprintsOf43 = ['!'.repeat(43), `${'a'.repeat(42)}=`, `${'a'.repeat(42)}é`, `${'a'.repeat(41)}+/`];
    for (const cnf of [
      'x',
      { jkt: 'short' },
      { 'x5t#S256': 42 },
      { jwk: { kty: 'EC' } },
      { kid: 'k1' },
      ...thumbprintsOf43.map((jkt) => ({ jkt })),
      ...thumbprintsOf43.map((x5t) => ({ 'x5t#S256': x5t })),
    ])
      await refusedWith(
        () => verifier.verify(issued(cnf), [], { acceptBoundTokens: true }),
        'invalid_claim',
        /cnf|confirmation/,
      );
  });
});
