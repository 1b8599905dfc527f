import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createVerifier, type TokenError, type Verifier } from '@zgw-auth/verifier';
import { base64urlJson, signJws } from '@zgw-auth/verifier/testing';
import { keyTimes } from '../src/keys/key-plan.js';
import { openStorage } from '../src/storage/open-storage.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import { registryResolver } from '../src/tokens/server-verifier.js';
import {
  basicAuth,
  decodePart,
  hs256,
  type HttpResult,
  postForm,
  rejectsWith,
  request,
  startTestServer,
  type TestServer,
  transferOn,
} from './helpers.js';

/**
 * Named attacks from OWASP's JWT and OAuth2 testing guides, RFC 8725 and RFC 9700. Each asserts the
 * verifier's refusal code and what /introspect answers; after every test, logs and responses are
 * scanned for the secrets, signatures and private keys the test used.
 */
describe('attack catalogue', () => {
  let ts: TestServer;
  let verifier: Verifier;
  let victim: { clientId: string; secret: string };
  let other: { clientId: string; secret: string };
  let introspector: { clientId: string; secret: string };
  const responses: HttpResult[] = [];
  /** Material that must never appear in a log line; `inResponses` also never in a response. */
  const material: { value: string; inResponses: boolean }[] = [];
  const nowS = () => Math.floor(ts.clock.now() / 1000);
  const selfClaims = (extra: Record<string, unknown> = {}) => ({
    client_id: victim.clientId,
    iat: nowS(),
    exp: nowS() + 600,
    ...extra,
  });

  const remember = (res: HttpResult) => (responses.push(res), res);
  const introspect = async (token: string) =>
    remember(
      await postForm(
        `${ts.url}/introspect`,
        { token },
        { authorization: basicAuth(introspector.clientId, introspector.secret) },
      ),
    );
  const issue = async (c: { clientId: string; secret: string }) => {
    const token = await ts.token(c.clientId, c.secret);
    material.push({ value: token.split('.')[2]!, inResponses: false });
    return token;
  };
  /** The verifier refuses with `code` and introspection answers exactly {"active": false}. */
  async function refused(token: string, code: string, message?: RegExp) {
    await rejectsWith(verifier, token, code, message);
    const res = await introspect(token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { active: false });
  }

  before(async () => {
    ts = await startTestServer();
    victim = await ts.createClient({ selfSignedAllowed: true, rsin: '000000000' });
    other = await ts.createClient({ selfSignedAllowed: true, rsin: '123456782' });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    for (const c of [victim, other, introspector, ts.admin]) material.push({ value: c.secret, inResponses: true });
    const pem = ts.app.keys.current()!.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    material.push({ value: pem.split('\n')[5]!, inResponses: true });
    verifier = createVerifier({
      issuer: ts.url,
      keys: ts.app.keys,
      clients: registryResolver(ts.app.authenticator),
      isRevoked: (jti) => ts.app.revocations.isRevoked(jti),
      now: ts.clock.now,
      cache: false,
    });
  });
  after(() => ts.close());

  afterEach(() => {
    const logs = ts.logs.join('\n');
    const sent = responses.map((r) => JSON.stringify(r.headers) + r.text).join('\n');
    for (const m of material) {
      assert.ok(!logs.includes(m.value), 'secret material in a log line');
      if (m.inResponses) assert.ok(!sent.includes(m.value), 'secret material in a response');
    }
  });

  it('alg none, None and NONE', async () => {
    for (const alg of ['none', 'None', 'NONE'])
      await refused(`${base64urlJson({ alg })}.${base64urlJson(selfClaims())}.`, 'alg_not_allowed');
  });

  it("HS256 signed with the IdP's RSA public key, PEM and JWK forms", async () => {
    const jwk = remember(await request(`${ts.url}/jwks`)).json.keys[0];
    const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const idpClaims = {
      iss: ts.url,
      sub: victim.clientId,
      client_id: victim.clientId,
      aud: 'ZGW_APIs',
      iat: nowS(),
      exp: nowS() + 600,
    };
    for (const key of [pem, JSON.stringify(jwk)]) {
      await refused(hs256(idpClaims, key, { alg: 'HS256', typ: 'at+jwt', kid: jwk.kid }), 'bad_signature');
    }
  });

  it('kid with path traversal, SQL or a very long value', async () => {
    const token = await issue(victim);
    const [, p, s] = token.split('.');
    for (const kid of ['../../../../etc/passwd', "x' OR '1'='1", "'; DROP TABLE signing_keys; --", 'k'.repeat(5000)]) {
      await refused(`${base64urlJson({ ...decodePart(token, 0), kid })}.${p}.${s}`, 'unknown_key');
    }
    assert.equal(ts.app.keys.publicKeys().length, 1, 'the key table is intact');
  });

  it('jku, x5u, x5c and jwk headers are never fetched or trusted', async () => {
    let fetched = 0;
    const trap = http.createServer((_req, res) => (fetched++, res.end('{"keys":[]}')));
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks`;
    try {
      const attacker = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
      const real = decodePart(await issue(victim), 0);
      const claims = {
        iss: ts.url,
        sub: victim.clientId,
        client_id: victim.clientId,
        aud: 'ZGW_APIs',
        iat: nowS(),
        exp: nowS() + 600,
      };
      const sign = (header: Record<string, unknown>) =>
        signJws({ alg: 'RS256', ...header }, claims, attacker.privateKey);
      const x5c = [Buffer.from('attacker certificate').toString('base64')];
      const embedded = { jku: trapUrl, x5u: trapUrl, x5c, jwk: attackerJwk };
      await refused(sign({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker', ...embedded }), 'unknown_key');
      await refused(sign({ alg: 'RS256', typ: 'at+jwt', ...embedded }), 'unknown_key');
      await refused(sign({ ...real, ...embedded }), 'bad_signature');
      assert.equal(fetched, 0, 'no URL from a token header was fetched');
    } finally {
      trap.close();
    }
  });

  it('crit with names the verifier does not understand', async () => {
    await refused(hs256(selfClaims(), victim.secret, { alg: 'HS256', crit: ['exp'], exp: 1 }), 'crit_unsupported');
    await refused(hs256(selfClaims(), victim.secret, { alg: 'HS256', crit: ['b64'], b64: false }), 'crit_unsupported');
  });

  it('two signatures or extra segments', async () => {
    const token = hs256(selfClaims(), victim.secret);
    const [h, p, s] = token.split('.');
    await refused(`${token}.${s}`, 'malformed');
    // Refused as non-canonical base64url or, when the first signature's last character happens to be canonical, as a bad signature.
    const doubled = `${h}.${p}.${s}${s}`;
    await refused(doubled, /^[A-Za-z0-9_-]*[AQgw]$/.test(`${s}${s}`) ? 'bad_signature' : 'malformed');
    await refused(
      JSON.stringify({
        payload: p,
        signatures: [
          { protected: h, signature: s },
          { protected: h, signature: s },
        ],
      }),
      'malformed',
    );
    await refused(`${h}.${p}.${s}.`, 'malformed');
  });

  it('JWE where a JWS is expected', async () => {
    await refused(`${base64urlJson({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, 'malformed', /JWE/);
  });

  it('a token signed by a retired key', async () => {
    const retired = ts.app.keys.current()!;
    await ts.app.keys.rotate('RS256', 0);
    // Past the old key's retention: its last token has expired.
    ts.clock.advance(keyTimes(ts.config).retentionMs / 1000 + 1);
    await ts.app.keys.load();
    assert.ok(!ts.app.keys.publicKeys().some((k) => k.kid === retired.kid), 'the old key is no longer published');
    const claims = {
      iss: ts.url,
      sub: victim.clientId,
      client_id: victim.clientId,
      aud: 'ZGW_APIs',
      iat: nowS(),
      exp: nowS() + 600,
      jti: 'r',
    };
    const token = signJws({ alg: retired.alg, encodedHeader: retired.encodedHeader }, claims, retired.privateKey);
    material.push({ value: token.split('.')[2]!, inResponses: false });
    await refused(token, 'unknown_key');
  });

  it("a valid token of one client presented with another client's client_id", async () => {
    await refused(hs256(selfClaims({ client_id: other.clientId }), victim.secret), 'bad_signature');
    const token = await issue(victim);
    const [h, , s] = token.split('.');
    await refused(
      `${h}.${base64urlJson({ ...decodePart(token, 1), client_id: other.clientId, sub: other.clientId })}.${s}`,
      'bad_signature',
    );
  });

  it("a self-signed token claiming another organisation's rsin", async () => {
    await refused(hs256(selfClaims({ rsin: '123456782' }), victim.secret), 'rsin_mismatch');
  });

  it('a self-signed token from a client not allowed to self-sign', async () => {
    const plain = await ts.createClient();
    material.push({ value: plain.secret, inResponses: true });
    await refused(hs256({ client_id: plain.clientId, iat: nowS() }, plain.secret), 'self_signed_not_allowed');
  });

  it('replay of a revoked token at introspection', async () => {
    const token = await issue(victim);
    assert.equal((await introspect(token)).json.active, true);
    const revoked = remember(
      await postForm(`${ts.url}/revoke`, { token }, { authorization: basicAuth(victim.clientId, victim.secret) }),
    );
    assert.equal(revoked.status, 200);
    await refused(token, 'revoked');
  });

  it('wrong secret and unknown client: the same answer from the same work', async () => {
    const tokenRequest = (clientId: string, secret: string) =>
      postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials', client_id: clientId, client_secret: secret },
        {},
        '127.0.0.7',
      ).then(remember);
    // Count the constant-time work: one HMAC of the presented secret and one compare per stored secret.
    const counts = { hmac: 0, compare: 0 };
    const { createHmac, timingSafeEqual } = crypto;
    crypto.createHmac = ((...a: Parameters<typeof createHmac>) => (
      counts.hmac++,
      createHmac(...a)
    )) as typeof createHmac;
    crypto.timingSafeEqual = ((...a: Parameters<typeof timingSafeEqual>) => (
      counts.compare++,
      timingSafeEqual(...a)
    )) as typeof timingSafeEqual;
    const answers: { res: HttpResult; work: typeof counts }[] = [];
    try {
      for (const [id, secret] of [
        [victim.clientId, 'wrong-' + victim.secret],
        ['no-such-client', 'whatever-secret'],
      ] as const) {
        counts.hmac = counts.compare = 0;
        answers.push({ res: await tokenRequest(id, secret), work: { ...counts } });
      }
    } finally {
      crypto.createHmac = createHmac;
      crypto.timingSafeEqual = timingSafeEqual;
    }
    const [wrong, unknown] = answers as [(typeof answers)[0], (typeof answers)[0]];
    assert.equal(wrong.res.status, 401);
    assert.equal(wrong.res.text, unknown.res.text);
    const sameHeaders = (r: HttpResult) => ({ ...r.headers, date: undefined, 'x-request-id': undefined });
    assert.deepEqual(sameHeaders(wrong.res), sameHeaders(unknown.res));
    assert.deepEqual(wrong.work, unknown.work);
    assert.ok(wrong.work.hmac >= 1 && wrong.work.compare >= 1, 'the secret was actually hashed and compared');
  });

  it('a guessing loop from one address is stopped while another address still gets tokens', async () => {
    const guess = (i: number) =>
      postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials', client_id: victim.clientId, client_secret: `guess-${i}` },
        {},
        '127.0.0.8',
      ).then(remember);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await guess(i)).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(
      statuses.slice(5).every((s) => s === 429),
      `guesses after the threshold are refused unchecked: ${statuses.join(',')}`,
    );
    const elsewhere = remember(
      await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials', client_id: victim.clientId, client_secret: victim.secret },
        {},
        '127.0.0.9',
      ),
    );
    assert.equal(elsewhere.status, 200);
    material.push({ value: elsewhere.json.access_token.split('.')[2], inResponses: false });
  });

  it('a self-signed token that grants itself scopes, another sub, issuer, audience and roles', async () => {
    const limited = await ts.createClient({ selfSignedAllowed: true, allowedScopes: ['zaken.lezen'] });
    material.push({ value: limited.secret, inResponses: true });
    const claims = {
      client_id: limited.clientId,
      iat: nowS(),
      user_id: 'u-7',
      scope: 'zgw-auth:admin zaken.verwijderen',
      scp: ['zgw-auth:admin'],
      sub: 'zgw-auth-admin',
      iss: 'https://evil.example',
      aud: 'elsewhere',
      roles: ['admin'],
      groups: ['admins'],
      azp: 'x',
      act: { sub: 'y' },
      unknown_claim: 'x',
    };
    const token = hs256(claims, limited.secret);
    const p = await verifier.verify(token);
    assert.deepEqual(p.scopes, ['zaken.lezen'], 'scopes come from the registry');
    assert.equal(p.clientId, limited.clientId);
    assert.equal(p.userId, 'u-7');
    assert.deepEqual(Object.keys(p.claims).sort(), ['exp', 'iat', 'user_id'], 'only information claims pass through');
    await assert.rejects(
      verifier.verify(token, ['zaken.verwijderen']),
      (e: TokenError) => e.code === 'insufficient_scope',
    );
    const res = await introspect(token);
    assert.equal(res.json.active, true);
    assert.equal(res.json.scope, 'zaken.lezen');
    assert.equal(res.json.sub, limited.clientId);
    assert.equal(res.json.rsin, '000000000');
    assert.equal(res.json.user_id, 'u-7');
    for (const k of ['iss', 'aud', 'scp', 'roles', 'groups', 'azp', 'act', 'unknown_claim'])
      assert.equal(res.json[k], undefined, `${k} is not passed on`);
    const admin = remember(await request(`${ts.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } }));
    assert.equal(admin.status, 403);
  });

  it("an IdP token does not outlive its client's scopes, and a deleted registration's tokens never come back", async () => {
    const c = await ts.createClient({ clientId: 'ops-tool', allowedScopes: ['zgw-auth:admin', 'zaken.lezen'] });
    material.push({ value: c.secret, inResponses: true });
    const token = await issue(c);
    const asAdmin = async (t: string, method = 'GET', body?: unknown) =>
      remember(
        await request(`${ts.url}/admin/clients${method === 'GET' ? '?limit=1' : ''}`, {
          method,
          headers: { authorization: `Bearer ${t}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        }),
      );
    assert.equal((await asAdmin(token)).status, 200);
    await ts.app.clients.update('ops-tool', { allowedScopes: ['zaken.lezen'] }, { id: 'test' });
    for (const secret of await ts.app.clients.listSecrets('ops-tool'))
      await ts.app.clients.revokeSecret('ops-tool', secret.secretId, { id: 'test' });
    assert.equal((await asAdmin(token)).status, 403, 'the admin scope is gone from the token at once');
    assert.equal((await asAdmin(token, 'POST', { clientId: 'made-by-old-token', rsin: '000000000' })).status, 403);
    await assert.rejects(ts.app.clients.get('made-by-old-token'), /does not exist/);
    assert.equal((await introspect(token)).json.scope, 'zaken.lezen', 'introspection narrows the scopes too');

    await ts.app.clients.delete('ops-tool', { id: 'test' });
    await refused(token, 'unknown_client');
    ts.clock.advance(1);
    await ts.app.clients.create(
      { clientId: 'ops-tool', rsin: '123456782', allowedScopes: ['zgw-auth:admin', 'zaken.lezen'] },
      { id: 'test' },
    );
    await refused(token, 'client_replaced');
    assert.equal((await asAdmin(token)).status, 401);
  });

  it('static claims cannot carry rights, on create, update and import', async () => {
    const rights = [
      'scp',
      'scope',
      'roles',
      'groups',
      'azp',
      'act',
      'cnf',
      'client_id',
      'rsin',
      'sub',
      'iss',
      'aud',
      'exp',
      'realm_access',
      'permissions',
      'zgw-auth:admin',
    ];
    for (const name of rights)
      await assert.rejects(
        ts.createClient({ staticClaims: { [name]: ['zgw-auth:admin'] } }),
        /staticClaims may not set/,
        name,
      );
    const ok = await ts.createClient({
      staticClaims: { user_id: 'u', user_representation: 'Jan', 'https://gemeente.example/claims/afdeling': 'KCC' },
    });
    await assert.rejects(
      ts.app.clients.update(ok.clientId, { staticClaims: { scp: ['zgw-auth:admin'] } }, { id: 'test' }),
      /staticClaims may not set/,
    );
    const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
    const viaApi = remember(
      await request(`${ts.url}/admin/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ rsin: '000000000', staticClaims: { scp: ['zgw-auth:admin'] } }),
      }),
    );
    assert.equal(viaApi.status, 400);

    // A row written before these rules: its token leaves the claim out, so /admin stays closed.
    const legacy = await ts.createClient({ allowedScopes: [] });
    material.push({ value: legacy.secret, inResponses: true });
    await ts.app.storage.db
      .updateTable('clients')
      .set({ static_claims: JSON.stringify({ scp: ['zgw-auth:admin'], user_id: 'old' }) })
      .where('client_id', '=', legacy.clientId)
      .execute();
    ts.clock.advance(3);
    const legacyToken = await issue(legacy);
    assert.equal(decodePart(legacyToken, 1).scp, undefined);
    assert.equal(decodePart(legacyToken, 1).user_id, 'old');
    assert.equal(
      remember(await request(`${ts.url}/admin/clients`, { headers: { authorization: `Bearer ${legacyToken}` } }))
        .status,
      403,
    );

    const exported = await exportRegistry(ts.app.transfer);
    const target = await openStorage(undefined, fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-import-')));
    try {
      await assert.rejects(
        importRegistry(transferOn(target, ts.app.masterKey), exported),
        /staticClaims may not set "scp"/,
      );
      assert.equal((await target.db.selectFrom('clients').selectAll().execute()).length, 0, 'nothing imported');
    } finally {
      await target.close();
    }
  });

  it('a self-signed token without iat, which would live until its exp', async () => {
    await refused(hs256({ client_id: victim.clientId, exp: 4_102_444_800 }, victim.secret), 'missing_iat');
  });

  it('signatures and segments with stray bits in their last base64url character', async () => {
    const self = hs256(selfClaims(), victim.secret);
    const idp = await issue(victim);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let tried = 0;
    for (const token of [self, idp]) {
      const parts = token.split('.');
      for (let i = 0; i < 3; i++) {
        const segment = parts[i]!;
        const spare = segment.length % 4 === 2 ? 0x0f : segment.length % 4 === 3 ? 0x03 : 0;
        for (let bits = 1; bits <= spare; bits <<= 1) {
          const last = alphabet.indexOf(segment.at(-1)!);
          const changed = [...parts];
          changed[i] = segment.slice(0, -1) + alphabet[last ^ bits];
          assert.deepEqual(Buffer.from(changed[i]!, 'base64url'), Buffer.from(segment, 'base64url'), 'the same bytes');
          await refused(changed.join('.'), 'malformed', /canonical/);
          tried++;
        }
      }
    }
    assert.ok(tried >= 4, `stray-bit variants tried: ${tried}`);
  });
});
