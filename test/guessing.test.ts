import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPEAT_WINDOW_MS } from '../src/audit/audit-log.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import {
  CLI,
  eventually,
  forEachDialect,
  hs256,
  type HttpResult,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * Signing keys made in a millisecond, where each RSA key (the default) costs 0.1-0.5 s of CPU: the
 * servers here start with fresh registries, and no test here is about the key's algorithm.
 */
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const run = promisify(execFile);
type Cred = { clientId: string; secret: string };

const tokenAt = (ts: TestServer, c: Cred, from: string) =>
  postForm(
    `${ts.url}/token`,
    { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret },
    {},
    from,
  );

describe('back-off policy on a shared egress address', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '3', ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60' },
    });
  });
  after(() => ts.close());

  it('stops the guesser of a client while a neighbour behind the same address keeps getting tokens', async () => {
    const guessed = await ts.createClient();
    const neighbour = await ts.createClient();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await tokenAt(ts, { clientId: guessed.clientId, secret: `guess-${i}` }, '127.0.0.20')).status);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429], 'the guesser is stopped at the threshold');
    assert.equal(
      (await tokenAt(ts, guessed, '127.0.0.20')).status,
      429,
      'even with the right secret: the pair is backed off',
    );
    for (let i = 0; i < 5; i++)
      assert.equal((await tokenAt(ts, neighbour, '127.0.0.20')).status, 200, 'the neighbour is not refused');
    assert.equal((await tokenAt(ts, guessed, '127.0.0.19')).status, 200, 'the guessed client elsewhere is not refused');
  });

  it('does not tell known client ids from unknown ones through the back-off, per address or per client', async () => {
    // T = 3: the address budget is 12 distinct ids, a client's budget 60 failures across addresses.
    const known = await ts.createClient();
    const outcome = async (candidate: string, from: string) => {
      const wrong = (id: string) => tokenAt(ts, { clientId: id, secret: 'wrong' }, from);
      for (let i = 0; i < 2; i++) await wrong(candidate);
      for (let i = 0; i < 10; i++) await wrong(`filler-${from}-${i}`);
      const answers: number[] = [];
      for (let i = 0; i < 3; i++) answers.push((await wrong(candidate)).status);
      return answers;
    };
    assert.deepEqual(
      await outcome(known.clientId, '127.0.0.23'),
      await outcome('no-such-client-x', '127.0.0.24'),
      'the same back-off for a known and an unknown id',
    );
    const spend = async (id: string) => {
      for (let a = 0; a < 30; a++)
        for (let i = 0; i < 2; i++) await tokenAt(ts, { clientId: id, secret: 'wrong' }, `127.0.1.${a}`);
      return [
        (await tokenAt(ts, { clientId: id, secret: 'wrong' }, '127.0.2.1')).status,
        (await tokenAt(ts, { clientId: id, secret: 'wrong' }, '127.0.2.1')).status,
      ];
    };
    const other = await ts.createClient();
    assert.deepEqual(
      await spend(other.clientId),
      await spend('no-such-client-y'),
      'a spent client budget looks the same for an unknown id',
    );
  });

  it('recognises revoked and expired former secrets: refused, not counted, the correct instance keeps getting tokens', async () => {
    const c = await ts.createClient();
    const [first] = await ts.app.clients.listSecrets(c.clientId);
    const second = await ts.app.clients.addSecret(c.clientId, { label: 'rotation' }, { id: 'test' });
    await ts.app.clients.revokeSecret(c.clientId, first!.secretId, { id: 'test' });
    const third = await ts.app.clients.addSecret(
      c.clientId,
      { label: 'short-lived', expiresAt: ts.clock.now() + 5000 },
      { id: 'test' },
    );
    ts.clock.advance(6);
    const current = { clientId: c.clientId, secret: second.value };
    // One stale instance of the consumer per rotation, and the correct one, behind one address.
    const stale = [c, { clientId: c.clientId, secret: third.value }];
    for (let i = 0; i < 50; i++) {
      const res = await tokenAt(ts, stale[i % 2]!, '127.0.0.21');
      assert.equal(res.status, 401, `stale request ${i}`);
      assert.equal(res.json.error_description, 'client authentication failed');
      assert.equal((await tokenAt(ts, current, '127.0.0.21')).status, 200, `correct request ${i}`);
    }
    const events = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId });
    const byReason = Object.fromEntries(events.map((e) => [e.reason, e.details]));
    assert.deepEqual(byReason.revoked_secret, {
      reason: 'revoked_secret',
      endpoint: 'token',
      method: 'client_secret_post',
      secretId: first!.secretId,
      lastAt: byReason.revoked_secret!.lastAt,
      count: 25,
    });
    assert.equal(byReason.expired_secret!.secretId, third.secret.secretId);
  });

  it('keeps guessing of one client bounded across addresses without refusing its clean instances', async () => {
    // Budget per client id: 20 × threshold (3) = 60 failures from all addresses.
    const c = await ts.createClient();
    for (let i = 1; i <= 30; i++) {
      for (let j = 0; j < 2; j++)
        assert.equal(
          (await tokenAt(ts, { clientId: c.clientId, secret: `spread-${i}-${j}` }, `127.0.1.${i}`)).status,
          401,
        );
    }
    const next = await tokenAt(ts, { clientId: c.clientId, secret: 'spread-next' }, '127.0.1.1');
    assert.equal(next.status, 429, 'an address with failures of its own is stopped once the client budget is spent');
    assert.equal(
      (await tokenAt(ts, c, '127.0.1.200')).status,
      200,
      'a clean address of the same client is not refused',
    );
    assert.equal((await tokenAt(ts, { clientId: c.clientId, secret: 'fresh-guess' }, '127.0.1.201')).status, 401);
    assert.equal(
      (await tokenAt(ts, { clientId: c.clientId, secret: 'fresh-guess-2' }, '127.0.1.201')).status,
      429,
      'a fresh address gets one guess while the budget is spent',
    );
  });

  it('stops what looks like enumeration from an address, never a client with no failures of its own', async () => {
    // Budget per address: 4 × threshold (3) = 12 unknown or distinct client ids.
    for (let i = 0; i < 12; i++)
      assert.equal((await tokenAt(ts, { clientId: `nobody-${i}`, secret: 'x'.repeat(20) }, '127.0.0.22')).status, 401);
    const probed = await ts.createClient();
    assert.equal((await tokenAt(ts, { clientId: probed.clientId, secret: 'spray' }, '127.0.0.22')).status, 401);
    assert.equal(
      (await tokenAt(ts, { clientId: probed.clientId, secret: 'spray-2' }, '127.0.0.22')).status,
      429,
      'one failure of its own is enough while the address is backed off',
    );
    const neighbour = await ts.createClient();
    assert.equal(
      (await tokenAt(ts, neighbour, '127.0.0.22')).status,
      200,
      'a client with no failures of its own is served',
    );
  });
});

for (const limiter of ['memory', 'redis'] as const) {
  describe(`a working credential between failures clears only its own (client, address) pair (${limiter} limiter)`, () => {
    let ts: TestServer;
    // Addresses of this run only: the Redis database may be shared with other runs.
    const net = `127.${1 + crypto.randomInt(250)}.${crypto.randomInt(250)}`;
    const run = crypto.randomBytes(4).toString('hex');
    before(async () => {
      ts = await startTestServer({
        env: {
          ...FAST_KEYS,
          ZGW_AUTH_LOCKOUT_THRESHOLD: '3',
          ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60',
          ...(limiter === 'redis' ? { REDIS_URL: 'redis://127.0.0.1:6379/8' } : {}),
        },
      });
    });
    after(() => ts.close());

    it('an enumerating address stays backed off when one of its clients gets a token in between', async () => {
      const from = `${net}.1`;
      const working = await ts.createClient();
      const wrong = (id: string) => tokenAt(ts, { clientId: id, secret: 'wrong' }, from);
      // T = 3: the address's budget is 12 distinct ids; two failures each stay below the pair's threshold.
      for (let i = 0; i < 2; i++) assert.equal((await wrong(`enum-${run}-0`)).status, 401);
      for (let i = 1; i < 12; i++) assert.equal((await wrong(`enum-${run}-${i}`)).status, 401);
      assert.equal((await wrong(`enum-${run}-0`)).status, 429, 'the address is backed off');
      assert.equal((await tokenAt(ts, working, from)).status, 200, 'a working credential from the same address');
      assert.equal((await wrong(`enum-${run}-0`)).status, 429, 'the address is still backed off');
      assert.equal((await wrong(`enum-${run}-5`)).status, 429, 'for every id it tried');
      if (limiter === 'redis')
        assert.equal(
          await ts.app.redis!.exists(`zgw-auth:fail:count:addr:${from}`),
          1,
          'counted in Redis, not in the fallback',
        );
    });

    it("a working credential clears its own pair's failures", async () => {
      const c = await ts.createClient();
      const from = `${net}.200`;
      const wrong = () => tokenAt(ts, { clientId: c.clientId, secret: 'wrong' }, from);
      for (let i = 0; i < 2; i++) assert.equal((await wrong()).status, 401);
      assert.equal((await tokenAt(ts, c, from)).status, 200);
      // T = 3: without the reset the pair would be at 3 failures after the first of these, and backed off.
      assert.deepEqual([(await wrong()).status, (await wrong()).status], [401, 401], 'counted from zero again');
    });

    if (limiter === 'redis')
      it('a pair with no failures costs one read per token and no write', async () => {
        const c = await ts.createClient();
        const from = `${net}.201`;
        const pairKey = `pair:${c.clientId}|${from}`;
        const monitor = await ts.app.redis!.monitor();
        const seen: string[][] = [];
        // Commands sent by clients only: MONITOR also lists those a script runs, its source then "lua".
        monitor.on('monitor', (_time: string, args: string[], source: string) => {
          if (!source.includes('lua') && args.some((a) => a.includes(pairKey))) seen.push(args);
        });
        try {
          for (let i = 0; i < 3; i++) assert.equal((await tokenAt(ts, c, from)).status, 200);
          assert.ok(await eventually(async () => seen.length >= 3, 2000), 'every token checked its pair');
        } finally {
          monitor.disconnect();
        }
        assert.deepEqual(
          seen.map((args) => args[0]!.toLowerCase()),
          ['evalsha', 'evalsha', 'evalsha'],
          'one script by its hash per token, no DEL',
        );
      });

    if (limiter === 'redis')
      it('still counts after Redis forgets its scripts (restart, SCRIPT FLUSH)', async () => {
        const c = await ts.createClient();
        const from = `${net}.202`;
        await ts.app.redis!.script('FLUSH');
        const wrong = () => tokenAt(ts, { clientId: c.clientId, secret: 'wrong' }, from);
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await wrong()).status);
        assert.deepEqual(statuses, [401, 401, 401, 429]);
        assert.equal(await ts.app.redis!.exists(`zgw-auth:fail:count:pair:${c.clientId}|${from}`), 1, 'in Redis');
      });

    it("a guessed client's count across addresses survives one of its instances getting a token", async () => {
      const c = await ts.createClient();
      const wrong = (a: number) => tokenAt(ts, { clientId: c.clientId, secret: 'wrong' }, `${net}.${a}`);
      // T = 3: the client's budget is 60 failures from all addresses; two per address stay below the pair's threshold.
      for (let a = 10; a < 40; a++) for (let i = 0; i < 2; i++) assert.equal((await wrong(a)).status, 401);
      assert.equal((await wrong(10)).status, 429, "the client's budget is spent");
      assert.equal((await tokenAt(ts, c, `${net}.100`)).status, 200, 'its clean instance elsewhere gets a token');
      assert.equal((await wrong(10)).status, 429, "the client's budget is still spent");
    });
  });
}

describe('HS256 tokens at /admin count as guesses', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '3', ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60' },
    });
  });
  after(() => ts.close());

  const adminKeys = (token: string, from: string) =>
    request(`${ts.url}/admin/keys`, { headers: { authorization: `Bearer ${token}` }, localAddress: from });
  const selfSigned = (clientId: string, secret: string) =>
    hs256({ client_id: clientId, iat: Math.floor(ts.clock.now() / 1000) }, secret);

  it('backs off a guessing address with 429, so the right guess is not told apart, and audits the failures', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await adminKeys(selfSigned(c.clientId, `guess-${i}`), '127.0.0.23')).status);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
    const right = await adminKeys(selfSigned(c.clientId, c.secret), '127.0.0.23');
    assert.equal(right.status, 429, 'the right secret from the guessing address gets the same 429');
    assert.match(String(right.headers['retry-after']), /^\d+$/);
    assert.equal(right.json.code, 'too_many_attempts');
    assert.equal(
      (await adminKeys(selfSigned(c.clientId, c.secret), '127.0.0.24')).status,
      403,
      'elsewhere the client is not refused (no admin scope)',
    );
    const [event] = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId });
    assert.equal(event!.reason, 'bad_signature');
    assert.equal(event!.details.endpoint, 'admin');
    assert.equal(event!.details.count, 3);
  });

  it('shares one budget with /token', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    assert.equal((await tokenAt(ts, { clientId: c.clientId, secret: 'wrong-1' }, '127.0.0.25')).status, 401);
    assert.equal((await tokenAt(ts, { clientId: c.clientId, secret: 'wrong-2' }, '127.0.0.25')).status, 401);
    assert.equal((await adminKeys(selfSigned(c.clientId, 'wrong-3'), '127.0.0.25')).status, 401);
    assert.equal((await tokenAt(ts, c, '127.0.0.25')).status, 429);
  });

  it('counts a token naming a client that may not self-sign, is disabled or is unknown', async () => {
    const plain = await ts.createClient();
    for (let i = 0; i < 3; i++)
      assert.equal((await adminKeys(selfSigned(plain.clientId, plain.secret), '127.0.0.26')).status, 401);
    assert.equal((await adminKeys(selfSigned(plain.clientId, plain.secret), '127.0.0.26')).status, 429);
    for (let i = 0; i < 3; i++)
      assert.equal((await adminKeys(selfSigned('no-such-client', 'guess'), '127.0.0.27')).status, 401);
    assert.equal((await adminKeys(selfSigned('no-such-client', 'guess'), '127.0.0.27')).status, 429);
  });
});

describe('HS256 tokens at /introspect count as guesses', () => {
  let ts: TestServer;
  let anonymous: TestServer;
  before(async () => {
    const env = { ZGW_AUTH_LOCKOUT_THRESHOLD: '3', ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60' };
    ts = await startTestServer({ env: { ...FAST_KEYS, ...env } });
    anonymous = await startTestServer({ env: { ...FAST_KEYS, ...env, ZGW_AUTH_INTROSPECTION_ANONYMOUS: 'true' } });
  });
  after(() => Promise.all([ts.close(), anonymous.close()]));

  const selfSigned = (server: TestServer, clientId: string, secret: string) =>
    hs256({ client_id: clientId, iat: Math.floor(server.clock.now() / 1000) }, secret);
  const introspect = async (server: TestServer, token: string, from: string, caller?: Cred) =>
    (
      await postForm(
        `${server.url}/introspect`,
        { token, ...(caller ? { client_id: caller.clientId, client_secret: caller.secret } : {}) },
        {},
        from,
      )
    ).json.active;

  it('an introspecting caller cannot guess a secret: after the threshold even the right one is inactive from that address, and the failures are audited', async () => {
    const api = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    const c = await ts.createClient({ selfSignedAllowed: true });
    const answers: unknown[] = [];
    for (let i = 0; i < 3; i++)
      answers.push(await introspect(ts, selfSigned(ts, c.clientId, `guess-${i}`), '127.0.0.40', api));
    answers.push(await introspect(ts, selfSigned(ts, c.clientId, c.secret), '127.0.0.40', api));
    assert.deepEqual(answers, [false, false, false, false], 'the right guess after three wrong ones is not told apart');
    assert.equal(
      await introspect(ts, selfSigned(ts, c.clientId, c.secret), '127.0.0.41', api),
      true,
      'from another address the token is active',
    );
    const [event] = await ts.app.audit.list({ action: 'client_auth.failed', target: c.clientId });
    assert.equal(event!.reason, 'bad_signature');
    assert.equal(event!.details.endpoint, 'introspect');
  });

  it("anonymous introspection (the Keycloak plugin's way) is held to the same budget", async () => {
    const c = await anonymous.createClient({ selfSignedAllowed: true });
    for (let i = 0; i < 3; i++)
      assert.equal(await introspect(anonymous, selfSigned(anonymous, c.clientId, `guess-${i}`), '127.0.0.42'), false);
    assert.equal(await introspect(anonymous, selfSigned(anonymous, c.clientId, c.secret), '127.0.0.42'), false);
    assert.equal(await introspect(anonymous, selfSigned(anonymous, c.clientId, c.secret), '127.0.0.43'), true);
  });

  it('a valid token resets nothing but its own pair, and IdP tokens are not counted', async () => {
    const api = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    const c = await ts.createClient({ selfSignedAllowed: true });
    const idp = await ts.token(c.clientId, c.secret);
    for (let i = 0; i < 5; i++) assert.equal(await introspect(ts, idp + 'x', '127.0.0.44', api), false);
    assert.equal(
      await introspect(ts, selfSigned(ts, c.clientId, c.secret), '127.0.0.44', api),
      true,
      'refused IdP tokens are not guesses at a secret',
    );
  });
});

forEachDialect((dialect) => {
  describe(`failed authentications in the audit trail at once, folded (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '1000' } });
    });
    after(() => ts.close());

    it('shows the first failure of a window within a second, outside the process too, folds the repeats into it and writes a bounded number of events for a flood', async () => {
      const c = await ts.createClient();
      // The database as another process sees it: read without flushing this server's audit log.
      const stored = new KyselyAuditStore(ts.app.storage.db, ts.app.storage.dialect);
      const failures = async () => stored.list({ action: 'client_auth.failed', target: c.clientId, limit: 100 });
      const refusedAt = Date.now();
      assert.equal((await tokenAt(ts, { clientId: c.clientId, secret: 'wrong-0' }, '127.0.0.30')).status, 401);
      assert.ok(
        await eventually(async () => (await failures()).length === 1, 1000 - (Date.now() - refusedAt)),
        'the failure is stored within 1 s',
      );
      const first = (await failures())[0]!;
      assert.equal(first.details.count, 1);
      const env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: ts.config.dataDir,
        ZGW_AUTH_MASTER_KEY: ts.config.masterKey!,
        ...(ts.config.databaseUrl ? { DATABASE_URL: ts.config.databaseUrl } : {}),
      };
      const listed = async () =>
        JSON.parse(
          (
            await run(
              process.execPath,
              [CLI, 'audit', 'list', '--action', 'client_auth.failed', '--target', c.clientId, '--json'],
              { env },
            )
          ).stdout,
        ) as {
          details: { count: number; lastAt: number };
        }[];
      assert.deepEqual(
        (await listed()).map((e) => e.details.count),
        [1],
        'audit list in another process shows it',
      );

      // A flood of one (client, address, reason) and of unknown ids from one address: one event each per window.
      for (let i = 1; i < 60; i++) {
        ts.clock.t += 100;
        assert.equal((await tokenAt(ts, { clientId: c.clientId, secret: `wrong-${i}` }, '127.0.0.30')).status, 401);
        await tokenAt(ts, { clientId: `flood-${i}`, secret: 'x' }, '127.0.0.30');
      }
      const lastAt = ts.clock.t;
      ts.clock.advance(REPEAT_WINDOW_MS / 1000);
      await ts.app.audit.flush();
      assert.deepEqual(
        (await failures()).map((e) => [e.id, e.at, e.details.count, e.details.lastAt]),
        [[first.id, first.at, 60, lastAt]],
        'the window ended: its event has the count and the last time',
      );
      assert.equal(
        (await stored.list({ action: 'client_auth.failed', reason: 'unknown_client', limit: 100 })).filter(
          (e) => e.address === '127.0.0.30',
        ).length,
        1,
      );
      for (let i = 0; i < 5; i++) await tokenAt(ts, { clientId: c.clientId, secret: `again-${i}` }, '127.0.0.30');
      await ts.app.audit.list({ limit: 1 });
      assert.deepEqual(
        (await listed()).map((e) => e.details.count),
        [5, 60],
        'the next window starts a new event; listing writes the counts of open windows',
      );
    });
  });
});

forEachDialect((dialect) => {
  describe(`failed authentication reasons in the audit trail (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '1000' } });
    });
    after(() => ts.close());

    it('records why, with the matched secret id, aggregated per client, address and reason; never the secret; one answer for the caller', async () => {
      const c = await ts.createClient();
      const disabled = await ts.createClient();
      await ts.app.clients.update(disabled.clientId, { enabled: false }, { id: 'test' });
      const [revokedInfo] = await ts.app.clients.listSecrets(c.clientId);
      const current = await ts.app.clients.addSecret(c.clientId, {}, { id: 'test' });
      await ts.app.clients.revokeSecret(c.clientId, revokedInfo!.secretId, { id: 'test' });
      const answers: HttpResult[] = [];
      for (let i = 0; i < 5; i++)
        answers.push(await tokenAt(ts, { clientId: c.clientId, secret: `wrong-secret-${i}` }, '127.0.0.28'));
      answers.push(await tokenAt(ts, c, '127.0.0.28'));
      answers.push(await tokenAt(ts, disabled, '127.0.0.28'));
      for (let i = 0; i < 3; i++)
        answers.push(await tokenAt(ts, { clientId: `ghost-${i}`, secret: 'ghost-secret' }, '127.0.0.28'));
      assert.ok(
        answers.every((r) => r.status === 401 && r.text === answers[0]!.text),
        'one answer for every failure',
      );
      assert.equal(answers[0]!.json.error_description, 'client authentication failed');

      const events = await ts.app.audit.list({ action: 'client_auth.failed' });
      const one = (reason: string) => {
        const found = events.filter((e) => e.reason === reason);
        assert.equal(found.length, 1, `one ${reason} event`);
        return found[0]!;
      };
      assert.equal(one('wrong_secret').details.count, 5);
      assert.equal(one('wrong_secret').target, c.clientId);
      assert.equal(one('wrong_secret').details.secretId, undefined);
      assert.equal(one('revoked_secret').details.secretId, revokedInfo!.secretId);
      assert.equal(
        one('disabled_client').details.secretId,
        (await ts.app.clients.listSecrets(disabled.clientId))[0]!.secretId,
      );
      assert.equal(one('unknown_client').details.count, 3);
      assert.deepEqual(one('unknown_client').details.targets, ['ghost-0', 'ghost-1', 'ghost-2']);
      const all = JSON.stringify(events);
      for (const secret of [c.secret, current.value, disabled.secret, 'wrong-secret-0', 'ghost-secret'])
        assert.ok(!all.includes(secret), 'no presented secret in the audit trail');

      const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
      const viaApi = await request(`${ts.url}/admin/audit?action=client_auth.failed&reason=revoked_secret`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.equal(viaApi.status, 200, viaApi.text);
      assert.deepEqual(
        viaApi.json.items.map((e: { reason: string; target: string }) => [e.reason, e.target]),
        [['revoked_secret', c.clientId]],
      );

      const env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: ts.config.dataDir,
        ZGW_AUTH_MASTER_KEY: ts.config.masterKey!,
        ...(ts.config.databaseUrl ? { DATABASE_URL: ts.config.databaseUrl } : {}),
      };
      const cli = JSON.parse(
        (await run(process.execPath, [CLI, 'audit', 'list', '--reason', 'wrong_secret', '--json'], { env })).stdout,
      ) as { reason: string; target: string }[];
      assert.deepEqual(
        cli.map((e) => [e.reason, e.target]),
        [['wrong_secret', c.clientId]],
      );
      const table = (await run(process.execPath, [CLI, 'audit', 'list', '--reason', 'unknown_client'], { env })).stdout;
      assert.match(table, /REASON/);
      assert.match(table, /client_auth\.failed\s+ghost-0\s+127\.0\.0\.28\s+unknown_client/);
    });
  });
});
