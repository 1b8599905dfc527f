import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as jose from 'jose';
import {
  basicAuth,
  decodePart,
  forEachDialect,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);

forEachDialect((dialect) => {
  describe(`POST /token (${dialect})`, () => {
    let ts: TestServer;
    let client: { clientId: string; secret: string };
    before(async () => {
      ts = await startTestServer({ dialect });
      client = await ts.createClient({
        clientId: 'oneground-000000000',
        allowedScopes: ['zaken.lezen', 'zaken.aanmaken'],
        defaultScopes: ['zaken.lezen'],
      });
    });
    after(() => ts.close());

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- same shape as HttpResult's json
    const assertTokenResponse = (res: { status: number; headers: Record<string, unknown>; json: any }) => {
      assert.equal(res.status, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['pragma'], 'no-cache');
      assert.equal(res.json.token_type, 'Bearer');
      assert.equal(res.json.expires_in, 3600);
      assert.equal(res.json.refresh_token, undefined);
      assert.match(res.json.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    };

    it('issues a token to curl -F exactly as the seed shows (multipart/form-data)', async () => {
      const { stdout } = await run('curl', [
        '-s',
        '-i',
        '-F',
        `client_id=${client.clientId}`,
        '-F',
        `client_secret=${client.secret}`,
        '-F',
        'grant_type=client_credentials',
        `${ts.url}/token`,
      ]);
      const [head, body] = stdout.split('\r\n\r\n');
      assert.match(head!, /^HTTP\/1.1 200/);
      assert.match(head!, /cache-control: no-store/i);
      const json = JSON.parse(body!);
      assert.equal(json.token_type, 'Bearer');
      assert.equal(decodePart(json.access_token, 1).client_id, client.clientId);
    });

    it('issues a token for application/x-www-form-urlencoded', async () => {
      const res = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: client.secret,
      });
      assertTokenResponse(res);
      assert.equal(res.json.scope, 'zaken.lezen', 'default scopes when none requested');
    });

    it('issues a token for HTTP Basic with form-url-encoded id and secret (RFC 6749 §2.3.1)', async () => {
      const odd = 'pa ss+wörd:%/&=' + 'x'.repeat(30);
      await ts.app.clients.addSecret(client.clientId, { value: odd, label: 'imported' }, { id: 'test' });
      const res = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(client.clientId, odd) },
      );
      assertTokenResponse(res);
    });

    it('signs an RFC 9068 token that an independent library verifies against the served JWKS', async () => {
      const meta = (await request(`${ts.url}/.well-known/openid-configuration`)).json;
      const token = await ts.token(client.clientId, client.secret, 'zaken.aanmaken zaken.lezen');
      const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
      const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
        issuer: ts.url,
        audience: 'ZGW_APIs',
        typ: 'at+jwt',
        algorithms: ['RS256'],
      });
      assert.equal(protectedHeader.alg, 'RS256');
      const served = (await request(meta.jwks_uri)).json.keys;
      assert.equal(protectedHeader.kid, await jose.calculateJwkThumbprint(served[0]), 'kid is the RFC 7638 thumbprint');
      assert.equal(payload.sub, client.clientId);
      assert.equal(payload.client_id, client.clientId);
      assert.equal(payload.rsin, '000000000');
      assert.equal(payload.scope, 'zaken.aanmaken zaken.lezen');
      assert.equal(payload.exp! - payload.iat!, 3600);
      assert.equal(payload.nbf, payload.iat);
      assert.ok(Buffer.from(String(payload.jti), 'base64url').length >= 16, 'jti: 128 random bits or more');
    });

    it('serves both discovery documents pointing at the same endpoints', async () => {
      const a = await request(`${ts.url}/.well-known/openid-configuration`);
      const b = await request(`${ts.url}/.well-known/oauth-authorization-server`);
      assert.equal(a.status, 200);
      assert.deepEqual(a.json, b.json);
      assert.equal(a.json.issuer, ts.url);
      assert.equal(a.json.token_endpoint, `${ts.url}/token`);
      assert.deepEqual(a.json.grant_types_supported, ['client_credentials']);
      const methods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
      assert.deepEqual(a.json.token_endpoint_auth_methods_supported, methods);
      assert.deepEqual(a.json.introspection_endpoint_auth_methods_supported, methods);
      assert.deepEqual(a.json.revocation_endpoint_auth_methods_supported, methods);
      assert.deepEqual(a.json.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA']);
    });

    it('never publishes private key members in the JWKS', async () => {
      const res = await request(`${ts.url}/jwks`);
      for (const key of res.json.keys) {
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key[member], undefined, member);
      }
      assert.doesNotMatch(res.text, /PRIVATE/);
    });

    describe('errors per RFC 6749 §5.2', () => {
      const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
        postForm(`${ts.url}/token`, params, headers);
      const assertError = (
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- same shape as HttpResult's json
        res: { status: number; json: any; headers: Record<string, unknown> },
        status: number,
        error: string,
      ) => {
        assert.equal(res.status, status, JSON.stringify(res.json));
        assert.equal(res.json.error, error);
        assert.equal(typeof res.json.error_description, 'string');
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.deepEqual(Object.keys(res.json).sort(), ['error', 'error_description']);
      };

      it('invalid_request: grant_type missing', async () => {
        assertError(await token({ client_id: client.clientId, client_secret: client.secret }), 400, 'invalid_request');
      });
      it('invalid_request: a parameter sent twice', async () => {
        const res = await request(`${ts.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.secret}&client_id=${client.clientId}`,
        });
        assertError(res, 400, 'invalid_request');
        assert.match(res.json.error_description, /client_id.*more than once/);
      });
      it('invalid_request: two authentication methods at once', async () => {
        const res = await token(
          { grant_type: 'client_credentials', client_secret: client.secret },
          { authorization: basicAuth(client.clientId, client.secret) },
        );
        assertError(res, 400, 'invalid_request');
      });
      it('invalid_request: unsupported content type', async () => {
        const res = await request(`${ts.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            grant_type: 'client_credentials',
            client_id: client.clientId,
            client_secret: client.secret,
          }),
        });
        assertError(res, 400, 'invalid_request');
      });
      it('invalid_request: body over the size bound is refused with 413', async () => {
        const res = await token({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.secret,
          padding: 'x'.repeat(20_000),
        });
        assertError(res, 413, 'invalid_request');
      });
      it('invalid_request: malformed multipart body', async () => {
        const res = await request(`${ts.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=zzz' },
          body: '--zzz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials',
        });
        assertError(res, 400, 'invalid_request');
      });
      it('invalid_client: unknown client, wrong secret and disabled client give one identical answer', async () => {
        const disabled = await ts.createClient({ enabled: false });
        const answers = await Promise.all([
          token({ grant_type: 'client_credentials', client_id: 'nobody-here', client_secret: client.secret }),
          token({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong-secret' }),
          token({ grant_type: 'client_credentials', client_id: disabled.clientId, client_secret: disabled.secret }),
        ]);
        for (const res of answers) {
          assertError(res, 401, 'invalid_client');
          assert.equal(res.headers['www-authenticate'], undefined, 'no challenge for credentials in the body');
        }
        assert.equal(new Set(answers.map((a) => a.text)).size, 1);
      });
      it('invalid_client with a Basic challenge when Basic credentials are wrong', async () => {
        const res = await token(
          { grant_type: 'client_credentials' },
          { authorization: basicAuth(client.clientId, 'nope') },
        );
        assertError(res, 401, 'invalid_client');
        assert.equal(res.headers['www-authenticate'], 'Basic realm="zgw-auth", charset="UTF-8"');
      });
      it('invalid_client: no client authentication at all', async () => {
        assertError(await token({ grant_type: 'client_credentials' }), 401, 'invalid_client');
      });
      it('unsupported_grant_type', async () => {
        assertError(
          await token({ grant_type: 'password', client_id: client.clientId, client_secret: client.secret }),
          400,
          'unsupported_grant_type',
        );
      });
      it('invalid_scope: a scope the client is not allowed', async () => {
        assertError(
          await token({
            grant_type: 'client_credentials',
            client_id: client.clientId,
            client_secret: client.secret,
            scope: 'zaken.lezen admin',
          }),
          400,
          'invalid_scope',
        );
      });
      it('unauthorized_client: a client registered without the client_credentials grant', async () => {
        const selfOnly = await ts.createClient({ grantTypes: [] });
        assertError(
          await token({
            grant_type: 'client_credentials',
            client_id: selfOnly.clientId,
            client_secret: selfOnly.secret,
          }),
          400,
          'unauthorized_client',
        );
      });
    });

    it('caps a per-client lifetime override at the global maximum', async () => {
      const short = await ts.createClient({ tokenLifetime: 60 });
      const long = await ts.createClient({ tokenLifetime: 10_000_000 });
      assert.equal(
        (
          await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_id: short.clientId,
            client_secret: short.secret,
          })
        ).json.expires_in,
        60,
      );
      assert.equal(
        (
          await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_id: long.clientId,
            client_secret: long.secret,
          })
        ).json.expires_in,
        86_400,
      );
    });

    it('adds static claims, only of the allowed names', async () => {
      const c = await ts.createClient({ staticClaims: { user_id: 'u-1', user_representation: 'Medewerker' } });
      const payload = decodePart(await ts.token(c.clientId, c.secret), 1);
      assert.equal(payload.user_id, 'u-1');
      assert.equal(payload.user_representation, 'Medewerker');
      await assert.rejects(ts.createClient({ staticClaims: { rsin: '123456782' } }), /staticClaims may not set "rsin"/);
    });

    it('rotates signing keys without breaking tokens signed before the rotation', async () => {
      const before = await ts.token(client.clientId, client.secret);
      const oldKid = decodePart(before, 0).kid;
      const rotation = await ts.app.keys.rotate('RS256', 0);
      const after = await ts.token(client.clientId, client.secret);
      assert.equal(decodePart(after, 0).kid, rotation.kid);
      assert.notEqual(rotation.kid, oldKid);
      const jwks = jose.createRemoteJWKSet(new URL(`${ts.url}/jwks`));
      for (const t of [before, after]) await jose.jwtVerify(t, jwks, { issuer: ts.url, audience: 'ZGW_APIs' });
      assert.deepEqual(
        new Set((await request(`${ts.url}/jwks`)).json.keys.map((k: { kid: string }) => k.kid)),
        new Set([oldKid, rotation.kid]),
      );
      // After the old key's last token has expired it is retired from the JWKS.
      ts.clock.advance(ts.config.maxTokenLifetime + 120);
      await ts.app.keys.load();
      assert.deepEqual(
        (await request(`${ts.url}/jwks`)).json.keys.map((k: { kid: string }) => k.kid),
        [rotation.kid],
      );
    });

    it('publishes a rotated-in key before it signs', async () => {
      const current = decodePart(await ts.token(client.clientId, client.secret), 0).kid;
      const rotation = await ts.app.keys.rotate('RS256', 30);
      const kids = (await request(`${ts.url}/jwks`)).json.keys.map((k: { kid: string }) => k.kid);
      assert.ok(kids.includes(rotation.kid), 'published at once');
      assert.equal(
        decodePart(await ts.token(client.clientId, client.secret), 0).kid,
        current,
        'old key still signs during the publish delay',
      );
      ts.clock.advance(31);
      assert.equal(decodePart(await ts.token(client.clientId, client.secret), 0).kid, rotation.kid);
    });
  });
});

for (const alg of ['ES256', 'EdDSA'] as const) {
  describe(`signing with ${alg}`, () => {
    it('issues tokens verifiable with the served JWKS', async () => {
      const ts = await startTestServer({ env: { ZGW_AUTH_SIGNING_ALG: alg } });
      try {
        const c = await ts.createClient();
        const token = await ts.token(c.clientId, c.secret);
        const { protectedHeader } = await jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(`${ts.url}/jwks`)), {
          issuer: ts.url,
          audience: 'ZGW_APIs',
          algorithms: [alg],
        });
        assert.equal(protectedHeader.alg, alg);
        assert.equal(protectedHeader.typ, 'at+jwt');
      } finally {
        await ts.close();
      }
    });
  });
}

describe('client lookups on the token path', () => {
  it('looks a client up in memory from its second request on, for at most the 2 s bound', async () => {
    const ts = await startTestServer();
    try {
      const c = await ts.createClient({ clientId: 'cache-watcher' });
      // Changed behind the service's back, as another process or the CLI would: no notification.
      const setEnabled = (enabled: boolean) =>
        ts.app.storage.db
          .updateTable('clients')
          .set({ enabled: enabled ? 1 : 0 })
          .where('client_id', '=', c.clientId)
          .execute();
      const status = async () =>
        (
          await postForm(
            `${ts.url}/token`,
            { grant_type: 'client_credentials' },
            { authorization: basicAuth(c.clientId, c.secret) },
          )
        ).status;
      assert.equal(await status(), 200);
      await setEnabled(false);
      assert.equal(await status(), 401, 'seen once: not cached, so the change shows at once');
      await setEnabled(true);
      ts.clock.advance(3);
      assert.equal(await status(), 200);
      assert.equal(await status(), 200, 'second lookup: now cached');
      await setEnabled(false);
      assert.equal(await status(), 200, 'served from memory inside the bound');
      ts.clock.advance(2);
      assert.equal(await status(), 401, 'and looked up again after it');
    } finally {
      await ts.close();
    }
  });
});
