/**
 * Keycloak's own clients against zgw-auth with ZGW_AUTH_KEYCLOAK_PATHS on: keycloak-connect (its
 * client credentials login, its token validation protecting an API, its validateAccessToken()) and
 * @keycloak/keycloak-admin-client's client credentials login, run as they are published.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import Keycloak from 'keycloak-connect';
import { createVerifier } from '@zgw-auth/verifier';
import { basicAuth, decodePart, postForm, request, startTestServer, type TestServer } from './helpers.js';

const REALM = 'OneGround';
const KC = {
  token: `/realms/${REALM}/protocol/openid-connect/token`,
  introspect: `/realms/${REALM}/protocol/openid-connect/token/introspect`,
  plugin: `/realms/${REALM}/zgw-token-introspection/introspect`,
  revoke: `/realms/${REALM}/protocol/openid-connect/revoke`,
};

/** keycloak-connect configured as an API written for Keycloak configures it (keycloak.json). */
function keycloakFor(ts: TestServer, clientId: string, secret: string): Keycloak.Keycloak {
  const config = {
    realm: REALM,
    'auth-server-url': ts.url,
    resource: clientId,
    credentials: { secret },
    'bearer-only': true,
    'ssl-required': 'none',
    'confidential-port': 0,
  };
  return new Keycloak({}, config as unknown as Keycloak.KeycloakConfig);
}

/**
 * An API protected by keycloak-connect's own middleware chain and protect(), on node:http with the
 * few Express response helpers keycloak-connect calls.
 */
async function protectedApi(keycloak: Keycloak.Keycloak): Promise<{ url: string; close: () => Promise<void> }> {
  type Handler = (req: unknown, res: unknown, next: () => void) => void;
  const chain = [...(keycloak.middleware() as unknown as Handler[]), keycloak.protect() as unknown as Handler];
  const server = http.createServer((req, res) => {
    const shim = Object.assign(res, {
      status: (code: number) => ((res.statusCode = code), shim),
      redirect: (to: string) => res.writeHead(302, { location: to }).end(),
      send: (body: string) => res.end(body),
    });
    Object.assign(req, {
      query: Object.fromEntries(new URL(req.url ?? '/', 'http://api').searchParams),
      path: req.url,
    });
    const next = (i: number): void => {
      if (i === chain.length) {
        const grant = (req as unknown as { kauth: { grant: { access_token: { content: Record<string, unknown> } } } })
          .kauth.grant;
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ azp: grant.access_token.content.azp }));
        return;
      }
      chain[i]!(req, shim, () => next(i + 1));
    };
    next(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/zaken`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe("Keycloak's clients against the drop-in paths (sqlite)", () => {
  let ts: TestServer;
  let api: { clientId: string; secret: string };
  let consumer: { clientId: string; secret: string };

  before(async () => {
    ts = await startTestServer({ issuerPath: `/realms/${REALM}`, env: { ZGW_AUTH_KEYCLOAK_PATHS: 'true' } });
    api = await ts.createClient({ rsin: '123456782', allowedScopes: ['zgw-auth:introspect'] });
    consumer = await ts.createClient({ rsin: '123456782', allowedScopes: ['zaken.lezen'] });
  });
  after(() => ts.close());

  it("logs in with keycloak-connect's client credentials grant (scope=openid) and validates the token it gets", async () => {
    const grant = await keycloakFor(ts, consumer.clientId, consumer.secret).grantManager.obtainFromClientCredentials();
    const content = (grant.access_token as unknown as { content: Record<string, unknown> }).content;
    assert.equal(content.typ, 'Bearer');
    assert.equal(content.azp, consumer.clientId);
    assert.equal(content.iss, ts.config.issuer);
    // openid is ignored: the client gets its default scopes, as when it asks for none.
    assert.equal(content.scope, 'zaken.lezen');
  });

  it('ignores openid at the Keycloak token URL: the scopes asked besides it are granted, and nothing is echoed for it', async () => {
    const both = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', scope: 'openid zaken.lezen' },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(both.status, 200, both.text);
    assert.equal(both.json.scope, 'zaken.lezen');
    assert.equal(decodePart(both.json.access_token, 1).scope, 'zaken.lezen');
    // Only openid: as if no scope was asked, the client's default scopes (none for this one).
    const bare = await ts.createClient({ rsin: '123456782', allowedScopes: ['zaken.lezen'], defaultScopes: [] });
    const alone = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', scope: 'openid' },
      { authorization: basicAuth(bare.clientId, bare.secret) },
    );
    assert.equal(alone.status, 200, alone.text);
    assert.equal(alone.json.scope, undefined);
    assert.equal(decodePart(alone.json.access_token, 1).scope, undefined);
    // Other scopes the client may not have stay refused, with openid or without.
    const other = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', scope: 'openid zaken.aanmaken' },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(other.status, 400);
    assert.equal(other.json.error, 'invalid_scope');
    // zgw-auth's own token URL stays as strict as RFC 6749 §3.3 asks: a scope the client lacks is refused.
    const own = await postForm(
      `${ts.url}/realms/${REALM}/token`,
      { grant_type: 'client_credentials', scope: 'openid' },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(own.status, 400);
    assert.equal(own.json.error, 'invalid_scope');
  });

  it('grants openid as any other scope to a client that is allowed a scope of that name', async () => {
    const oidc = await ts.createClient({ rsin: '123456782', allowedScopes: ['openid'] });
    const res = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', scope: 'openid' },
      { authorization: basicAuth(oidc.clientId, oidc.secret) },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.scope, 'openid');
  });

  it('lets an API protected by keycloak-connect accept zgw-auth tokens from either token URL, and refuse others', async () => {
    const protectedBy = await protectedApi(keycloakFor(ts, api.clientId, api.secret));
    try {
      for (const token of [
        await ts.token(consumer.clientId, consumer.secret),
        (
          await postForm(`${ts.url}${KC.token}`, {
            grant_type: 'client_credentials',
            client_id: consumer.clientId,
            client_secret: consumer.secret,
          })
        ).json.access_token as string,
      ]) {
        const res = await request(protectedBy.url, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.azp, consumer.clientId);
      }
      const [h, p, s] = (await ts.token(consumer.clientId, consumer.secret)).split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodePart(`${h}.${p}`, 1), rsin: '999999990' })).toString('base64url')}.${s}`;
      assert.equal((await request(protectedBy.url, { headers: { authorization: `Bearer ${tampered}` } })).status, 403);
      assert.equal((await request(protectedBy.url)).status, 403);
    } finally {
      await protectedBy.close();
    }
  });

  it("accepts keycloak-connect's validateAccessToken(), which sends the same credentials as HTTP Basic and in the body", async () => {
    const keycloak = keycloakFor(ts, api.clientId, api.secret);
    const token = await ts.token(consumer.clientId, consumer.secret);
    assert.equal(await keycloak.grantManager.validateAccessToken(token), token);
    const revoked = await ts.token(consumer.clientId, consumer.secret);
    await postForm(
      `${ts.url}${KC.revoke}`,
      { token: revoked },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(await keycloak.grantManager.validateAccessToken(revoked), false);
  });

  it('takes identical credentials twice at every Keycloak path, and refuses different ones and the root paths as before', async () => {
    const token = await ts.token(consumer.clientId, consumer.secret);
    // As keycloak-connect sends them: Basic raw, the body form-encoded.
    const raw = `Basic ${Buffer.from(`${api.clientId}:${api.secret}`).toString('base64')}`;
    for (const path of [KC.introspect, KC.plugin]) {
      const twice = await postForm(
        `${ts.url}${path}`,
        { token, client_id: api.clientId, client_secret: api.secret },
        { authorization: raw },
      );
      assert.equal(twice.status, 200, `${path}: ${twice.text}`);
      assert.equal(twice.json.active, true);
      // One character differs: refused as two authentications, before any secret is checked.
      const differs = await postForm(
        `${ts.url}${path}`,
        { token, client_id: api.clientId, client_secret: `${api.secret}x` },
        { authorization: raw },
      );
      assert.equal(differs.status, 400, path);
      assert.equal(differs.json.error, 'invalid_request');
      assert.match(differs.json.error_description, /authenticated twice/);
      const otherId = await postForm(
        `${ts.url}${path}`,
        { token, client_id: consumer.clientId, client_secret: api.secret },
        { authorization: raw },
      );
      assert.equal(otherId.status, 400, path);
    }
    const tokenTwice = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', client_id: consumer.clientId, client_secret: consumer.secret },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(tokenTwice.status, 200, tokenTwice.text);
    const revokeTwice = await postForm(
      `${ts.url}${KC.revoke}`,
      { token, client_secret: consumer.secret },
      { authorization: basicAuth(consumer.clientId, consumer.secret) },
    );
    assert.equal(revokeTwice.status, 200, revokeTwice.text);
    for (const path of ['/introspect', `/realms/${REALM}/introspect`]) {
      const res = await postForm(
        `${ts.url}${path}`,
        { token, client_id: api.clientId, client_secret: api.secret },
        { authorization: raw },
      );
      assert.equal(res.status, 400, path);
      assert.match(res.json.error_description, /authenticated twice/);
    }
  });

  it('identical credentials twice with a wrong secret are a failed authentication (401 invalid_client), not a malformed request', async () => {
    const wrong = `${consumer.secret}x`;
    const res = await postForm(
      `${ts.url}${KC.token}`,
      { grant_type: 'client_credentials', client_secret: wrong },
      { authorization: basicAuth(consumer.clientId, wrong) },
    );
    assert.equal(res.status, 401);
    assert.equal(res.json.error, 'invalid_client');
  });

  it("logs in with @keycloak/keycloak-admin-client's client credentials grant", async () => {
    const admin = new KcAdminClient({ baseUrl: ts.url, realmName: REALM });
    await admin.auth({ grantType: 'client_credentials', clientId: consumer.clientId, clientSecret: consumer.secret });
    const claims = decodePart(admin.accessToken!, 1);
    assert.equal(claims.client_id, consumer.clientId);
    assert.equal(claims.azp, consumer.clientId);
    const withOpenid = new KcAdminClient({ baseUrl: ts.url, realmName: REALM });
    await withOpenid.auth({
      grantType: 'client_credentials',
      clientId: consumer.clientId,
      clientSecret: consumer.secret,
      scopes: ['openid'],
    });
    assert.equal(decodePart(withOpenid.accessToken!, 1).scope, 'zaken.lezen');
  });

  it("keeps Keycloak's typ claim harmless: zgw-auth's verifier and introspection accept the token, the header stays at+jwt", async () => {
    const token = await ts.token(consumer.clientId, consumer.secret, 'zaken.lezen');
    assert.equal(decodePart(token, 0).typ, 'at+jwt');
    const verifier = createVerifier({
      issuer: ts.config.issuer,
      audience: 'ZGW_APIs',
      jwksUri: `${ts.config.issuer}/jwks`,
    });
    const principal = await verifier.verify(token, ['zaken.lezen']);
    assert.equal(principal.clientId, consumer.clientId);
    const introspected = await postForm(
      `${ts.url}/introspect`,
      { token },
      { authorization: basicAuth(api.clientId, api.secret) },
    );
    assert.equal(introspected.json.active, true);
    assert.equal(introspected.json.azp, consumer.clientId);
    assert.equal(introspected.json.token_type, 'Bearer');
  });
});

describe('tokens without Keycloak paths (sqlite)', () => {
  let ts: TestServer;
  before(async () => (ts = await startTestServer()));
  after(() => ts.close());

  it('carry azp, the client id, and no Keycloak typ claim', async () => {
    const client = await ts.createClient();
    const claims = decodePart(await ts.token(client.clientId, client.secret), 1);
    assert.equal(claims.azp, client.clientId);
    assert.equal(claims.typ, undefined);
  });
});
