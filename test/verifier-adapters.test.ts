import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  type ClientRecord,
  createVerifier,
  MAX_TOKEN_LENGTH,
  type Principal,
  requireToken,
  TokenError,
  type Verifier,
  zgwAuthFastify,
} from '@zgw-auth/verifier';
import { base64urlJson } from '@zgw-auth/verifier/testing';
import Fastify from 'fastify';
import fc from 'fast-check';
import { FAILURE_FLOOR_MS } from '../src/http/failure-floor.js';
import { registryResolver } from '../src/tokens/server-verifier.js';
import { type HttpResult, hs256, postForm, request, startTestServer, type TestServer } from './helpers.js';

/**
 * The library's adapters as a ZGW API uses them, on real HTTP servers: Connect/Express-style
 * middleware on node:http and the Fastify plugin, both guarding a route with a scope.
 */
interface Guarded {
  urls: { middleware: string; fastify: string };
  refusals: TokenError[];
  close(): Promise<void>;
}

async function guardedApis(verifier: Verifier, scopes: string[]): Promise<Guarded> {
  const refusals: TokenError[] = [];
  const onRefusal = (err: TokenError) => void refusals.push(err);
  const guard = requireToken(verifier, { scopes, onRefusal });
  const plain = http.createServer((req, res) =>
    guard(req as http.IncomingMessage & { principal?: Principal }, res, () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    ),
  );
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const fastify = Fastify();
  await fastify.register(async (scope) => {
    await scope.register(zgwAuthFastify, { verifier, scopes, problemJson: true, onRefusal });
    scope.get('/zaken', async () => ({ ok: true }));
  });
  const fastifyUrl = await fastify.listen({ host: '127.0.0.1', port: 0 });
  return {
    urls: {
      middleware: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/zaken`,
      fastify: `${fastifyUrl}/zaken`,
    },
    refusals,
    async close() {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
      await fastify.close();
    },
  };
}

/** Sends raw bytes as the Authorization header value, bypassing node:http's header checks. */
function rawRequest(url: string, authorization: Buffer): Promise<{ status: number; head: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), head: text.split('\r\n\r\n')[0]! });
    });
    socket.end(
      Buffer.concat([
        Buffer.from('GET /zaken HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '),
        authorization,
        Buffer.from('\r\n\r\n'),
      ]),
    );
  });
}

const answerOf = (r: HttpResult) => ({ status: r.status, body: r.text, challenge: r.headers['www-authenticate'] });

describe('verifier adapters', () => {
  let ts: TestServer;
  let verifier: Verifier;
  let apis: Guarded;
  let signer: { clientId: string; secret: string };
  let disabled: { clientId: string; secret: string };
  let plainClient: { clientId: string; secret: string };
  const nowS = () => Math.floor(ts.clock.now() / 1000);

  before(async () => {
    ts = await startTestServer();
    signer = await ts.createClient({ selfSignedAllowed: true, allowedScopes: ['zaken.lezen'] });
    disabled = await ts.createClient({ selfSignedAllowed: true, allowedScopes: ['zaken.lezen'] });
    await ts.app.clients.update(disabled.clientId, { enabled: false }, { id: 'test' });
    plainClient = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    verifier = createVerifier({
      issuer: ts.url,
      keys: ts.app.keys,
      clients: registryResolver(ts.app.authenticator),
      now: ts.clock.now,
      cache: false,
    });
    apis = await guardedApis(verifier, ['zaken.lezen']);
  });
  after(async () => {
    await apis.close();
    await ts.close();
  });

  it('before the signature proves the caller, every refusal looks the same; the hook gets the reason', async () => {
    const claims = (clientId: string) => ({ client_id: clientId, iat: nowS() });
    const anonymous: Array<[string, string]> = [
      ['unknown_client', hs256(claims('no-such-client'), 'whatever')],
      ['bad_signature', hs256(claims(disabled.clientId), 'not-its-secret')],
      ['self_signed_not_allowed', hs256(claims(plainClient.clientId), plainClient.secret)],
      ['bad_signature', hs256(claims(signer.clientId), 'not-its-secret')],
      ['malformed', 'not-a-token'],
      ['alg_not_allowed', `${base64urlJson({ alg: 'none' })}.${base64urlJson(claims(signer.clientId))}.`],
    ];
    for (const [name, url] of Object.entries(apis.urls)) {
      apis.refusals.length = 0;
      const answers = await Promise.all(
        anonymous.map(([, token]) => request(url, { headers: { authorization: `Bearer ${token}` } })),
      );
      for (const a of answers) assert.deepEqual(answerOf(a), answerOf(answers[0]!), `${name}: ${a.text}`);
      assert.equal(answers[0]!.status, 401);
      assert.match(String(answers[0]!.headers['www-authenticate']), /error="invalid_token"/);
      assert.deepEqual(
        apis.refusals.map((e) => e.code),
        anonymous.map(([code]) => code),
        `${name}: the hook sees the precise reason`,
      );
    }
    const admin = await Promise.all(
      anonymous.map(([, token]) =>
        request(`${ts.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } }),
      ),
    );
    for (const a of admin) assert.deepEqual({ ...answerOf(a) }, answerOf(admin[0]!), `/admin: ${a.text}`);
    assert.ok(
      ts.logs.some((l) => l.includes('"refused":"self_signed_not_allowed"')),
      'the reason is in the log',
    );
  });

  it('after the signature proves the caller, the reason is told, in fixed words', async () => {
    const cases: Array<[string, string]> = [
      ['expired', hs256({ client_id: signer.clientId, iat: nowS() - 7200, exp: nowS() - 3600 }, signer.secret)],
      ['client_disabled', hs256({ client_id: disabled.clientId, iat: nowS() }, disabled.secret)],
      ['rsin_mismatch', hs256({ client_id: signer.clientId, iat: nowS(), rsin: '123456782\u0100' }, signer.secret)],
    ];
    for (const url of Object.values(apis.urls)) {
      for (const [code, token] of cases) {
        const res = await request(url, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 401);
        assert.equal(res.json.code, code);
        assert.doesNotMatch(String(res.headers['www-authenticate']), /123456782/, 'no token content in the header');
      }
      const narrow = await guardedApis(verifier, ['zaken.verwijderen']);
      try {
        const res = await request(Object.values(narrow.urls)[0]!, {
          headers: {
            authorization: `Bearer ${hs256({ client_id: signer.clientId, iat: nowS(), scope: 'zaken.verwijderen' }, signer.secret)}`,
          },
        });
        assert.equal(res.status, 403, "the token's own scope claim grants nothing");
        assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
      } finally {
        await narrow.close();
      }
    }
  });

  it('token content that no header may hold (Latin-1 and beyond, control characters) never crashes an API', async () => {
    const headers = [
      { alg: '\u0100' },
      { alg: 'HS256\u0000' },
      { alg: 'a\r\nSet-Cookie: x=1' },
      { alg: '🔑', kid: '\u2028' },
      { alg: 'RS256', typ: 'at+jwt', kid: '\u0100' },
    ];
    for (const header of headers) {
      const token = hs256({ client_id: signer.clientId, iat: nowS() }, signer.secret, header);
      for (const url of [...Object.values(apis.urls), `${ts.url}/admin/clients`]) {
        const res = await request(url, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 401, `${url}: ${res.text}`);
        assert.doesNotMatch(JSON.stringify(res.headers), /Set-Cookie|\\u0100|🔑/i);
      }
    }
    for (const url of Object.values(apis.urls)) {
      for (const bytes of [
        Buffer.from([0xc4, 0x80]),
        Buffer.from('x\u0000y', 'latin1'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('a.b.c\u00e9', 'latin1'),
      ]) {
        const res = await rawRequest(url, bytes);
        assert.ok([400, 401].includes(res.status), `${url}: ${res.head}`);
      }
      const ok = await request(url, {
        headers: { authorization: `Bearer ${hs256({ client_id: signer.clientId, iat: nowS() }, signer.secret)}` },
      });
      assert.equal(ok.status, 200, 'the API is still serving');
    }
  });

  it('fuzzing: arbitrary Unicode in every header field and claim, through both adapters', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.constantFrom('HS256', 'RS256', 'at+jwt', signer.clientId, '\u0000', '\r\n', '\u0100'),
    );
    const value = fc.oneof(text, fc.integer(), fc.double(), fc.constant(null), fc.array(text, { maxLength: 3 }));
    const header = fc.record(
      { alg: fc.oneof(fc.constant('HS256'), value), typ: value, kid: value, crit: fc.constant(undefined) },
      { requiredKeys: ['alg'] },
    );
    const claims = fc.record(
      {
        client_id: fc.oneof(fc.constant(signer.clientId), value),
        iat: fc.oneof(fc.constant(nowS()), value),
        exp: value,
        rsin: value,
        scope: value,
        sub: value,
        user_id: value,
        extra: value,
      },
      { requiredKeys: [] },
    );
    const secret = fc.constantFrom(signer.secret, 'wrong-secret');
    await fc.assert(
      fc.asyncProperty(header, claims, secret, fc.constantFrom(...Object.values(apis.urls)), async (h, c, s, url) => {
        const res = await request(url, { headers: { authorization: `Bearer ${hs256(c, s, h)}` } });
        assert.ok([200, 401, 403].includes(res.status), `${res.status} ${res.text}`);
        if (res.status !== 200) {
          assert.ok(res.headers['www-authenticate'], 'an RFC 6750 challenge');
          assert.equal(typeof JSON.parse(res.text).code, 'string');
        }
      }),
      { seed: 20261128, numRuns: 400 },
    );
    for (const url of Object.values(apis.urls)) assert.equal((await request(url)).status, 401, 'still serving');
  });

  it('remembers only fully accepted tokens, and refuses an oversized token before any work', async () => {
    let lookups = 0;
    const record: ClientRecord = {
      clientId: 'c',
      rsin: '000000000',
      enabled: true,
      selfSignedAllowed: true,
      secrets: ['s3cret-s3cret'],
      scopes: ['zaken.lezen'],
    };
    const cached = createVerifier({ clients: (id) => (lookups++, id === 'c' ? record : undefined), now: ts.clock.now });
    const token = hs256({ client_id: 'c', iat: nowS() }, 's3cret-s3cret');
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        cached.verify(token, ['zaken.verwijderen']),
        (e: TokenError) => e.code === 'insufficient_scope',
      );
    assert.equal(lookups, 3, 'a token refused for its scope is not remembered');
    await cached.verify(token, ['zaken.lezen']);
    await cached.verify(token, ['zaken.lezen']);
    assert.equal(lookups, 4, 'an accepted token is');
    await assert.rejects(
      cached.verify(token, ['zaken.verwijderen']),
      (e: TokenError) => e.code === 'insufficient_scope',
      'a remembered token still has its scopes checked',
    );
    const huge = hs256({ client_id: 'c', iat: nowS(), pad: 'x'.repeat(MAX_TOKEN_LENGTH) }, 's3cret-s3cret');
    await assert.rejects(cached.verify(huge), (e: TokenError) => e.code === 'token_too_large');
    assert.equal(lookups, 4, 'no lookup for an oversized token');
  });

  it('2,000 large refused tokens at /admin leave the heap as it was', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const pad = 'p'.repeat(5600);
    const heap = () => (gc(), gc(), v8.getHeapStatistics().used_heap_size);
    const before = heap();
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => {
          const token = hs256({ client_id: signer.clientId, iat: nowS(), jti: `g-${i + j}`, pad }, signer.secret);
          return request(`${ts.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } }).then((r) =>
            assert.equal(r.status, 403),
          );
        }),
      );
    }
    const grown = (heap() - before) / 1024 / 1024;
    assert.ok(grown < 12, `heap grew by ${grown.toFixed(1)} MB`);
  });

  it('a failed authentication is answered no sooner than the floor, whichever way it failed', async () => {
    const cases: Array<() => Promise<HttpResult>> = [
      () =>
        postForm(
          `${ts.url}/token`,
          { grant_type: 'client_credentials', client_id: signer.clientId, client_secret: 'wrong' },
          {},
          '127.0.0.31',
        ),
      () =>
        postForm(
          `${ts.url}/token`,
          { grant_type: 'client_credentials', client_id: 'no-such-client', client_secret: 'wrong' },
          {},
          '127.0.0.32',
        ),
      () =>
        request(`${ts.url}/admin/clients`, {
          headers: { authorization: `Bearer ${hs256({ client_id: 'no-such-client', iat: nowS() }, 'x')}` },
        }),
      () =>
        request(`${ts.url}/admin/clients`, {
          headers: { authorization: `Bearer ${hs256({ client_id: signer.clientId, iat: nowS() }, 'x')}` },
        }),
    ];
    for (const run of cases) {
      const started = performance.now();
      const res = await run();
      assert.equal(res.status, 401);
      assert.ok(
        performance.now() - started >= FAILURE_FLOOR_MS,
        `answered after ${(performance.now() - started).toFixed(1)} ms`,
      );
    }
  });
});
