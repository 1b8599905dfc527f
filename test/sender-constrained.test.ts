import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  accessTokenHash,
  createVerifier,
  DpopNonces,
  type GuardOptions,
  type Principal,
  requireToken,
  type TokenError,
  type Verifier,
  zgwAuthFastify,
} from '@zgw-auth/verifier';
import { base64urlJson, signJws } from '@zgw-auth/verifier/testing';
import * as DPoP from 'dpop';
import Fastify from 'fastify';
import * as oidc from 'openid-client';
import { Clock, decodePart, postForm, startTestServer, type TestServer } from './helpers.js';
import { makeTestPki, OIN, type TestPki } from './pki/test-pki.js';
import { httpsPostForm } from './pki/tls-client.js';
import { freePort } from './services.js';

/**
 * Sender-constrained tokens end to end: zgw-auth issues DPoP-bound tokens (RFC 9449) to real
 * clients, and APIs built with the verifier (Fastify plugin, node:http/Express middleware) refuse
 * them from anyone who cannot prove the key, and certificate-bound tokens (RFC 8705) from anyone
 * without the certificate.
 */
const run = promisify(execFile);
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/bound-tokens');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));
const derOf = (pem: Buffer) => new crypto.X509Certificate(pem).raw;
const x5t = (pem: Buffer) => crypto.createHash('sha256').update(derOf(pem)).digest('base64url');

/** A real clock: proofs made by the clients carry the real time. */
const realClock = () => {
  const clock = new Clock();
  clock.now = () => Date.now();
  return clock;
};

interface Api {
  url: string;
  refusals: string[];
  /** The DPoP headers the API received, in order. */
  proofs: string[];
  close(): Promise<void>;
}

/**
 * A Zaken API on Fastify with the plugin, as the verifier's README shows it: on a port known
 * beforehand, so that its publicOrigin (what proofs must name) is the address it is called at.
 */
async function fastifyApi(verifier: Verifier, options: Partial<GuardOptions> = {}): Promise<Api> {
  const refusals: string[] = [];
  const proofs: string[] = [];
  const port = await freePort();
  const app = Fastify();
  app.addHook('onRequest', async (request) => {
    if (typeof request.headers.dpop === 'string') proofs.push(request.headers.dpop);
  });
  await app.register(async (scope) => {
    await scope.register(zgwAuthFastify, {
      verifier,
      scopes: ['zaken.lezen'],
      onRefusal: (err: TokenError) => void refusals.push(err.code),
      publicOrigin: `http://127.0.0.1:${port}`,
      ...options,
    });
    scope.get('/zaken/api/v1/zaken', async (request) => ({
      caller: (request as unknown as { principal: Principal }).principal.clientId,
    }));
  });
  const url = `${await app.listen({ host: '127.0.0.1', port })}/zaken/api/v1/zaken`;
  return { url, refusals, proofs, close: () => app.close() };
}

/** The same API on node:http with the Connect/Express middleware, over HTTP or (with `tls`) HTTPS. */
async function middlewareApi(
  verifier: Verifier,
  options: Partial<GuardOptions> = {},
  tls?: https.ServerOptions,
): Promise<Api> {
  const refusals: string[] = [];
  const port = await freePort();
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const guard = requireToken(verifier, {
    scopes: ['zaken.lezen'],
    onRefusal: (err) => void refusals.push(err.code),
    publicOrigin: origin,
    ...options,
  });
  const handler = (req: http.IncomingMessage & { principal?: Principal }, res: http.ServerResponse) =>
    guard(req, res, () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ caller: req.principal!.clientId })),
    );
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const url = `${origin}/zaken/api/v1/zaken`;
  return {
    url,
    refusals,
    proofs: [],
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A P-256 key made with node:crypto, for proofs no client library would make (an old iat). */
function nodeKey() {
  const pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  return {
    jwk,
    proof: (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      signJws({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header } as { alg: string }, claims, pair.privateKey),
  };
}

const proofClaims = (htm: string, htu: string, extra: Record<string, unknown> = {}) => ({
  jti: crypto.randomUUID(),
  htm,
  htu,
  iat: Math.floor(Date.now() / 1000),
  ...extra,
});

async function get(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { headers });
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', body: await res.text() };
}

async function tokenRequest(ts: TestServer, client: { clientId: string; secret: string }, dpop?: string) {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`,
  };
  if (dpop !== undefined) headers.dpop = dpop;
  const res = await fetch(`${ts.url}/token`, {
    method: 'POST',
    headers,
    body: 'grant_type=client_credentials&scope=zaken.lezen',
  });
  return {
    status: res.status,
    nonce: res.headers.get('dpop-nonce'),
    json: (await res.json()) as Record<string, string>,
  };
}

describe('DPoP-bound tokens', () => {
  let ts: TestServer;
  let client: { clientId: string; secret: string };
  let dpopOnly: { clientId: string; secret: string };
  let introspector: { clientId: string; secret: string };
  let verifier: Verifier;
  let apis: Api[];

  before(async () => {
    ts = await startTestServer({ clock: realClock() });
    client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    dpopOnly = await ts.createClient({ allowedScopes: ['zaken.lezen'], dpopBoundAccessTokens: true });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    // The API finds the keys through the issuer's discovery document, as in production.
    verifier = createVerifier({ issuer: ts.url, audience: 'ZGW_APIs' });
    apis = [await fastifyApi(verifier), await middlewareApi(verifier)];
  });
  after(async () => {
    for (const api of apis ?? []) await api.close();
    await ts?.close();
  });

  it('openid-client gets a DPoP token and calls both APIs with it; a replayed call is refused', async () => {
    const config = await oidc.discovery(new URL(ts.url), client.clientId, client.secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    assert.deepEqual(config.serverMetadata().dpop_signing_alg_values_supported, [
      'RS256',
      'PS256',
      'ES256',
      'EdDSA',
      'Ed25519',
    ]);
    const keyPair = await oidc.randomDPoPKeyPair('ES256');
    const handle = oidc.getDPoPHandle(config, keyPair);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' }, { DPoP: handle });
    assert.equal(tokens.token_type, 'dpop');
    const claims = decodePart(tokens.access_token, 1);
    assert.deepEqual(claims.cnf, { jkt: await DPoP.calculateThumbprint(keyPair.publicKey) });

    for (const api of apis) {
      const res = await oidc.fetchProtectedResource(
        config,
        tokens.access_token,
        new URL(api.url),
        'GET',
        undefined,
        undefined,
        { DPoP: handle },
      );
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(await res.json(), { caller: client.clientId });
    }
    // The Fastify API saw the proof: sent again, it is a replay.
    const [fastify] = apis;
    const replay = await get(fastify!.url, {
      authorization: `DPoP ${tokens.access_token}`,
      dpop: fastify!.proofs.at(-1)!,
    });
    assert.equal(replay.status, 401);
    assert.match(
      replay.challenge,
      /^DPoP realm="zgw", error="invalid_dpop_proof", error_description="[^"]*used before/,
    );
    assert.match(replay.challenge, /algs="RS256 PS256 ES256 EdDSA Ed25519"$/);
    assert.equal(fastify!.refusals.at(-1), 'dpop_replayed');
  });

  it('a stolen DPoP token is refused: without a proof, as Bearer, with a proof of another key', async () => {
    const owner = await DPoP.generateKeyPair('ES256');
    const issued = await tokenRequest(ts, client, await DPoP.generateProof(owner, `${ts.url}/token`, 'POST'));
    assert.equal(issued.status, 200, JSON.stringify(issued.json));
    assert.equal(issued.json.token_type, 'DPoP');
    assert.equal(issued.nonce, null, 'no DPoP-Nonce while nonces are off');
    const token = issued.json.access_token!;
    const thief = await DPoP.generateKeyPair('ES256');
    for (const api of apis) {
      const cases: Array<[Record<string, string>, string, RegExp]> = [
        [{ authorization: `DPoP ${token}` }, 'dpop_proof_missing', /error="invalid_dpop_proof"/],
        [{ authorization: `Bearer ${token}` }, 'bound_token_as_bearer', /^DPoP realm="zgw", error="invalid_token"/],
        [{ authorization: token }, 'bound_token_as_bearer', /^DPoP /],
        [
          {
            authorization: `DPoP ${token}`,
            dpop: await DPoP.generateProof(thief, api.url, 'GET', undefined, token),
          },
          'dpop_wrong_key',
          /error="invalid_dpop_proof"/,
        ],
      ];
      for (const [headers, code, challenge] of cases) {
        const res = await get(api.url, headers);
        assert.equal(res.status, 401, `${code}: ${res.body}`);
        assert.match(res.challenge, challenge, code);
        assert.equal(api.refusals.at(-1), code);
      }
      // The owner, for comparison.
      const ok = await get(api.url, {
        authorization: `DPoP ${token}`,
        dpop: await DPoP.generateProof(owner, api.url, 'GET', undefined, token),
      });
      assert.equal(ok.status, 200, ok.body);
    }
  });

  it('proofs for another URL or method, with an old iat, a private key, alg none or HS256 are refused at the API', async () => {
    const key = nodeKey();
    const issued = await tokenRequest(ts, client, key.proof(proofClaims('POST', `${ts.url}/token`)));
    assert.equal(issued.status, 200, JSON.stringify(issued.json));
    const token = issued.json.access_token!;
    const [api] = apis;
    const ath = accessTokenHash(token);
    const at = (extra: Record<string, unknown>) => proofClaims('GET', api!.url, { ath, ...extra });
    const privateJwk = { ...key.jwk, d: 'AAAA' };
    const cases: Array<[string, string]> = [
      [key.proof(at({ htu: api!.url.replace('/zaken', '/documenten') })), 'dpop_wrong_request'],
      [key.proof(at({ htm: 'POST' })), 'dpop_wrong_request'],
      [key.proof(at({ iat: Math.floor(Date.now() / 1000) - 600 })), 'dpop_stale'],
      [key.proof(at({}), { jwk: privateJwk }), 'invalid_dpop_proof'],
      [
        `${base64urlJson({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${base64urlJson(at({}))}.`,
        'invalid_dpop_proof',
      ],
      [
        signJws({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk } as { alg: string }, at({}), 'guessed-secret'),
        'invalid_dpop_proof',
      ],
      [key.proof(at({ ath: accessTokenHash('another token') })), 'dpop_wrong_token'],
    ];
    for (const [proof, code] of cases) {
      const res = await get(api!.url, { authorization: `DPoP ${token}`, dpop: proof });
      assert.equal(res.status, 401, `${code}: ${res.body}`);
      assert.equal(api!.refusals.at(-1), code);
    }
    const ok = await get(api!.url, { authorization: `DPoP ${token}`, dpop: key.proof(at({})) });
    assert.equal(ok.status, 200, ok.body);
  });

  it('/token refuses faulty proofs with invalid_dpop_proof (400) and a reason, never a 5xx', async () => {
    const key = nodeKey();
    const tokenUrl = `${ts.url}/token`;
    const replayed = key.proof(proofClaims('POST', tokenUrl));
    assert.equal((await tokenRequest(ts, client, replayed)).status, 200);
    const cases: Array<[string, RegExp]> = [
      [replayed, /used before/],
      [key.proof(proofClaims('POST', `${ts.url}/introspect`)), /another URL/],
      [key.proof(proofClaims('GET', tokenUrl)), /method GET/],
      [key.proof(proofClaims('POST', tokenUrl, { iat: Math.floor(Date.now() / 1000) - 3600 })), /made 36\d\d s ago/],
      [key.proof(proofClaims('POST', tokenUrl), { jwk: { ...key.jwk, d: 'AAAA' } }), /private key material/],
      [
        `${base64urlJson({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${base64urlJson(proofClaims('POST', tokenUrl))}.`,
        /"none"/,
      ],
      [key.proof(proofClaims('POST', tokenUrl), { typ: 'JWT' }), /typ/],
      [
        signJws(
          { alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk } as { alg: string },
          proofClaims('POST', tokenUrl),
          crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
        ),
        /signature does not verify/,
      ],
      ['x'.repeat(9000), /longer than/],
    ];
    for (const [proof, description] of cases) {
      const res = await tokenRequest(ts, client, proof);
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.equal(res.json.error, 'invalid_dpop_proof');
      assert.match(res.json.error_description!, description);
    }
    // Two DPoP headers.
    const twice = await fetch(tokenUrl, {
      method: 'POST',
      headers: [
        ['content-type', 'application/x-www-form-urlencoded'],
        ['authorization', `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`],
        ['dpop', key.proof(proofClaims('POST', tokenUrl))],
        ['dpop', key.proof(proofClaims('POST', tokenUrl))],
      ],
      body: 'grant_type=client_credentials',
    });
    assert.equal(twice.status, 400);
    assert.equal(((await twice.json()) as { error: string }).error, 'invalid_dpop_proof');
    // A wrong secret with a good proof: the client is refused first, and the proof is not spent.
    const good = key.proof(proofClaims('POST', tokenUrl));
    assert.equal((await tokenRequest(ts, { ...client, secret: 'wrong' }, good)).status, 401);
    assert.equal((await tokenRequest(ts, client, good)).status, 200);
  });

  it('a client registered with dpop_bound_access_tokens gets no bearer token; without it, a bearer token', async () => {
    const bare = await tokenRequest(ts, dpopOnly);
    assert.equal(bare.status, 400);
    assert.equal(bare.json.error, 'invalid_request');
    assert.match(bare.json.error_description!, /dpop_bound_access_tokens/);
    const key = await DPoP.generateKeyPair('ES256');
    const bound = await tokenRequest(ts, dpopOnly, await DPoP.generateProof(key, `${ts.url}/token`, 'POST'));
    assert.equal(bound.status, 200);
    assert.equal(bound.json.token_type, 'DPoP');
    const bearer = await tokenRequest(ts, client);
    assert.equal(bearer.json.token_type, 'Bearer');
    assert.equal(decodePart(bearer.json.access_token!, 1).cnf, undefined);
    const ok = await get(apis[0]!.url, { authorization: `Bearer ${bearer.json.access_token}` });
    assert.equal(ok.status, 200, 'bearer tokens work as before');
    const asDpop = await get(apis[0]!.url, { authorization: `DPoP ${bearer.json.access_token}` });
    assert.equal(asDpop.status, 401);
    assert.equal(apis[0]!.refusals.at(-1), 'token_not_bound');
  });

  it('/introspect answers cnf and token_type DPoP; the verifier checks the binding from that answer', async () => {
    const key = await DPoP.generateKeyPair('ES256');
    const issued = await tokenRequest(ts, client, await DPoP.generateProof(key, `${ts.url}/token`, 'POST'));
    const token = issued.json.access_token!;
    const res = await postForm(
      `${ts.url}/introspect`,
      { token },
      { authorization: `Basic ${Buffer.from(`${introspector.clientId}:${introspector.secret}`).toString('base64')}` },
    );
    const answer = res.json as Record<string, unknown>;
    assert.equal(answer.active, true);
    assert.equal(answer.token_type, 'DPoP');
    assert.deepEqual(answer.cnf, { jkt: await DPoP.calculateThumbprint(key.publicKey) });
    const bearer = await postForm(
      `${ts.url}/introspect`,
      { token: await ts.token(client.clientId, client.secret) },
      { authorization: `Basic ${Buffer.from(`${introspector.clientId}:${introspector.secret}`).toString('base64')}` },
    );
    assert.equal((bearer.json as Record<string, unknown>).token_type, 'Bearer');
    // An API that introspects: the same checks on the answer's cnf.
    const url = 'https://zaken.example/zaken/api/v1/zaken';
    const request = (proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof, method: 'GET', url });
    await verifier.sender.confirm(
      answer.cnf,
      { scheme: 'DPoP', token },
      request(await DPoP.generateProof(key, url, 'GET', undefined, token)),
    );
    const thief = await DPoP.generateKeyPair('ES256');
    await assert.rejects(
      async () =>
        verifier.sender.confirm(
          answer.cnf,
          { scheme: 'DPoP', token },
          request(await DPoP.generateProof(thief, url, 'GET', undefined, token)),
        ),
      { code: 'dpop_wrong_key' },
    );
    // verify() alone cannot check a binding: a bound token is refused there.
    await assert.rejects(verifier.verify(`Bearer ${token}`), { code: 'bound_token_as_bearer' });
  });

  it('curl: a token request and an API call, each with a proof made in a script', async () => {
    const script = `
import * as DPoP from 'dpop';
const [tokenUrl, apiUrl] = process.argv.slice(1);
const key = await DPoP.generateKeyPair('ES256', { extractable: true });
const jwk = await crypto.subtle.exportKey('jwk', key.privateKey);
console.log(JSON.stringify({ jwk, proof: await DPoP.generateProof(key, tokenUrl, 'POST') }));`;
    const made = JSON.parse(
      (
        await run(process.execPath, ['--input-type=module', '-e', script, `${ts.url}/token`, apis[1]!.url], {
          cwd: process.cwd(),
        })
      ).stdout,
    ) as { jwk: JsonWebKey; proof: string };
    const { stdout } = await run('curl', [
      '-s',
      '-u',
      `${client.clientId}:${client.secret}`,
      '-H',
      `DPoP: ${made.proof}`,
      '-d',
      'grant_type=client_credentials',
      `${ts.url}/token`,
    ]);
    const answer = JSON.parse(stdout) as { access_token: string; token_type: string };
    assert.equal(answer.token_type, 'DPoP');
    // The API call's proof, signed with the same key.
    const privateKey = crypto.createPrivateKey({ key: made.jwk as crypto.JsonWebKey, format: 'jwk' });
    const { d: _d, ...publicJwk } = made.jwk as Record<string, unknown>;
    const proof = signJws(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk } as { alg: string },
      proofClaims('GET', apis[1]!.url, { ath: accessTokenHash(answer.access_token) }),
      privateKey,
    );
    const call = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: DPoP ${answer.access_token}`];
    assert.equal((await run('curl', [...call, '-H', `DPoP: ${proof}`, apis[1]!.url])).stdout, '200');
    assert.equal((await run('curl', [...call, '-H', `DPoP: ${proof}`, apis[1]!.url])).stdout, '401', 'replayed');
    assert.equal((await run('curl', [...call, apis[1]!.url])).stdout, '401', 'no proof');
  });
});

describe('DPoP server nonces (RFC 9449 §8, §9)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ clock: realClock(), env: { ZGW_AUTH_DPOP_NONCE: 'true' } });
  });
  after(async () => ts?.close());

  it('a proof without the nonce gets use_dpop_nonce and DPoP-Nonce; openid-client retries by itself', async () => {
    const client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const key = await DPoP.generateKeyPair('ES256');
    const first = await tokenRequest(ts, client, await DPoP.generateProof(key, `${ts.url}/token`, 'POST'));
    assert.equal(first.status, 400);
    assert.equal(first.json.error, 'use_dpop_nonce');
    assert.match(first.nonce ?? '', /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    const second = await tokenRequest(
      ts,
      client,
      await DPoP.generateProof(key, `${ts.url}/token`, 'POST', first.nonce!),
    );
    assert.equal(second.status, 200);
    const forged = await tokenRequest(
      ts,
      client,
      await DPoP.generateProof(key, `${ts.url}/token`, 'POST', `${first.nonce!.split('.')[0]}.${'A'.repeat(22)}`),
    );
    assert.equal(forged.json.error, 'use_dpop_nonce');

    const config = await oidc.discovery(new URL(ts.url), client.clientId, client.secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const handle = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    // Refused once with use_dpop_nonce, openid-client retries with the nonce on its own.
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' }, { DPoP: handle });
    assert.equal(tokens.token_type, 'dpop');
  });

  it('every token answer to a proof carries DPoP-Nonce; openid-client keeps it and is not refused again', async () => {
    const client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const config = await oidc.discovery(new URL(ts.url), client.clientId, client.secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    // What went over the wire: each answer's status and DPoP-Nonce, each proof's nonce claim.
    const exchanges: Array<{ status: number; nonce: string | null; proofNonce: unknown }> = [];
    config[oidc.customFetch] = async (url, options) => {
      const res = await fetch(url, options as RequestInit);
      const proof = new Headers(options.headers as HeadersInit).get('dpop');
      if (proof)
        exchanges.push({
          status: res.status,
          nonce: res.headers.get('dpop-nonce'),
          proofNonce: decodePart(proof, 1).nonce,
        });
      return res;
    };
    const handle = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    for (let i = 0; i < 3; i++) {
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' }, { DPoP: handle });
      assert.equal(tokens.token_type, 'dpop');
    }
    // Refused once for want of a nonce, then three tokens, each answer with the nonce to use next.
    assert.deepEqual(
      exchanges.map((e) => e.status),
      [400, 200, 200, 200],
    );
    for (const e of exchanges) assert.match(e.nonce ?? '', /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    assert.equal(exchanges[1]!.proofNonce, exchanges[0]!.nonce, 'the retry carries the nonce of the refusal');
    assert.equal(exchanges[3]!.proofNonce, exchanges[2]!.nonce, 'later proofs carry the nonce of the last answer');
    // A token request without a proof gets a bearer token and no nonce.
    const bearer = await tokenRequest(ts, client);
    assert.equal(bearer.status, 200);
    assert.equal(bearer.json.token_type, 'Bearer');
    assert.equal(bearer.nonce, null);
  });

  it('an API that asks for nonces answers each proven call with DPoP-Nonce; openid-client retries once', async () => {
    const client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const config = await oidc.discovery(new URL(ts.url), client.clientId, client.secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const handle = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'zaken.lezen' }, { DPoP: handle });
    const verifier = createVerifier({
      issuer: ts.url,
      audience: 'ZGW_APIs',
      dpop: { nonces: new DpopNonces(crypto.randomBytes(32)) },
    });
    const apis = [await fastifyApi(verifier), await middlewareApi(verifier)];
    try {
      for (const api of apis) {
        const exchanges: Array<{ status: number; nonce: string | null; proofNonce: unknown }> = [];
        config[oidc.customFetch] = async (url, options) => {
          const res = await fetch(url, options as RequestInit);
          const proof = new Headers(options.headers as HeadersInit).get('dpop');
          if (url.startsWith(api.url))
            exchanges.push({
              status: res.status,
              nonce: res.headers.get('dpop-nonce'),
              proofNonce: proof ? decodePart(proof, 1).nonce : undefined,
            });
          return res;
        };
        for (let i = 0; i < 2; i++) {
          const res = await oidc.fetchProtectedResource(
            config,
            tokens.access_token,
            new URL(api.url),
            'GET',
            undefined,
            undefined,
            { DPoP: handle },
          );
          assert.equal(res.status, 200, await res.clone().text());
        }
        // The API's nonce is its own, not the token server's: refused once, then two calls with it.
        assert.deepEqual(
          exchanges.map((e) => e.status),
          [401, 200, 200],
        );
        assert.equal(api.refusals.at(-1), 'use_dpop_nonce');
        const nonce = verifier.sender.dpop.currentNonce();
        assert.deepEqual(
          exchanges.map((e) => e.nonce),
          [nonce, nonce, nonce],
        );
        assert.deepEqual(
          exchanges.map((e) => e.proofNonce),
          [undefined, nonce, nonce],
        );
        // A bearer token call is answered without one.
        const bearer = await fetch(api.url, {
          headers: { authorization: `Bearer ${await ts.token(client.clientId, client.secret, 'zaken.lezen')}` },
        });
        assert.equal(bearer.status, 200);
        assert.equal(bearer.headers.get('dpop-nonce'), null);
      }
    } finally {
      for (const api of apis) await api.close();
    }
  });

  it('nonces rotate on a schedule every server of the registry shares: one lifetime fresh, then refused', async () => {
    const clock = new Clock();
    const a = await startTestServer({ clock, env: { ZGW_AUTH_DPOP_NONCE: 'true' } });
    const b = await startTestServer({
      clock,
      dataDir: a.config.dataDir,
      masterKey: a.config.masterKey,
      env: { ZGW_AUTH_DPOP_NONCE: 'true', ZGW_AUTH_ISSUER: a.url },
    });
    try {
      const client = await a.createClient({ allowedScopes: ['zaken.lezen'] });
      const key = nodeKey();
      // Proofs made at the servers' clock, which the test moves.
      const proof = (nonce?: string) =>
        key.proof({
          jti: crypto.randomUUID(),
          htm: 'POST',
          htu: `${a.url}/token`,
          iat: Math.floor(clock.now() / 1000),
          ...(nonce ? { nonce } : {}),
        });
      const first = await tokenRequest(a, client, proof());
      assert.equal(first.json.error, 'use_dpop_nonce');
      const nonce = first.nonce!;
      const atA = await tokenRequest(a, client, proof(nonce));
      const atB = await tokenRequest(b, client, proof(nonce));
      assert.deepEqual([atA.status, atB.status], [200, 200], "one server's nonce holds at the other");
      assert.deepEqual([atA.nonce, atB.nonce], [nonce, nonce], 'both hand out the same nonce');
      // One lifetime (300 s) on: the old nonce still holds, and the answer brings the new one.
      clock.advance(300);
      const later = await tokenRequest(b, client, proof(nonce));
      assert.equal(later.status, 200, JSON.stringify(later.json));
      assert.notEqual(later.nonce, nonce);
      assert.match(later.nonce ?? '', /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
      // Two lifetimes on: the first nonce is stale, the one from the last answer is not.
      clock.advance(300);
      const stale = await tokenRequest(a, client, proof(nonce));
      assert.equal(stale.status, 400);
      assert.equal(stale.json.error, 'use_dpop_nonce');
      assert.equal(stale.nonce, (await tokenRequest(b, client, proof(later.nonce!))).nonce);
      assert.equal((await tokenRequest(a, client, proof(later.nonce!))).status, 200);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('DPoP proofs at two servers sharing one PostgreSQL registry', () => {
  let a: TestServer;
  let b: TestServer;
  const issuer = 'https://auth.zgw.test';
  before(async () => {
    a = await startTestServer({ dialect: 'postgres', clock: realClock(), env: { ZGW_AUTH_ISSUER: issuer } });
    b = await startTestServer({
      databaseUrl: a.config.databaseUrl!,
      masterKey: a.config.masterKey,
      clock: realClock(),
      env: { ZGW_AUTH_ISSUER: issuer },
    });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('a proof spent at one server is refused at the other; sent to both at once, one token', async () => {
    const client = await a.createClient({ allowedScopes: ['zaken.lezen'] });
    const key = nodeKey();
    const proof = () => key.proof(proofClaims('POST', `${issuer}/token`));
    const spent = proof();
    assert.equal((await tokenRequest(a, client, spent)).status, 200);
    const replayed = await tokenRequest(b, client, spent);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.json.error, 'invalid_dpop_proof');
    assert.match(replayed.json.error_description!, /used before/);
    // Each proof to both servers in the same moment, many at once (so that each server's uses share statements).
    const proofs = Array.from({ length: 20 }, proof);
    const answers = await Promise.all(proofs.flatMap((p) => [tokenRequest(a, client, p), tokenRequest(b, client, p)]));
    for (let i = 0; i < proofs.length; i++) {
      const statuses = [answers[2 * i]!.status, answers[2 * i + 1]!.status].sort();
      assert.deepEqual(statuses, [200, 400], `proof ${i}: accepted once`);
    }
  });
});

describe('certificate-bound tokens at the API (RFC 8705)', () => {
  let ts: TestServer;
  let token: string;
  const tls = { key: fixture('server.key'), cert: fixture('server.crt'), requestCert: true, rejectUnauthorized: false };

  before(async () => {
    ts = await startTestServer({ clock: realClock() });
    const { clientId } = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    // Issued bound to client A's certificate, as /token will for a client that authenticates with it.
    const client = await ts.app.clients.get(clientId);
    token = (await ts.app.issuer.issue(client, ['zaken.lezen'], { 'x5t#S256': x5t(fixture('client-a.crt')) }))
      .accessToken;
  });
  after(async () => ts?.close());

  function callOverTls(url: string, cert?: string): Promise<{ status: number; challenge: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          ca: fixture('server.crt'),
          ...(cert ? { cert: fixture(`${cert}.crt`), key: fixture(`${cert}.key`) } : {}),
          headers: { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode!, challenge: String(res.headers['www-authenticate'] ?? '') }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it("over mutual TLS: the peer certificate must be the token's; another peer's or none is refused", async () => {
    const verifier = createVerifier({ issuer: ts.url, audience: 'ZGW_APIs' });
    const api = await middlewareApi(verifier, {}, tls);
    try {
      assert.equal((await callOverTls(api.url, 'client-a')).status, 200);
      const other = await callOverTls(api.url, 'client-b');
      assert.equal(other.status, 401);
      assert.match(other.challenge, /^Bearer realm="zgw", error="invalid_token"/);
      assert.equal(api.refusals.at(-1), 'certificate_mismatch');
      assert.equal((await callOverTls(api.url)).status, 401);
      assert.equal(api.refusals.at(-1), 'certificate_missing');
    } finally {
      await api.close();
    }
  });

  it("behind a proxy: its certificate header counts from the proxy's address only; a forged one is ignored", async () => {
    const verifier = createVerifier({ issuer: ts.url, audience: 'ZGW_APIs' });
    const rfc9440 = (name: string) => `:${derOf(fixture(name)).toString('base64')}:`;
    const nginx = (name: string) => encodeURIComponent(fixture(name).toString());
    const behind = await fastifyApi(verifier, {
      certificateHeader: { name: 'client-cert', format: 'rfc9440', trustedProxies: ['127.0.0.1/32'] },
    });
    const nginxBehind = await middlewareApi(verifier, {
      certificateHeader: { name: 'X-SSL-Client-Cert', format: 'nginx-escaped-pem', trustedProxies: ['127.0.0.1'] },
    });
    const elsewhere = await fastifyApi(verifier, {
      certificateHeader: { name: 'client-cert', format: 'rfc9440', trustedProxies: ['10.9.9.9'] },
    });
    const bearer = { authorization: `Bearer ${token}` };
    try {
      assert.equal((await get(behind.url, { ...bearer, 'client-cert': rfc9440('client-a.crt') })).status, 200);
      assert.equal((await get(behind.url, { ...bearer, 'client-cert': rfc9440('client-b.crt') })).status, 401);
      assert.equal(behind.refusals.at(-1), 'certificate_mismatch');
      assert.equal((await get(behind.url, { ...bearer, 'client-cert': ':not base64!:' })).status, 401);
      assert.equal(behind.refusals.at(-1), 'certificate_missing');
      assert.equal((await get(nginxBehind.url, { ...bearer, 'x-ssl-client-cert': nginx('client-a.crt') })).status, 200);
      assert.equal((await get(nginxBehind.url, { ...bearer, 'x-ssl-client-cert': nginx('client-b.crt') })).status, 401);
      // The caller is not the proxy: its header is its own writing.
      const forged = await get(elsewhere.url, { ...bearer, 'client-cert': rfc9440('client-a.crt') });
      assert.equal(forged.status, 401);
      assert.equal(elsewhere.refusals.at(-1), 'certificate_missing');
    } finally {
      await Promise.all([behind.close(), nginxBehind.close(), elsewhere.close()]);
    }
  });
});

describe('certificate-bound tokens from zgw-auth over mutual TLS (RFC 8705)', () => {
  let pki: TestPki;
  let ts: TestServer;
  const apiTls = {
    key: fixture('server.key'),
    cert: fixture('server.crt'),
    requestCert: true,
    rejectUnauthorized: false,
  };

  before(async () => {
    pki = makeTestPki();
    ts = await startTestServer({
      clock: realClock(),
      env: {
        ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
        ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
        ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
        ZGW_AUTH_TLS_CLIENT_CERT: 'optional',
      },
    });
  });
  after(async () => {
    await ts?.close();
    pki?.remove();
  });

  function apiCall(url: string, token: string, who: 'client' | 'clientRsa'): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          ca: fixture('server.crt'),
          cert: pki.certs[who].chainPem,
          key: pki.certs[who].keyPem,
          headers: { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('a client registered for bound tokens gets cnf x5t#S256 of its certificate; an API refuses the token from another peer', async () => {
    const { clientId } = await ts.createClient({
      allowedScopes: ['zaken.lezen'],
      authMethods: ['tls_client_auth'],
      oin: OIN,
      tlsClientCertificateBoundAccessTokens: true,
    });
    const res = await httpsPostForm(
      `${ts.url}/token`,
      { cert: pki.certs.client.chainPem, key: pki.certs.client.keyPem, ca: pki.rootPem },
      { grant_type: 'client_credentials', client_id: clientId },
    );
    assert.equal(res.status, 200, res.text);
    const answer = res.json as { access_token: string; token_type: string };
    assert.equal(answer.token_type, 'Bearer', 'RFC 8705 tokens keep the Bearer type');
    const thumbprint = crypto.createHash('sha256').update(pki.certs.client.der).digest('base64url');
    assert.deepEqual(decodePart(answer.access_token, 1).cnf, { 'x5t#S256': thumbprint });

    const verifier = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs' });
    const api = await middlewareApi(verifier, {}, apiTls);
    try {
      assert.equal(await apiCall(api.url, answer.access_token, 'client'), 200);
      assert.equal(await apiCall(api.url, answer.access_token, 'clientRsa'), 401);
      assert.equal(api.refusals.at(-1), 'certificate_mismatch');
    } finally {
      await api.close();
    }
  });

  it('a client registered for bound tokens that authenticates with a secret gets invalid_request', async () => {
    const secretClient = await ts.createClient({
      allowedScopes: ['zaken.lezen'],
      tlsClientCertificateBoundAccessTokens: true,
    });
    const res = await httpsPostForm(
      `${ts.url}/token`,
      { ca: pki.rootPem },
      { grant_type: 'client_credentials', client_id: secretClient.clientId, client_secret: secretClient.secret },
    );
    assert.equal(res.status, 400, res.text);
    assert.equal((res.json as { error: string }).error, 'invalid_request');
    // Clients not registered for it keep unbound tokens, certificate or not.
    const plain = await ts.createClient({ allowedScopes: ['zaken.lezen'], authMethods: ['tls_client_auth'], oin: OIN });
    const unbound = await httpsPostForm(
      `${ts.url}/token`,
      { cert: pki.certs.client.chainPem, key: pki.certs.client.keyPem, ca: pki.rootPem },
      { grant_type: 'client_credentials', client_id: plain.clientId },
    );
    assert.equal(unbound.status, 200, unbound.text);
    assert.equal(decodePart((unbound.json as { access_token: string }).access_token, 1).cnf, undefined);
  });
});
