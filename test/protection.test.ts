import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { postForm, startTestServer, type TestServer } from './helpers.js';
import { BoundedCache } from '@zgw-auth/verifier/internal';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

describe('failed client authentication back-off', () => {
  let ts: TestServer;
  let client: { clientId: string; secret: string };
  before(async () => {
    ts = await startTestServer({
      env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '3', ZGW_AUTH_LOCKOUT_BASE_SECONDS: '2' },
    });
    client = await ts.createClient();
  });
  after(() => ts.close());

  const attempt = (secret: string, from: string) =>
    postForm(
      `${ts.url}/token`,
      { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret },
      {},
      from,
    );

  it('answers 429 with Retry-After to a guessing address while another address keeps getting tokens', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await attempt('guess-' + i, '127.0.0.2')).status, 401);
    const blocked = await attempt('guess-x', '127.0.0.2');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.json.error, 'invalid_client');
    assert.equal(blocked.headers['retry-after'], '2');
    // Even the right secret is refused from the blocked address: the limiter answers before checking.
    assert.equal((await attempt(client.secret, '127.0.0.2')).status, 429);
    assert.equal(
      (await attempt(client.secret, '127.0.0.3')).status,
      200,
      'legitimate client elsewhere is not locked out',
    );
  });

  it('doubles the back-off with each further failure and releases after it', async () => {
    ts.clock.advance(3);
    assert.equal((await attempt('again', '127.0.0.2')).status, 401);
    const blocked = await attempt('again', '127.0.0.2');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers['retry-after'], '4');
    ts.clock.advance(5);
    assert.equal((await attempt(client.secret, '127.0.0.2')).status, 200);
  });

  it('records failed authentications in the audit trail, repeats as one event with a count', async () => {
    const events = await ts.app.audit.list({ action: 'client_auth.failed', target: client.clientId });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.address, '127.0.0.2');
    assert.equal(events[0]!.reason, 'wrong_secret');
    assert.equal(events[0]!.details.count, 4, 'the four checked guesses; refused ones (429) are not checked');
  });
});

describe('disabling a client or revoking its last secret', () => {
  it('stops token issuance immediately', async () => {
    const ts = await startTestServer({ env: FAST_KEYS });
    try {
      const c = await ts.createClient();
      const ok = () =>
        postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: c.clientId,
          client_secret: c.secret,
        });
      assert.equal((await ok()).status, 200);
      await ts.app.clients.update(c.clientId, { enabled: false }, { id: 'test' });
      assert.equal((await ok()).status, 401);
      await ts.app.clients.update(c.clientId, { enabled: true }, { id: 'test' });
      assert.equal((await ok()).status, 200);
      const [secret] = await ts.app.clients.listSecrets(c.clientId);
      await ts.app.clients.revokeSecret(c.clientId, secret!.secretId, { id: 'test' });
      assert.equal((await ok()).status, 401);
    } finally {
      await ts.close();
    }
  });
});

describe('audit retention', () => {
  it('prunes events older than the retention period and keeps newer ones', async () => {
    const ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_AUDIT_RETENTION_DAYS: '30' } });
    try {
      await ts.createClient({ clientId: 'old-news' });
      ts.clock.advance(31 * 86_400);
      await ts.createClient({ clientId: 'fresh' });
      assert.ok((await ts.app.audit.prune(ts.config.auditRetentionDays)) >= 1);
      const targets = (await ts.app.audit.list({ limit: 1000 })).map((e) => e.target);
      assert.ok(!targets.includes('old-news'));
      assert.ok(targets.includes('fresh'));
    } finally {
      await ts.close();
    }
  });
});

describe('introspection and revocation request limit', () => {
  it('answers 429 with Retry-After once one address exceeds its requests per second, while another address is served', async () => {
    const ts = await startTestServer({
      env: { ...FAST_KEYS, ZGW_AUTH_INTROSPECTION_ANONYMOUS: 'true', ZGW_AUTH_INTROSPECTION_RATE_LIMIT: '5' },
    });
    try {
      const introspect = (from: string) => postForm(`${ts.url}/introspect`, { token: 'not-a-token' }, {}, from);
      const answers = await Promise.all(Array.from({ length: 8 }, () => introspect('127.0.0.4')));
      const limited = answers.filter((r) => r.status === 429);
      assert.ok(limited.length >= 3, `expected at least 3 of 8 refused, got ${limited.length}`);
      assert.equal(limited[0]!.json.error, 'temporarily_unavailable');
      assert.match(limited[0]!.headers['retry-after'] as string, /^[12]$/);
      assert.ok(answers.filter((r) => r.status === 200).every((r) => r.json.active === false));
      assert.equal((await introspect('127.0.0.5')).status, 200, 'another address is not limited');
      const revoke = await postForm(`${ts.url}/revoke`, { token: 'x' }, {}, '127.0.0.4');
      assert.equal(revoke.status, 429, '/revoke shares the per-address limit');
    } finally {
      await ts.close();
    }
  });
});

describe('BoundedCache (results, clients, back-off entries)', () => {
  it('holds at most its bound, keeps the newest and keeps an entry that is in use', () => {
    const cache = new BoundedCache<string, number>(10);
    cache.set('in-use', -1);
    for (let i = 0; i < 1000; i++) {
      cache.set(`k${i}`, i);
      assert.equal(cache.get('in-use'), -1, `read at every step, so never evicted (step ${i})`);
    }
    const kept = Array.from({ length: 1000 }, (_, i) => `k${i}`).filter((k) => cache.get(k) !== undefined);
    assert.ok(kept.length <= 10, `at most 10 entries, found ${kept.length}`);
    assert.ok(kept.includes('k999') && kept.includes('k996'), 'the newest are kept');
    cache.delete('in-use');
    assert.equal(cache.get('in-use'), undefined);
  });
});

describe('slow requests', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_HEADERS_TIMEOUT: '1', ZGW_AUTH_REQUEST_TIMEOUT: '2' } });
  });
  after(() => ts.close());

  /** Opens a connection, sends `head`, then one byte of `trickle` every 200 ms; resolves with what came back and when the server closed. */
  function trickle(head: string, trickleText: string): Promise<{ ms: number; answer: string }> {
    const started = Date.now();
    return new Promise((resolve) => {
      const socket = net.connect(Number(new URL(ts.url).port), '127.0.0.1');
      let answer = '';
      let i = 0;
      const timer = setInterval(() => {
        if (i < trickleText.length && !socket.destroyed) socket.write(trickleText[i++]!);
      }, 200);
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - started, answer });
      });
      socket.write(head);
    });
  }

  it('closes a connection whose body trickles in, after the request timeout', async () => {
    const res = await trickle(
      'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n',
      'grant_type=client_credentials&'.repeat(10),
    );
    assert.ok(res.ms < 5000, `closed after ${res.ms} ms`);
    assert.match(res.answer, /^HTTP\/1\.1 408/);
  });

  it('closes a connection whose headers trickle in, after the headers timeout', async () => {
    const res = await trickle('GET /health/live HTTP/1.1\r\n', 'X-Slow: ' + 'a'.repeat(50));
    assert.ok(res.ms < 4000, `closed after ${res.ms} ms`);
  });
});
