import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { addressGroup } from '../src/limits/address.js';
import { postForm, startTestServer, type TestServer } from './helpers.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

type Cred = { clientId: string; secret: string };
const form = (c: Cred) => ({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret });

describe('ZGW_AUTH_TRUST_PROXY', () => {
  it('takes a hop count or proxy addresses/CIDRs and refuses a bare true, naming the alternatives', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ ZGW_AUTH_TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ ZGW_AUTH_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ ZGW_AUTH_TRUST_PROXY: '10.0.0.5, 10.1.0.0/16,fd00::/8' }).trustProxy, [
      '10.0.0.5',
      '10.1.0.0/16',
      'fd00::/8',
    ]);
    for (const unsafe of ['true', 'TRUE', 'yes', 'on']) {
      assert.throws(
        () => loadConfig({ ZGW_AUTH_TRUST_PROXY: unsafe }),
        /refused: it would trust the leftmost X-Forwarded-For entry.*number of proxies.*addresses or CIDRs/,
      );
    }
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1'])
      assert.throws(() => loadConfig({ ZGW_AUTH_TRUST_PROXY: bad }), /hops or a comma-separated list/);
  });

  describe('behind one trusted proxy (127.0.0.1) that appends the peer, as nginx $proxy_add_x_forwarded_for does', () => {
    let ts: TestServer;
    let client: Cred;
    before(async () => {
      ts = await startTestServer({
        env: {
          ...FAST_KEYS,
          ZGW_AUTH_TRUST_PROXY: '127.0.0.1',
          ZGW_AUTH_LOCKOUT_THRESHOLD: '3',
          ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60',
          ZGW_AUTH_INTROSPECTION_ANONYMOUS: 'true',
          ZGW_AUTH_INTROSPECTION_RATE_LIMIT: '5',
        },
      });
      client = await ts.createClient();
    });
    after(() => ts.close());

    /** What nginx forwards: whatever the caller sent, then the caller's real address. */
    const viaProxy = (
      body: Record<string, string>,
      sentByCaller: string | undefined,
      caller: string,
      path = '/token',
    ) =>
      postForm(
        `${ts.url}${path}`,
        body,
        { 'x-forwarded-for': sentByCaller ? `${sentByCaller}, ${caller}` : caller },
        '127.0.0.1',
      );

    it('counts a forged, rotating first entry against the real caller', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push(
          (await viaProxy(form({ ...client, secret: `guess-${i}` }), `203.0.113.${i}`, '198.51.100.7')).status,
        );
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
      const [event] = await ts.app.audit.list({ action: 'client_auth.failed', target: client.clientId });
      assert.equal(event!.address, '198.51.100.7', 'the audit trail records the real caller, not the forged entry');
      assert.equal(
        (await viaProxy(form(client), undefined, '198.51.100.8')).status,
        200,
        'another caller behind the proxy is served',
      );
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const c = await ts.createClient();
      for (let i = 0; i < 3; i++)
        await postForm(
          `${ts.url}/token`,
          form({ ...c, secret: 'nope' }),
          { 'x-forwarded-for': `198.51.100.${50 + i}` },
          '127.0.0.60',
        );
      const [event] = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId });
      assert.equal(event!.address, '127.0.0.60');
      assert.equal(event!.details.count, 3);
      assert.equal(
        (await postForm(`${ts.url}/token`, form(c), { 'x-forwarded-for': '198.51.100.99' }, '127.0.0.60')).status,
        429,
      );
    });

    it('keeps the /introspect request limit on the real caller when the first entry rotates', async () => {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          viaProxy({ token: 'not-a-token' }, `203.0.113.${100 + i}`, '198.51.100.30', '/introspect'),
        ),
      );
      assert.ok(answers.filter((r) => r.status === 429).length >= 3, answers.map((r) => r.status).join(','));
    });

    it('groups IPv6 callers by /64 for the back-off and the request limit', async () => {
      const c = await ts.createClient();
      const statuses: number[] = [];
      // Four addresses of one /64, in different notations.
      const sameNet = [
        '2001:db8:1:2::1',
        '2001:db8:1:2::2',
        '2001:db8:1:2:aaaa:bbbb:cccc:dddd',
        '2001:0db8:0001:0002::ffff',
      ];
      for (const addr of sameNet)
        statuses.push((await viaProxy(form({ ...c, secret: 'guess' }), undefined, addr)).status);
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      assert.equal(
        (await viaProxy(form(c), undefined, '2001:db8:1:3::1')).status,
        200,
        'the next /64 is another caller',
      );
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          viaProxy({ token: 'not-a-token' }, undefined, `2001:db8:9:9::${i + 1}`, '/introspect'),
        ),
      );
      assert.ok(
        answers.filter((r) => r.status === 429).length >= 3,
        `one budget per /64: ${answers.map((r) => r.status).join(',')}`,
      );
    });

    it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
      const c = await ts.createClient();
      assert.equal((await viaProxy(form({ ...c, secret: 'a' }), undefined, '::ffff:198.51.100.40')).status, 401);
      assert.equal((await viaProxy(form({ ...c, secret: 'b' }), undefined, '::ffff:c633:6428')).status, 401);
      assert.equal((await viaProxy(form({ ...c, secret: 'c' }), undefined, '198.51.100.40')).status, 401);
      assert.equal((await viaProxy(form(c), undefined, '198.51.100.40')).status, 429);
    });
  });

  it('with a hop count, the client is the entry that many hops from the socket peer', async () => {
    const ts = await startTestServer({
      env: {
        ...FAST_KEYS,
        ZGW_AUTH_TRUST_PROXY: '2',
        ZGW_AUTH_LOCKOUT_THRESHOLD: '2',
        ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60',
      },
    });
    try {
      const c = await ts.createClient();
      // caller-written, real caller (added by the outer proxy), outer proxy (added by the inner one).
      const chain = (i: number) => ({ 'x-forwarded-for': `203.0.113.${i}, 198.51.100.70, 10.0.0.2` });
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await postForm(`${ts.url}/token`, form({ ...c, secret: 'x' }), chain(i), '127.0.0.62')).status,
          401,
        );
      assert.equal((await postForm(`${ts.url}/token`, form(c), chain(9), '127.0.0.62')).status, 429);
      const [event] = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId });
      assert.equal(event!.address, '198.51.100.70');
      assert.ok(
        ts.logs.some((l) => /hop count: safe only when nothing but those proxies can reach zgw-auth/.test(l)),
        'warned at start',
      );
    } finally {
      await ts.close();
    }
  });
});

describe('addressGroup', () => {
  it('keeps IPv4, maps IPv4-mapped IPv6 to IPv4 and groups IPv6 by /64', () => {
    assert.equal(addressGroup('198.51.100.7'), '198.51.100.7');
    assert.equal(addressGroup('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(addressGroup('::FFFF:c633:6407'), '198.51.100.7');
    assert.equal(addressGroup('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(addressGroup('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(addressGroup('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressGroup('::1'), '0:0:0:0::/64');
    assert.equal(addressGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressGroup('64:ff9b::198.51.100.7'), '64:ff9b:0:0::/64');
  });
});
