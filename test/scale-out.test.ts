import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  basicAuth,
  CLI,
  decodePart,
  eventually,
  firstAdminSecret,
  freshPostgres,
  hs256,
  postForm,
  request,
  startServeProcess,
  startTestServer,
  type TestServer,
} from './helpers.js';

type Proc = Awaited<ReturnType<typeof startServeProcess>>;
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-scale-'));

describe('two server processes on one PostgreSQL, limits shared through Redis', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let a: Proc;
  let b: Proc;
  let admin: { clientId: string; secret: string };
  const redisUrl = 'redis://127.0.0.1:6379/7';
  // Source addresses of this run only: the Redis database is shared with other runs, which may
  // count failures at the same time (so it is never flushed either).
  const net = `127.${1 + crypto.randomInt(250)}.${crypto.randomInt(250)}`;

  before(async () => {
    db = await freshPostgres();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_ISSUER: 'https://auth.zgw.test',
      // Only the change feed can explain another process seeing a rotation quickly.
      ZGW_AUTH_KEY_REFRESH_INTERVAL: '3600',
      ZGW_AUTH_LOCKOUT_THRESHOLD: '4',
    };
    a = await startServeProcess(tempDir(), env);
    b = await startServeProcess(tempDir(), env);
    admin = { clientId: 'zgw-auth-admin', secret: firstAdminSecret(a.output())! };
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const tokenAt = (p: Proc, id: string, secret: string, from?: string) =>
    postForm(`${p.url}/token`, { grant_type: 'client_credentials', client_id: id, client_secret: secret }, {}, from);
  const adminApi = async (p: Proc, method: string, url: string, body?: unknown) => {
    const token = (await tokenAt(p, admin.clientId, admin.secret)).json.access_token;
    return request(`${p.url}/admin${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  };
  const createClient = async (clientId: string, extra: Record<string, unknown> = {}) => {
    const res = await adminApi(a, 'POST', '/clients', { clientId, rsin: '000000000', ...extra });
    assert.equal(res.status, 201, res.text);
    return { clientId, secret: res.json.secret.value as string };
  };

  it('several processes starting at once on an empty database migrate and initialise safely', async () => {
    const fresh = await freshPostgres();
    const env = { DATABASE_URL: fresh.url, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
    try {
      const procs = await Promise.all([
        startServeProcess(tempDir(), env),
        startServeProcess(tempDir(), env),
        startServeProcess(tempDir(), env),
      ]);
      const banners = procs.filter((p) => firstAdminSecret(p.output()) !== undefined);
      assert.equal(banners.length, 1, 'exactly one process created and showed the admin secret');
      const secret = firstAdminSecret(banners[0]!.output())!;
      for (const p of procs) assert.equal((await tokenAt(p, 'zgw-auth-admin', secret)).status, 200);
      assert.equal(await Promise.all(procs.map((p) => p.stop())).then((codes) => codes.every((c) => c === 0)), true);
    } finally {
      await fresh.drop();
    }
  });

  it("a token issued by one verifies through the other's introspection and JWKS", async () => {
    const c = await createClient('spread', { allowedScopes: ['zgw-auth:introspect'] });
    const token = (await tokenAt(a, c.clientId, c.secret)).json.access_token;
    const res = await postForm(`${b.url}/introspect`, { token }, { authorization: basicAuth(c.clientId, c.secret) });
    assert.equal(res.json.active, true);
    assert.equal(res.json.iss, 'https://auth.zgw.test');
    assert.deepEqual((await request(`${a.url}/jwks`)).json, (await request(`${b.url}/jwks`)).json);
  });

  it('a client disabled or a secret revoked through one is refused by the other at once (change notification, not the 2 s cache bound)', async () => {
    const c = await createClient('to-disable');
    // Two lookups: a client is cached from its second one on.
    for (let i = 0; i < 2; i++)
      assert.equal((await tokenAt(b, c.clientId, c.secret)).status, 200, "warms the other process's client cache");
    assert.equal((await adminApi(a, 'POST', '/clients/to-disable/disable')).status, 200);
    // Polled for 1.2 s only: the other process's cached copy would live 2 s without the notification.
    assert.ok(
      await eventually(async () => (await tokenAt(b, c.clientId, c.secret)).status === 401, 1200),
      'refused well inside the cache bound',
    );

    const s = await createClient('to-revoke');
    for (let i = 0; i < 2; i++) assert.equal((await tokenAt(b, s.clientId, s.secret)).status, 200);
    const [secret] = (await adminApi(a, 'GET', '/clients/to-revoke/secrets')).json;
    assert.equal((await adminApi(a, 'DELETE', `/clients/to-revoke/secrets/${secret.secretId}`)).status, 200);
    assert.ok(await eventually(async () => (await tokenAt(b, s.clientId, s.secret)).status === 401, 1200));
  });

  it('an organisation disabled through one is refused by the other within 0.5 s, and enabling it through one restores it there as fast', async () => {
    const rsin = '123456782';
    assert.equal((await adminApi(a, 'POST', '/organisations', { rsin, name: 'Gemeente Voorbeeld' })).status, 201);
    const c = await createClient('org-member', { rsin, allowedScopes: ['zgw-auth:introspect'] });
    const issued = (await tokenAt(a, c.clientId, c.secret)).json.access_token as string;
    const active = async (p: Proc) =>
      (
        await postForm(
          `${p.url}/introspect`,
          { token: issued },
          { authorization: basicAuth(admin.clientId, admin.secret) },
        )
      ).json.active as boolean;
    // Warm the other process's caches: a client is cached from its second lookup on.
    for (let i = 0; i < 2; i++) {
      assert.equal((await tokenAt(b, c.clientId, c.secret)).status, 200);
      assert.equal(await active(b), true);
    }
    assert.equal((await adminApi(a, 'POST', `/organisations/${rsin}/disable`)).status, 200);
    // Each phase from its own address: refusals count as failures for the back-off of that address.
    assert.ok(
      await eventually(async () => (await tokenAt(b, c.clientId, c.secret, `${net}.20`)).status === 401, 500),
      'the other process refuses its clients within 0.5 s',
    );
    assert.equal(await active(b), false, 'and their tokens');
    assert.equal((await adminApi(a, 'POST', `/organisations/${rsin}/enable`)).status, 200);
    assert.ok(
      await eventually(async () => (await tokenAt(b, c.clientId, c.secret, `${net}.21`)).status === 200, 500),
      'and accepts them again within 0.5 s',
    );
    assert.equal(await active(b), true);
  });

  it('a key rotation started through one is published by both before it signs', async () => {
    const c = await createClient('rotation-watcher');
    const oldKid = decodePart((await tokenAt(b, c.clientId, c.secret)).json.access_token, 0).kid;
    const rotated = await adminApi(a, 'POST', '/keys/rotate', { publishDelay: 3 });
    assert.equal(rotated.status, 200);
    const newKid = rotated.json.kid as string;
    const published = async (p: Proc) =>
      (await request(`${p.url}/jwks`)).json.keys.some((k: { kid: string }) => k.kid === newKid);
    assert.ok(
      await eventually(async () => (await published(a)) && (await published(b)), 1000),
      'both publish the new key within 1 s',
    );
    assert.deepEqual((await request(`${a.url}/jwks`)).json, (await request(`${b.url}/jwks`)).json);
    for (const p of [a, b])
      assert.equal(
        decodePart((await tokenAt(p, c.clientId, c.secret)).json.access_token, 0).kid,
        oldKid,
        'the new key does not sign yet',
      );
    await new Promise((r) => setTimeout(r, 3100));
    for (const p of [a, b])
      assert.equal(
        decodePart((await tokenAt(p, c.clientId, c.secret)).json.access_token, 0).kid,
        newKid,
        'both sign with the new key after the delay',
      );
  });

  it('failed authentications spread over both processes are counted together', async () => {
    const c = await createClient(`guessed-${crypto.randomBytes(4).toString('hex')}`);
    // Threshold 4: two wrong guesses at each process; the fifth attempt is refused unchecked.
    for (const p of [a, b, a, b]) assert.equal((await tokenAt(p, c.clientId, 'wrong', `${net}.10`)).status, 401);
    const blocked = await tokenAt(a, c.clientId, c.secret, `${net}.10`);
    assert.equal(blocked.status, 429);
    assert.equal((await tokenAt(b, c.clientId, c.secret, `${net}.10`)).status, 429, 'the other process knows too');
    assert.equal((await tokenAt(b, c.clientId, c.secret, `${net}.11`)).status, 200, 'another address is not affected');
  });
});

describe('export and import between SQLite and PostgreSQL', () => {
  const run = promisify(execFile);
  const masterKey = crypto.randomBytes(32).toString('base64');
  const cli = (args: string[], env: Record<string, string>) =>
    run(process.execPath, [CLI, ...args], { env: { ...process.env, ZGW_AUTH_MASTER_KEY: masterKey, ...env } });
  const issuer = 'https://auth.zgw.test';

  /** Tokens from before the move verify, the old secret still authenticates, the audit trail came along. */
  async function assertCarriedOver(ts: TestServer, client: { clientId: string; secret: string }, tokens: string[]) {
    for (const token of tokens) {
      const res = await postForm(
        `${ts.url}/introspect`,
        { token },
        { authorization: basicAuth(client.clientId, client.secret) },
      );
      assert.equal(res.json.active, true, `token still valid: ${res.text}`);
    }
    const issuedBefore = (await ts.app.audit.list({ action: 'token.issued', limit: 1000 })).length;
    assert.equal(
      (
        await postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.secret,
        })
      ).status,
      200,
    );
    await ts.app.audit.flush();
    assert.equal(
      (await ts.app.audit.list({ action: 'token.issued', limit: 1000 })).length,
      issuedBefore + 1,
      'new audit events are written after the import',
    );
    assert.ok((await ts.app.audit.list({ target: client.clientId })).some((e) => e.action === 'client.created'));
  }

  it('moves a registry SQLite → PostgreSQL → SQLite and tokens issued before the move still verify', async () => {
    const sqliteDir = tempDir();
    const source = await startTestServer({ dataDir: sqliteDir, masterKey, env: { ZGW_AUTH_ISSUER: issuer } });
    const client = await source.createClient({ selfSignedAllowed: true, allowedScopes: ['zgw-auth:introspect'] });
    const tokens = [
      await source.token(client.clientId, client.secret),
      hs256({ client_id: client.clientId, iat: Math.floor(Date.now() / 1000) }, client.secret),
    ];
    await source.close();

    const file1 = path.join(tempDir(), 'registry.json');
    await cli(['export', '--file', file1], { ZGW_AUTH_DATA_DIR: sqliteDir });
    assert.equal(fs.statSync(file1).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(file1, 'utf8').includes(client.secret), 'no plain secret in the export');

    const pgDb = await freshPostgres();
    try {
      const { stdout } = await cli(['import', '--file', file1], { DATABASE_URL: pgDb.url });
      assert.match(stdout, /clients \d+/);
      await assert.rejects(cli(['import', '--file', file1], { DATABASE_URL: pgDb.url }), /not empty/);
      const onPg = await startTestServer({ databaseUrl: pgDb.url, masterKey, env: { ZGW_AUTH_ISSUER: issuer } });
      try {
        await assertCarriedOver(onPg, client, tokens);
      } finally {
        await onPg.close();
      }

      const file2 = path.join(tempDir(), 'registry.json');
      await cli(['export', '--file', file2], { DATABASE_URL: pgDb.url });
      const backDir = tempDir();
      await assert.rejects(
        run(process.execPath, [CLI, 'import', '--file', file2], {
          env: {
            ...process.env,
            ZGW_AUTH_DATA_DIR: tempDir(),
            ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
          },
        }),
        /different master key/,
      );
      await cli(['import', '--file', file2], { ZGW_AUTH_DATA_DIR: backDir });
      const back = await startTestServer({ dataDir: backDir, masterKey, env: { ZGW_AUTH_ISSUER: issuer } });
      try {
        await assertCarriedOver(back, client, tokens);
      } finally {
        await back.close();
      }
    } finally {
      await pgDb.drop();
    }
  });
});
