import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { eventually, firstAdminSecret, postForm, request, startServeProcess } from './helpers.js';
import { LoadRun, sleep, startBalancer } from './load-harness.js';
import { type PrivatePostgres, type PrivateRedis, privatePostgresOn, privateRedis } from './services.js';

/**
 * Every dependency fault under sustained load from keep-alive callers, against real `zgw-auth
 * serve` processes on private PostgreSQL and Redis servers (ports 55440-55449 and 56380-56389, so
 * the shared servers and the other tests' private ones are never touched).
 */

const CALLERS = 16;
/** Registered clients the callers take turns with: enough that lookups keep reaching the database. */
const CLIENTS = 64;
/** Service and readiness are back within this long after the dependency returns. */
const RECOVERY_BOUND_MS = 5000;
/**
 * No request waits longer than the configured bounds: a pool connection (3 s) and then a
 * statement (4 s), with a second of slack for a loaded machine.
 */
const LATENCY_BOUND_MS = 8000;
/** Callers give up here and record a hang. */
const REQUEST_TIMEOUT_MS = 15_000;
const WARM_UP_MS = 2000;

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-load-'));
type Proc = Awaited<ReturnType<typeof startServeProcess>>;

interface Deployment {
  procs: Proc[];
  /** Where callers send requests; one per process unless a balancer is in front. */
  targets: string[];
  adminToken: string;
  bodies: string[];
}

/** Starts `count` processes on one database; the first creates the admin client; clients for the callers are registered. */
async function deploy(count: number, env: Record<string, string>, args: string[] = []): Promise<Deployment> {
  // One issuer for all processes, as behind a balancer: a token from one is accepted by the others.
  const shared = { ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'), ZGW_AUTH_SIGNING_ALG: 'EdDSA', ZGW_AUTH_ISSUER: 'http://zgw-auth.test', ...env };
  const dataDir = tempDir();
  const procs = [await startServeProcess(dataDir, shared, args)];
  const secret = firstAdminSecret(procs[0]!.output())!;
  for (let i = 1; i < count; i++) procs.push(await startServeProcess(dataDir, shared, args));
  const adminToken = (await postForm(`${procs[0]!.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret })).json.access_token as string;
  const bodies: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const res = await request(`${procs[0]!.url}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rsin: '000000000' }),
    });
    assert.equal(res.status, 201, res.text);
    bodies.push(new URLSearchParams({ grant_type: 'client_credentials', client_id: res.json.client.clientId, client_secret: res.json.secret.value }).toString());
  }
  return { procs, targets: procs.map((p) => p.url), adminToken, bodies };
}

function assertAlive(procs: Proc[]) {
  for (const p of procs) assert.ok(p.child.exitCode === null && p.child.signalCode === null, `process ${p.child.pid} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output().slice(-3000)}`);
}

const fmt = (m: Map<string, number>) => JSON.stringify(Object.fromEntries(m));

interface Expectations {
  /** Callers see 503s (the dependency is needed for what they ask). */
  unavailable: boolean;
  /** Readiness reports the fault. */
  unready: boolean;
}

/**
 * Loads the deployment, applies `fault` (which returns when the dependency is back), watches the
 * recovery and checks what every caller saw. Returns the run for scenario-specific checks.
 */
async function underLoad(t: TestContext, d: Deployment, fault: (run: LoadRun) => Promise<void>, expect: Expectations): Promise<{ run: LoadRun; faultAt: number; restoredAt: number }> {
  const prefix = `fault-${crypto.randomBytes(3).toString('hex')}`;
  const run = new LoadRun({
    targets: d.targets,
    callers: CALLERS,
    bodies: d.bodies,
    readyUrls: d.procs.map((p) => p.url),
    admin: { url: d.procs[0]!.url, token: d.adminToken, prefix },
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  run.start();
  let faultAt: number;
  let restoredAt: number;
  try {
    await sleep(WARM_UP_MS);
    faultAt = run.mark('fault');
    await fault(run);
    restoredAt = run.mark('dependency back');
    await sleep(RECOVERY_BOUND_MS + 3000);
  } finally {
    await run.stop();
    for (const line of run.timeline()) t.diagnostic(line);
  }
  const end = run.now();

  const before = run.counts(0, faultAt);
  const during = run.counts(faultAt, restoredAt);
  const recovery = run.recoveredAfter(restoredAt);
  t.diagnostic(`before: ${fmt(before)} (${Math.round((before.get('200') ?? 0) / (faultAt / 1000))} tokens/s); during: ${fmt(during)}; readiness during: ${fmt(run.counts(faultAt, restoredAt, true))}`);
  t.diagnostic(`recovered ${Math.round(recovery)} ms after the dependency returned; slowest request ${Math.round(run.maxLatency())} ms`);

  assertAlive(d.procs);
  assert.ok((before.get('200') ?? 0) / (faultAt / 1000) > 200, `sustained load before the fault: ${fmt(before)}`);
  assert.deepEqual([...run.unexpected], [], 'no 5xx other than 503 temporarily_unavailable with Retry-After');
  const all = run.counts();
  const failures = [...all.keys()].filter((k) => k !== '200' && k !== '503');
  assert.deepEqual(failures, [], `only 200 and 503 answers, no refused, reset or hanging request: ${fmt(all)}`);
  assert.ok(run.maxLatency() <= LATENCY_BOUND_MS, `no request waited past the configured timeouts: ${Math.round(run.maxLatency())} ms`);
  if (expect.unavailable) assert.ok((during.get('503') ?? 0) > 0, `callers saw 503 during the fault: ${fmt(during)}`);
  else assert.equal(during.get('503'), undefined, `callers never saw a 503: ${fmt(during)}`);
  const probes = run.counts(faultAt, restoredAt, true);
  if (expect.unready) assert.ok((probes.get('unready') ?? 0) > 0, `readiness said unready during the fault: ${fmt(probes)}`);
  else assert.deepEqual([...probes.keys()], ['ready'], `readiness stayed ready: ${fmt(probes)}`);
  assert.ok(recovery <= RECOVERY_BOUND_MS, `service and readiness back within ${RECOVERY_BOUND_MS} ms of the dependency: ${Math.round(recovery)} ms`);
  assert.ok((run.counts(restoredAt + recovery, end).get('200') ?? 0) > 0, 'tokens issued after recovery');

  // Admin writes: acknowledged ones are stored; refused ones said so clearly.
  const writes = run.adminWrites;
  assert.ok(writes.length > 5, 'admin writes were attempted throughout');
  for (const w of writes) {
    if (w.status === 201) continue;
    assert.equal(w.status, 503, `an admin write failed with a clear 503, not ${w.status}: ${w.body}`);
    assert.match(w.contentType ?? '', /application\/problem\+json/);
    assert.equal(JSON.parse(w.body).code, 'unavailable');
  }
  if (expect.unavailable)
    assert.ok(
      writes.some((w) => w.status === 503),
      'an admin write during the fault was refused',
    );
  for (const w of writes.filter((w) => w.status === 201)) {
    const res = await request(`${d.procs[0]!.url}/admin/clients/${w.clientId}`, { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(res.status, 200, `acknowledged client ${w.clientId} is stored`);
  }
  t.diagnostic(`admin writes: ${writes.filter((w) => w.status === 201).length} acknowledged and present, ${writes.filter((w) => w.status !== 201).length} refused with 503`);
  return { run, faultAt, restoredAt };
}

describe('faults under load: PostgreSQL', () => {
  let server: PrivatePostgres;
  let d: Deployment;
  let superuser: (database?: string) => Promise<pg.Client>;

  before(async () => {
    // A small max_connections, so that other clients can take every slot.
    server = await privatePostgresOn([55440, 55441, 55442, 55443], { max_connections: '40' });
    superuser = async (database = 'zgw') => {
      const c = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, `/${database}`) });
      c.on('error', () => {});
      await c.connect();
      return c;
    };
    const c = await superuser('postgres');
    // zgw-auth connects as an ordinary role, as in production; the superuser slots stay for the test.
    await c.query('CREATE ROLE zgw LOGIN');
    await c.query('CREATE DATABASE zgw OWNER zgw');
    await c.end();
    // Two processes on one database, as in the reported crash.
    d = await deploy(2, { DATABASE_URL: `postgres://zgw@127.0.0.1:${server.port}/zgw` });
  });

  after(async () => {
    await Promise.all(d?.procs.map((p) => (p.child.exitCode === null ? p.stop() : undefined)) ?? []);
    await server?.destroy();
  });

  const issuedEvents = async () => {
    const c = await superuser();
    try {
      return Number((await c.query("SELECT count(*) AS n FROM audit_events WHERE action = 'token.issued'")).rows[0].n);
    } finally {
      await c.end();
    }
  };

  it('fast stop and start under load: no process dies, callers get 503, service returns by itself; no token goes unaudited', async (t) => {
    const issuedBefore = await issuedEvents();
    const { run } = await underLoad(
      t,
      d,
      async () => {
        await server.stop();
        await sleep(5000);
        await server.start();
      },
      { unavailable: true, unready: true },
    );
    // Tokens issued from cache while the database was away keep their audit events: written once it is back.
    const answered = run.counts().get('200') ?? 0;
    let stored = 0;
    for (let i = 0; i < 50 && (stored = (await issuedEvents()) - issuedBefore) < answered; i++) await sleep(200);
    t.diagnostic(`tokens issued: ${answered}; token.issued events stored: ${stored}`);
    assert.ok(stored >= answered, `every issued token is in the audit trail: ${stored} events for ${answered} tokens`);
  });

  it('postmaster killed (SIGKILL), then started with crash recovery', async (t) => {
    await underLoad(
      t,
      d,
      async () => {
        await server.kill();
        await sleep(4000);
        await server.start();
      },
      { unavailable: true, unready: true },
    );
  });

  it('new connections refused: max_connections reached by other clients', async (t) => {
    const hogs: pg.Client[] = [];
    await underLoad(
      t,
      d,
      async () => {
        const control = await superuser();
        hogs.push(control);
        // Keep zgw-auth out while its connections are cut and other clients take every slot.
        await control.query('ALTER ROLE zgw CONNECTION LIMIT 0');
        await control.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'zgw'`);
        let refusedSince = 0;
        while (!refusedSince || Date.now() - refusedSince < 500) {
          try {
            hogs.push(await superuser());
          } catch (err) {
            assert.equal((err as { code?: string }).code, '53300', String(err));
            refusedSince ||= Date.now();
            await sleep(20);
          }
        }
        // From here on only max_connections keeps zgw-auth out.
        await control.query('ALTER ROLE zgw CONNECTION LIMIT -1');
        await sleep(5000);
        await Promise.all(hogs.map((h) => h.end()));
      },
      { unavailable: true, unready: true },
    );
    t.diagnostic(`${hogs.length} other connections held every slot`);
  });

  it('a table lock held for 10 s: prompt 503s, not hangs; service returns when it is released', async (t) => {
    const { run, faultAt, restoredAt } = await underLoad(
      t,
      d,
      async () => {
        const locker = await superuser();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE clients IN ACCESS EXCLUSIVE MODE');
        await sleep(10_000);
        await locker.query('COMMIT');
        await locker.end();
      },
      { unavailable: true, unready: true },
    );
    // A slow database must not make requests wait for it: answers come within the lock timeout.
    assert.ok(run.maxLatency(faultAt, restoredAt) <= 4000, `503 within the lock timeout, not after the lock: ${Math.round(run.maxLatency(faultAt, restoredAt))} ms`);
  });
});

describe('faults under load: Redis', () => {
  let redis: PrivateRedis;
  let d: Deployment;

  before(async () => {
    redis = await privateRedis(56380);
    d = await deploy(1, { REDIS_URL: redis.url });
  });

  after(async () => {
    await Promise.all(d?.procs.map((p) => (p.child.exitCode === null ? p.stop() : undefined)) ?? []);
    await redis?.destroy();
  });

  it('Redis stopped and started: tokens keep coming with per-process limits, shared limits resume', async (t) => {
    await underLoad(
      t,
      d,
      async () => {
        await redis.stop();
        await sleep(4000);
        await redis.start();
      },
      // Redis holds only rate-limit state: a process without it serves, so it stays ready.
      { unavailable: false, unready: false },
    );
    assert.ok(await eventually(async () => d.procs[0]!.output().includes('shared again'), 5000), 'the return of shared limits is logged');
  });

  it('Redis answering slowly (CLIENT PAUSE): tokens keep coming, each wait bounded by the command timeout', async (t) => {
    const { run, faultAt, restoredAt } = await underLoad(
      t,
      d,
      async () => {
        redis.cli('CLIENT', 'PAUSE', '4000', 'ALL');
        await sleep(4500);
      },
      { unavailable: false, unready: false },
    );
    assert.ok(run.maxLatency(faultAt, restoredAt) <= 2000, `Redis waits bounded: ${Math.round(run.maxLatency(faultAt, restoredAt))} ms`);
  });
});

describe('process faults under load', () => {
  it('SIGTERM during load behind a balancer: callers see no failed request; the process drains and exits 0', async (t) => {
    // Two processes sharing one SQLite database behind a TCP balancer that, like HAProxy or
    // nginx, tries a refused connection on the next backend.
    // The shutdown delay covers the balancer's 100 ms health checks with room to spare.
    const d = await deploy(2, { ZGW_AUTH_SHUTDOWN_DELAY: '1' });
    const balancer = await startBalancer(d.procs.map((p) => Number(new URL(p.url).port)));
    const run = new LoadRun({
      targets: [balancer.url],
      callers: CALLERS,
      bodies: d.bodies,
      readyUrls: [d.procs[1]!.url],
      admin: { url: balancer.url, token: d.adminToken, prefix: 'sigterm' },
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    let drained: number;
    try {
      run.start();
      await sleep(WARM_UP_MS);
      const signalled = run.mark('SIGTERM to one process');
      const code = await d.procs[0]!.stop('SIGTERM');
      drained = run.mark(`exited ${code}`) - signalled;
      assert.equal(code, 0, d.procs[0]!.output().slice(-2000));
      await sleep(2000);
    } finally {
      await run.stop();
      for (const line of run.timeline()) t.diagnostic(line);
      await Promise.all(d.procs.map((p) => (p.child.exitCode === null ? p.stop() : undefined)));
      await balancer.close();
    }
    t.diagnostic(`answers: ${fmt(run.counts())}; drained and exited ${Math.round(drained)} ms after SIGTERM`);
    assert.ok(drained < 11_000, 'exits within the shutdown delay and the grace period');
    assert.deepEqual([...run.counts().keys()], ['200'], `every request succeeded: ${fmt(run.counts())}`);
    assert.ok((run.counts().get('200') ?? 0) > 1000, 'under load');
    assert.ok(run.adminWrites.length > 5 && run.adminWrites.every((w) => w.status === 201), `every admin write acknowledged: ${JSON.stringify(run.adminWrites.filter((w) => w.status !== 201))}`);
  });

  it('a cluster worker killed during load: the primary replaces it; only requests on its connections fail, none with an HTTP error', async (t) => {
    const d = await deploy(1, { ZGW_AUTH_WORKERS: '2' });
    const proc = d.procs[0]!;
    const workerPids = () => [...new Set([...proc.output().matchAll(/"pid":(\d+)[^\n]*zgw-auth listening/g)].map((m) => Number(m[1])))];
    const run = new LoadRun({ targets: [proc.url], callers: CALLERS, bodies: d.bodies, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    let killedAt: number;
    let replacedAfter: number;
    try {
      assert.ok(await eventually(async () => workerPids().length === 2, 10_000), 'two workers listen');
      run.start();
      await sleep(WARM_UP_MS);
      killedAt = run.mark('SIGKILL to a worker');
      process.kill(workerPids()[0]!, 'SIGKILL');
      assert.ok(await eventually(async () => workerPids().length === 3, 10_000), 'a replacement worker listens');
      replacedAfter = run.mark('replacement listening') - killedAt;
      await sleep(3000);
    } finally {
      await run.stop();
      for (const line of run.timeline()) t.diagnostic(line);
    }
    t.diagnostic(`answers: ${fmt(run.counts())}; replacement listening ${Math.round(replacedAfter)} ms after the kill`);
    assert.equal(proc.child.exitCode, null, 'the primary stays up');
    const all = run.counts();
    const failed = [...all].filter(([k]) => k !== '200');
    assert.ok(
      failed.every(([k]) => k.startsWith('err:') && k !== 'err:HANG'),
      `no HTTP error and no hang, only connections of the killed worker: ${fmt(all)}`,
    );
    assert.ok(failed.reduce((n, [, v]) => n + v, 0) <= CALLERS, `at most one failed request per connection: ${fmt(all)}`);
    assert.deepEqual([...run.unexpected], []);
    assert.ok(replacedAfter <= 5000, `replaced within 5 s: ${Math.round(replacedAfter)} ms`);
    // The surviving worker keeps serving: tokens in every second after the kill.
    for (let s = killedAt; s + 1000 <= run.now() - 500; s += 1000) assert.ok((run.counts(s, s + 1000).get('200') ?? 0) > 0, `tokens issued in the second from t+${Math.round(s)} ms`);
    assert.equal(await proc.stop(), 0);
  });
});

describe('last resort', () => {
  it('an error nobody handles is logged, makes the process unready for a while, and does not end it', async () => {
    // A real serve process with one unhandled 'error' event and one unhandled rejection, thrown
    // once it listens (on a signal from the test, not after a guessed delay), as a dependency's
    // stray emitter would.
    const inject = path.join(tempDir(), 'stray.mjs');
    fs.writeFileSync(
      inject,
      `import { EventEmitter } from 'node:events';
process.on('SIGUSR2', () => {
  setTimeout(() => new EventEmitter().emit('error', new Error('stray emitter')), 10);
  setTimeout(() => Promise.reject(new Error('stray rejection')), 20);
});`,
    );
    const proc = await startServeProcess(tempDir(), { NODE_OPTIONS: `--import=${inject}` });
    proc.child.kill('SIGUSR2');
    try {
      const secret = firstAdminSecret(proc.output())!;
      assert.ok(await eventually(async () => proc.output().includes('stray rejection'), 5000), proc.output().slice(-2000));
      assert.match(proc.output(), /"level":60[^\n]*stray emitter|stray emitter[^\n]*"level":60/);
      assertAlive([proc]);
      const ready = await request(`${proc.url}/health/ready`);
      assert.equal(ready.status, 503);
      assert.match(ready.json.checks.process, /unexpected error/);
      assert.equal((await postForm(`${proc.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret })).status, 200, 'still serving');
    } finally {
      assert.equal(await proc.stop(), 0);
    }
  });
});
