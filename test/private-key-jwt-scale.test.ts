import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { JWT_BEARER_ASSERTION_TYPE } from '../src/clients/client-assertion.js';
import {
  Clock,
  eventually,
  firstAdminSecret,
  freshPostgres,
  postForm,
  request,
  startServeProcess,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { privateRedis } from './services.js';

/**
 * private_key_jwt where several processes serve one registry: a client assertion's jti is spent
 * once for all of them, in the database or in Redis.
 */

type Proc = Awaited<ReturnType<typeof startServeProcess>>;

function ecKey(kid: string) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid } };
}

function signEs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: crypto.KeyObject): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

for (const shared of ['PostgreSQL', 'PostgreSQL and Redis'] as const) {
  describe(`private_key_jwt across two server processes (${shared})`, () => {
    let db: Awaited<ReturnType<typeof freshPostgres>>;
    let a: Proc;
    let b: Proc;
    let admin: { clientId: string; secret: string };
    const redisUrl = 'redis://127.0.0.1:6379/12';
    const issuer = 'https://auth.zgw.test';

    before(async () => {
      db = await freshPostgres();
      if (shared !== 'PostgreSQL') {
        const redis = new Redis(redisUrl);
        await redis.flushdb();
        redis.disconnect();
      }
      const env = {
        DATABASE_URL: db.url,
        ...(shared !== 'PostgreSQL' ? { REDIS_URL: redisUrl } : {}),
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
        ZGW_AUTH_ISSUER: issuer,
      };
      a = await startServeProcess(fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pkjwt-')), env);
      b = await startServeProcess(fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pkjwt-')), env);
      admin = { clientId: 'zgw-auth-admin', secret: firstAdminSecret(a.output())! };
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
    });

    const adminApi = async (method: string, url: string, body?: unknown) => {
      const token = (
        await postForm(`${a.url}/token`, {
          grant_type: 'client_credentials',
          client_id: admin.clientId,
          client_secret: admin.secret,
        })
      ).json.access_token;
      return request(`${a.url}/admin${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    };

    it('a jti used at one process is refused at the other; keys are managed through the admin API', async () => {
      const key = ecKey('two-1');
      const clientId = `pk-${crypto.randomBytes(3).toString('hex')}`;
      const created = await adminApi('POST', '/clients', {
        clientId,
        rsin: '000000000',
        token_endpoint_auth_method: 'private_key_jwt',
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json.client.authMethods, ['private_key_jwt']);
      const added = await adminApi('POST', `/clients/${clientId}/keys`, { jwks: { keys: [key.jwk] } });
      assert.equal(added.status, 201, added.text);
      const listed = await adminApi('GET', `/clients/${clientId}/keys`);
      assert.deepEqual(
        listed.json.items.map((k: { kid: string; kty: string }) => [k.kid, k.kty]),
        [['two-1', 'EC']],
      );
      assert.equal(listed.json.items[0].publicJwk.d, undefined);
      const now = Math.floor(Date.now() / 1000);
      const assertion = signEs256(
        { alg: 'ES256', kid: 'two-1' },
        { iss: clientId, sub: clientId, aud: `${issuer}/token`, iat: now, exp: now + 60, jti: crypto.randomUUID() },
        key.privateKey,
      );
      const at = (p: Proc) =>
        postForm(`${p.url}/token`, {
          grant_type: 'client_credentials',
          client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
          client_assertion: assertion,
        });
      assert.equal((await at(a)).status, 200);
      if (shared !== 'PostgreSQL') {
        const redis = new Redis(redisUrl);
        try {
          assert.equal((await redis.keys('zgw-auth:once:client_assertion:*')).length, 1, 'spent in Redis');
        } finally {
          redis.disconnect();
        }
      }
      const replayed = await at(b);
      assert.equal(replayed.status, 401, replayed.text);
      assert.equal(replayed.json.error, 'invalid_client');
      // The refusal is audited at b; the audit trail is shared.
      let reason: string | undefined;
      for (let i = 0; i < 50 && reason === undefined; i++) {
        const events = await adminApi('GET', `/audit?action=client_auth.failed&target=${clientId}`);
        reason = events.json.items[0]?.reason;
        if (reason === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(reason, 'replayed_assertion');
      const removed = await adminApi('DELETE', `/clients/${clientId}/keys/two-1`);
      assert.equal(removed.status, 200, removed.text);
      const events = await adminApi('GET', `/audit?target=${clientId}`);
      const actions = events.json.items.map((e: { action: string }) => e.action);
      assert.ok(actions.includes('client_key.added') && actions.includes('client_key.removed'), actions.join());
      const keyEvent = events.json.items.find((e: { action: string }) => e.action === 'client_key.added');
      assert.deepEqual(Object.keys(keyEvent.details).sort(), ['alg', 'expiresAt', 'kid', 'kty', 'thumbprint']);
    });
  });
}

describe('private_key_jwt while the shared Redis fails: the database remains the record of spent assertions', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let a: TestServer;
  let b: TestServer;
  const clock = new Clock();
  const key = ecKey('down-1');
  let clientId: string;

  before(async () => {
    db = await freshPostgres();
    redis = await privateRedis();
    const masterKey = crypto.randomBytes(32).toString('base64');
    const env = { REDIS_URL: redis.url, ZGW_AUTH_ISSUER: 'https://auth.zgw.test' };
    a = await startTestServer({ databaseUrl: db.url, masterKey, clock, env });
    b = await startTestServer({ databaseUrl: db.url, masterKey, clock, env });
    const c = await a.createClient({ authMethods: ['private_key_jwt'] });
    clientId = c.clientId;
    await a.app.clients.addKeys(clientId, JSON.stringify({ keys: [key.jwk] }), { id: 'test' });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.destroy();
    await db?.drop();
  });

  const newAssertion = () => {
    const now = Math.floor(clock.now() / 1000);
    return signEs256(
      { alg: 'ES256', kid: key.kid },
      {
        iss: clientId,
        sub: clientId,
        aud: 'https://auth.zgw.test/token',
        iat: now,
        exp: now + 60,
        jti: crypto.randomUUID(),
      },
      key.privateKey,
    );
  };
  const at = (ts: TestServer, assertion: string) =>
    postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
    });
  const ready = (ts: TestServer) => eventually(async () => ts.app.redis!.status === 'ready', 10_000);

  it('an assertion used while Redis is down is refused once it returns, and one used while it answered is refused while it is down', async () => {
    const usedWhileUp = newAssertion();
    assert.equal((await at(a, usedWhileUp)).status, 200);

    await redis.stop();
    const replayWhileDown = await at(b, usedWhileUp);
    assert.equal(replayWhileDown.status, 401, replayWhileDown.text);
    assert.equal(replayWhileDown.json.error, 'invalid_client');

    const usedWhileDown = newAssertion();
    assert.equal((await at(a, usedWhileDown)).status, 200, 'Redis down refuses no one');
    assert.equal((await at(a, usedWhileDown)).status, 401, 'replay at the same process while Redis is down');
    assert.equal((await at(b, usedWhileDown)).status, 401, 'replay at the other process while Redis is down');

    await redis.start();
    assert.ok((await ready(a)) && (await ready(b)), 'both reconnect');
    for (const ts of [a, b]) {
      const replayed = await at(ts, usedWhileDown);
      assert.equal(replayed.status, 401, replayed.text);
      assert.equal(replayed.json.error, 'invalid_client');
    }
    // A fresh assertion still passes once, with Redis back.
    const fresh = newAssertion();
    assert.equal((await at(b, fresh)).status, 200);
    assert.equal((await at(a, fresh)).status, 401);
  });
});
