import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClientRecord,
  createVerifier,
  SELF_SIGNED_CLAIMS,
  TokenError,
  type Verifier,
  type VerifierOptions,
} from '@zgw-auth/verifier';
import { hs256 } from '@zgw-auth/verifier/testing';
import { MemoryClients } from './memory-sources.js';
import { refused } from './refused.js';

const NOW = 1_700_000_000_000;
const nowS = NOW / 1000;
const SECRET = 'a-self-signing-secret-of-enough-length';

const client = (extra: Partial<ClientRecord> = {}): ClientRecord => ({
  clientId: 'c1',
  rsin: '000000000',
  enabled: true,
  selfSignedAllowed: true,
  secrets: [SECRET],
  scopes: ['zaken.lezen'],
  ...extra,
});
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: 'c1',
  client_id: 'c1',
  iat: nowS,
  user_id: 'u1',
  user_representation: 'User One',
  ...extra,
});

function setup(options: Partial<VerifierOptions> = {}, asynchronous = false): { v: Verifier; clients: MemoryClients } {
  const clients = new MemoryClients(asynchronous);
  clients.set(client());
  return { v: createVerifier({ clients: clients.resolve, cache: false, now: () => NOW, ...options }), clients };
}

describe('self-signed tokens: accepted', () => {
  it("the client's registered scopes and rsin, never the token's; only the information claims kept", async () => {
    for (const asynchronous of [false, true]) {
      const { v } = setup({}, asynchronous);
      const p = await v.verify(
        hs256(
          claims({
            scope: 'admin',
            scp: ['admin'],
            roles: ['admin'],
            sub: 'someone',
            aud: 'x',
            jti: 'j1',
            exp: nowS + 60,
          }),
          SECRET,
        ),
      );
      assert.equal(p.kind, 'self-signed');
      assert.equal(p.clientId, 'c1');
      assert.equal(p.rsin, '000000000');
      assert.deepEqual(p.scopes, ['zaken.lezen']);
      assert.equal(p.userId, 'u1');
      assert.equal(p.userRepresentation, 'User One');
      assert.deepEqual(Object.keys(p.claims).sort(), ['exp', 'iat', 'jti', 'user_id', 'user_representation']);
      for (const c of Object.keys(p.claims))
        assert.ok(c === 'exp' || (SELF_SIGNED_CLAIMS as readonly string[]).includes(c));
      assert.equal(p.expiresAt, nowS + 60);
    }
  });

  it('any of the client’s secrets, string or Buffer; the same rsin may be claimed', async () => {
    const { v, clients } = setup();
    clients.update('c1', { secrets: ['an-older-secret-still-valid', Buffer.from(SECRET)] });
    await v.verify(hs256(claims({ rsin: '000000000' }), SECRET));
    await v.verify(hs256(claims(), 'an-older-secret-still-valid'));
  });

  it('a secret changed in the same list is used from the next token on: keys made once per list are made again', async () => {
    const { v } = setup();
    // One list object, kept by the resolver, changed in place: the prepared keys must follow it.
    const secrets: Array<string | Buffer> = [SECRET];
    const record = client({ secrets });
    const resolving = createVerifier({ clients: () => record, cache: false, now: () => NOW });
    await resolving.verify(hs256(claims(), SECRET));
    secrets[0] = 'a-rotated-self-signing-secret';
    await refused(resolving, hs256(claims(), SECRET), 'bad_signature', false);
    await resolving.verify(hs256(claims(), 'a-rotated-self-signing-secret'));
    secrets.push(SECRET);
    await resolving.verify(hs256(claims(), SECRET));
    secrets.length = 1;
    await refused(resolving, hs256(claims(), SECRET), 'bad_signature', false);
    // Returned synchronously or not, a refusal reaches the caller as a rejected promise, never a throw.
    const pending = v.verify('not.a.jwt!');
    assert.ok(pending instanceof Promise);
    await assert.rejects(pending, (err: TokenError) => err.code === 'malformed');
  });

  it('a client without registered scopes gets none', async () => {
    const { v, clients } = setup();
    clients.update('c1', { scopes: undefined });
    assert.deepEqual((await v.verify(hs256(claims({ scope: 'zaken.lezen' }), SECRET))).scopes, []);
  });
});

describe('self-signed tokens: refused', () => {
  it('before the signature proves the caller: unknown client, self-signing not allowed, wrong secret look alike to the caller', async () => {
    const { v, clients } = setup();
    await refused(v, hs256(claims(), 'another-secret-entirely'), 'bad_signature', false);
    await refused(v, hs256(claims({ client_id: 'nobody' }), SECRET), 'unknown_client', false);
    await refused(v, hs256(claims({ client_id: 'c'.repeat(51) }), SECRET), 'unknown_client', false);
    clients.update('c1', { selfSignedAllowed: false });
    await refused(v, hs256(claims(), SECRET), 'self_signed_not_allowed', false);
    clients.update('c1', { selfSignedAllowed: true, secrets: [] });
    await refused(v, hs256(claims(), SECRET), 'bad_signature', false);
  });

  it('the secret is looked up by client_id, not iss; a client_id is required', async () => {
    const { v } = setup();
    await refused(v, hs256(claims({ client_id: undefined }), SECRET), 'invalid_claim', false);
    await refused(v, hs256(claims({ client_id: '' }), SECRET), 'invalid_claim', false);
    await refused(v, hs256(claims({ client_id: 7 }), SECRET), 'invalid_claim', false);
  });

  it('disabled client, and an rsin other than the client’s, after the signature', async () => {
    const { v, clients } = setup();
    await refused(v, hs256(claims({ rsin: '123456782' }), SECRET), 'rsin_mismatch', true);
    clients.update('c1', { enabled: false });
    await refused(v, hs256(claims(), SECRET), 'client_disabled', true);
  });

  it('iat: required, at most the leeway in the future', async () => {
    const { v } = setup({ selfSigned: { iatLeeway: 60 } });
    await refused(v, hs256(claims({ iat: undefined }), SECRET), 'no_expiry', true);
    await refused(v, hs256(claims({ iat: undefined, exp: nowS + 60 }), SECRET), 'missing_iat', true);
    await v.verify(hs256(claims({ iat: nowS + 59 }), SECRET));
    await refused(v, hs256(claims({ iat: nowS + 61 }), SECRET), 'iat_in_future', true);
    await refused(v, hs256(claims({ iat: String(nowS) }), SECRET), 'invalid_claim');
  });

  it('lives at most maxAge after iat, whatever its exp says, plus the clock skew', async () => {
    const { v } = setup({ selfSigned: { maxAge: 600 } });
    const fresh = await v.verify(hs256(claims({ iat: nowS - 100, exp: nowS + 86_400 }), SECRET));
    assert.equal(fresh.expiresAt, nowS + 500, 'capped at iat + maxAge');
    assert.equal(fresh.claims.exp, nowS + 500);
    await v.verify(hs256(claims({ iat: nowS - 620 }), SECRET));
    const err = await refused(v, hs256(claims({ iat: nowS - 640, exp: nowS + 86_400 }), SECRET), 'expired', true);
    assert.match(err.message, /at most 600 s after iat/);
    await refused(v, hs256(claims({ exp: nowS - 31 }), SECRET), 'expired', true);
  });

  it('nbf in the future; the nbp typo is not read as nbf', async () => {
    const { v } = setup();
    await refused(v, hs256(claims({ nbf: nowS + 31 }), SECRET), 'not_yet_valid', true);
    await v.verify(hs256(claims({ nbp: nowS + 3600 }), SECRET));
  });

  it('selfSigned: false, or no client resolver: HS256 is not accepted at all', async () => {
    await refused(setup({ selfSigned: false }).v, hs256(claims(), SECRET), 'alg_not_allowed');
    await refused(
      createVerifier({ issuer: 'https://idp.example', cache: false }),
      hs256(claims(), SECRET),
      'alg_not_allowed',
    );
  });

  it('signatures and segments must be canonical base64url: no stray bits in a last character', async () => {
    const { v } = setup();
    const token = hs256(claims(), SECRET);
    await v.verify(token);
    const segments = token.split('.');
    let tried = 0;
    for (let i = 0; i < 3; i++) {
      const s = segments[i]!;
      if (s.length % 4 < 2) continue;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // Setting the lowest bit of the last character: Buffer decodes the same bytes.
      const changed = s.slice(0, -1) + alphabet[alphabet.indexOf(s.at(-1)!) | 1]!;
      assert.deepEqual(Buffer.from(changed, 'base64url'), Buffer.from(s, 'base64url'));
      const forged = segments.map((x, j) => (j === i ? changed : x)).join('.');
      await refused(v, forged, 'malformed');
      tried++;
    }
    assert.ok(tried >= 1, 'the signature (43 characters) always has spare bits');
    await refused(v, `${token}=`, 'malformed');
    await refused(v, `${segments[0]}.${segments[1]}.+${segments[2]!.slice(1)}`, 'malformed');
  });
});

describe('self-signed tokens: the cache', () => {
  it('accepted tokens are remembered at most revalidateAfterMs; forget() drops them', async () => {
    let t = NOW;
    const clients = new MemoryClients();
    clients.set(client());
    const v = createVerifier({ clients: clients.resolve, now: () => t, cache: { revalidateAfterMs: 1000 } });
    const token = hs256(claims(), SECRET);
    await v.verify(token);
    assert.equal(clients.lookups, 1);
    clients.update('c1', { enabled: false });
    await v.verify(token);
    assert.equal(clients.lookups, 1, 'served from memory');
    t += 1000;
    await refused(v, token, 'client_disabled');
    clients.update('c1', { enabled: true });
    await v.verify(token);
    clients.update('c1', { enabled: false });
    v.forget();
    await refused(v, token, 'client_disabled');
  });

  it('a remembered token is not accepted past its expiry, and scopes are checked on every call', async () => {
    let t = NOW;
    const { clients } = setup();
    const v = createVerifier({
      clients: clients.resolve,
      now: () => t,
      cache: { revalidateAfterMs: 3_600_000 },
      selfSigned: { maxAge: 60 },
    });
    const token = hs256(claims(), SECRET);
    await v.verify(token);
    await assert.rejects(v.verify(token, ['zaken.aanmaken']), (err: TokenError) => err.code === 'insufficient_scope');
    t += 91_000;
    await refused(v, token, 'expired');
  });
});
