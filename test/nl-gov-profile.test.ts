import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createVerifier, RemoteJwks, TokenError, type Verifier } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/testing';
import * as jose from 'jose';
import { registryResolver } from '../src/tokens/server-verifier.js';
import { decodePart, postForm, request, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);

/**
 * What the NL GOV Assurance profile for OAuth 2.0 asks of the tokens and the discovery document of a
 * client credentials server (README, "NL GOV OAuth profile"), on a server that signs with PS256,
 * caps token lifetimes at the profile's advised 6 hours and has an issuer with a path.
 */
describe('NL GOV OAuth profile: tokens and discovery (sqlite)', () => {
  const REALM = '/realms/gemeente';
  const SIX_HOURS = 21_600;
  let ts: TestServer;
  let issuer: string;
  let client: { clientId: string; secret: string };

  /** zgw-auth's verifier as a resource server runs it: keys through discovery, clients from the registry. */
  const verifier = (): Verifier =>
    createVerifier({
      issuer,
      audience: 'ZGW_APIs',
      // No refetch cooldown: the test clock stands still while keys rotate.
      keys: new RemoteJwks({ issuer }, { now: ts.clock.now, cooldownMs: 0 }),
      clients: registryResolver(ts.app.authenticator),
      now: ts.clock.now,
      cache: false,
    });
  const tokenResponse = async (c: { clientId: string; secret: string }) => {
    const res = await postForm(`${issuer}/token`, {
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.secret,
    });
    assert.equal(res.status, 200, res.text);
    return res.json as { access_token: string; expires_in: number };
  };
  const token = async (c = client) => (await tokenResponse(c)).access_token;
  const joseVerify = (t: string, algorithms: string[]) =>
    jose.jwtVerify(t, jose.createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
      issuer,
      audience: 'ZGW_APIs',
      typ: 'at+jwt',
      algorithms,
      currentDate: new Date(ts.clock.now()),
    });

  before(async () => {
    ts = await startTestServer({
      issuerPath: REALM,
      env: { ZGW_AUTH_SIGNING_ALG: 'PS256', ZGW_AUTH_MAX_TOKEN_LIFETIME: String(SIX_HOURS) },
    });
    issuer = ts.config.issuer;
    client = await ts.createClient({ allowedScopes: ['zaken.lezen'], defaultScopes: ['zaken.lezen'] });
  });
  after(() => ts.close());

  describe('tokens', () => {
    it('every access token names its client in azp, which no static claim overrides (not even a row of an older version)', async () => {
      const payload = decodePart(await token(), 1);
      assert.equal(payload.azp, client.clientId);
      assert.equal(payload.client_id, client.clientId);
      assert.equal(payload.sub, client.clientId);
      for (const name of ['iss', 'aud', 'exp', 'iat', 'jti']) assert.ok(payload[name] !== undefined, name);

      await assert.rejects(ts.createClient({ staticClaims: { azp: 'someone-else' } }), /staticClaims may not set/);
      const legacy = await ts.createClient();
      await ts.app.storage.db
        .updateTable('clients')
        .set({ static_claims: JSON.stringify({ azp: 'someone-else', user_id: 'kept' }) })
        .where('client_id', '=', legacy.clientId)
        .execute();
      ts.clock.advance(3); // past the client cache's bound
      const legacyPayload = decodePart(await token(legacy), 1);
      assert.equal(legacyPayload.azp, legacy.clientId);
      assert.equal(legacyPayload.user_id, 'kept');
    });

    it('jti: at least 16 random bytes (128 bits), base64url over the whole alphabet, never repeated', async () => {
      const jtis: string[] = [];
      for (let i = 0; i < 100; i++) jtis.push(String(decodePart(await token(), 1).jti));
      assert.equal(new Set(jtis).size, jtis.length, 'unique');
      for (const jti of jtis) {
        assert.match(jti, /^[A-Za-z0-9_-]+$/);
        const bytes = Buffer.from(jti, 'base64url');
        assert.ok(bytes.length >= 16, `${jti}: ${bytes.length} bytes`);
        assert.equal(bytes.toString('base64url'), jti, 'canonical base64url');
      }
      // Random bytes use every one of the 64 symbols over 100 ids (a UUID's hex digits use 17; a
      // miss by chance has a probability below 1e-12).
      const symbols = new Set(jtis.flatMap((jti) => [...jti.slice(0, 21)]));
      assert.equal(symbols.size, 64);
    });

    it("caps a client's own token lifetime at ZGW_AUTH_MAX_TOKEN_LIFETIME (6 hours here); shorter ones and the default stand", async () => {
      const cases: Array<[number | null, number]> = [
        [86_400, SIX_HOURS],
        [SIX_HOURS + 1, SIX_HOURS],
        [600, 600],
        [null, 3600],
      ];
      for (const [own, expected] of cases) {
        const c = await ts.createClient({ tokenLifetime: own });
        const res = await tokenResponse(c);
        const payload = decodePart(res.access_token, 1) as { exp: number; iat: number };
        assert.equal(res.expires_in, expected, `client lifetime ${own}`);
        assert.equal(payload.exp - payload.iat, expected, `client lifetime ${own}`);
      }
    });
  });

  describe('PS256', () => {
    it("signs PS256 tokens that zgw-auth's verifier, jose and PyJWT verify through discovery", async () => {
      const t = await token();
      assert.equal(decodePart(t, 0).alg, 'PS256');
      const jwks = (await request(`${issuer}/jwks`)).json as { keys: Array<{ kid: string; alg: string; kty: string }> };
      assert.deepEqual(
        jwks.keys.map((k) => [k.kty, k.alg]),
        [['RSA', 'PS256']],
      );

      const principal = await verifier().verify(t);
      assert.equal(principal.clientId, client.clientId);
      const { payload, protectedHeader } = await joseVerify(t, ['PS256']);
      assert.equal(protectedHeader.alg, 'PS256');
      assert.equal(payload.azp, client.clientId);
      await assert.rejects(joseVerify(t, ['RS256']), 'jose refuses it as RS256');

      const script = `
import json, sys, urllib.request, jwt
token, issuer = sys.argv[1], sys.argv[2]
doc = json.load(urllib.request.urlopen(issuer + "/.well-known/openid-configuration"))
key = jwt.PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["PS256"], audience="ZGW_APIs", issuer=issuer, leeway=30)
try:
    jwt.decode(token, key.key, algorithms=["RS256"], audience="ZGW_APIs", issuer=issuer, leeway=30)
    as_rs256 = "accepted"
except jwt.InvalidTokenError as e:
    as_rs256 = type(e).__name__
print(json.dumps({"azp": claims["azp"], "as_rs256": as_rs256}))`;
      const { stdout } = await run('/usr/bin/python3', ['-c', script, t, issuer]);
      assert.deepEqual(JSON.parse(stdout), { azp: client.clientId, as_rs256: 'InvalidAlgorithmError' });
    });

    it('rotates across algorithms (PS256, ES256, RS256, PS256): every published key verifies its own tokens and no other algorithm', async () => {
      const issued: Array<{ alg: string; token: string }> = [{ alg: 'PS256', token: await token() }];
      for (const alg of ['ES256', 'RS256', 'PS256'] as const) {
        await ts.app.keys.rotate(alg, 0);
        ts.clock.advance(1);
        issued.push({ alg, token: await token() });
      }
      const jwks = (await request(`${issuer}/jwks`)).json as { keys: Array<{ kid: string; alg: string }> };
      assert.deepEqual(
        jwks.keys.map((k) => k.alg),
        ['PS256', 'ES256', 'RS256', 'PS256'],
        'every key stays published until its last token has expired',
      );
      const v = verifier();
      for (const { alg, token: t } of issued) {
        const header = decodePart(t, 0);
        assert.equal(header.alg, alg);
        assert.equal(jwks.keys.find((k) => k.kid === header.kid)!.alg, alg, "the key's published alg");
        assert.equal((await v.verify(t)).clientId, client.clientId, alg);
        assert.equal((await joseVerify(t, [alg])).protectedHeader.alg, alg);
      }

      // The PS256 key's own private half signs an RS256 token under its kid: its published alg refuses it.
      const psKey = ts.app.keys.published().find((k) => k.alg === 'PS256')!;
      const forged = signJws(
        { alg: 'RS256', typ: 'at+jwt', kid: psKey.kid },
        decodePart(issued[0]!.token, 1),
        psKey.privateKey,
      );
      await assert.rejects(
        v.verify(forged),
        (err: unknown) => err instanceof TokenError && err.code === 'alg_not_allowed',
      );
      await assert.rejects(joseVerify(forged, ['RS256', 'PS256']));
    });
  });

  describe('discovery', () => {
    const metadataUrls = () => [
      `${issuer}/.well-known/openid-configuration`,
      `${issuer}/.well-known/oauth-authorization-server`,
      `${ts.url}/.well-known/oauth-authorization-server${REALM}`,
      `${ts.url}/.well-known/openid-configuration`,
    ];

    it('names token, JWKS, introspection and revocation under the issuer, the client credentials grant and the profile claims', async () => {
      const answers = await Promise.all(metadataUrls().map((u) => request(u)));
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.deepEqual(a.json, answers[0]!.json);
      }
      const doc = answers[0]!.json;
      assert.equal(doc.issuer, issuer);
      assert.equal(doc.token_endpoint, `${issuer}/token`);
      assert.equal(doc.jwks_uri, `${issuer}/jwks`);
      assert.equal(doc.introspection_endpoint, `${issuer}/introspect`);
      assert.equal(doc.revocation_endpoint, `${issuer}/revoke`);
      assert.deepEqual(doc.grant_types_supported, ['client_credentials']);
      // RFC 8414 §2 requires it (and OpenID Connect Discovery); no authorization endpoint is named.
      assert.deepEqual(doc.response_types_supported, ['token']);
      assert.equal(doc.authorization_endpoint, undefined);
      assert.equal(doc.scopes_supported, undefined, "the registered clients' scopes are not told");
      assert.deepEqual(doc.access_token_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA']);
      for (const claim of ['iss', 'aud', 'exp', 'iat', 'jti', 'azp', 'client_id', 'scope'])
        assert.ok(doc.claims_supported.includes(claim), claim);
    });

    it('is cacheable: Cache-Control public, an ETag, and 304 Not Modified for a cache that names it', async () => {
      const first = await request(metadataUrls()[0]!);
      assert.equal(first.headers['cache-control'], 'public, max-age=300');
      assert.match(String(first.headers['content-type']), /^application\/json/);
      const etag = first.headers.etag!;
      assert.match(etag, /^"[\w-]{20,}"$/);
      for (const url of metadataUrls()) {
        const again = await request(url, { headers: { 'if-none-match': etag } });
        assert.equal(again.status, 304, url);
        assert.equal(again.text, '');
        assert.equal(again.headers.etag, etag);
        assert.equal(again.headers['cache-control'], 'public, max-age=300');
      }
      for (const asked of [`W/${etag}`, `"other", ${etag}`, '*'])
        assert.equal((await request(metadataUrls()[0]!, { headers: { 'if-none-match': asked } })).status, 304, asked);
      const other = await request(metadataUrls()[0]!, { headers: { 'if-none-match': '"other"' } });
      assert.equal(other.status, 200);
      assert.deepEqual(other.json, first.json);
    });

    it('the JWKS is cacheable for a minute, with an ETag that changes when a key is published', async () => {
      const first = await request(`${issuer}/jwks`);
      assert.equal(first.headers['cache-control'], 'public, max-age=60');
      assert.match(String(first.headers['content-type']), /^application\/jwk-set\+json/);
      const etag = first.headers.etag!;
      assert.equal((await request(`${ts.url}/jwks`, { headers: { 'if-none-match': etag } })).status, 304);
      await ts.app.keys.rotate('PS256', 30);
      const after = await request(`${issuer}/jwks`, { headers: { 'if-none-match': etag } });
      assert.equal(after.status, 200, 'a new key is published: the old ETag no longer matches');
      assert.notEqual(after.headers.etag, etag);
      assert.equal(after.json.keys.length, first.json.keys.length + 1);
    });
  });
});
