import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { createVerifier, RemoteJwks, type Verifier } from '@zgw-auth/verifier';
import { base64urlJson } from '@zgw-auth/verifier/testing';
import CryptoJS from 'crypto-js';
import * as oidc from 'openid-client';
import { createZakenApi } from '../examples/zaken-api.js';
import { registryResolver } from '../src/tokens/server-verifier.js';
import { createSelfSignedToken } from '../src/tokens/self-signed-token.js';
import {
  basicAuth,
  CLI,
  decodePart,
  hs256,
  postForm,
  rejectsWith,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);

describe('accepting tokens', () => {
  let ts: TestServer;
  let zgw: { clientId: string; secret: string };
  let verifier: Verifier;
  let introspector: { clientId: string; secret: string };
  const nowS = () => Math.floor(ts.clock.now() / 1000);
  const introspect = (token: string, auth = basicAuth(introspector.clientId, introspector.secret)) =>
    postForm(`${ts.url}/introspect`, { token }, { authorization: auth });

  before(async () => {
    ts = await startTestServer();
    zgw = await ts.createClient({
      clientId: 'client-12345',
      selfSignedAllowed: true,
      allowedScopes: ['zaken.lezen'],
      defaultScopes: ['zaken.lezen'],
    });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    verifier = createVerifier({
      issuer: ts.url,
      audience: 'ZGW_APIs',
      clients: registryResolver(ts.app.authenticator),
      now: ts.clock.now,
      cache: false,
    });
  });
  after(() => ts.close());

  describe('token shapes seen in the wild', () => {
    it("the seed's Postman snippet, run with crypto-js: iat +257 s, the nbp typo, aud ZGW_APIs", async () => {
      // The seed's code as written, only with our client id and secret filled in.
      const seed = `
        function base64url(source) { encodedSource = CryptoJS.enc.Base64.stringify(source); encodedSource = encodedSource.replace(/=+$/, ""); encodedSource = encodedSource.replace(/\\+/g, "-"); encodedSource = encodedSource.replace(/\\//g, "_"); return encodedSource; }
        function addIAT(request) { var iat = Math.floor(Date.now() / 1000) + 257; data.iat = iat; data.nbp = iat; data.exp = iat + 3600; return data; }
        var header = { typ: "JWT", alg: "HS256" };
        var data = { client_id: "client-12345", rsin: "000000000", jti: "49f1ddb1-3b4b-4a44-9739-013728b9a826", sub: "client-12345", aud: "ZGW_APIs", iss: "<some value>" };
        data = addIAT(data);
        var secret = SECRET;
        var stringifiedHeader = CryptoJS.enc.Utf8.parse(JSON.stringify(header)); var encodedHeader = base64url(stringifiedHeader);
        var stringifiedData = CryptoJS.enc.Utf8.parse(JSON.stringify(data)); var encodedData = base64url(stringifiedData);
        var token = encodedHeader + "." + encodedData;
        var signature = CryptoJS.HmacSHA256(token, secret); signature = base64url(signature);
        var signedToken = token + "." + signature;`;
      const sandbox: Record<string, unknown> = { CryptoJS, SECRET: zgw.secret, Date: { now: ts.clock.now }, Math };
      vm.runInNewContext(seed, sandbox);
      const token = sandbox.signedToken as string;
      const p = await verifier.verify(`Bearer ${token}`);
      assert.equal(p.kind, 'self-signed');
      assert.equal(p.clientId, 'client-12345');
      assert.equal(p.rsin, '000000000');
      assert.equal(p.claims.nbp, undefined, 'the nbp typo is neither read as nbf nor passed on');
      assert.equal(p.claims.jti, '49f1ddb1-3b4b-4a44-9739-013728b9a826', 'jti passes through as information');
      const res = await introspect(token);
      assert.equal(res.json.active, true);
      assert.equal(res.json.client_id, 'client-12345');
      assert.equal(res.json.rsin, '000000000');
      assert.equal(res.json.sub, 'client-12345');
      assert.equal(res.json.aud, undefined, "the consumer's own aud and iss are not passed on");
      assert.equal(res.json.iss, undefined);
      assert.equal(res.json.zgw_token_kind, 'self-signed');
    });

    it('OneGround Postman collections: iss = client_id, user claims, 4-month exp capped by maxAge', async () => {
      const iat = nowS() + 257;
      const token = hs256(
        {
          iss: 'client-12345',
          client_id: 'client-12345',
          user_id: 'u-1',
          user_representation: 'Jan',
          jti: 'x',
          iat,
          exp: iat + 10_000_000,
        },
        zgw.secret,
      );
      const p = await verifier.verify(token);
      assert.equal(p.userId, 'u-1');
      assert.equal(p.userRepresentation, 'Jan');
      assert.equal(p.rsin, '000000000', 'rsin from the registry when the token has none');
      assert.equal(p.expiresAt, iat + 3600);
      ts.clock.advance(257 + 3600 + 31);
      try {
        await rejectsWith(verifier, token, 'expired', /self-signed tokens live at most 3600 s/);
      } finally {
        ts.clock.advance(-(257 + 3600 + 31));
      }
    });

    it('Open Zaak / VNG: no exp at all, expires at iat + maxAge', async () => {
      const token = hs256(
        { iss: 'client-12345', iat: nowS(), client_id: 'client-12345', user_id: 'u', user_representation: 'r' },
        zgw.secret,
      );
      assert.equal((await verifier.verify(token)).expiresAt, nowS() + 3600);
      ts.clock.advance(3600 + 31);
      try {
        await rejectsWith(verifier, token, 'expired', /expired 3[12] seconds ago/);
      } finally {
        ts.clock.advance(-(3600 + 31));
      }
    });

    it('Keycloak plugin shape: exp checked with 30 s skew', async () => {
      const token = hs256({ client_id: 'client-12345', iat: nowS() - 100, exp: nowS() - 20 }, zgw.secret);
      assert.equal((await verifier.verify(token)).clientId, 'client-12345', 'inside the skew');
      await rejectsWith(
        verifier,
        hs256({ client_id: 'client-12345', iat: nowS() - 300, exp: nowS() - 240 }, zgw.secret),
        'expired',
        /expired 4 minutes ago/,
      );
    });

    it('IdP-issued RS256 token, verified via discovery and JWKS', async () => {
      const token = await ts.token(zgw.clientId, zgw.secret);
      const p = await verifier.verify(`Bearer ${token}`);
      assert.equal(p.kind, 'oauth2');
      assert.deepEqual(p.scopes, ['zaken.lezen']);
      const res = await introspect(token);
      assert.equal(res.json.active, true);
      assert.equal(res.json.zgw_token_kind, 'oauth2');
      assert.equal(res.json.iss, ts.url);
      for (const f of ['client_id', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'scope', 'rsin', 'token_type'])
        assert.ok(res.json[f] !== undefined, f);
    });
  });

  describe('refusals', () => {
    const claims = () => ({ client_id: 'client-12345', iat: nowS(), exp: nowS() + 600 });
    it('no exp and no iat', () => rejectsWith(verifier, hs256({ client_id: 'client-12345' }, zgw.secret), 'no_expiry'));
    it('iat far in the future names the clock', () =>
      rejectsWith(
        verifier,
        hs256({ client_id: 'client-12345', iat: nowS() + 600 }, zgw.secret),
        'iat_in_future',
        /10 minutes in the future: check the clock/,
      ));
    it('a different secret', () =>
      rejectsWith(verifier, hs256(claims(), 'not-the-secret'), 'bad_signature', /signed with a different secret/));
    it('the secret looked up by client_id, never by iss', () =>
      rejectsWith(verifier, hs256({ iss: 'client-12345', iat: nowS() }, zgw.secret), 'invalid_claim', /client_id/));
    it('IdP token for another audience', async () => {
      const token = await ts.token(zgw.clientId, zgw.secret);
      const strict = createVerifier({ issuer: ts.url, audience: 'other-api', now: ts.clock.now });
      await rejectsWith(strict, token, 'audience_mismatch');
    });
  });

  it('picks up a rotated-in key on its unknown kid, at most once per cooldown', async () => {
    const own = await startTestServer();
    const c = await own.createClient();
    let fetches = 0;
    const v = createVerifier({
      issuer: own.url,
      keys: new RemoteJwks({ jwksUri: `${own.url}/jwks` }, { now: own.clock.now, cooldownMs: 30_000 }),
      now: own.clock.now,
    });
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((...args: Parameters<typeof fetch>) => (fetches++, realFetch(...args))) as typeof fetch;
    try {
      await v.verify(await own.token(c.clientId, c.secret));
      assert.equal(fetches, 1);
      await own.app.keys.rotate('RS256', 0);
      const fresh = await own.token(c.clientId, c.secret);
      await rejectsWith(v, fresh, 'unknown_key');
      assert.equal(fetches, 1, 'no refetch inside the cooldown');
      own.clock.advance(31);
      assert.equal((await v.verify(fresh)).kind, 'oauth2');
      assert.equal(fetches, 2);
      await rejectsWith(
        v,
        fresh.replace(/^[^.]+/, base64urlJson({ alg: 'RS256', typ: 'at+jwt', kid: 'nope' })),
        'unknown_key',
      );
      assert.equal(fetches, 2, 'an unknown kid right after a fetch does not trigger another');
    } finally {
      globalThis.fetch = realFetch;
      await own.close();
    }
  });

  describe('introspection', () => {
    it('answers exactly {"active": false} for anything invalid', async () => {
      for (const token of ['garbage', hs256({ client_id: 'client-12345', iat: nowS() }, 'wrong')]) {
        const res = await introspect(token);
        assert.equal(res.status, 200);
        assert.deepEqual(res.json, { active: false });
      }
    });
    it('requires an authenticated caller with the introspection scope', async () => {
      const token = await ts.token(zgw.clientId, zgw.secret);
      const none = await postForm(`${ts.url}/introspect`, { token });
      assert.equal(none.status, 401);
      assert.equal(none.json.error, 'invalid_client');
      const noScope = await introspect(token, basicAuth(zgw.clientId, zgw.secret));
      assert.equal(noScope.status, 403);
    });
    it('allows anonymous callers only when configured', async () => {
      const open = await startTestServer({ env: { ZGW_AUTH_INTROSPECTION_ANONYMOUS: 'true' } });
      try {
        const c = await open.createClient();
        const res = await postForm(`${open.url}/introspect`, { token: await open.token(c.clientId, c.secret) });
        assert.equal(res.json.active, true);
      } finally {
        await open.close();
      }
    });
    it("makes a disabled client's tokens inactive at once, and honours /revoke", async () => {
      const c = await ts.createClient({ selfSignedAllowed: true });
      const idp = await ts.token(c.clientId, c.secret);
      const self = hs256({ client_id: c.clientId, iat: nowS() }, c.secret);
      assert.equal((await introspect(idp)).json.active, true);
      assert.equal((await introspect(self)).json.active, true);
      await ts.app.clients.update(c.clientId, { enabled: false }, { id: 'test' });
      assert.deepEqual((await introspect(idp)).json, { active: false });
      assert.deepEqual((await introspect(self)).json, { active: false });
      await ts.app.clients.update(c.clientId, { enabled: true }, { id: 'test' });
      assert.equal((await introspect(idp)).json.active, true);
      const revoked = await postForm(
        `${ts.url}/revoke`,
        { token: idp },
        { authorization: basicAuth(c.clientId, c.secret) },
      );
      assert.equal(revoked.status, 200);
      assert.deepEqual((await introspect(idp)).json, { active: false });
      await rejectsWith(revokedVerifier(), idp, 'revoked');
    });
  });

  const revokedVerifier = () =>
    createVerifier({
      issuer: ts.url,
      clients: registryResolver(ts.app.authenticator),
      isRevoked: (jti) => ts.app.revocations.isRevoked(jti),
      now: ts.clock.now,
      cache: false,
    });

  it('serves a repeated token from memory, but refuses it after its client is disabled within the bound', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    let lookups = 0;
    const resolver = registryResolver(ts.app.authenticator);
    const cached = createVerifier({
      issuer: ts.url,
      clients: (id) => (lookups++, resolver(id)),
      now: ts.clock.now,
      cache: { revalidateAfterMs: 2000 },
    });
    const token = hs256({ client_id: c.clientId, iat: nowS() }, c.secret);
    await cached.verify(token);
    await cached.verify(token);
    assert.equal(lookups, 1, 'second verification served from the cache');
    await ts.app.clients.update(c.clientId, { enabled: false }, { id: 'test' });
    ts.clock.advance(2.001);
    await rejectsWith(cached, token, 'client_disabled');
  });

  describe('real clients', () => {
    it('openid-client discovers the server and performs the client credentials grant', async () => {
      const config = await oidc.discovery(new URL(ts.url), zgw.clientId, zgw.secret, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal((await verifier.verify(tokens.access_token)).clientId, zgw.clientId);
    });

    it('PyJWT verifies an issued token via PyJWKClient and signs a self-signed token we accept', async () => {
      const token = await ts.token(zgw.clientId, zgw.secret);
      const script = `
import jwt, sys, time, json
token, url, secret = sys.argv[1], sys.argv[2], sys.argv[3]
key = jwt.PyJWKClient(url + "/jwks").get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="ZGW_APIs", issuer=url, leeway=30)
now = int(time.time())
own = jwt.encode({"iss": "client-12345", "client_id": "client-12345", "user_id": "py", "user_representation": "PyJWT", "iat": now, "exp": now + 600}, secret, algorithm="HS256")
print(json.dumps({"sub": claims["sub"], "own": own}))`;
      const { stdout } = await run('/usr/bin/python3', ['-c', script, token, ts.url, zgw.secret]);
      const out = JSON.parse(stdout) as { sub: string; own: string };
      assert.equal(out.sub, zgw.clientId);
      const p = await verifier.verify(out.own);
      assert.equal(p.userId, 'py');
      assert.equal(p.kind, 'self-signed');
    });

    it('curl and the example Zaken API: 200 with a token, RFC 6750 answers without', async () => {
      const api: http.Server = createZakenApi({ issuer: ts.url, clients: registryResolver(ts.app.authenticator) });
      await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/zaken/api/v1/zaken`;
      try {
        const { stdout } = await run('curl', [
          '-s',
          '-F',
          `client_id=${zgw.clientId}`,
          '-F',
          `client_secret=${zgw.secret}`,
          '-F',
          'grant_type=client_credentials',
          `${ts.url}/token`,
        ]);
        const ok = await request(base, { headers: { authorization: `Bearer ${JSON.parse(stdout).access_token}` } });
        assert.equal(ok.status, 200);
        assert.equal(ok.json.caller.kind, 'oauth2');
        const self = await request(base, {
          headers: {
            authorization: `Bearer ${createSelfSignedToken({ clientId: zgw.clientId, secret: zgw.secret, userId: 'u' })}`,
          },
        });
        assert.equal(self.status, 200);
        assert.equal(self.json.caller.kind, 'self-signed');
        const missing = await request(base);
        assert.equal(missing.status, 401);
        assert.equal(missing.headers['www-authenticate'], 'Bearer realm="zgw"');
        const bad = await request(base, { headers: { authorization: 'Bearer x.y.z' } });
        assert.equal(bad.status, 401);
        assert.match(String(bad.headers['www-authenticate']), /error="invalid_token", error_description="/);
        const noScope = await ts.createClient();
        const res = await request(base, {
          headers: { authorization: `Bearer ${await ts.token(noScope.clientId, noScope.secret)}` },
        });
        assert.equal(res.status, 403);
        assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", .*scope="zaken.lezen"/);
      } finally {
        await new Promise((r) => api.close(r));
      }
    });
  });

  describe('token tool', () => {
    const cli = (...args: string[]) =>
      run(process.execPath, [CLI, ...args], { env: { ...process.env, ZGW_AUTH_CLIENT_SECRET: zgw.secret } });
    it('token create signs a self-signed token the verifier and /introspect accept', async () => {
      const { stdout } = await cli(
        'token',
        'create',
        '--client-id',
        zgw.clientId,
        '--user-id',
        'cli-user',
        '--user-representation',
        'CLI',
      );
      const token = stdout.trim();
      assert.equal((await verifier.verify(token)).userId, 'cli-user');
      assert.equal((await introspect(token)).json.active, true);
      // token inspect gives the server's verdict: run with the server's configuration (its registry).
      const registry = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: ts.config.dataDir,
        ZGW_AUTH_MASTER_KEY: ts.config.masterKey!,
        ZGW_AUTH_ISSUER: ts.config.issuer,
      };
      const inspected = await run(process.execPath, [CLI, 'token', 'inspect', token], { env: registry });
      assert.match(inspected.stdout, /VALID \(self-signed\)/);
      const forged = hs256(decodePart(token, 1), 'other-secret-of-some-length');
      await assert.rejects(
        run(process.execPath, [CLI, 'token', 'inspect', forged], { env: registry }),
        (err: { stdout: string; code: number }) => err.code === 1 && /INVALID: bad_signature/.test(err.stdout),
      );
    });
    it('token get fetches a token via discovery', async () => {
      const { stdout } = await cli('token', 'get', '--server', ts.url, '--client-id', zgw.clientId);
      assert.equal((await verifier.verify(stdout.trim())).kind, 'oauth2');
    });
  });
});
