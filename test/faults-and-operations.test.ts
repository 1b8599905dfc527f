import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { eventually, firstAdminSecret, postForm, request, startServeProcess, startTestServer } from './helpers.js';
import { privatePostgres, privateRedis } from './services.js';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-fault-'));

describe('faults', () => {
  it('PostgreSQL stopped while serving: prompt 503 with a JSON error, then service resumes by itself', async () => {
    const pgServer = await privatePostgres();
    const ts = await startTestServer({ databaseUrl: pgServer.url });
    try {
      const c = await ts.createClient();
      const tokenRequest = () =>
        postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: c.clientId,
          client_secret: c.secret,
        });
      // Baseline: a token request with the database up, on this machine, in this run.
      let started = Date.now();
      assert.equal((await tokenRequest()).status, 200);
      const baselineMs = Date.now() - started;
      await pgServer.stop();
      ts.clock.advance(3); // past the client cache bound, so /token must reach the database
      started = Date.now();
      const down = await tokenRequest();
      assert.equal(down.status, 503, down.text);
      assert.equal(down.json.error, 'temporarily_unavailable');
      assert.equal(down.headers['retry-after'], '1');
      assert.doesNotMatch(down.text, /at .*\.js|Error:/, 'no stack trace');
      // Within the configured connection timeout (3 s) and statement timeout (4 s), with ten times a
      // normal request and a second of slack for a busy machine: not a hang.
      assert.ok(
        Date.now() - started <= 7000 + 10 * baselineMs + 1000,
        `answered within the bounded timeout: ${Date.now() - started} ms`,
      );
      const ready = await request(`${ts.url}/health/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.json.checks.database, 'unreachable');
      assert.equal((await request(`${ts.url}/health/live`)).status, 200, 'the process is alive');
      await pgServer.start();
      assert.ok(
        await eventually(async () => (await tokenRequest()).status === 200, 10_000),
        'tokens again once the database is back',
      );
      assert.equal((await request(`${ts.url}/health/ready`)).status, 200);
    } finally {
      await ts.close();
      await pgServer.destroy();
    }
  });

  it('Redis unreachable: tokens still issued with per-process limits and a warning; shared limits resume when it returns', async () => {
    const redis = await privateRedis();
    const ts = await startTestServer({ env: { REDIS_URL: redis.url, ZGW_AUTH_LOCKOUT_THRESHOLD: '2' } });
    try {
      const c = await ts.createClient();
      const attempt = (secret: string, from: string) =>
        postForm(
          `${ts.url}/token`,
          { grant_type: 'client_credentials', client_id: c.clientId, client_secret: secret },
          {},
          from,
        );
      assert.equal((await attempt('wrong', '127.0.0.20')).status, 401);
      assert.ok((await ts.app.redis!.keys('zgw-auth:fail:*')).length > 0, 'failures are counted in Redis');
      await redis.stop();
      assert.equal((await attempt(c.secret, '127.0.0.21')).status, 200, 'issuance continues without Redis');
      assert.ok(
        ts.logs.some((l) => l.includes('"level":40') && l.includes('per process')),
        'a warning is logged',
      );
      for (let i = 0; i < 2; i++) assert.equal((await attempt('wrong', '127.0.0.22')).status, 401);
      assert.equal((await attempt('wrong', '127.0.0.22')).status, 429, 'the per-process limit engages');
      await redis.start();
      assert.ok(await eventually(async () => ts.app.redis!.status === 'ready', 5000), 'reconnected');
      assert.equal((await attempt('wrong', '127.0.0.23')).status, 401);
      assert.ok(
        ts.logs.some((l) => l.includes('shared again')),
        'the return is logged',
      );
      assert.ok(
        (await ts.app.redis!.keys('zgw-auth:fail:*127.0.0.23*')).length > 0,
        'failures are counted in Redis again',
      );
    } finally {
      await ts.close();
      await redis.destroy();
    }
  });

  it('SQLite: a process killed with SIGKILL during a burst of registry writes restarts consistent, with every acknowledged write', async () => {
    const dataDir = tempDir();
    const masterKey = crypto.randomBytes(32).toString('base64');
    const proc = await startServeProcess(dataDir, { ZGW_AUTH_MASTER_KEY: masterKey });
    const secret = firstAdminSecret(proc.output())!;
    const token = (
      await postForm(`${proc.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'zgw-auth-admin',
        client_secret: secret,
      })
    ).json.access_token;
    const acknowledged: string[] = [];
    let n = 0;
    const writer = async () => {
      for (;;) {
        const clientId = `burst-${n++}`;
        try {
          const res = await request(`${proc.url}/admin/clients`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ clientId, rsin: '000000000' }),
          });
          if (res.status === 201) acknowledged.push(clientId);
        } catch {
          return; // the process is gone
        }
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    try {
      // Generous: returns as soon as there are 60, however slow the machine is.
      await eventually(async () => acknowledged.length >= 60, 60_000);
    } finally {
      proc.child.kill('SIGKILL');
      await Promise.all(writers);
    }
    assert.equal(await proc.exited, null);
    assert.ok(acknowledged.length >= 60);

    const db = new SQLite(path.join(dataDir, 'zgw-auth.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const stored = new Set(
        (db.prepare('select client_id from clients').all() as { client_id: string }[]).map((r) => r.client_id),
      );
      const missing = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], 'every acknowledged write survived');
    } finally {
      db.close();
    }
    const again = await startServeProcess(dataDir, { ZGW_AUTH_MASTER_KEY: masterKey });
    try {
      assert.equal(
        (
          await postForm(`${again.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'zgw-auth-admin',
            client_secret: secret,
          })
        ).status,
        200,
        'restarts and serves',
      );
    } finally {
      await again.stop();
    }
  });

  it('SIGTERM: the in-flight request completes, new connections are refused, the process exits 0 promptly', async (t) => {
    const proc = await startServeProcess(tempDir());
    t.after(() => (proc.child.exitCode === null && proc.child.signalCode === null ? proc.stop('SIGKILL') : undefined));
    const secret = firstAdminSecret(proc.output())!;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'zgw-auth-admin',
      client_secret: secret,
    }).toString();
    const { port } = new URL(proc.url);
    // A request whose body is still arriving when the signal comes.
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/token',
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        proc.child.kill('SIGTERM');
        // The in-flight request is still open here (its body is not complete): shutdown is under way.
        setTimeout(() => {
          request(`${proc.url}/health/live`).then(
            (r) => reject(new Error(`a new request was served during shutdown: ${r.status}`)),
            (err: NodeJS.ErrnoException) => {
              try {
                assert.equal(err.code, 'ECONNREFUSED');
              } catch (e) {
                reject(e);
              }
              req.end(body.slice(10));
            },
          );
        }, 300);
      }, 200);
    });
    assert.equal(await inFlight, 200, 'the in-flight request completed');
    // Exit code 0 is the proof of a prompt exit: past the 10 s grace period the process ends itself with 1.
    assert.equal(await proc.exited, 0);
  });
});

describe('cluster mode', () => {
  it('serves from several workers on one port, replaces a dead worker and stops on SIGTERM', async (t) => {
    const proc = await startServeProcess(tempDir(), {}, ['--workers', '2']);
    t.after(() => (proc.child.exitCode === null && proc.child.signalCode === null ? proc.stop('SIGKILL') : undefined));
    const secret = firstAdminSecret(proc.output())!;
    const tokenRequest = () =>
      postForm(`${proc.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'zgw-auth-admin',
        client_secret: secret,
      });
    const workerPids = () => [
      ...new Set([...proc.output().matchAll(/"pid":(\d+)[^\n]*zgw-auth listening/g)].map((m) => Number(m[1]))),
    ];
    // Generous bounds: only guards against workers that never come.
    assert.ok(await eventually(async () => workerPids().length === 2, 60_000), 'two workers listen');
    const statuses = await Promise.all(Array.from({ length: 20 }, tokenRequest));
    assert.ok(statuses.every((r) => r.status === 200));
    process.kill(workerPids()[0]!, 'SIGKILL');
    assert.ok(await eventually(async () => workerPids().length === 3, 60_000), 'a replacement worker starts');
    assert.equal((await tokenRequest()).status, 200);
    assert.equal(await proc.stop(), 0);
  });
});

describe('operations', () => {
  it('health, Prometheus metrics, and JSON logs with request ids and no secrets or tokens', async () => {
    const ts = await startTestServer({ env: { ZGW_AUTH_LOCKOUT_THRESHOLD: '1' } });
    try {
      const c = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
      assert.deepEqual((await request(`${ts.url}/health/live`)).json, { status: 'ok' });
      assert.deepEqual((await request(`${ts.url}/health/ready`)).json, {
        status: 'ok',
        checks: { database: 'ok', keys: 'ok' },
      });
      const token = await ts.token(c.clientId, c.secret);
      await postForm(
        `${ts.url}/introspect`,
        { token },
        { authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}` },
      );
      const wrong = () =>
        postForm(
          `${ts.url}/token`,
          { grant_type: 'client_credentials', client_id: c.clientId, client_secret: 'nope' },
          { 'x-request-id': 'trace-me-42' },
          '127.0.0.30',
        );
      assert.equal((await wrong()).status, 401);
      assert.equal((await wrong()).status, 429);
      const metrics = (await request(`${ts.url}/metrics`)).text;
      assert.match(metrics, /zgw_auth_tokens_issued_total\{alg="RS256"\} 1\b/);
      assert.match(metrics, /zgw_auth_token_requests_refused_total\{reason="invalid_client"\} 2\b/);
      assert.match(metrics, /zgw_auth_verifications_total\{kind="oauth2",outcome="ok"\} 1\b/);
      assert.match(metrics, /zgw_auth_rate_limit_hits_total\{limit="failed_auth"\} 1\b/);
      assert.match(
        metrics,
        /zgw_auth_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/token",status="200"\} 1\b/,
      );
      assert.match(
        metrics,
        /zgw_auth_http_request_duration_seconds_count\{method="POST",route="\/token",status="401"\} 1\b/,
      );
      assert.match(metrics, /zgw_auth_signing_key_age_seconds\{kid="[^"]+",state="signing"\} \d/);
      const lines = ts.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(
        lines.some((l) => l.reqId === 'trace-me-42'),
        "the caller's request id is logged",
      );
      const all = ts.logs.join('\n');
      for (const material of [c.secret, token, token.split('.')[2]!])
        assert.ok(!all.includes(material), 'no secret or token in the logs');
    } finally {
      await ts.close();
    }
  });
});
