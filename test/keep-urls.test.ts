import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import type { MigrationReport } from '../src/migrate/apply-migration-plan.js';
import { loadConfig } from '../src/config.js';
import {
  basicAuth,
  CLI,
  decodePart,
  forEachDialect,
  type HttpResult,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const REALM_FILE = path.join(FIXTURES, 'keycloak-realm-export.json');

/** Where OneGround's Keycloak answered: the realm's path, and Keycloak's endpoints under it. */
const REALM = '/realms/OneGround';
const KEYCLOAK = {
  token: '/protocol/openid-connect/token',
  certs: '/protocol/openid-connect/certs',
  introspect: '/protocol/openid-connect/token/introspect',
  plugin: '/zgw-token-introspection/introspect',
  revoke: '/protocol/openid-connect/revoke',
};
const BASIC_CHALLENGE = 'Basic realm="zgw-auth", charset="UTF-8"';

const getJson = async (url: string) => {
  const res = await request(url);
  assert.equal(res.status, 200, `${url}: ${res.status} ${res.text}`);
  return res;
};

const realmSecret = (clientId: string): string => {
  const realm = JSON.parse(fs.readFileSync(REALM_FILE, 'utf8')) as {
    clients: Array<{ clientId: string; secret?: string }>;
  };
  return realm.clients.find((c) => c.clientId === clientId)!.secret!;
};

/** An HS256 token as a ZGW consumer signs it with its client secret, made with jose rather than zgw-auth's code. */
const selfSigned = (clientId: string, secret: string, claims: Record<string, unknown> = {}) =>
  new SignJWT({ client_id: clientId, user_id: 'consumer', user_representation: 'Consumer', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(clientId)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

const refusedCount = async (ts: TestServer, reason: string): Promise<number> => {
  const text = (await request(`${ts.url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`zgw_auth_token_requests_refused_total{reason="${reason}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('configuration: an issuer with a path', () => {
  it('takes the path as written, without a trailing slash', () => {
    assert.equal(
      loadConfig({ ZGW_AUTH_ISSUER: 'https://auth.example.nl/realms/OneGround/' }).issuer,
      'https://auth.example.nl/realms/OneGround',
    );
    assert.equal(
      loadConfig({ ZGW_AUTH_ISSUER: 'https://auth.example.nl/auth/realms/OneGround', ZGW_AUTH_KEYCLOAK_PATHS: 'true' })
        .keycloakPaths,
      true,
    );
    assert.equal(loadConfig({}).keycloakPaths, false);
  });

  it('refuses a path that tokens and routes would read differently, or that mixes with its own endpoints', () => {
    for (const [issuer, message] of [
      ['https://auth.example.nl/realms/OneGround?x=1', /query or fragment/],
      ['https://auth.example.nl/realms/OneGround?', /query or fragment/],
      ['https://auth.example.nl/realms/OneGround#top', /query or fragment/],
      ['https://auth.example.nl/realms/One%20Ground', /plain segments/],
      ['https://auth.example.nl/realms/../OneGround', /plain segments/],
      ['https://auth.example.nl/realms/./OneGround', /plain segments/],
      ['https://auth.example.nl/realms//OneGround', /plain segments/],
      ['https://auth.example.nl/realms/:realm', /plain segments/],
      ['https://auth.example.nl/realms/*', /plain segments/],
      ['https://auth.example.nl\\realms\\OneGround', /plain segments/],
      ['https://user:pass@auth.example.nl/realms/OneGround', /credentials/],
      ['https://auth.example.nl/admin/realm', /not have a path under \/admin/],
      ['https://auth.example.nl/.well-known/x', /not have a path under \/\.well-known/],
    ] as const) {
      assert.throws(
        () => loadConfig({ ZGW_AUTH_ISSUER: issuer }),
        (err: Error) => message.test(err.message) && err.message.startsWith('ZGW_AUTH_ISSUER'),
        issuer,
      );
    }
  });

  it("refuses ZGW_AUTH_KEYCLOAK_PATHS without the realm's path in the issuer, saying what to set", () => {
    for (const env of [
      { ZGW_AUTH_KEYCLOAK_PATHS: 'true' },
      { ZGW_AUTH_KEYCLOAK_PATHS: 'true', ZGW_AUTH_ISSUER: 'https://auth.example.nl/' },
    ]) {
      assert.throws(
        () => loadConfig(env),
        /ZGW_AUTH_KEYCLOAK_PATHS needs ZGW_AUTH_ISSUER with the realm's path.*https:\/\/auth\.example\.nl\/realms\/OneGround/,
      );
    }
    assert.throws(
      () => loadConfig({ ZGW_AUTH_KEYCLOAK_PATHS: 'sometimes' }),
      /ZGW_AUTH_KEYCLOAK_PATHS must be true or false/,
    );
    assert.throws(() => loadConfig({}, { keycloakPaths: 'true' }), /ZGW_AUTH_KEYCLOAK_PATHS needs/);
  });
});

describe('an issuer with a path (sqlite)', () => {
  let ts: TestServer;
  let issuer: string;
  let client: { clientId: string; secret: string };
  const introspector = () => ({ authorization: basicAuth(ts.admin.clientId, ts.admin.secret) });

  before(async () => {
    ts = await startTestServer({ issuerPath: REALM });
    issuer = ts.config.issuer;
    client = await ts.createClient();
  });
  after(() => ts.close());

  it('serves one discovery document under the path, at the RFC 8414 location and at the root, naming the endpoints under the path', async () => {
    assert.equal(issuer, `${ts.url}${REALM}`);
    const urls = [
      `${issuer}/.well-known/openid-configuration`,
      `${ts.url}/.well-known/oauth-authorization-server${REALM}`,
      `${issuer}/.well-known/oauth-authorization-server`,
      `${ts.url}/.well-known/openid-configuration`,
      `${ts.url}/.well-known/oauth-authorization-server`,
    ];
    const docs = await Promise.all(urls.map(async (u) => (await getJson(u)).json));
    for (const doc of docs) assert.deepEqual(doc, docs[0]);
    const doc = docs[0];
    assert.equal(doc.issuer, issuer);
    assert.equal(doc.token_endpoint, `${issuer}/token`);
    assert.equal(doc.jwks_uri, `${issuer}/jwks`);
    assert.equal(doc.introspection_endpoint, `${issuer}/introspect`);
    assert.equal(doc.revocation_endpoint, `${issuer}/revoke`);
  });

  it('answers at every URL discovery names: JWKS, token, introspection, revocation', async () => {
    const doc = (await getJson(`${issuer}/.well-known/openid-configuration`)).json;
    const jwks = await getJson(doc.jwks_uri);
    assert.match(String(jwks.headers['content-type']), /^application\/jwk-set\+json/);
    assert.ok(jwks.json.keys.length >= 1);

    const issued = await postForm(
      doc.token_endpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(client.clientId, client.secret) },
    );
    assert.equal(issued.status, 200, issued.text);
    const token = issued.json.access_token as string;
    assert.equal(decodePart(token, 1).iss, issuer, 'the iss is the issuer with its path');
    assert.ok(jwks.json.keys.some((k: { kid: string }) => k.kid === decodePart(token, 0).kid));

    const active = await postForm(doc.introspection_endpoint, { token }, introspector());
    assert.equal(active.status, 200);
    assert.equal(active.json.active, true);
    assert.equal(active.json.iss, issuer);

    const revoked = await postForm(doc.revocation_endpoint, {
      token,
      client_id: client.clientId,
      client_secret: client.secret,
    });
    assert.equal(revoked.status, 200);
    assert.match(String(revoked.headers['content-type']), /^application\/json/);
    assert.equal(revoked.text, '{}');
    assert.deepEqual((await postForm(doc.introspection_endpoint, { token }, introspector())).json, { active: false });
  });

  it('keeps answering at the root paths, with the same issuer and keys', async () => {
    const token = await ts.token(client.clientId, client.secret);
    assert.equal(decodePart(token, 1).iss, issuer);
    assert.equal((await getJson(`${ts.url}/jwks`)).text, (await getJson(`${issuer}/jwks`)).text);
    assert.equal((await postForm(`${ts.url}/introspect`, { token }, introspector())).json.active, true);
  });

  it('openid-client finds every endpoint through either discovery document (OpenID Connect and RFC 8414)', async () => {
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      const config = await oidc.discovery(new URL(issuer), client.clientId, client.secret, undefined, {
        execute: [oidc.allowInsecureRequests],
        algorithm,
      });
      assert.equal(config.serverMetadata().issuer, issuer);
      const tokens = await oidc.clientCredentialsGrant(config);
      assert.equal(decodePart(tokens.access_token, 1).iss, issuer);
      // openid-client parses the revocation answer: {} as JSON.
      await oidc.tokenRevocation(config, tokens.access_token);
      const asIntrospector = await oidc.discovery(new URL(issuer), ts.admin.clientId, ts.admin.secret, undefined, {
        execute: [oidc.allowInsecureRequests],
        algorithm,
      });
      assert.equal(
        (await oidc.tokenIntrospection(asIntrospector, tokens.access_token)).active,
        false,
        'revoked through the discovered endpoint',
      );
      assert.equal(
        (await oidc.tokenIntrospection(asIntrospector, await ts.token(client.clientId, client.secret))).active,
        true,
      );
    }
  });

  it("does not serve Keycloak's paths unless ZGW_AUTH_KEYCLOAK_PATHS is on: 404", async () => {
    const token = await ts.token(client.clientId, client.secret);
    for (const p of [KEYCLOAK.token, KEYCLOAK.introspect, KEYCLOAK.plugin, KEYCLOAK.revoke]) {
      const res = await postForm(`${issuer}${p}`, {
        grant_type: 'client_credentials',
        token,
        client_id: client.clientId,
        client_secret: client.secret,
      });
      assert.equal(res.status, 404, p);
      assert.equal(res.json.error, 'not_found');
    }
    assert.equal((await request(`${issuer}${KEYCLOAK.certs}`)).status, 404);
  });
});

describe("Keycloak's paths (sqlite)", () => {
  let ts: TestServer;
  let issuer: string;
  let client: { clientId: string; secret: string };
  let signer: { clientId: string; secret: string };
  const introspector = () => ({ authorization: basicAuth(ts.admin.clientId, ts.admin.secret) });

  before(async () => {
    ts = await startTestServer({ issuerPath: REALM, env: { ZGW_AUTH_KEYCLOAK_PATHS: 'true' } });
    issuer = ts.config.issuer;
    client = await ts.createClient({ rsin: '123456782' });
    signer = await ts.createClient({ rsin: '123456782', selfSignedAllowed: true });
  });
  after(() => ts.close());

  it('issues tokens at the token URL, as zgw-auth does at its own (body credentials and HTTP Basic)', async () => {
    for (const [params, headers] of [
      [{ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret }, {}],
      [{ grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.secret) }],
    ] as const) {
      const res = await postForm(`${issuer}${KEYCLOAK.token}`, params, headers);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'token_type']);
      assert.equal(res.json.token_type, 'Bearer');
      assert.equal(decodePart(res.json.access_token, 1).iss, issuer);
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('serves the JWKS at the certs URL as application/json, as Keycloak does', async () => {
    const certs = await getJson(`${issuer}${KEYCLOAK.certs}`);
    assert.match(String(certs.headers['content-type']), /^application\/json/);
    assert.equal(certs.text, (await getJson(`${issuer}/jwks`)).text);
    const token = await ts.token(client.clientId, client.secret);
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${issuer}${KEYCLOAK.certs}`)), {
      issuer,
      audience: 'ZGW_APIs',
    });
    assert.equal(payload.client_id, client.clientId);
  });

  it("introspects both token kinds at Keycloak's introspection URL and at the plugin's, with zgw-auth's answer", async () => {
    const token = await ts.token(client.clientId, client.secret);
    const own = await selfSigned(signer.clientId, signer.secret);
    for (const p of ['/introspect', KEYCLOAK.introspect, KEYCLOAK.plugin]) {
      const oauth2 = await postForm(`${issuer}${p}`, { token }, introspector());
      assert.equal(oauth2.status, 200, `${p}: ${oauth2.text}`);
      assert.equal(oauth2.headers['cache-control'], 'no-store');
      assert.equal(oauth2.json.active, true, p);
      assert.equal(oauth2.json.client_id, client.clientId);
      assert.equal(oauth2.json.rsin, '123456782');
      const hs = await postForm(`${issuer}${p}`, { token: own }, introspector());
      assert.equal(hs.json.active, true, p);
      assert.equal(hs.json.client_id, signer.clientId);
      assert.equal(hs.json.zgw_token_kind, 'self-signed');
      assert.equal(hs.json.user_id, 'consumer');
      const forged = await postForm(
        `${issuer}${p}`,
        { token: await selfSigned(signer.clientId, `${signer.secret}x`) },
        introspector(),
      );
      assert.deepEqual(forged.json, { active: false }, p);
    }
  });

  it('asks callers at the plugin path to authenticate as configured for /introspect (anonymous off by default)', async () => {
    const own = await selfSigned(signer.clientId, signer.secret);
    for (const p of [KEYCLOAK.plugin, KEYCLOAK.introspect]) {
      const anonymous = await postForm(`${issuer}${p}`, { token: own });
      assert.equal(anonymous.status, 401, p);
      assert.equal(anonymous.json.error, 'invalid_client');
      const withoutScope = await postForm(
        `${issuer}${p}`,
        { token: own },
        { authorization: basicAuth(client.clientId, client.secret) },
      );
      assert.equal(withoutScope.status, 403, p);
      assert.equal(withoutScope.json.error, 'unauthorized_client');
    }
  });

  it('revokes at the revocation URL, answering {}', async () => {
    const token = await ts.token(client.clientId, client.secret);
    const res = await postForm(
      `${issuer}${KEYCLOAK.revoke}`,
      { token },
      { authorization: basicAuth(client.clientId, client.secret) },
    );
    assert.equal(res.status, 200);
    assert.equal(res.text, '{}');
    assert.deepEqual((await postForm(`${issuer}${KEYCLOAK.plugin}`, { token }, introspector())).json, {
      active: false,
    });
  });

  it("keeps one discovery document, naming zgw-auth's endpoints under the issuer", async () => {
    const doc = (await getJson(`${issuer}/.well-known/openid-configuration`)).json;
    assert.equal(doc.token_endpoint, `${issuer}/token`);
    assert.equal(doc.jwks_uri, `${issuer}/jwks`);
    assert.deepEqual((await getJson(`${ts.url}/.well-known/oauth-authorization-server${REALM}`)).json, doc);
  });

  it('counts refusals at the Keycloak token URL as token refusals in the metrics', async () => {
    const before = await refusedCount(ts, 'unsupported_grant_type');
    const res = await postForm(`${issuer}${KEYCLOAK.token}`, {
      grant_type: 'password',
      client_id: client.clientId,
      client_secret: client.secret,
    });
    assert.equal(res.status, 400);
    assert.equal(await refusedCount(ts, 'unsupported_grant_type'), before + 1);
  });

  it('shares one per-address request budget between /introspect, /revoke and their Keycloak paths', async () => {
    const limited = await startTestServer({
      issuerPath: REALM,
      env: { ZGW_AUTH_KEYCLOAK_PATHS: 'true', ZGW_AUTH_INTROSPECTION_RATE_LIMIT: '3' },
    });
    try {
      const auth = { authorization: basicAuth(limited.admin.clientId, limited.admin.secret) };
      // The budget is per second: a run slowed past that by a busy machine is tried again.
      let statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        await new Promise((r) => setTimeout(r, 1100));
        const started = Date.now();
        statuses = [];
        for (const p of [
          '/introspect',
          `${REALM}${KEYCLOAK.introspect}`,
          `${REALM}${KEYCLOAK.plugin}`,
          `${REALM}${KEYCLOAK.revoke}`,
        ]) {
          statuses.push((await postForm(`${limited.url}${p}`, { token: 'x' }, auth)).status);
        }
        if (Date.now() - started < 900) break;
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('compatibility with client libraries (sqlite)', () => {
  let ts: TestServer;
  let client: { clientId: string; secret: string };

  before(async () => {
    // Many deliberate failures from one address: the back-off would answer them with 429.
    ts = await startTestServer({ env: { ZGW_AUTH_LOCKOUT_THRESHOLD: '1000' } });
    client = await ts.createClient();
  });
  after(() => ts.close());

  it('/revoke answers {} as application/json, for an unknown token too', async () => {
    for (const token of [await ts.token(client.clientId, client.secret), 'not-a-token']) {
      const res = await postForm(`${ts.url}/revoke`, {
        token,
        client_id: client.clientId,
        client_secret: client.secret,
      });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(res.text), {});
    }
  });

  it('sends the Basic challenge with invalid_client only to a client that used the Authorization header', async () => {
    const wrong = `${client.secret}x`;
    const check = (res: HttpResult, challenge: string | undefined, what: string) => {
      assert.equal(res.status, 401, what);
      assert.equal(res.json.error, 'invalid_client', what);
      assert.equal(res.headers['www-authenticate'], challenge, what);
    };
    for (const endpoint of ['/token', '/introspect', '/revoke']) {
      const params = { grant_type: 'client_credentials', token: 'x' };
      check(
        await postForm(`${ts.url}${endpoint}`, { ...params, client_id: client.clientId, client_secret: wrong }),
        undefined,
        `${endpoint} body credentials`,
      );
      check(await postForm(`${ts.url}${endpoint}`, params), undefined, `${endpoint} no credentials`);
      check(
        await postForm(`${ts.url}${endpoint}`, params, { authorization: basicAuth(client.clientId, wrong) }),
        BASIC_CHALLENGE,
        `${endpoint} HTTP Basic`,
      );
      check(
        await postForm(`${ts.url}${endpoint}`, params, { authorization: basicAuth('nobody', wrong) }),
        BASIC_CHALLENGE,
        `${endpoint} HTTP Basic, unknown client`,
      );
      // Another scheme in the Authorization header: Basic is the one these endpoints take.
      check(
        await postForm(`${ts.url}${endpoint}`, params, { authorization: 'Bearer abc' }),
        BASIC_CHALLENGE,
        `${endpoint} Bearer`,
      );
    }
  });

  it('openid-client reports invalid_client for wrong body credentials, and the challenge for wrong HTTP Basic', async () => {
    const discover = (auth: oidc.ClientAuth) =>
      oidc.discovery(new URL(ts.url), client.clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
    await assert.rejects(
      oidc.clientCredentialsGrant(await discover(oidc.ClientSecretPost(`${client.secret}x`))),
      (err: unknown) => {
        assert.ok(err instanceof oidc.ResponseBodyError, String(err));
        assert.equal(err.error, 'invalid_client');
        assert.equal(err.status, 401);
        return true;
      },
    );
    await assert.rejects(
      oidc.clientCredentialsGrant(await discover(oidc.ClientSecretBasic(`${client.secret}x`))),
      (err: unknown) => {
        assert.ok(err instanceof oidc.WWWAuthenticateChallengeError, String(err));
        assert.equal(err.cause[0]!.scheme, 'basic');
        return true;
      },
    );
    const ok = await oidc.clientCredentialsGrant(await discover(oidc.ClientSecretPost(client.secret)));
    assert.ok(ok.access_token);
  });
});

forEachDialect((dialect) => {
  describe(`OneGround's configuration against zgw-auth (${dialect})`, () => {
    let ts: TestServer;
    let authority: string;
    let report: MigrationReport;
    const oneground = { clientId: 'oneground-000000000', secret: realmSecret('oneground-000000000') };
    const zaaksysteem = { clientId: 'zaaksysteem-123456782', secret: realmSecret('zaaksysteem-123456782') };

    before(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-keep-urls-'));
      const masterKey = crypto.randomBytes(32).toString('base64');
      // As the Keycloak plugin did, OneGround's APIs introspect without credentials.
      ts = await startTestServer({
        dialect,
        dataDir: dir,
        masterKey,
        issuerPath: REALM,
        env: { ZGW_AUTH_KEYCLOAK_PATHS: 'true', ZGW_AUTH_INTROSPECTION_ANONYMOUS: 'true' },
      });
      authority = ts.config.issuer;
      const env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: dir,
        ZGW_AUTH_MASTER_KEY: masterKey,
        ...(ts.config.databaseUrl ? { DATABASE_URL: ts.config.databaseUrl } : {}),
      };
      const { stdout } = await run(
        process.execPath,
        [CLI, 'migrate', 'keycloak', '--file', REALM_FILE, '--allow-weak-secrets', '--json'],
        { env },
      );
      report = JSON.parse(stdout) as MigrationReport;
    });
    after(() => ts.close());

    it('the realm is migrated with its secrets', () => {
      const created = report.clients.filter((c) => c.created).map((c) => c.clientId);
      assert.ok(created.includes(oneground.clientId) && created.includes(zaaksysteem.clientId), created.join());
    });

    it('discovery at the authority names endpoints under the authority (what a discovery client checks)', async () => {
      const doc = (await getJson(`${authority}/.well-known/openid-configuration`)).json;
      assert.equal(doc.issuer, authority);
      for (const k of ['token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint'])
        assert.ok(String(doc[k]).startsWith(`${authority}/`), `${k}: ${doc[k]}`);
    });

    it("a migrated client gets a token at Keycloak's token URL with its secret (curl -u; a body post as OneGround's .NET client sends)", async () => {
      const { stdout } = await run('curl', [
        '-s',
        '-u',
        `${oneground.clientId}:${oneground.secret}`,
        '-d',
        'grant_type=client_credentials',
        `${authority}${KEYCLOAK.token}`,
      ]);
      const token = JSON.parse(stdout).access_token as string;
      assert.equal(decodePart(token, 1).rsin, '000000000', 'rsin from the hardcoded-claim mapper');
      const doc = (await getJson(`${authority}/.well-known/openid-configuration`)).json;
      const viaDiscovery = await postForm(doc.token_endpoint, {
        grant_type: 'client_credentials',
        client_id: oneground.clientId,
        client_secret: oneground.secret,
      });
      assert.equal(viaDiscovery.status, 200, viaDiscovery.text);
    });

    it('a resource server with that authority validates the token through discovery: jose and PyJWT', async () => {
      const token = (
        await postForm(`${authority}${KEYCLOAK.token}`, {
          grant_type: 'client_credentials',
          client_id: oneground.clientId,
          client_secret: oneground.secret,
        })
      ).json.access_token as string;
      const doc = (await getJson(`${authority}/.well-known/openid-configuration`)).json;
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(doc.jwks_uri)), {
        issuer: authority,
        audience: 'ZGW_APIs',
      });
      assert.equal(payload.client_id, oneground.clientId);
      const script = `
import json, sys, urllib.request, jwt
token, authority = sys.argv[1], sys.argv[2]
doc = json.load(urllib.request.urlopen(authority + "/.well-known/openid-configuration"))
assert doc["issuer"] == authority
key = jwt.PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="ZGW_APIs", issuer=authority, leeway=30)
print(json.dumps({"client_id": claims["client_id"], "rsin": claims["rsin"]}))`;
      const { stdout } = await run('/usr/bin/python3', ['-c', script, token, authority]);
      assert.deepEqual(JSON.parse(stdout), { client_id: oneground.clientId, rsin: '000000000' });
      // A token of another issuer is not valid for this authority.
      await assert.rejects(
        jwtVerify(token, createRemoteJWKSet(new URL(doc.jwks_uri)), { issuer: ts.url, audience: 'ZGW_APIs' }),
      );
    });

    it('an HS256 token signed with a migrated secret introspects active at the plugin path, anonymously as the plugin allowed', async () => {
      const token = await selfSigned(zaaksysteem.clientId, zaaksysteem.secret);
      const res = await postForm(`${authority}${KEYCLOAK.plugin}`, { token });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.active, true);
      assert.equal(res.json.client_id, zaaksysteem.clientId);
      assert.equal(res.json.rsin, '123456782', 'rsin from the hardcoded-claim mapper');
      assert.equal(res.json.user_id, 'consumer');
      const forged = await postForm(`${authority}${KEYCLOAK.plugin}`, {
        token: await selfSigned(zaaksysteem.clientId, oneground.secret),
      });
      assert.deepEqual(forged.json, { active: false });
      const masked = await postForm(`${authority}${KEYCLOAK.plugin}`, {
        token: await selfSigned('dms-koppeling-123456782', '**********'),
      });
      assert.deepEqual(masked.json, { active: false }, 'a client imported without its secret');
    });
  });
});
