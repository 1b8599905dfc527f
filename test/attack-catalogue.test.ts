import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '@zgw-auth/verifier';
import { registryResolver } from '../src/tokens/server-verifier.js';
import { basicAuth, decodePart, hs256, type HttpResult, postForm, rejectsWith, request, startTestServer, type TestServer } from './helpers.js';

/**
 * Named attacks from OWASP's JWT and OAuth2 testing guides, RFC 8725 and RFC 9700. Each asserts the
 * verifier's refusal code and what /introspect answers; after every test, logs and responses are
 * scanned for the secrets, signatures and private keys the test used.
 */
const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

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
  const selfClaims = (extra: Record<string, unknown> = {}) => ({ client_id: victim.clientId, iat: nowS(), exp: nowS() + 600, ...extra });

  const remember = (res: HttpResult) => (responses.push(res), res);
  const introspect = async (token: string) => remember(await postForm(`${ts.url}/introspect`, { token }, { authorization: basicAuth(introspector.clientId, introspector.secret) }));
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
      clients: registryResolver(ts.app.clients),
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
    for (const alg of ['none', 'None', 'NONE']) await refused(`${enc({ alg })}.${enc(selfClaims())}.`, 'alg_not_allowed');
  });

  it('HS256 signed with the IdP\'s RSA public key, PEM and JWK forms', async () => {
    const jwk = remember(await request(`${ts.url}/jwks`)).json.keys[0];
    const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const idpClaims = { iss: ts.url, sub: victim.clientId, client_id: victim.clientId, aud: 'ZGW_APIs', iat: nowS(), exp: nowS() + 600 };
    for (const key of [pem, JSON.stringify(jwk)]) {
      await refused(hs256(idpClaims, key, { alg: 'HS256', typ: 'at+jwt', kid: jwk.kid }), 'bad_signature');
    }
  });

  it('kid with path traversal, SQL or a very long value', async () => {
    const token = await issue(victim);
    const [, p, s] = token.split('.');
    for (const kid of ['../../../../etc/passwd', "x' OR '1'='1", "'; DROP TABLE signing_keys; --", 'k'.repeat(5000)]) {
      await refused(`${enc({ ...decodePart(token, 0), kid })}.${p}.${s}`, 'unknown_key');
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
      const claims = { iss: ts.url, sub: victim.clientId, client_id: victim.clientId, aud: 'ZGW_APIs', iat: nowS(), exp: nowS() + 600 };
      const sign = (header: Record<string, unknown>) => {
        const input = `${enc(header)}.${enc(claims)}`;
        return `${input}.${crypto.sign('sha256', Buffer.from(input), attacker.privateKey).toString('base64url')}`;
      };
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
    await refused(`${h}.${p}.${s}${s}`, 'bad_signature');
    await refused(JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }, { protected: h, signature: s }] }), 'malformed');
    await refused(`${h}.${p}.${s}.`, 'malformed');
  });

  it('JWE where a JWS is expected', async () => {
    await refused(`${enc({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.AAAA.AAAA.AAAA.AAAA`, 'malformed', /JWE/);
  });

  it('a token signed by a retired key', async () => {
    const retired = ts.app.keys.current()!;
    await ts.app.keys.rotate('RS256', 0, 1);
    ts.clock.advance(62);
    await ts.app.keys.load();
    assert.ok(!ts.app.keys.publicKeys().some((k) => k.kid === retired.kid), 'the old key is no longer published');
    const claims = { iss: ts.url, sub: victim.clientId, client_id: victim.clientId, aud: 'ZGW_APIs', iat: nowS(), exp: nowS() + 600, jti: 'r' };
    const input = `${retired.encodedHeader}.${enc(claims)}`;
    const token = `${input}.${crypto.sign('sha256', Buffer.from(input), retired.privateKey).toString('base64url')}`;
    material.push({ value: token.split('.')[2]!, inResponses: false });
    await refused(token, 'unknown_key');
  });

  it('a valid token of one client presented with another client\'s client_id', async () => {
    await refused(hs256(selfClaims({ client_id: other.clientId }), victim.secret), 'bad_signature');
    const token = await issue(victim);
    const [h, , s] = token.split('.');
    await refused(`${h}.${enc({ ...decodePart(token, 1), client_id: other.clientId, sub: other.clientId })}.${s}`, 'bad_signature');
  });

  it('a self-signed token claiming another organisation\'s rsin', async () => {
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
    const revoked = remember(await postForm(`${ts.url}/revoke`, { token }, { authorization: basicAuth(victim.clientId, victim.secret) }));
    assert.equal(revoked.status, 200);
    await refused(token, 'revoked');
  });

  it('wrong secret and unknown client: the same answer from the same work', async () => {
    const tokenRequest = (clientId: string, secret: string) =>
      postForm(`${ts.url}/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret }, {}, '127.0.0.7').then(remember);
    // Count the constant-time work: one HMAC of the presented secret and one compare per stored secret.
    const counts = { hmac: 0, compare: 0 };
    const { createHmac, timingSafeEqual } = crypto;
    crypto.createHmac = ((...a: Parameters<typeof createHmac>) => (counts.hmac++, createHmac(...a))) as typeof createHmac;
    crypto.timingSafeEqual = ((...a: Parameters<typeof timingSafeEqual>) => (counts.compare++, timingSafeEqual(...a))) as typeof timingSafeEqual;
    const answers: { res: HttpResult; work: typeof counts }[] = [];
    try {
      for (const [id, secret] of [[victim.clientId, 'wrong-' + victim.secret], ['no-such-client', 'whatever-secret']] as const) {
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
    const guess = (i: number) => postForm(`${ts.url}/token`, { grant_type: 'client_credentials', client_id: victim.clientId, client_secret: `guess-${i}` }, {}, '127.0.0.8').then(remember);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await guess(i)).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429), `guesses after the threshold are refused unchecked: ${statuses.join(',')}`);
    const elsewhere = remember(await postForm(`${ts.url}/token`, { grant_type: 'client_credentials', client_id: victim.clientId, client_secret: victim.secret }, {}, '127.0.0.9'));
    assert.equal(elsewhere.status, 200);
    material.push({ value: elsewhere.json.access_token.split('.')[2], inResponses: false });
  });
});
