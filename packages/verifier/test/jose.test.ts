import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, importJwks } from '@zgw-auth/verifier';
import { base64urlJson, hs256, signJws } from '@zgw-auth/verifier/testing';
import {
  hs256MatchesAny,
  jwsSigningInput,
  keyFitsAlg,
  signJwsAsync,
  verifyJwsSignature,
} from '@zgw-auth/verifier/internal';

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = crypto.generateKeyPairSync('ed25519');
const CLAIMS = { client_id: 'c1', iat: 1_700_000_000 };
const PAIRS = [
  ['RS256', rsa],
  ['PS256', rsa],
  ['ES256', ec],
  ['EdDSA', ed],
] as const;

const parts = (token: string) => {
  const jwt = decodeJwt(token);
  return { jwt, input: jwt.signingInput, signature: jwt.signature };
};

describe('jose: minting', () => {
  it('base64urlJson and the signing input are the compact serialisation of the JSON', () => {
    assert.equal(base64urlJson({ alg: 'HS256', typ: 'JWT' }), 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9');
    assert.equal(
      jwsSigningInput({ alg: 'HS256' }, '[1,2]'),
      `${base64urlJson({ alg: 'HS256' })}.${Buffer.from('[1,2]').toString('base64url')}`,
    );
    assert.equal(
      jwsSigningInput({ alg: 'RS256', encodedHeader: 'aGVhZA' }, { a: 1 }),
      `aGVhZA.${base64urlJson({ a: 1 })}`,
    );
  });

  it('hs256 signs with the raw secret bytes, as ZGW consumers do, under the header it is given', () => {
    const token = hs256(CLAIMS, 'secret');
    const { jwt, input, signature } = parts(token);
    assert.deepEqual(jwt.header, { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(jwt.payload, CLAIMS);
    assert.deepEqual(signature, crypto.createHmac('sha256', 'secret').update(input).digest());
    assert.deepEqual(decodeJwt(hs256(CLAIMS, 'secret', { alg: 'none', kid: 7 })).header, { alg: 'none', kid: 7 });
    assert.equal(signJws({ alg: 'HS256', typ: 'JWT' }, CLAIMS, 'secret'), token);
  });

  for (const [alg, pair] of PAIRS) {
    it(`${alg}: signJws and signJwsAsync make tokens the other side of node:crypto verifies`, async () => {
      for (const token of [
        signJws({ alg, kid: 'k' }, CLAIMS, pair.privateKey),
        await signJwsAsync({ alg, kid: 'k' }, CLAIMS, pair.privateKey),
      ]) {
        const { jwt, input, signature } = parts(token);
        assert.deepEqual(jwt.header, { alg, kid: 'k' });
        assert.equal(verifyJwsSignature(alg, pair.publicKey, input, signature), true);
        assert.equal(verifyJwsSignature(alg, pair.publicKey, input + 'x', signature), false, 'another input');
      }
    });
  }

  it('PS256 is RSASSA-PSS with SHA-256, MGF1 SHA-256 and a 32-byte salt (RFC 7518 §3.5), not PKCS #1 v1.5', () => {
    const { input, signature } = parts(signJws({ alg: 'PS256' }, CLAIMS, rsa.privateKey));
    const pss = (saltLength: number) => ({
      key: rsa.publicKey,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength,
    });
    assert.ok(crypto.verify('sha256', Buffer.from(input), pss(32), signature));
    assert.equal(crypto.verify('sha256', Buffer.from(input), pss(0), signature), false, 'the salt is 32 bytes');
    assert.equal(crypto.verify('sha256', Buffer.from(input), rsa.publicKey, signature), false, 'not PKCS #1 v1.5');
    // PSS is randomised: two signatures of one input differ; RS256's do not.
    assert.notDeepEqual(parts(signJws({ alg: 'PS256' }, CLAIMS, rsa.privateKey)).signature, signature);
  });

  it('ES256 signatures are r‖s (64 bytes), not DER', () => {
    const { input, signature } = parts(signJws({ alg: 'ES256' }, CLAIMS, ec.privateKey));
    assert.equal(signature.length, 64);
    assert.ok(crypto.verify('sha256', Buffer.from(input), { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, signature));
  });

  it('refuses to sign with a key of the wrong kind, a public key, or an unknown algorithm', async () => {
    assert.throws(() => signJws({ alg: 'RS256' }, CLAIMS, ec.privateKey), TypeError);
    assert.throws(() => signJws({ alg: 'ES256' }, CLAIMS, rsa.privateKey), TypeError);
    assert.throws(() => signJws({ alg: 'EdDSA' }, CLAIMS, ec.privateKey), TypeError);
    assert.throws(() => signJws({ alg: 'RS256' }, CLAIMS, rsa.publicKey), TypeError);
    assert.throws(
      () => signJws({ alg: 'none' }, CLAIMS, rsa.privateKey),
      /algorithm "none" is not one this signs with/,
    );
    assert.throws(() => signJws({ alg: 'HS256' }, CLAIMS, rsa.privateKey), /secret/);
    assert.throws(() => signJws({ alg: 'RS256' }, CLAIMS, 'a-secret'), TypeError);
    await assert.rejects(signJwsAsync({ alg: 'ES256' }, CLAIMS, rsa.privateKey), TypeError);
  });
});

describe('jose: verifying', () => {
  it('a key verifies only the algorithm it is made for, whatever node:crypto would accept', () => {
    // An ECDSA signature in DER under alg RS256: node verifies it with the EC key when asked for sha256.
    const input = jwsSigningInput({ alg: 'RS256' }, CLAIMS);
    const der = crypto.sign('sha256', Buffer.from(input), ec.privateKey);
    assert.ok(crypto.verify('sha256', Buffer.from(input), ec.publicKey, der), 'node alone would accept it');
    assert.equal(verifyJwsSignature('RS256', ec.publicKey, input, der), false);
    assert.equal(keyFitsAlg(ec.publicKey, 'RS256'), false);
    assert.equal(keyFitsAlg(rsa.publicKey, 'ES256'), false);
    assert.equal(keyFitsAlg(ed.publicKey, 'ES256'), false);
    assert.equal(keyFitsAlg(crypto.createSecretKey(Buffer.alloc(32)), 'HS256'), false);
    for (const [alg, pair] of PAIRS) assert.equal(keyFitsAlg(pair.publicKey, alg), true);
  });

  it('PS256 verifies only a 32-byte salt; RS256 and PS256 signatures never pass for one another', () => {
    const input = jwsSigningInput({ alg: 'PS256' }, CLAIMS);
    const pssSigned = (saltLength: number) =>
      crypto.sign('sha256', Buffer.from(input), {
        key: rsa.privateKey,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      });
    assert.equal(verifyJwsSignature('PS256', rsa.publicKey, input, pssSigned(32)), true);
    for (const saltLength of [0, 20, 64, crypto.constants.RSA_PSS_SALTLEN_MAX_SIGN])
      assert.equal(
        verifyJwsSignature('PS256', rsa.publicKey, input, pssSigned(saltLength)),
        false,
        `salt ${saltLength}`,
      );
    const pkcs1 = crypto.sign('sha256', Buffer.from(input), rsa.privateKey);
    assert.equal(verifyJwsSignature('PS256', rsa.publicKey, input, pkcs1), false);
    assert.equal(verifyJwsSignature('RS256', rsa.publicKey, input, pssSigned(32)), false);
  });

  it('RSA keys under 2048 bits and EC keys on other curves are refused (RFC 7518)', () => {
    const small = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    assert.equal(keyFitsAlg(small.publicKey, 'RS256'), false);
    assert.equal(keyFitsAlg(small.publicKey, 'PS256'), false);
    assert.throws(() => signJws({ alg: 'PS256' }, CLAIMS, small.privateKey), TypeError);
    assert.equal(keyFitsAlg(p384.publicKey, 'ES256'), false);
    const input = jwsSigningInput({ alg: 'RS256' }, CLAIMS);
    assert.equal(
      verifyJwsSignature('RS256', small.publicKey, input, crypto.sign('sha256', Buffer.from(input), small.privateKey)),
      false,
    );
    assert.throws(() => signJws({ alg: 'RS256' }, CLAIMS, small.privateKey), TypeError);
    const jwk = (key: crypto.KeyObject, kid: string, alg?: string) => ({
      ...key.export({ format: 'jwk' }),
      kid,
      ...(alg ? { alg } : {}),
    });
    const imported = importJwks({
      keys: [
        jwk(small.publicKey, 'small'),
        jwk(p384.publicKey, 'p384', 'ES256'),
        jwk(ec.publicKey, 'ec-as-rsa', 'RS256'),
        jwk(rsa.publicKey, 'rsa-as-ec', 'ES256'),
        jwk(small.publicKey, 'small-pss', 'PS256'),
        jwk(ec.publicKey, 'ec-as-pss', 'PS256'),
        jwk(rsa.publicKey, 'good'),
        jwk(rsa.publicKey, 'good-pss', 'PS256'),
      ],
    });
    assert.deepEqual([...imported.keys()], ['good', 'good-pss']);
    assert.equal(imported.get('good')!.alg, 'RS256', 'an RSA key without alg is RS256, never PS256');
    assert.equal(imported.get('good-pss')!.alg, 'PS256');
  });

  it('RSA keys with a public exponent of 1, 3 or an even one are refused: with e = 1 anyone signs', () => {
    const { n } = rsa.publicKey.export({ format: 'jwk' });
    const input = jwsSigningInput({ alg: 'RS256', kid: 'e1' }, CLAIMS);
    // With e = 1 an RS256 signature is the PKCS #1 v1.5 encoded digest itself.
    const t = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      crypto.createHash('sha256').update(input).digest(),
    ]);
    const forged = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t.length - 3, 0xff), Buffer.from([0]), t]);
    for (const e of ['AQ', 'Aw', 'AQAA']) {
      const key = crypto.createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
      assert.equal(keyFitsAlg(key, 'RS256'), false, e);
      assert.equal(keyFitsAlg(key, 'PS256'), false, e);
      assert.equal(verifyJwsSignature('RS256', key, input, forged), false, e);
    }
    const imported = importJwks({
      keys: [
        { kty: 'RSA', n, e: 'AQ', kid: 'e1' },
        { kty: 'RSA', n, e: 'AQAB', kid: 'good' },
      ],
    });
    assert.deepEqual([...imported.keys()], ['good']);
  });

  it('unknown algorithms and malformed signatures verify as false, never throw', () => {
    const input = jwsSigningInput({ alg: 'RS256' }, CLAIMS);
    for (const alg of ['none', 'HS256', 'RS384', ''])
      assert.equal(verifyJwsSignature(alg, rsa.publicKey, input, Buffer.alloc(256)), false);
    for (const [alg, pair] of PAIRS)
      for (const length of [0, 1, 63, 64, 65, 256, 512])
        assert.equal(verifyJwsSignature(alg, pair.publicKey, input, Buffer.alloc(length, 1)), false);
  });

  it('hs256MatchesAny: any of the secrets, every one tried, lengths other than 32 bytes refused', () => {
    const token = hs256(CLAIMS, 'second');
    const { input, signature } = parts(token);
    assert.equal(hs256MatchesAny(['first', 'second', Buffer.from('third')], input, signature), true);
    assert.equal(hs256MatchesAny([Buffer.from('second')], input, signature), true);
    assert.equal(hs256MatchesAny(['first', 'third'], input, signature), false);
    assert.equal(hs256MatchesAny([], input, signature), false);
    assert.equal(hs256MatchesAny(['second'], input, signature.subarray(0, 31)), false);
    assert.equal(hs256MatchesAny(['second'], input, Buffer.concat([signature, Buffer.alloc(1)])), false);
    // Every secret costs one HMAC, whether or not an earlier one matched.
    let hmacs = 0;
    const createHmac = crypto.createHmac;
    crypto.createHmac = ((...a: Parameters<typeof createHmac>) => (hmacs++, createHmac(...a))) as typeof createHmac;
    try {
      hs256MatchesAny(['second', 'first', 'third'], input, signature);
    } finally {
      crypto.createHmac = createHmac;
    }
    assert.equal(hmacs, 3);
  });
});
