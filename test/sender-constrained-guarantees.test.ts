import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  accessTokenHash,
  createVerifier,
  type GuardOptions,
  type Principal,
  requireToken,
  type Verifier,
  zgwAuthFastify,
} from '@zgw-auth/verifier';
import Fastify from 'fastify';
import { hs256, signJws } from '@zgw-auth/verifier/testing';
import { Clock, decodePart, startTestServer, type TestServer } from './helpers.js';
import { makeTestPki, type TestPki } from './pki/test-pki.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

/**
 * What sender-constrained tokens must guarantee beyond the happy path: an API that does not know its
 * own origin refuses DPoP-bound tokens instead of trusting the caller's Host header; a client
 * registered for bound tokens never holds a bearer token, whatever its row says; discovery tells
 * clients that certificate-bound tokens are issued. Each test describes an attack or a production
 * condition and fails when the guarantee breaks.
 */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/bound-tokens');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));

const realClock = () => {
  const clock = new Clock();
  clock.now = () => Date.now();
  return clock;
};

function dpopKey() {
  const pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  return (claims: Record<string, unknown>) =>
    signJws({ alg: 'ES256', typ: 'dpop+jwt', jwk } as { alg: string }, claims, pair.privateKey);
}

const proofClaims = (htm: string, htu: string, extra: Record<string, unknown> = {}) => ({
  jti: crypto.randomUUID(),
  htm,
  htu,
  iat: Math.floor(Date.now() / 1000),
  ...extra,
});

function basic(client: { clientId: string; secret: string }) {
  return `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
}

async function tokenWithProof(ts: TestServer, client: { clientId: string; secret: string }, dpop: string) {
  const res = await fetch(`${ts.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client), dpop },
    body: 'grant_type=client_credentials&scope=zaken.lezen',
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function introspect(ts: TestServer, caller: { clientId: string; secret: string }, token: string) {
  const res = await fetch(`${ts.url}/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(caller) },
    body: new URLSearchParams({ token }).toString(),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

/** An HTTPS API with `requireToken`, as the verifier's README shows it; calls name any Host header. */
async function httpsApi(verifier: Verifier, options: GuardOptions) {
  const refusals: string[] = [];
  const guard = requireToken(verifier, {
    scopes: ['zaken.lezen'],
    onRefusal: (err) => void refusals.push(err.code),
    ...options,
  });
  const server = https.createServer(
    { key: fixture('server.key'), cert: fixture('server.crt') },
    (req: http.IncomingMessage & { principal?: Principal }, res) => guard(req, res, () => res.writeHead(200).end()),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    refusals,
    call: (host: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/zaken/api/v1/zaken',
            headers: { host, ...headers },
            ca: fixture('server.crt'),
            servername: 'localhost',
            rejectUnauthorized: false,
            agent: false,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.on('error', reject);
        req.end();
      }),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('DPoP at an API built with the verifier: the origin a proof must name', () => {
  let ts: TestServer;
  let client: { clientId: string; secret: string };

  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS, clock: realClock() });
    client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
  });
  after(async () => ts?.close());

  it('a proof made for another API is refused even when the caller sends that API as Host (no publicOrigin)', async () => {
    // Two Zaken APIs accept the same tokens (aud ZGW_APIs). API B is malicious or compromised: it
    // receives the client's token and a proof for https://zaken-b.example/zaken/api/v1/zaken, and
    // forwards both to API A, naming B in the Host header. API A was set up without publicOrigin:
    // were the proof's URL derived from Host, B's proof would fit.
    const proof = dpopKey();
    const token = await tokenWithProof(ts, client, proof(proofClaims('POST', `${ts.url}/token`)));
    assert.ok((decodePart(token, 1).cnf as { jkt?: string }).jkt, 'a DPoP-bound token');
    const verifier = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs' });
    const api = await httpsApi(verifier, {});
    try {
      const stolen = proof(
        proofClaims('GET', 'https://zaken-b.example/zaken/api/v1/zaken', { ath: accessTokenHash(token) }),
      );
      const status = await api.call('zaken-b.example', { authorization: `DPoP ${token}`, dpop: stolen });
      assert.equal(status, 401, "API A accepted a proof made for API B's URL: the Host header decided its origin");
      assert.deepEqual(api.refusals, ['dpop_origin_unknown']);
      // Bearer tokens work as before without publicOrigin.
      assert.equal(
        await api.call('localhost', { authorization: `Bearer ${await ts.token(client.clientId, client.secret)}` }),
        200,
      );
    } finally {
      await api.close();
    }
  });

  it("with publicOrigin (one or a list) a proof for that origin is accepted, one for another API's is not", async () => {
    const proof = dpopKey();
    const token = await tokenWithProof(ts, client, proof(proofClaims('POST', `${ts.url}/token`)));
    const verifier = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs', dpop: {} });
    const api = await httpsApi(verifier, {
      publicOrigin: ['https://zaken-a.example', 'https://zaken.gemeente.example'],
    });
    try {
      const at = (origin: string) =>
        proof(proofClaims('GET', `${origin}/zaken/api/v1/zaken`, { ath: accessTokenHash(token) }));
      const send = (host: string, dpop: string) => api.call(host, { authorization: `DPoP ${token}`, dpop });
      assert.equal(await send('zaken-b.example', at('https://zaken-b.example')), 401);
      assert.deepEqual(api.refusals, ['dpop_wrong_request']);
      assert.equal(await send('zaken-b.example', at('https://zaken-a.example')), 200, 'Host plays no part');
      assert.equal(await send('localhost', at('https://zaken.gemeente.example')), 200, 'the second origin');
    } finally {
      await api.close();
    }
  });

  it('a guard over a verifier with dpop options is not made without publicOrigin; a bearer-only one is', async () => {
    const dpopApi = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs', dpop: { window: 30 } });
    assert.throws(() => requireToken(dpopApi, { scopes: ['zaken.lezen'] }), /publicOrigin is required/);
    const fastify = Fastify();
    await assert.rejects(
      (async () => {
        await fastify.register(zgwAuthFastify, { verifier: dpopApi });
        await fastify.ready();
      })(),
      /publicOrigin is required/,
    );
    await fastify.close().catch(() => undefined);
    for (const publicOrigin of [
      'zaken.example',
      'ftp://zaken.example',
      'https://zaken.example/?x=1',
      'https://u:p@zaken.example',
    ])
      assert.throws(() => requireToken(dpopApi, { publicOrigin }), /is not an http\(s\) origin/, publicOrigin);
    const bearerOnly = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs' });
    assert.equal(typeof requireToken(bearerOnly, { scopes: ['zaken.lezen'] }), 'function');
    assert.equal(typeof requireToken(dpopApi, { publicOrigin: 'https://zaken.example/api' }), 'function');
  });
});

describe('a client registered for bound tokens never holds a bearer token', () => {
  let ts: TestServer;
  let introspector: { clientId: string; secret: string };

  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS, clock: realClock() });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
  });
  after(async () => ts?.close());

  const selfSigned = (client: { clientId: string; secret: string }) =>
    hs256({ iss: client.clientId, client_id: client.clientId, iat: Math.floor(Date.now() / 1000) }, client.secret);

  for (const flag of ['dpopBoundAccessTokens', 'tlsClientCertificateBoundAccessTokens'] as const) {
    it(`${flag} with selfSignedAllowed is refused at create and update, naming the field`, async () => {
      const refused = (field: string) => (err: unknown) => {
        const e = err as { code?: string; field?: string; message: string };
        assert.equal(e.code, 'invalid_input', e.message);
        assert.equal(e.field, field);
        assert.match(e.message, /sender-constrained tokens only.*bearer token/);
        return true;
      };
      await assert.rejects(
        ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true, [flag]: true }),
        refused(flag),
      );
      const signing = await ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true });
      await assert.rejects(ts.app.clients.update(signing.clientId, { [flag]: true }, { id: 'test' }), refused(flag));
      const bound = await ts.createClient({ allowedScopes: ['zaken.lezen'], [flag]: true });
      await assert.rejects(
        ts.app.clients.update(bound.clientId, { selfSignedAllowed: true }, { id: 'test' }),
        refused('selfSignedAllowed'),
      );
      // Turning one off in the same change is allowed.
      const switched = await ts.app.clients.update(
        signing.clientId,
        { [flag]: true, selfSignedAllowed: false },
        { id: 'test' },
      );
      assert.equal(switched.client[flag], true);
      assert.equal(switched.client.selfSignedAllowed, false);
    });

    it(`${flag}: a row that holds both (from before, or imported) has its self-signed token inactive`, async () => {
      const control = await ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true });
      assert.equal((await introspect(ts, introspector, selfSigned(control))).active, true, 'self-signing works');
      const client = await ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true });
      // As a registry import or an older version writes it: the registry's rules never saw it.
      await ts.app.storage.db
        .updateTable('clients')
        .set(
          flag === 'dpopBoundAccessTokens' ? { dpop_bound_access_tokens: 1 } : { certificate_bound_access_tokens: 1 },
        )
        .where('client_id', '=', client.clientId)
        .execute();
      const answer = await introspect(ts, introspector, selfSigned(client));
      assert.equal(
        answer.active,
        false,
        `a client that may only get bound tokens holds an active bearer token: ${JSON.stringify(answer)}`,
      );
      // Such a row can still be changed where the change does not touch the three fields.
      const disabled = await ts.app.clients.update(client.clientId, { enabled: false }, { id: 'test' });
      assert.equal(disabled.client.enabled, false);
    });
  }
});

describe('discovery announces certificate-bound tokens (RFC 8705 §3.3)', () => {
  let pki: TestPki;
  let ts: TestServer;

  before(async () => {
    pki = makeTestPki();
    ts = await startTestServer({
      clock: realClock(),
      env: {
        ...FAST_KEYS,
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

  it('tls_client_certificate_bound_access_tokens is true where zgw-auth issues them', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      https
        .get(`${ts.url}/.well-known/openid-configuration`, { ca: pki.rootPem, agent: false }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    const metadata = JSON.parse(res) as Record<string, unknown>;
    // Omitted means false (RFC 8705 §3.3): clients and FAPI test suites then do not ask for bound tokens.
    assert.equal(metadata.tls_client_certificate_bound_access_tokens, true);
    assert.ok((metadata.claims_supported as string[]).includes('cnf'), 'tokens may carry cnf');
  });

  it('a certificate header from trusted proxies announces it too; without client certificates it is left out', async () => {
    const behindProxy = await startTestServer({
      clock: realClock(),
      env: { ...FAST_KEYS, ZGW_AUTH_CLIENT_CERT_HEADER: 'client-cert', ZGW_AUTH_TRUST_PROXY: '127.0.0.1' },
    });
    const plain = await startTestServer({ env: FAST_KEYS, clock: realClock() });
    try {
      const metadataOf = async (url: string) =>
        (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal((await metadataOf(behindProxy.url)).tls_client_certificate_bound_access_tokens, true);
      const none = await metadataOf(plain.url);
      assert.equal(none.tls_client_certificate_bound_access_tokens, undefined, 'no certificate can reach /token');
      assert.ok((none.claims_supported as string[]).includes('cnf'), 'DPoP-bound tokens carry cnf');
    } finally {
      await Promise.all([behindProxy.close(), plain.close()]);
    }
  });
});
