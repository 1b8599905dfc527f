import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ClientRecord,
  createVerifier,
  importJwks,
  introspect,
  type KeySource,
  refusal,
  RemoteJwks,
  TokenError,
  type VerificationKey,
  type VerifierOptions,
} from '@zgw-auth/verifier';
import { base64urlJson, type JoseHeader, type JwsPayload, signJws } from '@zgw-auth/verifier/testing';
import { loadConfig } from '../src/config.js';
import { ValidationError, ZgwAuthError } from '../src/errors.js';
import { FAILURE_FLOOR_MS } from '../src/http/failure-floor.js';
import { keyTimes } from '../src/keys/key-plan.js';
import { KeyRing } from '../src/keys/key-ring.js';
import { createMasterKeyFile, findMasterKey, MasterKey, parseMasterKey } from '../src/keys/master-key.js';
import { backoffSeconds } from '../src/limits/failure-limiter.js';
import { KyselyKeyStore } from '../src/storage/kysely-key-store.js';
import { openStorage } from '../src/storage/open-storage.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import { TokenIssuer } from '../src/tokens/token-issuer.js';
import {
  basicAuth,
  hs256,
  postForm,
  rejectsWith,
  request,
  startTestServer,
  type TestServer,
  transferOn,
} from './helpers.js';

/**
 * One test per security check that no other test would notice missing: each fails when the check
 * it names is removed (docs/checks.md, scripts/mutation-check.mjs). Kept small and direct.
 */

const nowS = () => Math.floor(Date.now() / 1000);

/** An RS256 and an ES256 key pair with a key source that answers for their kids. */
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEYS = new Map<string, VerificationKey>([
  ['rs', { key: rsa.publicKey, alg: 'RS256' }],
  ['es', { key: ec.publicKey, alg: 'ES256' }],
]);
const keys: KeySource = { get: (kid) => (kid === undefined ? undefined : KEYS.get(kid)) };
const ISSUER = 'https://idp.example';

/** An IdP token signed with the RSA key; `payload` may be raw JSON text. */
function idpToken(payload: JwsPayload, header: JoseHeader = { alg: 'RS256', typ: 'at+jwt', kid: 'rs' }): string {
  return signJws(header, payload, rsa.privateKey);
}
const idpClaims = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  sub: 'c1',
  client_id: 'c1',
  aud: 'api',
  iat: nowS(),
  exp: nowS() + 600,
  ...extra,
});
const verifierFor = (options: Partial<VerifierOptions> = {}) =>
  createVerifier({ issuer: ISSUER, keys, cache: false, ...options });

const SECRET = 'a-self-signing-secret-of-enough-length';
const selfClient = (extra: Partial<ClientRecord> = {}): ClientRecord => ({
  clientId: 'c1',
  rsin: '000000000',
  enabled: true,
  selfSignedAllowed: true,
  secrets: [SECRET],
  scopes: ['zaken.lezen'],
  ...extra,
});

describe('check inventory: verifier library', () => {
  it('issuer: an IdP token from another issuer, or naming none, is refused', async () => {
    const v = verifierFor();
    assert.equal((await v.verify(idpToken(idpClaims()))).clientId, 'c1');
    await rejectsWith(v, idpToken(idpClaims({ iss: 'https://evil.example' })), 'issuer_mismatch');
    await rejectsWith(v, idpToken(idpClaims({ iss: undefined })), 'issuer_mismatch');
  });

  it('algorithm allow-list: createVerifier refuses a non-asymmetric algorithm for IdP tokens', () => {
    for (const alg of ['HS256', 'none', 'RS384'])
      assert.throws(() => createVerifier({ issuer: ISSUER, keys, algorithms: [alg] }), /not allowed/);
  });

  it('algorithm allow-list: the configured algorithms narrow what is accepted', async () => {
    await rejectsWith(verifierFor({ algorithms: ['ES256'] }), idpToken(idpClaims()), 'alg_not_allowed');
  });

  it('alg/key binding: an ES256 key does not verify a token whose header says RS256', async () => {
    // Made by hand: signJws refuses an EC key for RS256. The binding refuses it before any signature check.
    const input = `${base64urlJson({ alg: 'RS256', typ: 'at+jwt', kid: 'es' })}.${base64urlJson(idpClaims())}`;
    const token = `${input}.${crypto.sign('sha256', Buffer.from(input), ec.privateKey).toString('base64url')}`;
    await rejectsWith(verifierFor(), token, 'alg_not_allowed');
  });

  it('typ at+jwt: an IdP token typed JWT, or untyped, is refused', async () => {
    await rejectsWith(verifierFor(), idpToken(idpClaims(), { alg: 'RS256', typ: 'JWT', kid: 'rs' }), 'wrong_typ');
    await rejectsWith(verifierFor(), idpToken(idpClaims(), { alg: 'RS256', kid: 'rs' }), 'wrong_typ');
  });

  it('kid bound: a key source is never asked for a kid that is not a string of at most 200 characters', async () => {
    const asked: unknown[] = [];
    const v = verifierFor({ keys: { get: (kid) => (asked.push(kid), undefined) } });
    for (const kid of ['k'.repeat(201), 42, { $ne: null }, ['rs']])
      await rejectsWith(v, idpToken(idpClaims(), { alg: 'RS256', typ: 'at+jwt', kid }), 'unknown_key');
    assert.ok(
      asked.every((k) => typeof k === 'string' && k.length <= 200),
      `asked for ${JSON.stringify(asked).slice(0, 200)}`,
    );
  });

  it('no IdP keys: a verifier without issuer or keys refuses IdP tokens as unknown_key', async () => {
    await rejectsWith(
      createVerifier({ clients: () => selfClient(), cache: false }),
      idpToken(idpClaims()),
      'unknown_key',
    );
  });

  it('self-signed off: selfSigned false refuses HS256 tokens even with a client resolver', async () => {
    const v = verifierFor({ clients: () => selfClient(), selfSigned: false });
    await rejectsWith(v, hs256({ client_id: 'c1', iat: nowS() }, SECRET), 'alg_not_allowed');
  });

  it('exp required: an IdP token without exp is refused', async () => {
    await rejectsWith(verifierFor(), idpToken(idpClaims({ exp: undefined })), 'no_expiry');
  });

  it('exp and skew: an IdP token expired beyond the clock skew is refused, within it accepted', async () => {
    const v = verifierFor({ clockSkew: 30 });
    assert.equal((await v.verify(idpToken(idpClaims({ exp: nowS() - 25 })))).clientId, 'c1');
    await rejectsWith(v, idpToken(idpClaims({ exp: nowS() - 40 })), 'expired');
    await rejectsWith(v, idpToken(idpClaims({ exp: nowS() - 3600 })), 'expired');
  });

  it('nbf and skew: an IdP token not valid for longer than the clock skew is refused, within it accepted', async () => {
    const v = verifierFor({ clockSkew: 30 });
    assert.equal((await v.verify(idpToken(idpClaims({ nbf: nowS() + 25 })))).clientId, 'c1');
    await rejectsWith(v, idpToken(idpClaims({ nbf: nowS() + 40 })), 'not_yet_valid');
    await rejectsWith(v, idpToken(idpClaims({ nbf: nowS() + 3600 })), 'not_yet_valid');
  });

  it('client named: an IdP token with neither client_id nor sub is refused', async () => {
    await rejectsWith(
      verifierFor(),
      idpToken(idpClaims({ client_id: undefined, sub: undefined })),
      'invalid_claim',
      /names no client/,
    );
  });

  it('claim types: string claims must be strings', async () => {
    for (const [claim, value] of [
      ['client_id', 7],
      ['sub', ['c1']],
      ['iss', { a: 1 }],
      ['jti', 5],
      ['rsin', 0],
    ] as const) {
      await rejectsWith(
        verifierFor(),
        idpToken(idpClaims({ [claim]: value })),
        'invalid_claim',
        new RegExp(`"${claim}" must be a string`),
      );
    }
  });

  it('claim types: exp, iat and nbf must be finite numbers', async () => {
    await rejectsWith(verifierFor(), idpToken(idpClaims({ exp: String(nowS() + 600) })), 'invalid_claim');
    await rejectsWith(verifierFor(), idpToken(idpClaims({ nbf: '0' })), 'invalid_claim');
    // JSON.parse reads 1e400 as Infinity: a token that would never expire.
    const claims = JSON.stringify(idpClaims({ exp: 0 })).replace('"exp":0', '"exp":1e400');
    await rejectsWith(verifierFor(), idpToken(claims), 'invalid_claim', /"exp" must be a number/);
  });

  it('token shape: header and payload must be JSON objects', async () => {
    await rejectsWith(verifierFor(), idpToken('[1,2]'), 'malformed', /not a JSON object/);
    await rejectsWith(verifierFor(), idpToken('"c1"'), 'malformed', /not a JSON object/);
  });

  it('Bearer scheme: another Authorization scheme is refused as missing_token', async () => {
    await rejectsWith(verifierFor(), `Basic ${idpToken(idpClaims())}`, 'missing_token', /Bearer scheme/);
  });

  it('client id length: a resolver is never asked for a client id over 50 characters', async () => {
    const asked: string[] = [];
    const v = verifierFor({ clients: (id) => (asked.push(id), selfClient({ clientId: id })) });
    const long = 'c'.repeat(51);
    await rejectsWith(v, idpToken(idpClaims({ client_id: long, sub: long })), 'unknown_client');
    await rejectsWith(v, hs256({ client_id: long, iat: nowS() }, SECRET), 'unknown_client');
    assert.deepEqual(asked, []);
  });

  it('self-signed client_id: an empty client_id is refused as a missing claim', async () => {
    await rejectsWith(
      verifierFor({ clients: () => selfClient() }),
      hs256({ client_id: '', iat: nowS() }, SECRET),
      'invalid_claim',
      /client_id/,
    );
  });

  it('self-signed unknown client: refused as unknown_client, not with another error', async () => {
    await rejectsWith(
      verifierFor({ clients: () => undefined }),
      hs256({ client_id: 'c1', iat: nowS() }, SECRET),
      'unknown_client',
    );
  });

  it('self-signing allowed: a client that may not self-sign is refused even when its secret signed the token', async () => {
    await rejectsWith(
      verifierFor({ clients: () => selfClient({ selfSignedAllowed: false }) }),
      hs256({ client_id: 'c1', iat: nowS() }, SECRET),
      'self_signed_not_allowed',
    );
  });

  it('HS256 signature length: a signature shorter or longer than an HMAC is refused as bad_signature, never with another error', async () => {
    const v = verifierFor({ clients: () => selfClient() });
    const token = hs256({ client_id: 'c1', iat: nowS() }, SECRET);
    // Canonical base64url of 3, 0 and 36 bytes: shorter and longer than an HMAC-SHA256.
    for (const signature of ['AAAA', '', 'A'.repeat(48)])
      await rejectsWith(v, token.replace(/[^.]+$/, signature), 'bad_signature');
  });

  it('iat required: a self-signed token with exp but no iat is refused as missing_iat', async () => {
    await rejectsWith(
      verifierFor({ clients: () => selfClient() }),
      hs256({ client_id: 'c1', exp: nowS() + 600 }, SECRET),
      'missing_iat',
    );
  });

  it('nbf: a self-signed token not valid yet beyond the skew is refused', async () => {
    await rejectsWith(
      verifierFor({ clients: () => selfClient() }),
      hs256({ client_id: 'c1', iat: nowS(), nbf: nowS() + 600 }, SECRET),
      'not_yet_valid',
    );
  });

  it("self-signed rsin: the principal carries the registry's rsin, never the token's", async () => {
    const v = verifierFor({ clients: () => selfClient({ rsin: '123456782' }) });
    assert.equal((await v.verify(hs256({ client_id: 'c1', iat: nowS() }, SECRET))).rsin, '123456782');
  });

  it('cache: a remembered token is not accepted past its expiry, even within the revalidation bound', async () => {
    let t = Date.now();
    const v = createVerifier({ issuer: ISSUER, keys, now: () => t, cache: { revalidateAfterMs: 60_000 } });
    const token = idpToken(idpClaims({ exp: Math.floor(t / 1000) - 25 }));
    await v.verify(token);
    t += 10_000;
    await rejectsWith(v, token, 'expired');
  });

  it('cache: a remembered token is still checked for the scopes each call requires', async () => {
    const v = createVerifier({ issuer: ISSUER, keys, cache: { revalidateAfterMs: 60_000 } });
    const token = idpToken(idpClaims({ scope: 'zaken.lezen' }));
    await v.verify(token);
    await assert.rejects(
      v.verify(token, ['zaken.verwijderen']),
      (err: TokenError) => err.code === 'insufficient_scope',
    );
  });

  it('JWKS: a key published for encryption (use enc) is not used to verify', () => {
    const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'RS256' };
    assert.equal(importJwks({ keys: [{ ...jwk, use: 'enc' }] }).size, 0);
    assert.equal(importJwks({ keys: [{ ...jwk, use: 'sig' }] }).size, 1);
  });

  describe('remote keys', () => {
    let server: http.Server;
    let base: string;
    const jwks = { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rs', alg: 'RS256', use: 'sig' }] };
    before(async () => {
      server = http.createServer((req, res) => {
        const json = (body: unknown) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.url === '/good/.well-known/openid-configuration')
          return json({ issuer: `${base}/good`, jwks_uri: `${base}/jwks` });
        if (req.url === '/other/.well-known/openid-configuration')
          return json({ issuer: 'https://someone-else.example', jwks_uri: `${base}/jwks` });
        if (req.url === '/jwks') return json(jwks);
        if (req.url === '/redirect') return res.writeHead(302, { location: '/jwks' }).end();
        if (req.url === '/introspect-string') return json({ active: 'true', client_id: 'c1' });
        return res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('discovery: keys are taken only from a discovery document that names the configured issuer', async () => {
      const good = createVerifier({ issuer: `${base}/good`, cache: false });
      assert.equal((await good.verify(idpToken(idpClaims({ iss: `${base}/good` })))).clientId, 'c1');
      const other = createVerifier({ issuer: `${base}/other`, cache: false });
      await rejectsWith(
        other,
        idpToken(idpClaims({ iss: `${base}/other` })),
        'keys_unavailable',
        /discovery document does not match/,
      );
    });

    it('JWKS fetch: a redirect is not followed', async () => {
      const v = createVerifier({ issuer: ISSUER, keys: new RemoteJwks({ jwksUri: `${base}/redirect` }), cache: false });
      await rejectsWith(v, idpToken(idpClaims()), 'keys_unavailable');
    });

    it('introspection client: only a boolean true answer counts as active', async () => {
      const res = await introspect('t', { endpoint: `${base}/introspect-string`, clientId: 'c', clientSecret: 's' });
      assert.equal(res.active, false);
    });
  });

  it('adapters: a realm that could break the WWW-Authenticate header is replaced', () => {
    const r = refusal(new TokenError('malformed', 'x'), { realm: 'x", error="fake' });
    assert.match(r.headers['www-authenticate']!, /^Bearer realm="zgw", error="invalid_token"/);
  });

  it('adapters: scopes that could break the WWW-Authenticate header are not put in it', () => {
    const r = refusal(new TokenError('insufficient_scope', 'x', { authenticated: true }), { scopes: ['a"b', 'c'] });
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.headers['www-authenticate']!, /scope=/);
    const ok = refusal(new TokenError('insufficient_scope', 'x', { authenticated: true }), { scopes: ['zaken.lezen'] });
    assert.match(ok.headers['www-authenticate']!, /scope="zaken.lezen"/);
  });
});

describe('check inventory: server', () => {
  let ts: TestServer;
  let introspector: { clientId: string; secret: string };
  const introspectAs = (token: string) =>
    postForm(
      `${ts.url}/introspect`,
      { token },
      { authorization: basicAuth(introspector.clientId, introspector.secret) },
    );
  const tokenRequest = (params: Record<string, string>, headers: Record<string, string> = {}, address?: string) =>
    postForm(`${ts.url}/token`, { grant_type: 'client_credentials', ...params }, headers, address);

  before(async () => {
    ts = await startTestServer();
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
  });
  after(() => ts.close());

  it("/revoke only own tokens: a client cannot revoke another client's token", async () => {
    const a = await ts.createClient();
    const b = await ts.createClient();
    const token = await ts.token(b.clientId, b.secret);
    const res = await postForm(`${ts.url}/revoke`, { token }, { authorization: basicAuth(a.clientId, a.secret) });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unauthorized_client');
    assert.equal((await introspectAs(token)).json.active, true, 'the token still works');
  });

  it('/revoke: a self-signed token is refused as unsupported_token_type', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    const res = await postForm(
      `${ts.url}/revoke`,
      { token: hs256({ client_id: c.clientId, iat: Math.floor(ts.clock.now() / 1000) }, c.secret) },
      { authorization: basicAuth(c.clientId, c.secret) },
    );
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unsupported_token_type');
  });

  it('admin API: a self-signed token is refused even when its client holds the admin scope', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true, allowedScopes: ['zgw-auth:admin'] });
    const idp = await ts.token(c.clientId, c.secret);
    assert.equal(
      (await request(`${ts.url}/admin/clients?limit=1`, { headers: { authorization: `Bearer ${idp}` } })).status,
      200,
      'the client is an admin',
    );
    const self = hs256({ client_id: c.clientId, iat: Math.floor(ts.clock.now() / 1000) }, c.secret);
    const res = await request(`${ts.url}/admin/clients?limit=1`, { headers: { authorization: `Bearer ${self}` } });
    assert.equal(res.status, 401);
  });

  // The existing floor test times one request per case: on a loaded machine an answer without the
  // floor can take longer than the floor anyway. The fastest of ten cannot, by a wide margin.
  it('failure floor: even the fastest of ten failed client authentications waits for the floor', async () => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await tokenRequest(
        { client_id: `floor-${i}`, client_secret: 'wrong-secret' },
        {},
        `127.0.0.${40 + i}`,
      );
      times.push(performance.now() - started);
      assert.equal(res.status, 401);
    }
    assert.ok(Math.min(...times) >= FAILURE_FLOOR_MS * 0.8, `fastest answer after ${Math.min(...times).toFixed(1)} ms`);
  });

  it('failure floor: even the fastest of ten unauthenticated admin refusals waits for the floor', async () => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await request(`${ts.url}/admin/clients`, {
        headers: { authorization: `Bearer ${hs256({ client_id: `floor-${i}`, iat: 1 }, 'x')}` },
      });
      times.push(performance.now() - started);
      assert.equal(res.status, 401);
    }
    assert.ok(Math.min(...times) >= FAILURE_FLOOR_MS * 0.8, `fastest answer after ${Math.min(...times).toFixed(1)} ms`);
  });

  it('introspection: client_registration is not passed on', async () => {
    const c = await ts.createClient();
    const res = await introspectAs(await ts.token(c.clientId, c.secret));
    assert.equal(res.json.active, true);
    assert.equal(res.json.client_registration, undefined);
  });

  it('requested scope syntax: a malformed scope is refused without echoing it (RFC 6749 §5.2 error_description characters)', async () => {
    const a = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const res = await tokenRequest({ client_id: a.clientId, client_secret: a.secret, scope: 'zaken"lezen\\x' });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_scope');
    assert.match(res.json.error_description, /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/);
  });

  it('client credentials: a client_id in the body must equal the one in HTTP Basic', async () => {
    const a = await ts.createClient();
    const res = await tokenRequest({ client_id: 'someone-else' }, { authorization: basicAuth(a.clientId, a.secret) });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_request');
  });

  it('client credentials: over-long HTTP Basic credentials are refused unread', async () => {
    const a = await ts.createClient();
    const res = await tokenRequest({}, { authorization: basicAuth(a.clientId, 's'.repeat(3100)) });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_request');
  });

  it('client credentials: HTTP Basic whose Latin-1 reading holds C1 control characters is refused as malformed, and not audited', async () => {
    const a = await ts.createClient();
    const before = (await ts.app.audit.list({ action: 'client_auth.failed', limit: 1000 })).length;
    const header = Buffer.concat([
      Buffer.from(a.clientId),
      Buffer.from([0x9b]),
      Buffer.from(':'),
      Buffer.from(a.secret),
    ]);
    const res = await tokenRequest({}, { authorization: `Basic ${header.toString('base64')}` });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_request');
    await ts.app.audit.flush();
    assert.equal((await ts.app.audit.list({ action: 'client_auth.failed', limit: 1000 })).length, before);
  });

  it('client credentials: HTTP Basic without a colon is refused as malformed', async () => {
    const res = await tokenRequest(
      {},
      { authorization: `Basic ${Buffer.from('client-without-colon').toString('base64')}` },
    );
    assert.equal(res.status, 400);
    assert.match(res.json.error_description, /no colon/);
  });

  it('form body: control characters and NUL in a parameter are refused as invalid_request', async () => {
    const a = await ts.createClient();
    for (const [name, value] of [
      ['client_id', `${a.clientId}\u0000`],
      ['scope', 'zaken\u0001lezen'],
      ['x\u007f', 'y'],
      // A right-to-left override in an audited client id would make the audit line read backwards.
      ['client_id', `${a.clientId}\u202e delbasid nimda-htua-wgz`],
      ['client_id', `${a.clientId}\u009b31m`],
      ['client_secret', `${a.secret}\u200b`],
      ['scope', 'zaken\u2066lezen'],
    ] as const) {
      const res = await tokenRequest({ client_id: a.clientId, client_secret: a.secret, [name]: value });
      assert.equal(res.status, 400, name);
      assert.match(res.json.error_description, /control characters/);
    }
  });

  it('form body: a multipart request with a file part is refused', async () => {
    const a = await ts.createClient();
    const boundary = 'b0undary';
    const field = (name: string, value: string) =>
      `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const file = `--${boundary}\r\ncontent-disposition: form-data; name="upload"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\nhello\r\n`;
    const body =
      field('grant_type', 'client_credentials') +
      field('client_id', a.clientId) +
      field('client_secret', a.secret) +
      file +
      `--${boundary}--\r\n`;
    const res = await request(`${ts.url}/token`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    assert.equal(res.status, 400);
    assert.match(res.json.error_description, /file uploads/);
  });

  it('form body: more than 32 parameters are refused', async () => {
    const a = await ts.createClient();
    const extra = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`x${i}`, 'y']));
    const res = await tokenRequest({ client_id: a.clientId, client_secret: a.secret, ...extra });
    assert.equal(res.status, 400);
    assert.match(res.json.error_description, /too many parameters/);
  });

  it('expired secrets: a secret stops working at its expiry, also while its client is cached', async () => {
    const c = await ts.createClient();
    const expiring = await ts.app.clients.addSecret(c.clientId, { expiresAt: ts.clock.now() + 1000 }, { id: 'test' });
    for (let i = 0; i < 2; i++)
      assert.equal((await tokenRequest({ client_id: c.clientId, client_secret: expiring.value })).status, 200);
    ts.clock.advance(1.5);
    assert.equal(
      (await tokenRequest({ client_id: c.clientId, client_secret: expiring.value }, {}, '127.0.0.22')).status,
      401,
    );
    ts.clock.advance(3);
    assert.equal(
      (await tokenRequest({ client_id: c.clientId, client_secret: expiring.value }, {}, '127.0.0.22')).status,
      401,
    );
  });

  it('expired secrets: a self-signing secret stops verifying at its expiry, also while its client is cached', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    const expiring = await ts.app.clients.addSecret(c.clientId, { expiresAt: ts.clock.now() + 1000 }, { id: 'test' });
    const v = createVerifier({
      clients: (await import('../src/tokens/server-verifier.js')).registryResolver(ts.app.authenticator),
      cache: false,
      now: ts.clock.now,
    });
    const token = () => hs256({ client_id: c.clientId, iat: Math.floor(ts.clock.now() / 1000) }, expiring.value);
    // The second lookup puts the client in the cache, with its secrets opened.
    for (let i = 0; i < 2; i++) await v.verify(token());
    ts.clock.advance(1.5);
    await rejectsWith(v, token(), 'bad_signature');
  });

  it('self-signing switched off: the stored encrypted secrets are dropped, so the old secret no longer signs', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    await ts.app.clients.update(c.clientId, { selfSignedAllowed: false }, { id: 'test' });
    const { warnings } = await ts.app.clients.update(c.clientId, { selfSignedAllowed: true }, { id: 'test' });
    assert.match(warnings.join(' '), /need a new secret/);
    assert.ok((await ts.app.clients.listSecrets(c.clientId)).every((s) => !s.usableForSelfSigned));
    const v = createVerifier({
      clients: (await import('../src/tokens/server-verifier.js')).registryResolver(ts.app.authenticator),
      cache: false,
      now: ts.clock.now,
    });
    await rejectsWith(
      v,
      hs256({ client_id: c.clientId, iat: Math.floor(ts.clock.now() / 1000) }, c.secret),
      'bad_signature',
    );
  });

  describe('registry validation in the service (the CLI and import bypass the admin API schema)', () => {
    const refuses = async (what: Promise<unknown>, field?: string | RegExp) => {
      await assert.rejects(what, (err: unknown) => {
        assert.ok(err instanceof ZgwAuthError, String(err));
        if (typeof field === 'string') assert.equal((err as ValidationError).field, field, err.message);
        else if (field) assert.match(err.message, field);
        return true;
      });
    };
    const actor = { id: 'test' };
    const create = (input: Record<string, unknown>) =>
      ts.app.clients.create({ rsin: '000000000', ...input } as never, actor);

    it('client id pattern', () => refuses(create({ clientId: 'bad id/' }), 'clientId'));
    it('rsin 11-test', () => refuses(create({ rsin: '123456789' }), 'rsin'));
    it('rsin format', () => refuses(create({ rsin: '12345678x' }), 'rsin'));
    it('name bounds', () => refuses(create({ name: 'n\u0001' }), 'name'));
    it('description bound', () => refuses(create({ description: 'd'.repeat(2001) }), 'description'));
    it('grant types', () => refuses(create({ grantTypes: ['password'] }), 'grantTypes'));
    it('grant type count', () =>
      refuses(create({ grantTypes: Array.from({ length: 6 }, () => 'client_credentials') }), 'grantTypes'));
    it('scope count', () =>
      refuses(create({ allowedScopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }), 'allowedScopes'));
    it('scope syntax', () => refuses(create({ allowedScopes: ['has space'] }), 'allowedScopes'));
    it('token lifetime', () => refuses(create({ tokenLifetime: 0 }), 'tokenLifetime'));
    it('static claims: an object', async () => {
      for (const staticClaims of [null, ['x'], 'x']) await refuses(create({ staticClaims }), 'staticClaims');
    });
    it('static claims: allow-list', () => refuses(create({ staticClaims: { roles: ['admin'] } }), 'staticClaims'));
    it('static claims: names like https:// and urn: must be well formed', async () => {
      await refuses(create({ staticClaims: { 'https://': 'x' } }), 'staticClaims');
      await refuses(create({ staticClaims: { 'urn:x': 'x' } }), 'staticClaims');
    });
    it('static claims: user claims are strings', () =>
      refuses(create({ staticClaims: { user_id: 7 } }), 'staticClaims'));
    it('static claims: count bound', () =>
      refuses(
        create({ staticClaims: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`urn:example:c${i}`, 'x'])) }),
        'staticClaims',
      ));
    it('static claims: size bound', () =>
      refuses(create({ staticClaims: { 'urn:example:big': 'x'.repeat(5000) } }), 'staticClaims'));
    it('static claims: no control characters in values or keys, at any depth, on every path into the registry', async () => {
      await refuses(create({ staticClaims: { user_id: 'a\u001b[31mb' } }), 'staticClaims');
      await refuses(create({ staticClaims: { user_representation: 'line\nbreak' } }), 'staticClaims');
      await refuses(create({ staticClaims: { 'urn:example:nested': { deep: ['ok', 'nul\u0000'] } } }), 'staticClaims');
      await refuses(create({ staticClaims: { 'urn:example:nested': { 'key\u0007': 'x' } } }), 'staticClaims');
      let deep: unknown = 'x';
      for (let i = 0; i < 40; i++) deep = { d: deep };
      await refuses(create({ staticClaims: { 'urn:example:deep': deep } }), 'staticClaims');
      const c = await ts.createClient({
        staticClaims: { user_id: 'plain', 'urn:example:nested': { ok: ['a\u00e9'] } },
      });
      await refuses(
        ts.app.clients.update(c.clientId, { staticClaims: { user_id: 'esc\u001b' } }, actor),
        'staticClaims',
      );
    });
    it('default scopes are allowed scopes (create)', () =>
      refuses(create({ allowedScopes: ['a'], defaultScopes: ['b'] }), 'defaultScopes'));
    it('duplicate client id', async () => {
      const c = await ts.createClient();
      await refuses(create({ clientId: c.clientId }), /already exists/);
    });
    it('update: fields validated', async () => {
      const c = await ts.createClient();
      await refuses(ts.app.clients.update(c.clientId, { rsin: '123456789' }, actor), 'rsin');
    });
    it('update: default scopes are allowed scopes', async () => {
      const c = await ts.createClient({ allowedScopes: ['a'] });
      await refuses(ts.app.clients.update(c.clientId, { defaultScopes: ['b'] }, actor), 'defaultScopes');
    });
    it('imported secret: length and control characters', async () => {
      const c = await ts.createClient();
      await refuses(ts.app.clients.addSecret(c.clientId, { value: 'short' }, actor), 'secret');
      await refuses(ts.app.clients.addSecret(c.clientId, { value: 'x'.repeat(513) }, actor), 'secret');
      await refuses(ts.app.clients.addSecret(c.clientId, { value: 'long-enough\u0000secret' }, actor), 'secret');
    });
    it('secret label bounds', async () => {
      const c = await ts.createClient();
      await refuses(ts.app.clients.addSecret(c.clientId, { label: 'l\u0007' }, actor), 'label');
    });
    it('secret expiry in the future', async () => {
      const c = await ts.createClient();
      await refuses(ts.app.clients.addSecret(c.clientId, { expiresAt: ts.clock.now() - 1 }, actor), 'expiresAt');
    });
  });

  it('issuing: no signing key is refused as no_signing_key', async () => {
    const ring = new KeyRing(
      new KyselyKeyStore(ts.app.storage.db),
      ts.app.masterKey,
      ts.clock.now,
      keyTimes(ts.config),
    );
    const issuer = new TokenIssuer(ring, { issuer: ts.url, audience: 'a', tokenLifetime: 60, maxTokenLifetime: 60 });
    const client = await ts.app.clients.get(introspector.clientId);
    await assert.rejects(
      issuer.issue(client, []),
      (err: unknown) => err instanceof ZgwAuthError && err.code === 'no_signing_key',
    );
  });

  describe('registry import', () => {
    const target = () => openStorage(undefined, fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-inventory-')));
    it('refuses a document that is not a registry export', async () => {
      const storage = await target();
      try {
        const exported = await exportRegistry(ts.app.transfer);
        await assert.rejects(
          importRegistry(transferOn(storage, ts.app.masterKey), { ...exported, version: 2 as 1 }),
          /not a zgw-auth registry export/,
        );
      } finally {
        await storage.close();
      }
    });
    it('reads an export file as untrusted input: unknown tables and columns, rows that are not flat records, refused by name and nothing stored', async () => {
      const storage = await target();
      try {
        const exported = await exportRegistry(ts.app.transfer);
        const [client] = exported.tables.clients as Record<string, unknown>[];
        const withClients = (rows: unknown) => ({ ...exported, tables: { ...exported.tables, clients: rows } });
        for (const [file, message] of [
          [{ ...exported, tables: { ...exported.tables, users: [] } }, /a table this version does not know: users/],
          [withClients({ 0: client }), /table clients: not a list of rows/],
          [withClients([null]), /table clients, row 1: not a row/],
          [withClients([{ ...client, 'name; drop': 'x' }]), /not a column name/],
          [withClients([{ ...client, name: { nested: true } }]), /column name holds no plain value/],
          [withClients([{ ...client, is_superuser: 1 }]), /table clients: no column is_superuser/],
          [{ ...exported, tables: null }, /holds no tables/],
        ] as const) {
          await assert.rejects(importRegistry(transferOn(storage, ts.app.masterKey), file), message);
        }
        assert.deepEqual(await storage.db.selectFrom('clients').select('client_id').execute(), []);
      } finally {
        await storage.close();
      }
    });
    it('refuses an export made under another master key', async () => {
      const storage = await target();
      try {
        const exported = await exportRegistry(ts.app.transfer);
        await assert.rejects(
          importRegistry(transferOn(storage, new MasterKey(crypto.randomBytes(32))), exported),
          /different master key/,
        );
      } finally {
        await storage.close();
      }
    });
    it('refuses a target registry that is not empty', async () => {
      const exported = await exportRegistry(ts.app.transfer);
      await assert.rejects(importRegistry(ts.app.transfer, exported), /not empty/);
    });
  });
});

describe('check inventory: server on PostgreSQL', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ dialect: 'postgres' });
  });
  after(() => ts.close());

  it('client lookup: an id that cannot be registered (NUL, too long) is not looked up and fails like any unknown client', async () => {
    const basic = (id: string) =>
      postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: `Basic ${Buffer.from(`${id}:some-secret`).toString('base64')}` },
      );
    // HTTP Basic is form-url-decoded, so %00 arrives as NUL: refused as malformed before any lookup.
    const nul = await basic('a%00b');
    assert.equal(nul.status, 400, nul.text);
    assert.equal(nul.json.error, 'invalid_request');
    for (const id of ['c'.repeat(80), 'caf%C3%A9', 'a%20b']) {
      const res = await basic(id);
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.error, 'invalid_client');
    }
  });
});

describe('check inventory: keys, limits and configuration', () => {
  it('master key: exactly 32 bytes, however it is given', () => {
    assert.throws(() => new MasterKey(Buffer.alloc(16)), /exactly 32 bytes/);
    // The configured key is checked where it is read, so the message names the setting to fix.
    assert.throws(
      () => parseMasterKey(crypto.randomBytes(16).toString('base64')),
      /ZGW_AUTH_MASTER_KEY must be 32 bytes/,
    );
  });

  it('master key file: refused when others may read it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-mk-'));
    createMasterKeyFile(path.join(dir, 'master.key'));
    fs.chmodSync(path.join(dir, 'master.key'), 0o644);
    assert.throws(
      () => findMasterKey(undefined, dir),
      (err: unknown) => err instanceof ZgwAuthError && err.code === 'master_key_exposed',
    );
  });

  it('sealed values: bound to their context, and of a known format', () => {
    const key = new MasterKey(crypto.randomBytes(32));
    const sealed = key.seal('secret', 'client-secret:a:sec_1');
    assert.equal(key.open(sealed, 'client-secret:a:sec_1').toString(), 'secret');
    assert.throws(() => key.open(sealed, 'client-secret:b:sec_2'), /does not open/);
    assert.throws(() => key.open(sealed.replace(/^v1/, 'v2'), 'client-secret:a:sec_1'), /unknown format/);
  });

  it('back-off: capped at the maximum', () => {
    assert.equal(backoffSeconds(4, { threshold: 5, baseSeconds: 1, maxSeconds: 900 }), 0);
    assert.equal(backoffSeconds(5, { threshold: 5, baseSeconds: 1, maxSeconds: 900 }), 1);
    assert.equal(backoffSeconds(100, { threshold: 5, baseSeconds: 1, maxSeconds: 900 }), 900);
  });

  it('configuration: an issuer with a query or fragment is refused', () => {
    assert.throws(() => loadConfig({ ZGW_AUTH_ISSUER: 'https://idp.example/?tenant=x' }), /query or fragment/);
    assert.throws(() => loadConfig({ ZGW_AUTH_ISSUER: 'https://idp.example/#x' }), /query or fragment/);
  });

  it('configuration: an issuer with blanks or control characters is refused (tokens would carry them)', () => {
    for (const issuer of [
      ' https://auth.example.nl',
      'https://auth.example.nl ',
      '\thttps://auth.example.nl',
      'https://auth.example.nl/realms/a\nb',
    ]) {
      assert.throws(
        () => loadConfig({ ZGW_AUTH_ISSUER: issuer }),
        /spaces or control characters/,
        JSON.stringify(issuer),
      );
    }
    assert.equal(loadConfig({ ZGW_AUTH_ISSUER: 'https://auth.example.nl' }).issuer, 'https://auth.example.nl');
  });

  it('configuration: the token lifetime may not exceed the maximum', () => {
    assert.throws(
      () => loadConfig({ ZGW_AUTH_TOKEN_LIFETIME: '7200', ZGW_AUTH_MAX_TOKEN_LIFETIME: '3600' }),
      /must not exceed/,
    );
  });

  it('configuration: anonymous introspection is off unless configured', () => {
    assert.equal(loadConfig({}).introspectionAnonymous, false);
  });
});
