import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { type ClientRecord, createVerifier, TokenError, type Verifier, type VerifierOptions } from '@zgw-auth/verifier';
import { base64urlJson, hs256, type JoseHeader, signJws } from '@zgw-auth/verifier/testing';
import { MemoryClients, MemoryKeySource } from './memory-sources.js';
import { refused } from './refused.js';

const ISSUER = 'https://idp.example';
const NOW = 1_700_000_000_000;
const nowS = NOW / 1000;
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = crypto.generateKeyPairSync('ed25519');

function keySource(asynchronous = false): MemoryKeySource {
  const keys = new MemoryKeySource(asynchronous);
  keys.keys.set('rs', { key: rsa.publicKey, alg: 'RS256' });
  // The same RSA key pair bound to RS256 and, under another kid, to PS256: confusion tests sign with both.
  keys.keys.set('ps', { key: rsa.publicKey, alg: 'PS256' });
  keys.keys.set('es', { key: ec.publicKey, alg: 'ES256' });
  keys.keys.set('ed', { key: ed.publicKey, alg: 'EdDSA' });
  return keys;
}

const client = (extra: Partial<ClientRecord> = {}): ClientRecord => ({
  clientId: 'c1',
  rsin: '000000000',
  enabled: true,
  selfSignedAllowed: false,
  secrets: [],
  ...extra,
});
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  sub: 'c1',
  client_id: 'c1',
  aud: 'ZGW_APIs',
  iat: nowS,
  nbf: nowS,
  exp: nowS + 600,
  scope: 'zaken.lezen zaken.aanmaken',
  ...extra,
});
const HEADERS = {
  RS256: { alg: 'RS256', typ: 'at+jwt', kid: 'rs' },
  PS256: { alg: 'PS256', typ: 'at+jwt', kid: 'ps' },
  ES256: { alg: 'ES256', typ: 'at+jwt', kid: 'es' },
  EdDSA: { alg: 'EdDSA', typ: 'at+jwt', kid: 'ed' },
} as const;
const token = (extra: Record<string, unknown> = {}, header: JoseHeader = HEADERS.RS256, key = rsa.privateKey) =>
  signJws(header, claims(extra), key);

function verifierWith(options: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({ issuer: ISSUER, keys: keySource(), cache: false, now: () => NOW, ...options });
}

describe('IdP tokens: accepted', () => {
  for (const [alg, key] of [
    ['RS256', rsa.privateKey],
    ['PS256', rsa.privateKey],
    ['ES256', ec.privateKey],
    ['EdDSA', ed.privateKey],
  ] as const) {
    it(`${alg}: the principal carries the client, rsin, scopes and all claims`, async () => {
      for (const asynchronous of [false, true]) {
        const p = await verifierWith({ keys: keySource(asynchronous) }).verify(
          `Bearer ${token({ rsin: '123456782', user_id: 'u1' }, HEADERS[alg], key)}`,
        );
        assert.equal(p.kind, 'oauth2');
        assert.equal(p.clientId, 'c1');
        assert.equal(p.rsin, '123456782');
        assert.equal(p.userId, 'u1');
        assert.deepEqual(p.scopes, ['zaken.lezen', 'zaken.aanmaken']);
        assert.equal(p.expiresAt, nowS + 600);
        assert.equal(p.claims.iss, ISSUER);
      }
    });
  }

  it('typ application/at+jwt, scp as a list, sub when client_id is absent', async () => {
    const p = await verifierWith().verify(
      token(
        { client_id: undefined, scope: undefined, scp: ['a', 7, 'b'] },
        { ...HEADERS.RS256, typ: 'application/at+jwt' },
      ),
    );
    assert.equal(p.clientId, 'c1');
    assert.deepEqual(p.scopes, ['a', 'b']);
  });

  it('requireTyp: false accepts a plain JWT; the audience is checked when configured', async () => {
    await verifierWith({ requireTyp: false }).verify(token({}, { alg: 'RS256', kid: 'rs' }));
    await verifierWith({ audience: ['other', 'ZGW_APIs'] }).verify(token({ aud: ['x', 'ZGW_APIs'] }));
    await refused(verifierWith({ audience: 'other' }), token(), 'audience_mismatch', true);
    await refused(verifierWith({ audience: 'ZGW_APIs' }), token({ aud: undefined }), 'audience_mismatch', true);
  });
});

describe('IdP tokens: algorithm confusion', () => {
  it('alg none, in any spelling, and algorithms outside the list', async () => {
    const v = verifierWith();
    for (const alg of ['none', 'None', 'NONE', 'HS384', 'HS512', 'RS384', 'PS384', 'ES512']) {
      await refused(
        v,
        `${base64urlJson({ alg, typ: 'at+jwt', kid: 'rs' })}.${base64urlJson(claims())}.`,
        'alg_not_allowed',
      );
    }
    for (const alg of [undefined, 7, ['RS256'], null])
      await refused(v, `${base64urlJson({ alg, kid: 'rs' })}.${base64urlJson(claims())}.AAAA`, 'alg_not_allowed');
  });

  it("HS256 signed with the issuer's public key (PEM, DER or JWK) is never checked against that key", async () => {
    const clients = new MemoryClients();
    clients.set(client({ selfSignedAllowed: true, secrets: ['the-real-secret-of-client-c1'] }));
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' });
    for (const secret of [pem, der, JSON.stringify(rsa.publicKey.export({ format: 'jwk' }))]) {
      const forged = hs256({ ...claims(), iat: nowS }, secret, { alg: 'HS256', typ: 'at+jwt', kid: 'rs' });
      await refused(verifierWith({ clients: clients.resolve }), forged, 'bad_signature', false);
      await refused(verifierWith(), forged, 'alg_not_allowed');
      await refused(verifierWith({ clients: clients.resolve, selfSigned: false }), forged, 'alg_not_allowed');
    }
  });

  it('a key verifies only its own algorithm; the algorithms option narrows the list; HS256 cannot be configured', async () => {
    const v = verifierWith();
    // Header says ES256 but names the RSA key, and the other way round.
    await refused(v, token({}, { ...HEADERS.ES256, kid: 'rs' }, ec.privateKey), 'alg_not_allowed');
    await refused(v, token({}, { ...HEADERS.RS256, kid: 'ed' }), 'alg_not_allowed');
    // One RSA key, two algorithms: a key published for RS256 verifies no PS256 token, and the other way round.
    await refused(v, token({}, { ...HEADERS.PS256, kid: 'rs' }), 'alg_not_allowed');
    await refused(v, token({}, { ...HEADERS.RS256, kid: 'ps' }), 'alg_not_allowed');
    await refused(verifierWith({ algorithms: ['ES256', 'EdDSA'] }), token(), 'alg_not_allowed');
    await verifierWith({ algorithms: ['ES256'] }).verify(token({}, HEADERS.ES256, ec.privateKey));
    for (const alg of ['HS256', 'none', 'RS384'])
      assert.throws(() => createVerifier({ issuer: ISSUER, algorithms: [alg] }), /not allowed/);
  });

  it('a key source that binds a key to the wrong algorithm still verifies nothing with it', async () => {
    const keys = new MemoryKeySource();
    keys.keys.set('ec', { key: ec.publicKey, alg: 'RS256' });
    const input = `${base64urlJson({ alg: 'RS256', typ: 'at+jwt', kid: 'ec' })}.${base64urlJson(claims())}`;
    const der = crypto.sign('sha256', Buffer.from(input), ec.privateKey).toString('base64url');
    await refused(verifierWith({ keys }), `${input}.${der}`, 'bad_signature', false);
  });

  it('unknown kid, no kid, a kid that is not a string, and a wrong signature', async () => {
    const keys = keySource();
    const v = verifierWith({ keys });
    await refused(v, token({}, { ...HEADERS.RS256, kid: 'gone' }), 'unknown_key');
    await refused(v, token({}, { alg: 'RS256', typ: 'at+jwt' }), 'unknown_key');
    for (const kid of [42, { $ne: null }, 'k'.repeat(201)])
      await refused(v, token({}, { ...HEADERS.RS256, kid }), 'unknown_key');
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    await refused(v, token({}, HEADERS.RS256, other.privateKey), 'bad_signature', false);
    const [h, , s] = token().split('.');
    await refused(v, `${h}.${base64urlJson(claims({ client_id: 'c2' }))}.${s}`, 'bad_signature', false);
    await refused(createVerifier({ clients: new MemoryClients().resolve, cache: false }), token(), 'unknown_key');
  });

  it('crit headers, JWE and unsigned tokens', async () => {
    const v = verifierWith();
    await refused(v, token({}, { ...HEADERS.RS256, crit: ['exp'], exp: 1 }), 'crit_unsupported');
    await refused(v, `${base64urlJson({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, 'malformed');
    await refused(v, token().split('.').slice(0, 2).join('.'), 'malformed');
    await refused(v, `${token().split('.').slice(0, 2).join('.')}.`, 'bad_signature');
  });

  it('typ other than at+jwt is not an access token', async () => {
    for (const typ of ['JWT', 'id_token', undefined])
      await refused(verifierWith(), token({}, { alg: 'RS256', kid: 'rs', typ }), 'wrong_typ');
  });
});

describe('IdP tokens: time and issuer', () => {
  it('expired beyond the clock skew; no exp at all', async () => {
    const v = verifierWith();
    await v.verify(token({ exp: nowS - 29 }));
    const err = await refused(v, token({ exp: nowS - 31 }), 'expired', true);
    assert.match(err.message, /expired 31 seconds ago/);
    await refused(v, token({ exp: undefined }), 'no_expiry', true);
    await refused(verifierWith({ clockSkew: 0 }), token({ exp: nowS - 1 }), 'expired');
  });

  it('nbf in the future beyond the clock skew', async () => {
    const v = verifierWith();
    await v.verify(token({ nbf: nowS + 29 }));
    await refused(v, token({ nbf: nowS + 31 }), 'not_yet_valid', true);
  });

  it('time claims must be finite numbers; string claims must be strings', async () => {
    const v = verifierWith();
    for (const bad of [{ exp: String(nowS + 600) }, { nbf: '0' }, { iat: true }])
      await refused(v, token(bad), 'invalid_claim');
    // JSON.parse reads 1e999 as Infinity: refused before the signature is even looked at.
    await refused(
      v,
      signJws(HEADERS.RS256, JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e999'), rsa.privateKey),
      'invalid_claim',
    );
    for (const claim of ['iss', 'sub', 'client_id', 'jti', 'rsin', 'user_id'])
      await refused(v, token({ [claim]: 7 }), 'invalid_claim');
    await refused(v, token({ client_id: undefined, sub: undefined }), 'invalid_claim', true);
  });

  it('another issuer, or none, is refused', async () => {
    await refused(verifierWith(), token({ iss: 'https://evil.example' }), 'issuer_mismatch', true);
    await refused(verifierWith(), token({ iss: undefined }), 'issuer_mismatch', true);
  });
});

describe('IdP tokens: the registry decides', () => {
  it('scopes are narrowed to what the client may do now; rsin comes from the registry', async () => {
    const clients = new MemoryClients();
    clients.set(client({ scopes: ['zaken.lezen'], rsin: '111222333' }));
    const v = verifierWith({ clients: clients.resolve });
    const p = await v.verify(token({ rsin: '999999999' }));
    assert.deepEqual(p.scopes, ['zaken.lezen']);
    assert.equal(p.rsin, '111222333');
    await v.verify(token(), ['zaken.lezen']);
    await assert.rejects(
      v.verify(token(), ['zaken.aanmaken']),
      (err: TokenError) => err.code === 'insufficient_scope' && err.authenticated,
    );
    clients.update('c1', { scopes: undefined });
    assert.deepEqual(
      (await v.verify(token())).scopes,
      ['zaken.lezen', 'zaken.aanmaken'],
      'without registered scopes the token says',
    );
  });

  it('a disabled, unknown or replaced client is refused, with the reason shown', async () => {
    for (const asynchronous of [false, true]) {
      const clients = new MemoryClients(asynchronous);
      clients.set(client({ registration: 'r1' }));
      const v = verifierWith({ clients: clients.resolve });
      await v.verify(token({ client_registration: 'r1' }));
      await refused(v, token(), 'client_replaced', true);
      await refused(v, token({ client_registration: 'r0' }), 'client_replaced', true);
      clients.update('c1', { enabled: false });
      await refused(v, token({ client_registration: 'r1' }), 'client_disabled', true);
      clients.records.delete('c1');
      await refused(v, token({ client_registration: 'r1' }), 'unknown_client', true);
      const long = 'c'.repeat(51);
      clients.set(client({ clientId: long }));
      const lookups = clients.lookups;
      await refused(v, token({ client_id: long, sub: long }), 'unknown_client', true);
      assert.equal(clients.lookups, lookups, 'an over-long client id is not looked up');
    }
  });

  it('a remembered token checked again: its signature only under the same key object, every other check again', async () => {
    let t = NOW;
    const keys = keySource();
    const clients = new MemoryClients();
    clients.set(client());
    const revoked = new Set<string>();
    const v = createVerifier({
      issuer: ISSUER,
      keys,
      clients: clients.resolve,
      isRevoked: (jti) => revoked.has(jti),
      now: () => t,
      cache: { revalidateAfterMs: 1000 },
    });
    const accepted = token({ jti: 'j1' });
    await v.verify(accepted);
    // Another key object under the same kid, another key pair: the remembered check does not carry over.
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.keys.set('rs', { key: other.publicKey, alg: 'RS256' });
    t += 1000;
    await refused(v, accepted, 'bad_signature', false);
    // The same key material in a new key object (a JWKS fetched again): verified in full, accepted.
    keys.keys.set('rs', { key: rsa.publicKey, alg: 'RS256' });
    await v.verify(accepted);
    // Under the key object that verified it, the client, revocation and time checks still run.
    clients.update('c1', { enabled: false });
    t += 1000;
    await refused(v, accepted, 'client_disabled', true);
    clients.update('c1', { enabled: true });
    await v.verify(accepted);
    revoked.add('j1');
    t += 1000;
    await refused(v, accepted, 'revoked', true);
    revoked.clear();
    await v.verify(accepted);
    t += 601_000 + 30_000;
    await refused(v, accepted, 'expired', true);
  });

  it('a revoked jti is refused; a token without jti is not asked about', async () => {
    const asked: string[] = [];
    const v = verifierWith({ isRevoked: (jti) => (asked.push(jti), jti === 'bad') });
    await v.verify(token({ jti: 'good' }));
    await refused(v, token({ jti: 'bad' }), 'revoked', true);
    await v.verify(token());
    assert.deepEqual(asked, ['good', 'bad']);
  });
});
