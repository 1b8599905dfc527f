import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { ADMIN_SCOPE } from '../src/clients/model.js';
import { SESSIONS_PER_CLIENT } from '../src/sessions/console-sessions.js';
import { csrfTokenOf, sessionIdHash } from '../src/sessions/session-secrets.js';
import { consoleSignIn, csrfOf, sessionCookieOf } from './console-helpers.js';
import {
  type DialectName,
  eventually,
  firstAdminSecret,
  type HttpResult,
  migratedPostgres,
  postForm,
  request,
  startServeProcess,
  startTestServer,
} from './helpers.js';
import { privatePostgres } from './services.js';

type Proc = Awaited<ReturnType<typeof startServeProcess>>;

/** What the README promises for "at once" across processes. */
const BOUND_MS = 500;

/**
 * A round-robin balancer in front of the processes, as a production one without sticky sessions:
 * each request goes to the next backend in turn, whatever its cookie. `nextTo` picks which one takes
 * the next request, so that a test can say "through the other one".
 */
async function roundRobin(): Promise<{
  url: string;
  backends: string[];
  nextTo(i: number): void;
  served: number[];
  close(): Promise<void>;
}> {
  const backends: string[] = [];
  const served: number[] = [];
  let next = 0;
  const server = http.createServer((req, res) => {
    const i = next++ % backends.length;
    served.push(i);
    const up = http.request(
      new URL(req.url ?? '/', backends[i]),
      { method: req.method, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-backend': String(i) });
        answer.pipe(res);
      },
    );
    up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    backends,
    served,
    nextTo: (i) => void (next = i),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Reads the shared database as an operator would: what is stored of the sessions. */
function databaseReader(dialect: DialectName, where: { url?: string; file?: string }) {
  return async <T>(query: string, params: unknown[] = []): Promise<T[]> => {
    if (dialect === 'postgres') {
      const c = new pg.Client({ connectionString: where.url });
      await c.connect();
      try {
        let k = 0;
        return (
          await c.query(
            query.replace(/\?/g, () => `$${++k}`),
            params,
          )
        ).rows as T[];
      } finally {
        await c.end();
      }
    }
    const db = new SQLite(where.file!, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 2000');
      return db.prepare(query).all(...params) as T[];
    } finally {
      db.close();
    }
  };
}

/**
 * Console sessions across two real `zgw-auth serve` processes on one database, behind a
 * round-robin balancer: no sticky sessions.
 */
export function sharedSessionTests(dialect: DialectName): void {
  describe(`console sessions shared by two processes behind a round-robin balancer (${dialect})`, () => {
    let lb: Awaited<ReturnType<typeof roundRobin>>;
    let procs: Proc[] = [];
    let env: Record<string, string>;
    let dirs: string[];
    let dropDb: (() => Promise<void>) | undefined;
    let rows: ReturnType<typeof databaseReader>;
    let admin: { clientId: string; secret: string };

    const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-shared-sessions-'));

    before(async () => {
      lb = await roundRobin();
      env = {
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
        ZGW_AUTH_ISSUER: lb.url,
      };
      if (dialect === 'postgres') {
        const db = await migratedPostgres();
        dropDb = db.drop;
        env.DATABASE_URL = db.url;
        dirs = [tempDir(), tempDir()];
        rows = databaseReader(dialect, { url: db.url });
      } else {
        // One data folder, one SQLite file, two processes.
        const dir = tempDir();
        dirs = [dir, dir];
        rows = databaseReader(dialect, { file: path.join(dir, 'zgw-auth.db') });
      }
      procs.push(await startServeProcess(dirs[0]!, env));
      procs.push(await startServeProcess(dirs[1]!, env));
      lb.backends.push(procs[0]!.url, procs[1]!.url);
      admin = { clientId: 'zgw-auth-admin', secret: firstAdminSecret(procs[0]!.output())! };
      assert.ok(admin.secret, 'the first process showed the admin secret');
    });

    after(async () => {
      await lb?.close();
      await Promise.all(procs.map((p) => p.stop()));
      procs = [];
      await dropDb?.();
      for (const dir of new Set(dirs ?? [])) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A request through the balancer, taken by backend `i`. */
    const via = (i: number, p: string, init: Parameters<typeof request>[1] = {}) => {
      lb.nextTo(i);
      return request(`${lb.url}${p}`, init);
    };
    const served = (res: HttpResult) => Number(res.headers['x-backend']);

    const signIn = async (i: number, clientId = admin.clientId, secret = admin.secret) => {
      lb.nextTo(i);
      const res = await postForm(
        `${lb.url}/console/sign-in`,
        { client_id: clientId, client_secret: secret },
        { origin: lb.url },
      );
      assert.equal(res.status, 303, res.text);
      assert.equal(served(res), i);
      const cookie = sessionCookieOf(res)!.split(';')[0]!;
      return { cookie, id: cookie.split('=')[1]! };
    };
    const page = (i: number, cookie: string, p = '/console/clients') => via(i, p, { headers: { cookie } });
    const post = (i: number, cookie: string, p: string, fields: Record<string, string>) => {
      lb.nextTo(i);
      return postForm(`${lb.url}${p}`, fields, { cookie, origin: lb.url });
    };
    const adminToken = async () =>
      (
        await postForm(`${procs[0]!.url}/token`, {
          grant_type: 'client_credentials',
          client_id: admin.clientId,
          client_secret: admin.secret,
        })
      ).json.access_token as string;
    const adminApi = async (method: string, url: string, body?: unknown) =>
      request(`${procs[0]!.url}/admin${url}`, {
        method,
        headers: {
          authorization: `Bearer ${await adminToken()}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
    const createClient = async (clientId: string, extra: Record<string, unknown> = {}) => {
      const res = await adminApi('POST', '/clients', { clientId, rsin: '000000000', ...extra });
      assert.equal(res.status, 201, res.text);
      return { clientId, secret: res.json.secret.value as string };
    };
    /** The `token.revoked` events of a client's console sessions, once `n` are written (and a moment more, to see any extra). */
    const auditedEnds = async (clientId: string, n: number) => {
      const read = () =>
        rows<{ details: string }>("SELECT details FROM audit_events WHERE action = 'token.revoked' AND actor = ?", [
          clientId,
        ]);
      await eventually(async () => (await read()).length >= n, 5000);
      await new Promise((r) => setTimeout(r, 500));
      return read();
    };
    const signedOut = (res: HttpResult) => res.status === 303 && res.headers.location === '/console/sign-in';

    it('signed in through one, the session serves on the other: pages, its form token and the notice of a change', async () => {
      const target = await createClient(`target-${dialect}`);
      const { cookie, id } = await signIn(0);
      const first = await page(1, cookie);
      assert.equal(first.status, 200, first.text);
      assert.equal(served(first), 1);
      const csrf = csrfOf(first.text);
      // A form of a page that one process sent, posted through the other.
      const disabled = await post(0, cookie, `/console/clients/${target.clientId}/disable`, { csrf });
      assert.equal(disabled.status, 303, disabled.text);
      // The notice set by one process is shown by the other, once.
      const shown = await page(1, cookie, `/console/clients/${target.clientId}`);
      assert.equal(shown.status, 200);
      assert.match(shown.text, /Client uitgeschakeld/);
      assert.doesNotMatch((await page(0, cookie, `/console/clients/${target.clientId}`)).text, /Client uitgeschakeld/);
      // A wrong form token is refused by either process.
      assert.equal((await post(1, cookie, `/console/clients/${target.clientId}/enable`, { csrf: 'x' })).status, 403);

      // What the database holds of the session: its id's hash, no id, no form token, no token.
      const stored = await rows<Record<string, unknown>>('SELECT * FROM console_sessions WHERE id_hash = ?', [
        sessionIdHash(id),
      ]);
      assert.equal(stored.length, 1);
      const dump = JSON.stringify(await rows('SELECT * FROM console_sessions'), (_k, v: unknown) =>
        typeof v === 'bigint' ? Number(v) : v,
      );
      assert.ok(!dump.includes(id), 'no session id in the clear');
      assert.ok(!dump.includes(csrfTokenOf(id)), 'no form token');
      assert.ok(!/eyJ[\w-]+\.eyJ/.test(dump), 'no token (JWT) in the clear');
      assert.ok(!dump.includes('uitgeschakeld'), 'no notice in the clear');
    });

    it(`signed out through one, the session is refused by the other at its next request (within ${BOUND_MS} ms)`, async () => {
      const { cookie } = await signIn(0);
      const page1 = await page(1, cookie);
      assert.equal(page1.status, 200);
      const out = await post(0, cookie, '/console/sign-out', { csrf: csrfOf(page1.text) });
      assert.equal(out.status, 303);
      assert.equal(out.headers.location, '/console/sign-in?signedOut');
      const t0 = Date.now();
      // The very next request through the other process: no copy lives anywhere to time out.
      const next = await page(1, cookie);
      const ms = Date.now() - t0;
      assert.ok(signedOut(next), `refused by the other process (${next.status})`);
      assert.ok(signedOut(await page(0, cookie)));
      process.stdout.write(`# ${dialect}: sign-out through one refused by the other after ${ms} ms\n`);
    });

    it(`a disabled administrator's session ends in every process within ${BOUND_MS} ms, and stays ended when it is enabled again`, async () => {
      const other = await createClient(`second-admin-${dialect}`, { allowedScopes: [ADMIN_SCOPE] });
      const { cookie, id } = await signIn(1, other.clientId, other.secret);
      // Both processes have read the client (and cached it) for this session.
      for (const i of [0, 1, 0, 1]) assert.equal((await page(i, cookie)).status, 200);
      assert.equal((await adminApi('POST', `/clients/${other.clientId}/disable`)).status, 200);
      const t0 = Date.now();
      let refusal: HttpResult | undefined;
      assert.ok(
        await eventually(async () => {
          const res = await request(`${procs[1]!.url}/console/clients`, { headers: { cookie } });
          if (res.status === 200) return false;
          refusal = res;
          return true;
        }, BOUND_MS),
        `refused by the other process within ${BOUND_MS} ms`,
      );
      process.stdout.write(`# ${dialect}: disabled administrator's session refused after ${Date.now() - t0} ms\n`);
      assert.equal(refusal!.status, 401, 'the session ends (sign-in page)');
      assert.ok(signedOut(await page(0, cookie)), 'and is gone from the first process too');
      assert.equal(
        (await rows('SELECT id_hash FROM console_sessions WHERE id_hash = ?', [sessionIdHash(id)])).length,
        0,
        'the row is gone',
      );
      // Ended once: its token revoked and the end audited by one process (the trail is written in batches).
      const ends = await auditedEnds(other.clientId, 1);
      assert.equal(ends.length, 1, JSON.stringify(ends));
      assert.equal(JSON.parse(ends[0]!.details).why, 'refused');
      assert.equal((await adminApi('POST', `/clients/${other.clientId}/enable`)).status, 200);
      for (const i of [0, 1]) assert.ok(signedOut(await page(i, cookie)), 'enabling the client again opens nothing');
    });

    it('a restarted process keeps everyone signed in', async () => {
      const { cookie } = await signIn(0);
      const before = await page(1, cookie);
      assert.equal(before.status, 200);
      for (const i of [0, 1]) {
        await procs[i]!.stop();
        procs[i] = await startServeProcess(dirs[i]!, env);
        lb.backends[i] = procs[i]!.url;
        const res = await page(i, cookie);
        assert.equal(res.status, 200, `served by restarted process ${i}`);
        assert.equal(csrfOf(res.text), csrfOf(before.text), 'with the same form token');
      }
      const out = await post(1, cookie, '/console/sign-out', { csrf: csrfOf(before.text) });
      assert.equal(out.headers.location, '/console/sign-in?signedOut');
    });

    it(`a flood of sign-ins of one client through both keeps at most ${SESSIONS_PER_CLIENT} of its sessions`, async () => {
      const flooder = await createClient(`flooder-${dialect}`, { allowedScopes: [ADMIN_SCOPE] });
      const first = await signIn(0, flooder.clientId, flooder.secret);
      for (let k = 0; k < SESSIONS_PER_CLIENT + 10; k++) await signIn(k % 2, flooder.clientId, flooder.secret);
      const [counted] = await rows<{ n: number | string }>(
        'SELECT count(*) AS n FROM console_sessions WHERE client_id = ?',
        [flooder.clientId],
      );
      assert.equal(Number(counted?.n), SESSIONS_PER_CLIENT);
      assert.ok(signedOut(await page(1, first.cookie)), 'its oldest session ended');
      const evicted = await auditedEnds(flooder.clientId, 11);
      assert.equal(evicted.length, 11);
      assert.ok(evicted.every((e) => JSON.parse(e.details).why === 'evicted'));
    });

    it(`sign-ins of one client at once, on both processes, leave exactly ${SESSIONS_PER_CLIENT} of its sessions`, async () => {
      const racer = await createClient(`racer-${dialect}`, { allowedScopes: [ADMIN_SCOPE] });
      const n = SESSIONS_PER_CLIENT * 3;
      // Straight to the processes, all sent before any answer: the balancer would take them one by one.
      const answers = await Promise.all(
        Array.from({ length: n }, (_, k) =>
          postForm(
            `${procs[k % 2]!.url}/console/sign-in`,
            { client_id: racer.clientId, client_secret: racer.secret },
            { origin: lb.url },
          ),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array.from({ length: n }, () => 303),
      );
      const [counted] = await rows<{ n: number | string }>(
        'SELECT count(*) AS n FROM console_sessions WHERE client_id = ?',
        [racer.clientId],
      );
      assert.equal(Number(counted?.n), SESSIONS_PER_CLIENT);
      const evicted = await auditedEnds(racer.clientId, n - SESSIONS_PER_CLIENT);
      assert.equal(evicted.length, n - SESSIONS_PER_CLIENT, 'each session beyond the cap ended once');
    });
    if (dialect === 'postgres')
      it("a flood of one client's sign-ins on both processes parks at most one connection of each on the sign-in lock; another administrator signs in meanwhile", async () => {
        const flooder = await createClient('flooder-pool', { allowedScopes: [ADMIN_SCOPE] });
        const waiting = async () => {
          const [row] = await rows<{ n: number | string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
          );
          return Number(row?.n);
        };
        let done = false;
        let most = 0;
        const sampler = (async () => {
          while (!done) most = Math.max(most, await waiting());
        })();
        const victim: number[] = [];
        const victimLoop = (async () => {
          for (let k = 0; !done; k++) {
            const res = await postForm(
              `${procs[k % 2]!.url}/console/sign-in`,
              { client_id: admin.clientId, client_secret: admin.secret },
              { origin: lb.url },
            );
            victim.push(res.status);
          }
        })();
        let next = 0;
        const flood: number[] = [];
        try {
          await Promise.all(
            Array.from({ length: 60 }, async () => {
              for (let k = next++; k < 240; k = next++) {
                const res = await postForm(
                  `${procs[k % 2]!.url}/console/sign-in`,
                  { client_id: flooder.clientId, client_secret: flooder.secret },
                  { origin: lb.url },
                );
                flood.push(res.status);
              }
            }),
          );
        } finally {
          done = true;
          await Promise.all([sampler, victimLoop]);
        }
        // Each process sends one sign-in at a time to the lock: one holds it, the other's waits. The
        // sampler reads the backends one after another, not at one instant, so a hand-over between
        // two reads can show both processes' sign-ins waiting: at most one per process, not one in
        // all (without the turns, nearly the whole pool waited).
        assert.ok(most <= 2, `${most} connections waited for the sign-in lock at once`);
        assert.ok(
          victim.length > 0 && victim.every((s) => s === 303),
          `the administrator's sign-ins: ${victim.join(' ')}`,
        );
        assert.ok(
          flood.every((s) => s === 303 || s === 503),
          `the flood: ${[...new Set(flood)].join(' ')}`,
        );
      });
  });

  if (dialect === 'postgres')
    describe('console sessions while the database is away (postgres)', () => {
      it('a page answers 503 with Retry-After, not 500 and not a sign-out; once the database is back the session serves again', async () => {
        const pgServer = await privatePostgres();
        const ts = await startTestServer({ databaseUrl: pgServer.url });
        try {
          const c = await consoleSignIn(ts);
          await pgServer.stop();
          const down = await c.get('/console/clients');
          assert.equal(down.status, 503, down.text);
          assert.equal(down.headers['retry-after'], '1');
          assert.doesNotMatch(down.text, /at .*\.js|Error:/, 'no stack trace');
          assert.equal(sessionCookieOf(down), undefined, 'the cookie is not cleared');
          await pgServer.start();
          assert.ok(
            await eventually(async () => (await c.get('/console/clients')).status === 200, 10_000),
            'the same session once the database is back',
          );
        } finally {
          await ts.close();
          await pgServer.destroy();
        }
      });
    });
}
