import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import {
  assertAlive,
  CALLERS,
  type Deployment,
  deploy,
  fmt,
  REQUEST_TIMEOUT_MS,
  WARM_UP_MS,
} from './fault-deployment.js';
import { eventually, request } from './helpers.js';
import { LoadRun, sleep } from './load-harness.js';
import { type PrivatePostgres, type PrivateRedis, privatePostgres, privateRedis } from './services.js';

/**
 * Every dependency fault under sustained load from keep-alive callers, against real `zgw-auth
 * serve` processes on private PostgreSQL and Redis servers (on free ports, so the shared servers
 * and the other tests' private ones are never touched), and a cluster worker killed under load.
 * Faults whose checks compare no time with a baseline (a drain on SIGTERM, an unhandled error)
 * are in process-faults.test.ts.
 *
 * The tests assert behaviour: no process dies, callers see only 200 or a proper 503, service
 * returns without a restart, nothing acknowledged is lost. They run on shared, busy machines,
 * beside other test files, so no bound is an absolute speed: where a time matters it is the
 * server's configured timeout plus a wide multiple of how slow this machine is right now, measured
 * in the same run: the slowest request before the fault, or the slowest control request (to a
 * trivial server of this process, side by side with the callers) while the fault lasted, whichever
 * is slower. Other files loading the machine during the fault slow both alike; a server that waits
 * longer than it should slows only its own answers.
 */

/** The server's reconnect and readiness schedule: back within this long on an idle machine. */
const RECOVERY_MS = 5000;
/** The longest a request may wait by configuration: a pool connection (3 s), then a statement (4 s). */
const CONFIGURED_WAIT_MS = 7000;
/**
 * After recovery, answers are watched this long to see that service stays back: with 16 callers,
 * hundreds of answers on a busy machine.
 */
const STEADY_MS = 1500;
/**
 * How long a fault lasts when its length is up to the test: long enough for every caller and
 * several readiness probes (every 200 ms) to meet it, which the checks below assert.
 */
const OUTAGE_MS = 2000;
/**
 * Each caller's pause between an answer and its next request: sixteen callers at once still meet
 * every fault (a waiting request holds its caller), but the load takes a share of the machine
 * rather than all of it.
 */
const PAUSE_MS = 50;

interface Expectations {
  /** Callers see 503s (the dependency is needed for what they ask). */
  unavailable: boolean;
  /** Readiness reports the fault. */
  unready: boolean;
}

/**
 * Loads the deployment, applies `fault` (which returns when the dependency is back), watches the
 * recovery and checks what every caller saw. Returns the run, with how slow the machine was (the
 * slowest request before the fault or control request during it) as a baseline, for
 * scenario-specific checks.
 */
async function underLoad(
  t: TestContext,
  d: Deployment,
  fault: (run: LoadRun) => Promise<void>,
  expect: Expectations,
): Promise<{ run: LoadRun; faultAt: number; restoredAt: number; baselineMs: number }> {
  const prefix = `fault-${crypto.randomBytes(3).toString('hex')}`;
  const run = new LoadRun({
    targets: d.targets,
    callers: CALLERS,
    bodies: d.bodies,
    readyUrls: d.procs.map((p) => p.url),
    admin: { url: d.procs[0]!.url, token: d.adminToken, prefix },
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    pauseMs: PAUSE_MS,
    control: true,
  });
  // Service is back within the server's reconnect schedule, plus twice what a fresh start of a
  // process took in this run: recovering without a restart must not take much longer than one.
  const recoveryBound = RECOVERY_MS + 2 * d.startMs;
  run.start();
  let faultAt: number;
  let restoredAt: number;
  try {
    await sleep(WARM_UP_MS);
    faultAt = run.mark('fault');
    await fault(run);
    restoredAt = run.mark('dependency back');
    // Watch until service has been back for STEADY_MS, or the recovery bound has passed.
    while (
      run.now() < restoredAt + recoveryBound + STEADY_MS &&
      run.now() - (restoredAt + run.recoveredAfter(restoredAt)) < STEADY_MS
    )
      await sleep(200);
  } finally {
    await run.stop();
    for (const line of run.timeline()) t.diagnostic(line);
  }
  const end = run.now();

  const before = run.counts(0, faultAt);
  const during = run.counts(faultAt, restoredAt);
  const recovery = run.recoveredAfter(restoredAt);
  // How slow this machine is under this load right now: the slowest request before the fault, or
  // the slowest control request from the fault on (when other files load the machine meanwhile).
  const slowestBefore = run.maxLatency(0, faultAt);
  const control = run.controlLatency(faultAt, end);
  const baselineMs = Math.max(slowestBefore, control);
  t.diagnostic(
    `before: ${fmt(before)} (slowest ${Math.round(slowestBefore)} ms; control from the fault on: ${Math.round(control)} ms); during: ${fmt(during)}; readiness during: ${fmt(run.counts(faultAt, restoredAt, true))}`,
  );
  t.diagnostic(
    `recovered ${Math.round(recovery)} ms after the dependency returned (bound ${Math.round(recoveryBound)} ms: a process started in ${Math.round(d.startMs)} ms); slowest request ${Math.round(run.maxLatency())} ms`,
  );

  assertAlive(d.procs);
  assert.ok((before.get('200') ?? 0) >= CALLERS, `the callers were served before the fault: ${fmt(before)}`);
  assert.deepEqual([...run.unexpected], [], 'no 5xx other than 503 temporarily_unavailable with Retry-After');
  const all = run.counts();
  const failures = [...all.keys()].filter((k) => k !== '200' && k !== '503');
  assert.deepEqual(failures, [], `only 200 and 503 answers, no refused, reset or hanging request: ${fmt(all)}`);
  // The configured waits, plus four times the baseline (a busy machine queues every request), plus a second.
  const latencyBound = CONFIGURED_WAIT_MS + 4 * baselineMs + 1000;
  assert.ok(
    run.maxLatency() <= latencyBound,
    `no request waited past the configured timeouts: ${Math.round(run.maxLatency())} ms (bound ${Math.round(latencyBound)} ms)`,
  );
  if (expect.unavailable) assert.ok((during.get('503') ?? 0) > 0, `callers saw 503 during the fault: ${fmt(during)}`);
  else assert.equal(during.get('503'), undefined, `callers never saw a 503: ${fmt(during)}`);
  const probes = run.counts(faultAt, restoredAt, true);
  if (expect.unready)
    assert.ok((probes.get('unready') ?? 0) > 0, `readiness said unready during the fault: ${fmt(probes)}`);
  else assert.deepEqual([...probes.keys()], ['ready'], `readiness stayed ready: ${fmt(probes)}`);
  assert.ok(
    recovery <= recoveryBound,
    `service and readiness back without a restart, within ${Math.round(recoveryBound)} ms of the dependency: ${Math.round(recovery)} ms`,
  );
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
  const stored = await Promise.all(
    writes
      .filter((w) => w.status === 201)
      .map(async (w) => {
        const res = await request(`${d.procs[0]!.url}/admin/clients/${w.clientId}`, {
          headers: { authorization: `Bearer ${d.adminToken}` },
        });
        return [w.clientId, res.status] as const;
      }),
  );
  for (const [clientId, status] of stored) assert.equal(status, 200, `acknowledged client ${clientId} is stored`);
  t.diagnostic(
    `admin writes: ${writes.filter((w) => w.status === 201).length} acknowledged and present, ${writes.filter((w) => w.status !== 201).length} refused with 503`,
  );
  return { run, faultAt, restoredAt, baselineMs };
}

describe('faults under load: PostgreSQL', () => {
  let server: PrivatePostgres;
  let d: Deployment;
  let superuser: (database?: string) => Promise<pg.Client>;

  before(async () => {
    // A small max_connections, so that other clients can take every slot.
    server = await privatePostgres({ max_connections: '40' });
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
    await Promise.all(d?.procs.filter((p) => p.child.exitCode === null).map((p) => p.stop()) ?? []);
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
        await sleep(OUTAGE_MS);
        await server.start();
      },
      { unavailable: true, unready: true },
    );
    // Tokens issued from cache while the database was away keep their audit events: written once it is back.
    const answered = run.counts().get('200') ?? 0;
    let stored = 0;
    // Polled: audit events are written in batches, later on a busy machine.
    for (let i = 0; i < 150 && (stored = (await issuedEvents()) - issuedBefore) < answered; i++) await sleep(200);
    t.diagnostic(`tokens issued: ${answered}; token.issued events stored: ${stored}`);
    assert.ok(stored >= answered, `every issued token is in the audit trail: ${stored} events for ${answered} tokens`);
  });

  it('postmaster killed (SIGKILL), then started with crash recovery', async (t) => {
    await underLoad(
      t,
      d,
      async () => {
        await server.kill();
        await sleep(OUTAGE_MS);
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
        // Eight at a time: a connection costs PostgreSQL a process, which takes a while on a busy machine.
        const take = async () => {
          while (!refusedSince || Date.now() - refusedSince < 500) {
            try {
              hogs.push(await superuser());
            } catch (err) {
              assert.equal((err as { code?: string }).code, '53300', String(err));
              refusedSince ||= Date.now();
              await sleep(20);
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, take));
        // From here on only max_connections keeps zgw-auth out.
        await control.query('ALTER ROLE zgw CONNECTION LIMIT -1');
        await sleep(OUTAGE_MS);
        await Promise.all(hogs.map((h) => h.end()));
      },
      { unavailable: true, unready: true },
    );
    t.diagnostic(`${hogs.length} other connections held every slot`);
  });

  it('a table lock held for 6 s: prompt 503s, not hangs; service returns when it is released', async (t) => {
    // Longer than the statement timeout (4 s) and the bound below (5 s and four baselines on a
    // quiet machine): a request that waited for the release would take about this long.
    const HOLD_MS = 6000;
    const { run, faultAt, restoredAt, baselineMs } = await underLoad(
      t,
      d,
      async () => {
        const locker = await superuser();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE clients IN ACCESS EXCLUSIVE MODE');
        await sleep(HOLD_MS);
        await locker.query('COMMIT');
        await locker.end();
      },
      { unavailable: true, unready: true },
    );
    // A slow database must not make requests wait for it: answers come within the statement
    // timeout (4 s, with four times the baseline and a second for a busy machine), and in any case
    // before the lock is released.
    const slowest = run.maxLatency(faultAt, restoredAt);
    assert.ok(
      slowest <= 4000 + 4 * baselineMs + 1000,
      `503 within the statement timeout: ${Math.round(slowest)} ms (baseline: ${Math.round(baselineMs)} ms)`,
    );
    assert.ok(slowest < HOLD_MS, `no request waited for the lock to be released: ${Math.round(slowest)} ms`);
    // However slow the machine: callers had their 503 while the lock was still held.
    assert.ok(
      run.answeredWithin('503', faultAt, restoredAt) > 0,
      `503s answered before the lock was released: ${fmt(run.counts(faultAt, restoredAt))}`,
    );
  });
});

describe('faults under load: Redis', () => {
  let redis: PrivateRedis;
  let d: Deployment;

  before(async () => {
    redis = await privateRedis();
    d = await deploy(1, { REDIS_URL: redis.url });
  });

  after(async () => {
    await Promise.all(d?.procs.filter((p) => p.child.exitCode === null).map((p) => p.stop()) ?? []);
    await redis?.destroy();
  });

  it('Redis stopped and started: tokens keep coming with per-process limits, shared limits resume', async (t) => {
    await underLoad(
      t,
      d,
      async () => {
        await redis.stop();
        await sleep(OUTAGE_MS);
        await redis.start();
      },
      // Redis holds only rate-limit state: a process without it serves, so it stays ready.
      { unavailable: false, unready: false },
    );
    assert.ok(
      await eventually(async () => d.procs[0]!.output().includes('shared again'), 5000),
      'the return of shared limits is logged',
    );
  });

  it('Redis answering slowly (CLIENT PAUSE): tokens keep coming, each wait bounded by the command timeout', async (t) => {
    const PAUSE_MS = 4000;
    const { run, faultAt, restoredAt, baselineMs } = await underLoad(
      t,
      d,
      async () => {
        redis.cli('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
        await sleep(PAUSE_MS + 500);
      },
      { unavailable: false, unready: false },
    );
    // A few Redis commands of at most 500 ms each (the command timeout) per request, with four
    // times the baseline for a busy machine; never the whole pause.
    const slowest = run.maxLatency(faultAt, restoredAt);
    assert.ok(
      slowest <= 2000 + 4 * baselineMs,
      `Redis waits bounded: ${Math.round(slowest)} ms (baseline: ${Math.round(baselineMs)} ms)`,
    );
    assert.ok(slowest < PAUSE_MS, `no request waited out the pause: ${Math.round(slowest)} ms`);
  });
});

describe('process faults under load', () => {
  it('a cluster worker killed during load: the primary replaces it; only requests on its connections fail, none with an HTTP error', async (t) => {
    const spawnedAt = Date.now();
    const d = await deploy(1, { ZGW_AUTH_WORKERS: '2' });
    const proc = d.procs[0]!;
    /** Every worker that said it listens, with the time of its log line. */
    const listening = () => {
      const byPid = new Map<number, number>();
      for (const line of proc.output().split('\n'))
        if (line.includes('zgw-auth listening')) {
          const { pid, time } = JSON.parse(line) as { pid: number; time: number };
          if (!byPid.has(pid)) byPid.set(pid, time);
        }
      return byPid;
    };
    const run = new LoadRun({
      targets: [proc.url],
      callers: CALLERS,
      bodies: d.bodies,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      pauseMs: PAUSE_MS,
      control: true,
    });
    let killedAt: number;
    let killedTime: number;
    let replacedAfter: number;
    // Baseline: how long the first two workers took from the primary's spawn until they listened, in this run.
    let startupMs: number;
    try {
      // Generous: only a guard against a primary that never starts its workers.
      assert.ok(await eventually(async () => listening().size === 2, 60_000), 'two workers listen');
      startupMs = Math.max(...listening().values()) - spawnedAt;
      run.start();
      await sleep(WARM_UP_MS);
      killedAt = run.mark('SIGKILL to a worker');
      killedTime = Date.now();
      process.kill([...listening().keys()][0]!, 'SIGKILL');
      assert.ok(
        await eventually(async () => listening().size === 3, Math.max(60_000, 10 * startupMs)),
        'a replacement worker listens',
      );
      replacedAfter = [...listening().values()][2]! - killedTime;
      run.mark('replacement listening');
      await sleep(STEADY_MS);
    } finally {
      await run.stop();
      for (const line of run.timeline()) t.diagnostic(line);
      if (proc.child.exitCode === null) await proc.stop();
    }
    const all = run.counts();
    const gapBefore = run.longestGap(0, killedAt);
    const gapAfter = run.longestGap(killedAt, run.now());
    // The machine's own pauses from the kill on, measured beside the callers (other files load it too).
    const control = run.controlLatency(killedAt, run.now());
    t.diagnostic(
      `answers: ${fmt(all)}; workers up ${startupMs} ms after the spawn; replacement listening ${replacedAfter} ms after the kill`,
    );
    t.diagnostic(
      `longest time without a token: ${Math.round(gapBefore)} ms before the kill, ${Math.round(gapAfter)} ms after; slowest control request after: ${Math.round(control)} ms`,
    );
    assert.equal(proc.child.signalCode, null, 'the primary stays up until it is stopped');
    assert.equal(await proc.exited, 0, 'and then stops cleanly');
    const failed = [...all].filter(([k]) => k !== '200');
    assert.ok(
      failed.every(([k]) => k.startsWith('err:') && k !== 'err:HANG'),
      `no HTTP error and no hang, only connections of the killed worker: ${fmt(all)}`,
    );
    assert.ok(
      failed.reduce((n, [, v]) => n + v, 0) <= CALLERS,
      `at most one failed request per connection: ${fmt(all)}`,
    );
    assert.deepEqual([...run.unexpected], []);
    // A replacement starts as the first workers did, but while the survivor serves the whole load
    // on the same cores: five times their start-up, and five seconds, is a wide margin.
    assert.ok(
      replacedAfter <= 5 * startupMs + 5000,
      `replaced in ${replacedAfter} ms; the first workers took ${startupMs} ms`,
    );
    // The surviving worker keeps serving: no pause in tokens much longer than the load had before
    // the kill, or than the machine itself had meanwhile.
    assert.ok(
      gapAfter <= 4 * Math.max(gapBefore, control) + 2000,
      `tokens kept coming after the kill: no token for ${Math.round(gapAfter)} ms (before: ${Math.round(gapBefore)} ms; control: ${Math.round(control)} ms)`,
    );
  });
});
