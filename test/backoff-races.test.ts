import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hs256, startTestServer, type TestServer } from './helpers.js';

/**
 * Guesses sent all at once against one (client id, address) pair, with the counts in Redis: each
 * state read is a round trip, so without a bound every attempt in flight reads a count below the
 * threshold and has its secret checked.
 */
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };
const REDIS_URL = 'redis://127.0.0.1:6379/9';
const THRESHOLD = 3;

/** Requests over connections opened beforehand, so that they reach the server together. */
async function atOnce(
  from: string,
  requests: Array<{ url: string; method: string; headers?: Record<string, string>; body?: string }>,
): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: requests.length, localAddress: from });
  const send = (url: string, method: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    await Promise.all(requests.map((r) => send(new URL('/health', r.url).href, 'GET')));
    return await Promise.all(requests.map((r) => send(r.url, r.method, r.headers, r.body)));
  } finally {
    agent.destroy();
  }
}

const tokenRequest = (ts: TestServer, clientId: string, secret: string) => {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
  return {
    url: `${ts.url}/token`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  };
};

const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

describe('back-off against guesses sent at once (Redis)', () => {
  const masterKey = crypto.randomBytes(32).toString('base64');
  let ts: TestServer;
  let second: TestServer;
  before(async () => {
    const env = {
      ...FAST_KEYS,
      ZGW_AUTH_LOCKOUT_THRESHOLD: String(THRESHOLD),
      // Long: a burst that takes a while on a busy machine must not outlast the back-off it caused
      // (a guess after the back-off ran out is allowed). Its end is brought about in Redis instead.
      ZGW_AUTH_LOCKOUT_BASE_SECONDS: '600',
      REDIS_URL,
    };
    ts = await startTestServer({ env, masterKey });
    second = await startTestServer({ env, masterKey, dataDir: ts.config.dataDir });
  });
  after(async () => {
    await second?.close();
    await ts?.close();
  });

  it('checks no more guesses of one pair than the threshold, however many arrive together', async () => {
    const c = await ts.createClient();
    const statuses = await atOnce(
      '127.0.0.91',
      Array.from({ length: 60 }, (_, i) => tokenRequest(ts, c.clientId, `guess-${i}`)),
    );
    assert.deepEqual(tally(statuses), { 401: THRESHOLD, 429: 60 - THRESHOLD }, 'only the threshold checked');
  });

  it('checks one guess at a time once the back-off has run out', async () => {
    const c = await ts.createClient();
    const from = '127.0.0.92';
    const guesses = (n: number, tag: string) =>
      atOnce(
        from,
        Array.from({ length: n }, (_, i) => tokenRequest(ts, c.clientId, `${tag}-${i}`)),
      );
    assert.deepEqual(tally(await guesses(THRESHOLD, 'a')), { 401: THRESHOLD });
    const block = `zgw-auth:fail:block:pair:${c.clientId}|${from}`;
    assert.equal(await ts.app.redis!.exists(block), 1, 'backed off in Redis');
    // The back-off runs out: its key goes, as at its expiry; the failures stay counted.
    await ts.app.redis!.del(block);
    assert.deepEqual(tally(await guesses(40, 'b')), { 401: 1, 429: 39 }, 'one guess, then backed off again');
  });

  it('gives a working credential sent many times at once a token every time', async () => {
    const c = await ts.createClient();
    const statuses = await atOnce(
      '127.0.0.93',
      Array.from({ length: 40 }, () => tokenRequest(ts, c.clientId, c.secret)),
    );
    assert.deepEqual(tally(statuses), { 200: 40 });
  });

  it('two processes sharing Redis check at most the threshold each', async () => {
    const c = await ts.createClient();
    const statuses = await atOnce(
      '127.0.0.94',
      Array.from({ length: 60 }, (_, i) => tokenRequest(i % 2 ? second : ts, c.clientId, `guess-${i}`)),
    );
    assert.ok(tally(statuses)[401]! <= 2 * THRESHOLD, `at most ${2 * THRESHOLD} checked: ${statuses.join(' ')}`);
  });

  it('checks no more HS256 guesses at /admin than the threshold, however many arrive together', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    const iat = Math.floor(ts.clock.now() / 1000);
    const statuses = await atOnce(
      '127.0.0.95',
      Array.from({ length: 60 }, (_, i) => ({
        url: `${ts.url}/admin/keys`,
        method: 'GET',
        headers: { authorization: `Bearer ${hs256({ client_id: c.clientId, iat }, `guess-${i}`)}` },
      })),
    );
    assert.deepEqual(tally(statuses), { 401: THRESHOLD, 429: 60 - THRESHOLD });
  });
});
