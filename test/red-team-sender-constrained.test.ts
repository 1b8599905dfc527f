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
  MemoryReplayCache,
  normaliseHtu,
  type Principal,
  requireToken,
  ReplayCacheFull,
} from '@zgw-auth/verifier';
import { hs256, signJws } from '@zgw-auth/verifier/testing';
import { Clock, startTestServer, type TestServer } from './helpers.js';
import { makeTestPki, type TestPki } from './pki/test-pki.js';

/**
 * Red-team findings on sender-constrained tokens: each test describes an attack or a production
 * condition that the implementation does not handle yet, and fails until it does.
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

describe('red team: DPoP at an API built with the verifier', () => {
  let ts: TestServer;
  let client: { clientId: string; secret: string };

  before(async () => {
    ts = await startTestServer({ clock: realClock() });
    client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
  });
  after(async () => ts?.close());

  it('a proof made for another API is refused even when the caller sends that API as Host (default options)', async () => {
    // Two Zaken APIs accept the same tokens (aud ZGW_APIs). API B is malicious or compromised: it
    // receives the client's token and a proof for https://zaken-b.example/zaken/api/v1/zaken, and
    // forwards both to API A, naming B in the Host header. API A uses requireToken as the verifier's
    // README shows for an API that terminates TLS itself (no publicOrigin, which is optional): it
    // derives the URL the proof must name from the Host header the attacker wrote, so B's proof fits.
    const proof = dpopKey();
    const token = await tokenWithProof(ts, client, proof(proofClaims('POST', `${ts.url}/token`)));
    const verifier = createVerifier({ issuer: ts.url, keys: ts.app.keys, audience: 'ZGW_APIs' });
    const refusals: string[] = [];
    let guard: ReturnType<typeof requireToken>;
    try {
      guard = requireToken(verifier, { scopes: ['zaken.lezen'], onRefusal: (err) => void refusals.push(err.code) });
    } catch {
      return; // A fix that makes the API's own origin mandatory refuses this set-up outright: also safe.
    }
    const server = https.createServer(
      { key: fixture('server.key'), cert: fixture('server.crt') },
      (req: http.IncomingMessage & { principal?: Principal }, res) => guard(req, res, () => res.writeHead(200).end()),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const stolenProof = proof(
        proofClaims('GET', 'https://zaken-b.example/zaken/api/v1/zaken', { ath: accessTokenHash(token) }),
      );
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/zaken/api/v1/zaken',
            headers: { host: 'zaken-b.example', authorization: `DPoP ${token}`, dpop: stolenProof },
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
      });
      assert.equal(status, 401, "API A accepted a proof made for API B's URL: the Host header decided its origin");
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('the memory replay cache does not refuse proofs while it holds fewer live ones than its size', () => {
    // One proof a second, each remembered 65 s (the default window and leeway): at most 66 are live
    // at any time, well under a cache of 100. The cache counts expired proofs of the previous
    // generation too, and so is "full" with about 66 live ones: a busy API process with the default
    // cache of 100,000 answers 503 replay_cache_full from about 770 DPoP requests a second on.
    let t = 0;
    const cache = new MemoryReplayCache(100, () => t);
    const refusedAt: number[] = [];
    for (let second = 0; second < 400; second++) {
      t = second * 1000;
      try {
        assert.equal(cache.useOnce('dpop', `proof-${second}`, t + 65_000 + 1), true);
      } catch (err) {
        if (!(err instanceof ReplayCacheFull)) throw err;
        refusedAt.push(second);
      }
    }
    assert.deepEqual(refusedAt, [], `refused as full at seconds ${refusedAt.slice(0, 5).join(', ')}, ...`);
  });

  it('htu comparison applies percent-encoding normalisation (RFC 3986 §6.2.2.1, §6.2.2.2)', () => {
    // RFC 9449 §4.3: servers SHOULD use syntax-based normalisation; a client library that encodes
    // a path differently from the HTTP stack is otherwise refused for a request it did make.
    assert.equal(normaliseHtu('https://api.example/zaken/%7Ejan'), normaliseHtu('https://api.example/zaken/~jan'));
    assert.equal(normaliseHtu('https://api.example/zaken/%61'), normaliseHtu('https://api.example/zaken/a'));
    assert.equal(normaliseHtu('https://api.example/a%2fb'), normaliseHtu('https://api.example/a%2Fb'));
    // Reserved characters stay encoded: /a%2Fb is not /a/b.
    assert.notEqual(normaliseHtu('https://api.example/a%2Fb'), normaliseHtu('https://api.example/a/b'));
  });
});

describe('red team: a client registered for bound tokens never holds a bearer token', () => {
  let ts: TestServer;
  let introspector: { clientId: string; secret: string };

  before(async () => {
    ts = await startTestServer({ clock: realClock() });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
  });
  after(async () => ts?.close());

  for (const flag of ['dpopBoundAccessTokens', 'tlsClientCertificateBoundAccessTokens'] as const) {
    it(`${flag} and selfSignedAllowed: the client's self-signed HS256 (bearer) token is not active`, async () => {
      let client: { clientId: string; secret: string };
      try {
        client = await ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true, [flag]: true });
      } catch {
        // A registry that refuses the combination is a fix too; then check the later switch-on.
        client = await ts.createClient({ allowedScopes: ['zaken.lezen'], selfSignedAllowed: true });
        try {
          await ts.app.clients.update(client.clientId, { [flag]: true }, { id: 'test' });
        } catch {
          return;
        }
      }
      const now = Math.floor(Date.now() / 1000);
      const selfSigned = hs256({ iss: client.clientId, client_id: client.clientId, iat: now }, client.secret);
      const answer = await introspect(ts, introspector, selfSigned);
      assert.equal(
        answer.active,
        false,
        `a client that may only get bound tokens holds an active bearer token: ${JSON.stringify(answer)}`,
      );
    });
  }
});

describe('red team: discovery announces certificate-bound tokens (RFC 8705 §3.3)', () => {
  let pki: TestPki;
  let ts: TestServer;

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
  });
});
