import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as oidc from 'openid-client';
import type { ClientAuthMethod } from '../src/clients/model.js';
import { JWT_BEARER_ASSERTION_TYPE } from '../src/clients/client-assertion.js';
import { JWKS_FETCH } from '../src/clients/jwks-uri.js';
import { loadConfig } from '../src/config.js';
import { consoleSignIn } from './console-helpers.js';
import { basicAuth, CLI, hs256, postForm, request, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);

/** A client's key pair with its public JWK (kid set). */
interface TestKey {
  kid: string;
  privateKey: crypto.KeyObject;
  jwk: Record<string, unknown>;
  alg: string;
}

function rsaKey(kid: string, bits = 2048): TestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid }, alg: 'RS256' };
}

function ecKey(kid: string): TestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid }, alg: 'ES256' };
}

function edKey(kid: string): TestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid }, alg: 'EdDSA' };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A compact JWS signed with node:crypto, so that tests can make any header and any algorithm. */
function sign(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: crypto.KeyObject | Buffer,
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const alg = header.alg;
  let sig: Buffer;
  if (alg === 'none') sig = Buffer.alloc(0);
  else if (alg === 'HS256')
    sig = crypto
      .createHmac('sha256', key as Buffer)
      .update(input)
      .digest();
  else if (alg === 'ES256')
    sig = crypto.sign('sha256', Buffer.from(input), { key: key as crypto.KeyObject, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') sig = crypto.sign(null, Buffer.from(input), key as crypto.KeyObject);
  else if (alg === 'PS256')
    sig = crypto.sign('sha256', Buffer.from(input), {
      key: key as crypto.KeyObject,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
  else sig = crypto.sign('sha256', Buffer.from(input), key as crypto.KeyObject);
  return `${input}.${sig.toString('base64url')}`;
}

describe('private_key_jwt client authentication (SQLite)', () => {
  let ts: TestServer;
  let jwksServer: http.Server;
  let jwksBase: string;
  /** What the local jwks_uri answers, per path. */
  const served = new Map<string, (res: http.ServerResponse) => void>();

  before(async () => {
    jwksServer = http.createServer((req, res) => {
      const answer = served.get(req.url ?? '');
      if (answer) answer(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jwksBase = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
    ts = await startTestServer({ env: { ZGW_AUTH_JWKS_URI_ALLOW: '127.0.0.1/32' } });
  });
  after(async () => {
    await ts?.close();
    jwksServer.closeAllConnections();
    await new Promise((r) => jwksServer.close(r));
  });

  const now = () => Math.floor(ts.clock.now() / 1000);
  const claimsFor = (clientId: string, extra: Record<string, unknown> = {}) => ({
    iss: clientId,
    sub: clientId,
    aud: `${ts.url}/token`,
    iat: now(),
    exp: now() + 60,
    jti: crypto.randomUUID(),
    ...extra,
  });

  async function keyClient(keys: TestKey[], methods: ClientAuthMethod[] = ['private_key_jwt']) {
    const c = await ts.createClient({ authMethods: methods, allowedScopes: ['zaken.lezen', 'zgw-auth:introspect'] });
    if (keys.length)
      await ts.app.clients.addKeys(c.clientId, JSON.stringify({ keys: keys.map((k) => k.jwk) }), { id: 'test' });
    return c;
  }

  const tokenWith = (assertion: string, extra: Record<string, string> = {}) =>
    postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
      ...extra,
    });

  async function lastFailure(clientId: string) {
    await ts.app.audit.flush(true);
    const events = await ts.app.audit.list({ action: 'client_auth.failed', target: clientId.slice(0, 60), limit: 5 });
    return events[0];
  }

  /** Refused with invalid_client and audited with `reason` (and a detail matching `why`, when given). */
  async function refused(
    clientId: string,
    assertion: string,
    reason: string,
    why?: RegExp,
    extra: Record<string, string> = {},
  ) {
    const res = await tokenWith(assertion, extra);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.error, 'invalid_client');
    const failure = await lastFailure(clientId);
    assert.equal(failure?.reason, reason, `audited as ${reason}`);
    if (why)
      assert.match(
        String(failure?.details.detail),
        why,
        JSON.stringify(await ts.app.audit.list({ action: 'client_auth.failed', target: clientId, limit: 3 })),
      );
    // Past the back-off of this failure (ZGW_AUTH_LOCKOUT_MAX_SECONDS): each case is judged on its own.
    ts.clock.advance(901);
  }

  it('issues a token for an assertion signed with a registered RS256, PS256, ES256 or EdDSA key', async () => {
    const rsa = rsaKey('rsa-1');
    const ec = ecKey('ec-1');
    const ed = edKey('ed-1');
    const c = await keyClient([rsa, ec, ed]);
    for (const [key, alg] of [
      [rsa, 'RS256'],
      [rsa, 'PS256'],
      [ec, 'ES256'],
      [ed, 'EdDSA'],
    ] as const) {
      const res = await tokenWith(sign({ alg, kid: key.kid, typ: 'JWT' }, claimsFor(c.clientId), key.privateKey));
      assert.equal(res.status, 200, `${alg}: ${res.text} ${JSON.stringify(await lastFailure(c.clientId))}`);
      assert.ok(res.json.access_token);
    }
    // Without kid: each registered key of the right type is tried.
    const res = await tokenWith(sign({ alg: 'ES256' }, claimsFor(c.clientId), ec.privateKey));
    assert.equal(res.status, 200, res.text);
    // The issuer as audience, and the audience as a list, are accepted too.
    for (const aud of [ts.config.issuer, ['https://elsewhere.example', `${ts.url}/token`]]) {
      const r = await tokenWith(sign({ alg: 'RS256', kid: 'rsa-1' }, claimsFor(c.clientId, { aud }), rsa.privateKey));
      assert.equal(r.status, 200, r.text);
    }
  });

  it('openid-client PrivateKeyJwt obtains a token, and introspects and revokes it with the same method', async () => {
    const key = ecKey('oidc-1');
    const c = await keyClient([key]);
    const config = await oidc.discovery(
      new URL(ts.url),
      c.clientId,
      undefined,
      oidc.PrivateKeyJwt({
        key: await crypto.subtle.importKey(
          'pkcs8',
          key.privateKey.export({ format: 'der', type: 'pkcs8' }),
          { name: 'ECDSA', namedCurve: 'P-256' },
          false,
          ['sign'],
        ),
        kid: key.kid,
      }),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspected.active, true);
    await oidc.tokenRevocation(config, tokens.access_token);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it("authlib's PrivateKeyJWT (python3-authlib) obtains a token", async () => {
    const key = rsaKey('py-1');
    const c = await keyClient([key]);
    const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const script = `
import sys, time, json
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
client_id, pem, url = sys.argv[1], sys.argv[2], sys.argv[3]
token_url = url + "/token"
# authlib's assertions live an hour unless told otherwise; the server allows 300 s.
session = OAuth2Session(client_id, pem, token_endpoint_auth_method="private_key_jwt")
session.register_client_auth_method(PrivateKeyJWT(token_url, claims={"exp": int(time.time()) + 120}))
token = session.fetch_token(token_url, grant_type="client_credentials")
print(json.dumps({"token_type": token["token_type"], "has_token": bool(token["access_token"])}))`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, c.clientId, pem, ts.url]);
    assert.deepEqual(JSON.parse(stdout), { token_type: 'Bearer', has_token: true });
  });

  it('refuses hostile and broken assertions with one invalid_client, each audited with its reason', async () => {
    const key = rsaKey('h-1');
    const c = await keyClient([key]);
    const id = c.clientId;
    const good = (extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
      sign({ alg: 'RS256', kid: 'h-1', ...header }, claimsFor(id, extra), key.privateKey);

    const once = good();
    assert.equal((await tokenWith(once)).status, 200);
    await refused(id, once, 'replayed_assertion');
    await refused(id, good({ exp: now() - 120, iat: now() - 180 }), 'bad_assertion', /expired/);
    await refused(id, good({ iat: now() + 100, exp: now() + 150 }), 'bad_assertion', /iat/);
    await refused(id, good({ nbf: now() + 600 }), 'bad_assertion', /nbf/);
    await refused(id, good({ exp: now() + 3600 }), 'bad_assertion', /longer than 300/);
    await refused(id, good({ aud: 'https://other.example/token' }), 'bad_assertion', /aud/);
    await refused(id, good({ iss: 'someone-else' }), 'bad_assertion', /iss and sub/);
    await refused(id, good({ sub: 'someone-else' }), 'bad_assertion', /iss and sub/, { client_id: id });
    await refused(id, good({ jti: undefined }), 'bad_assertion', /jti/);
    await refused(id, good({ jti: 'x'.repeat(300) }), 'bad_assertion', /jti/);
    await refused(id, good({}, { crit: ['exp'] }), 'bad_assertion', /crit/);
    await refused(id, good({}, { jku: 'https://attacker.example/jwks' }), 'bad_assertion', /jku/);
    await refused(id, good({}, { jwk: key.jwk }), 'bad_assertion', /jwk/);
    await refused(id, good({ padding: 'x'.repeat(9000) }), 'bad_assertion', /longer than 8192/, { client_id: id });
    await refused(id, 'not.a.jws!', 'bad_assertion', /compact JWS/, { client_id: id });
    await refused(id, sign({ alg: 'none' }, claimsFor(id), Buffer.alloc(0)), 'bad_assertion', /alg/);
    // The public key as an HMAC secret: the classic key confusion.
    const publicPem = crypto.createPublicKey(key.privateKey).export({ format: 'pem', type: 'spki' });
    await refused(
      id,
      sign({ alg: 'HS256', kid: 'h-1' }, claimsFor(id), Buffer.from(publicPem)),
      'bad_assertion',
      /alg/,
    );
    // Signed by another key under the registered kid; and an unknown kid.
    await refused(
      id,
      sign({ alg: 'RS256', kid: 'h-1' }, claimsFor(id), rsaKey('x').privateKey),
      'bad_assertion',
      /signature/,
    );
    await refused(id, sign({ alg: 'RS256', kid: 'nope' }, claimsFor(id), key.privateKey), 'unknown_key', /kid/);
    // An ES256 header for an RSA key: no key of that type.
    await refused(id, sign({ alg: 'ES256', kid: 'h-1' }, claimsFor(id), ecKey('e').privateKey), 'unknown_key', /ES256/);
    // Refused before any key is looked at, still audited under the client the assertion names.
    await refused(id, good(), 'bad_assertion', /client_assertion_type must be/, { client_assertion_type: 'urn:x' });
    const missing = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_id: id,
    });
    assert.equal(missing.json.error, 'invalid_client');
    assert.match(String((await lastFailure(id))?.details.detail), /client_assertion is missing/);
    const failure = await lastFailure(id);
    assert.equal(failure?.details.method, 'private_key_jwt');
  });

  it('counts failed assertions in the guessing back-off, as failed secrets', async () => {
    const key = rsaKey('g-1');
    const c = await keyClient([key]);
    ts.clock.advance(901);
    for (let i = 0; i < ts.config.lockoutThreshold; i++) {
      const res = await tokenWith(
        sign({ alg: 'RS256', kid: 'g-1' }, claimsFor(c.clientId, { aud: 'wrong' }), key.privateKey),
      );
      assert.equal(res.status, 401);
    }
    const blocked = await tokenWith(sign({ alg: 'RS256', kid: 'g-1' }, claimsFor(c.clientId), key.privateKey));
    assert.equal(blocked.status, 429, 'even a good assertion waits');
    ts.clock.advance(901);
    assert.equal(
      (await tokenWith(sign({ alg: 'RS256', kid: 'g-1' }, claimsFor(c.clientId), key.privateKey))).status,
      200,
    );
  });

  it('refuses registering a 1024-bit RSA key or private key material', async () => {
    const c = await keyClient([]);
    const small = rsaKey('small', 1024);
    await assert.rejects(
      ts.app.clients.addKeys(c.clientId, JSON.stringify(small.jwk), { id: 'test' }),
      /at least 2048 bits/,
    );
    const priv = { ...small.privateKey.export({ format: 'jwk' }), kid: 'p' };
    await assert.rejects(ts.app.clients.addKeys(c.clientId, JSON.stringify(priv), { id: 'test' }), /private/);
    assert.deepEqual(await ts.app.clients.listKeys(c.clientId), []);
  });

  it('refuses an RSA key whose public exponent is 1 or 3, registered or at a jwks_uri, so no one forges with it', async () => {
    const c = await keyClient([]);
    const { n } = rsaKey('base').jwk as { n: string };
    for (const e of ['AQ', 'Aw', 'AQAA'])
      await assert.rejects(
        ts.app.clients.addKeys(c.clientId, JSON.stringify({ kty: 'RSA', n, e, kid: `e-${e}` }), { id: 'test' }),
        /public exponent that is odd and at least 65537/,
      );
    assert.deepEqual(await ts.app.clients.listKeys(c.clientId), []);
    served.set('/exponent-one', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ kty: 'RSA', n, e: 'AQ', kid: 'e1', alg: 'RS256' }] }));
    });
    const d = await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: `${jwksBase}/exponent-one` });
    const input = `${b64({ alg: 'RS256', kid: 'e1' })}.${b64(claimsFor(d.clientId))}`;
    // With e = 1 an RS256 signature is the PKCS #1 v1.5 encoded digest itself: anyone can write it.
    const t = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      crypto.createHash('sha256').update(input).digest(),
    ]);
    const k = Buffer.from(n, 'base64url').length;
    const forged = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - t.length - 3, 0xff), Buffer.from([0]), t]);
    const res = await tokenWith(`${input}.${forged.toString('base64url')}`);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.error, 'invalid_client');
    ts.clock.advance(901);
  });

  it('a client without private_key_jwt is refused as method_not_allowed; a key-only client refuses its secret', async () => {
    const key = rsaKey('m-1');
    const secretOnly = await keyClient([], ['client_secret_basic']);
    await ts.app.storage.db
      .insertInto('client_keys')
      .values({
        client_id: secretOnly.clientId,
        kid: 'm-1',
        thumbprint: 't',
        kty: 'RSA',
        alg: null,
        public_jwk: JSON.stringify(key.jwk),
        expires_at: null,
        created_at: 0,
        last_used_at: null,
      })
      .execute();
    await refused(
      secretOnly.clientId,
      sign({ alg: 'RS256', kid: 'm-1' }, claimsFor(secretOnly.clientId), key.privateKey),
      'method_not_allowed',
    );
    const keyOnly = await keyClient([key]);
    const res = await postForm(
      `${ts.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(keyOnly.clientId, keyOnly.secret) },
    );
    assert.equal(res.status, 401);
    assert.equal((await lastFailure(keyOnly.clientId))?.reason, 'method_not_allowed');
  });

  it('moves a client from secrets to keys with an overlap: both work, then secrets are refused', async () => {
    const key = ecKey('move-1');
    const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    await ts.app.clients.update(
      c.clientId,
      { authMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] },
      { id: 'test' },
    );
    await ts.app.clients.addKeys(c.clientId, JSON.stringify(key.jwk), { id: 'test' });
    const bySecret = () =>
      postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(c.clientId, c.secret) },
      );
    const byKey = () => tokenWith(sign({ alg: 'ES256', kid: 'move-1' }, claimsFor(c.clientId), key.privateKey));
    assert.equal((await bySecret()).status, 200);
    assert.equal((await byKey()).status, 200);
    await ts.app.clients.update(c.clientId, { authMethods: ['private_key_jwt'] }, { id: 'test' });
    assert.equal((await bySecret()).status, 401);
    assert.equal((await lastFailure(c.clientId))?.reason, 'method_not_allowed');
    assert.equal((await byKey()).status, 200);
  });

  it('the console shows methods and keys, adds a pasted key and removes it', async () => {
    const c = await keyClient([]);
    const key = edKey('console-1');
    const console = await consoleSignIn(ts);
    const page = `/console/clients/${c.clientId}`;
    const before = await console.get(page);
    assert.match(before.text, /private_key_jwt/);
    const added = await console.post(`${page}/keys`, { keys: JSON.stringify(key.jwk) });
    assert.equal(added.status, 303, added.text);
    const shown = await console.get(page);
    const thumbprint = (await ts.app.clients.listKeys(c.clientId))[0]!.thumbprint;
    assert.ok(shown.text.includes('console-1') && shown.text.includes(thumbprint), 'kid and thumbprint shown');
    const refused = await console.post(`${page}/keys`, { keys: JSON.stringify({ ...key.jwk, d: 'private' }) });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /private/);
    const removed = await console.post(`${page}/keys/console-1/remove`, {});
    assert.equal(removed.status, 303, removed.text);
    assert.deepEqual(await ts.app.clients.listKeys(c.clientId), []);
  });

  it('fetches keys from a jwks_uri, caches them, and picks up a rotated key by its unknown kid', async () => {
    const first = rsaKey('uri-1');
    const second = ecKey('uri-2');
    let fetches = 0;
    let keys = [first.jwk];
    served.set('/rotating', (res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
      res.end(JSON.stringify({ keys }));
    });
    const c = await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: `${jwksBase}/rotating` });
    const byKey = (k: TestKey) => tokenWith(sign({ alg: k.alg, kid: k.kid }, claimsFor(c.clientId), k.privateKey));
    ts.clock.advance(901);
    assert.equal((await byKey(first)).status, 200);
    assert.equal((await byKey(first)).status, 200);
    assert.equal(fetches, 1, 'cached');
    keys = [first.jwk, second.jwk];
    ts.clock.advance(31);
    assert.equal((await byKey(second)).status, 200, 'unknown kid: fetched again');
    assert.equal(fetches, 2);
    // An unknown kid again right away: not fetched again before the interval is over.
    assert.equal((await byKey(ecKey('uri-3'))).status, 401);
    assert.equal(fetches, 2);
    assert.equal((await lastFailure(c.clientId))?.reason, 'unknown_key');
  });

  it('refuses a whole jwks_uri document that publishes private key material, its public keys too', async () => {
    const good = rsaKey('pub-1');
    const leaked = ecKey('leaked-1');
    served.set('/with-private', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ keys: [good.jwk, { ...leaked.privateKey.export({ format: 'jwk' }), kid: 'leaked-1' }] }),
      );
    });
    const c = await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: `${jwksBase}/with-private` });
    await refused(
      c.clientId,
      sign({ alg: good.alg, kid: good.kid }, claimsFor(c.clientId), good.privateKey),
      'unknown_key',
      /jwks_uri publishes private key material/,
    );
  });

  it('refuses a pasted PEM that holds a private key besides the certificate, saying the key is exposed', async () => {
    const c = await keyClient([]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pem-'));
    try {
      await run(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30'].concat([
          '-subj',
          '/CN=pasted',
          '-keyout',
          'key.pem',
          '-out',
          'cert.pem',
        ]),
        { cwd: dir },
      );
      const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
      assert.match(key, /-----BEGIN PRIVATE KEY-----/);
      for (const pasted of [
        `${cert}\n${key}`,
        `${key}\n${cert}`,
        cert.replace(
          '-----END CERTIFICATE-----',
          `-----END CERTIFICATE-----\n${key.replaceAll('PRIVATE KEY', 'EC PRIVATE KEY')}`,
        ),
      ])
        await assert.rejects(ts.app.clients.addKeys(c.clientId, pasted, { id: 'test' }), /private key.*exposed/);
      assert.deepEqual(await ts.app.clients.listKeys(c.clientId), []);
      // The certificate alone is what may be registered.
      await ts.app.clients.addKeys(c.clientId, cert, { id: 'test' });
      assert.equal((await ts.app.clients.listKeys(c.clientId)).length, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a jwks_uri that redirects (to 169.254.169.254), hangs or answers too much, without a 5xx', async () => {
    served.set('/redirect', (res) =>
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    );
    served.set('/huge', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [], padding: 'x'.repeat(200_000) }));
    });
    // Headers, then nothing: the fetch's time bound ends it (shortened here to 300 ms).
    served.set('/slow', (res) => res.writeHead(200, { 'content-type': 'application/json' }).write('{"keys": ['));
    const key = rsaKey('s-1');
    const bound = JWKS_FETCH.timeoutMs;
    JWKS_FETCH.timeoutMs = 300;
    try {
      for (const [path, why] of [
        ['/redirect', /redirects are not followed/],
        ['/huge', /larger than/],
        ['/slow', /no complete answer/],
      ] as const) {
        const c = await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: `${jwksBase}${path}` });
        // Without a time bound the fetch, and the token request with it, would wait forever: this
        // guard (a hundred times the bound) turns that into a failure instead of a hung test.
        const guard = new AbortController();
        const res = await Promise.race([
          tokenWith(sign({ alg: 'RS256', kid: 's-1' }, claimsFor(c.clientId), key.privateKey)),
          sleep(30_000, undefined, { signal: guard.signal }).catch(() => undefined),
        ]).finally(() => guard.abort());
        assert.ok(res, `${path}: no answer: the jwks_uri fetch was not ended`);
        assert.equal(res.status, 401, `${path}: ${res.text}`);
        const failure = await lastFailure(c.clientId);
        assert.equal(failure?.reason, 'unknown_key', path);
        assert.match(String(failure?.details.detail), why, path);
      }
    } finally {
      JWKS_FETCH.timeoutMs = bound;
    }
  });
});

describe('private_key_jwt: jwks_uri without allowed ranges', () => {
  let ts: TestServer;
  let jwksServer: http.Server;
  let port: number;
  before(async () => {
    jwksServer = http.createServer((_req, res) => res.writeHead(200).end('{"keys":[]}'));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    port = (jwksServer.address() as AddressInfo).port;
    ts = await startTestServer();
  });
  after(async () => {
    await ts?.close();
    await new Promise((r) => jwksServer.close(r));
  });

  it('refuses registering a loopback, link-local or plain-http jwks_uri', async () => {
    for (const uri of [
      `http://127.0.0.1:${port}/jwks`,
      'https://127.0.0.1/jwks',
      'https://169.254.169.254/latest',
      'https://[::1]/jwks',
      'https://[::ffff:10.0.0.1]/jwks',
      'https://user:pass@keys.example/jwks',
      'http://keys.example/jwks',
    ])
      await assert.rejects(ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: uri }), /jwks_uri/, uri);
  });

  it('refuses to connect when a name resolves to loopback, as unknown_key; how it resolved is in the server log only', async () => {
    const c = await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: `https://localhost:${port}/jwks` });
    const key = rsaKey('l-1');
    const now = Math.floor(ts.clock.now() / 1000);
    const res = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: sign(
        { alg: 'RS256', kid: 'l-1' },
        { iss: c.clientId, sub: c.clientId, aud: ts.config.issuer, exp: now + 60, jti: 'j' },
        key.privateKey,
      ),
    });
    assert.equal(res.status, 401);
    await ts.app.audit.flush(true);
    const [failure] = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId, limit: 1 });
    assert.equal(failure?.reason, 'unknown_key');
    assert.match(String(failure?.details.detail), /jwks_uri address not allowed/);
    assert.doesNotMatch(String(failure?.details.detail), /resolves|127\.0\.0\.1|::1/);
    assert.ok(
      ts.logs.some((l) => l.includes('jwks_uri fetch refused') && /localhost resolves to (127\.0\.0\.1|::1)/.test(l)),
      'the server log says how the name resolved',
    );
  });

  it('refuses registering IPv6 addresses that embed an IPv4 one (compatible, translated, 6to4, Teredo, NAT64)', async () => {
    for (const uri of [
      'https://[::127.0.0.1]/jwks',
      'https://[::a00:1]/jwks',
      'https://[::ffff:0:7f00:1]/jwks',
      'https://[2002:7f00:1::1]/jwks',
      'https://[2002:a00:1::1]/jwks',
      'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/jwks',
      'https://[64:ff9b::7f00:1]/jwks',
      'https://[64:ff9b:1::a00:1]/jwks',
    ])
      await assert.rejects(
        ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: uri }),
        /jwks_uri points at an address that is not public/,
        uri,
      );
    // A public IPv6 address stays registrable.
    await ts.createClient({ authMethods: ['private_key_jwt'], jwksUri: 'https://[2606:4700::1111]/jwks' });
  });
});

describe('NL GOV mode: ZGW_AUTH_CLIENT_AUTH_METHODS without the secret methods', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      env: {
        ZGW_AUTH_CLIENT_AUTH_METHODS: 'private_key_jwt,tls_client_auth',
        ZGW_AUTH_NEW_CLIENT_AUTH_METHODS: 'private_key_jwt',
      },
    });
  });
  after(() => ts?.close());

  it('refuses every secret at /token and /introspect as method_not_allowed, keys work, discovery says so', async () => {
    const c = await ts.app.clients.create(
      { clientId: 'legacy', rsin: '000000000', authMethods: ['private_key_jwt'] },
      { id: 'test' },
    );
    // A client of before, with the secret methods, as the migration leaves it.
    await ts.app.storage.db
      .updateTable('clients')
      .set({ auth_methods: '["client_secret_basic","client_secret_post","private_key_jwt"]' })
      .where('client_id', '=', 'legacy')
      .execute();
    ts.app.authenticator.forget('legacy');
    // Created without a secret method it got no secret; as a client of before it holds one.
    assert.equal(c.secret, undefined);
    const secret = (await ts.app.clients.addSecret('legacy', { label: 'before' }, { id: 'test' })).value;
    for (const endpoint of ['/token', '/introspect']) {
      const res = await postForm(
        `${ts.url}${endpoint}`,
        { grant_type: 'client_credentials', token: 'x' },
        { authorization: basicAuth('legacy', secret) },
      );
      assert.equal(res.status, 401, `${endpoint}: ${res.text}`);
    }
    await ts.app.audit.flush(true);
    const [failure] = await ts.app.audit.list({ action: 'client_auth.failed', target: 'legacy', limit: 1 });
    assert.equal(failure?.reason, 'method_not_allowed');
    const key = rsaKey('nl-1');
    await ts.app.clients.addKeys('legacy', JSON.stringify(key.jwk), { id: 'test' });
    const now = Math.floor(ts.clock.now() / 1000);
    const ok = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: sign(
        { alg: 'RS256', kid: 'nl-1' },
        { iss: 'legacy', sub: 'legacy', aud: ts.config.issuer, exp: now + 60, jti: 'nl' },
        key.privateKey,
      ),
    });
    assert.equal(ok.status, 200, ok.text);
    const meta = await request(`${ts.url}/.well-known/openid-configuration`);
    assert.deepEqual(meta.json.token_endpoint_auth_methods_supported, ['private_key_jwt']);
  });

  it('accepts no self-signed token, and registers no selfSignedAllowed, where secrets are not accepted', async () => {
    await assert.rejects(
      ts.app.clients.create(
        { clientId: 'signs-keys', rsin: '000000000', authMethods: ['private_key_jwt'], selfSignedAllowed: true },
        { id: 'test' },
      ),
      /selfSignedAllowed: self-signed tokens are signed with a client secret/,
    );
    // A client of before with secret methods and self-signed tokens, as a migration leaves it.
    await ts.app.clients.create(
      { clientId: 'signs', rsin: '000000000', authMethods: ['private_key_jwt'] },
      { id: 'test' },
    );
    await ts.app.storage.db
      .updateTable('clients')
      .set({ auth_methods: '["client_secret_basic","private_key_jwt"]', self_signed_allowed: 1 })
      .where('client_id', '=', 'signs')
      .execute();
    ts.app.authenticator.forget('signs');
    const { value } = await ts.app.clients.addSecret('signs', { label: 'signing', allowWeak: true }, { id: 'test' });
    const iat = Math.floor(ts.clock.now() / 1000);
    const token = hs256({ iss: 'signs', client_id: 'signs', iat, exp: iat + 300 }, value);
    // The server accepts no secret method (ZGW_AUTH_CLIENT_AUTH_METHODS): its secrets sign nothing either.
    await assert.rejects(ts.app.verifier.verify(`Bearer ${token}`));
  });

  it('keeps the console sign-in of an administrator a secret sign-in', async () => {
    const console = await consoleSignIn(ts);
    assert.equal((await console.get('/console/clients')).status, 200);
    // A new client's form starts with a method new clients may use here, not the refused secrets.
    const form = (await console.get('/console/clients/new')).text;
    assert.match(form, /id="authMethods\.private_key_jwt" name="authMethods\.private_key_jwt" value="true" checked/);
    assert.doesNotMatch(form, /id="authMethods\.client_secret_basic"[^>]*checked/);
  });

  it('registers clients only with the methods allowed for new registrations', async () => {
    await assert.rejects(
      ts.app.clients.create({ clientId: 'new-secret', rsin: '000000000' }, { id: 'test' }),
      /not allowed for new registrations/,
    );
    await assert.rejects(
      ts.app.clients.create(
        { clientId: 'new-tls', rsin: '000000000', authMethods: ['tls_client_auth'] },
        { id: 'test' },
      ),
      /not allowed for new registrations/,
    );
  });

  it('refuses unknown methods and bad jwks_uri ranges in the settings with a clear message', () => {
    assert.throws(
      () => loadConfig({ ZGW_AUTH_CLIENT_AUTH_METHODS: 'private_key_jwt,client_secret_jwt' }),
      /ZGW_AUTH_CLIENT_AUTH_METHODS: "client_secret_jwt" is not a client authentication method/,
    );
    assert.throws(() => loadConfig({ ZGW_AUTH_CLIENT_AUTH_METHODS: ' , ' }), /at least one/);
    assert.throws(() => loadConfig({ ZGW_AUTH_JWKS_URI_ALLOW: '10.0.0.0/33' }), /ZGW_AUTH_JWKS_URI_ALLOW/);
    assert.throws(() => loadConfig({ ZGW_AUTH_ASSERTION_MAX_LIFETIME: '0' }), /ZGW_AUTH_ASSERTION_MAX_LIFETIME/);
    assert.deepEqual(loadConfig({ ZGW_AUTH_JWKS_URI_ALLOW: '10.0.0.0/8, keys.intern.example' }).jwksUriAllow, [
      '10.0.0.0/8',
      'keys.intern.example',
    ]);
  });
});

describe('private_key_jwt in the CLI', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pkjwt-cli-'));
  const env = {
    ...process.env,
    ZGW_AUTH_DATA_DIR: dataDir,
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
  };
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env });

  it('creates a key client, adds, lists and removes its keys, and lists clients with their methods', async () => {
    await cli('--init', 'clients', 'create', '--client-id', 'secrets', '--rsin', '000000000', '--json');
    await cli(
      'clients',
      'create',
      '--client-id',
      'keys',
      '--rsin',
      '000000000',
      '--auth-method',
      'private_key_jwt',
      '--json',
    );
    const oinArgs = ['--rsin', '000000000', '--auth-method', 'private_key_jwt', '--oin', '00000001234567890000'];
    await cli('clients', 'create', '--client-id', 'oin-keys', ...oinArgs, '--json');
    const jwksFile = path.join(dataDir, 'jwks.json');
    const key = ecKey('cli-1');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    await cli('clients', 'keys', 'add', 'keys', '--jwks', jwksFile);
    // A bare key proves no OIN: a client with one needs a certificate.
    await assert.rejects(cli('clients', 'keys', 'add', 'oin-keys', '--jwks', jwksFile), /x5c certificate chain/);
    assert.match((await cli('clients', 'show', 'oin-keys')).stdout, /oin:\s+00000001234567890000/);
    const listed = JSON.parse((await cli('clients', 'keys', 'list', 'keys', '--json')).stdout) as Array<{
      kid: string;
      thumbprint: string;
    }>;
    assert.deepEqual(
      listed.map((k) => k.kid),
      ['cli-1'],
    );
    assert.match(listed[0]!.thumbprint, /^[A-Za-z0-9_-]{43}$/);
    const table = (await cli('clients', 'list')).stdout;
    assert.match(table, /AUTH METHODS/);
    assert.match(table, /keys\s+000000000\s+true\s+private_key_jwt\s/);
    assert.match(table, /secrets\s+000000000\s+true\s+client_secret_basic,client_secret_post\s/);
    const secretUsers = JSON.parse(
      (await cli('clients', 'list', '--auth-method', 'client_secret_basic', '--json')).stdout,
    );
    // `--init` makes no administrator client: only the one secret client is left to move.
    assert.deepEqual(
      secretUsers.items.map((c: { clientId: string }) => c.clientId),
      ['secrets'],
    );
    assert.match((await cli('clients', 'show', 'keys')).stdout, /cli-1/);
    await cli('clients', 'keys', 'remove', 'keys', 'cli-1');
    assert.deepEqual(JSON.parse((await cli('clients', 'keys', 'list', 'keys', '--json')).stdout), []);
    const audit = JSON.parse((await cli('audit', 'list', '--target', 'keys', '--json')).stdout) as Array<{
      action: string;
    }>;
    assert.deepEqual(
      audit.map((e) => e.action).filter((a) => a.startsWith('client_key.')),
      ['client_key.removed', 'client_key.added'],
    );
  });
});
