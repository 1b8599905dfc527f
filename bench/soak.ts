// npm run soak [-- --minutes N] [-- --rate R] [-- --out DIR] [-- --smoke] [-- --prefill EVENTS]
//
// An hour (by default) of steady load on a deployment as platform teams run it: two `zgw-auth
// serve` processes on one PostgreSQL database and one Redis, callers spread over both. The load is
// open-loop at a fixed rate (half of the peak of the same mix, measured at the start, unless --rate is given): a
// mix of /token, /introspect and admin reads; on the way a signing key is rotated (a third in) and
// a client in use is disabled (two thirds in). Every minute: RSS, heap and event-loop delay of
// each process (from its /metrics), p50/p99 latency and errors. At the end the audit trail is
// counted against the tokens issued. Written: soak.json and soak.svg in --out (docs/ by default),
// and a verdict; the exit code is 1 when the verdict is "failed".
//
// Verdict (after a warm-up of the first tenth of the run, at least one minute):
// - RSS of each process within ±10 % of its value at the end of the warm-up;
// - p99 of every later minute within ±20 % of the p99 over the first ten minutes after warm-up
//   (or the first half, for a shorter run), or within 5 ms of it: on a quiet machine a p99 of 2 ms
//   moves by more than a fifth from noise alone;
// - no error: every answer a 200, except the disabled client's 401s after it was disabled;
// - no lost audit event: as many token.issued events as tokens issued.
//
// --prefill EVENTS: the audit trail holds that many older events before the load starts, as a
// registry that has been busy for a while does (a diagnosis: does a large trail slow anything?).
//
// --smoke: a check that the tool works (used by the test suite): a fixed low rate, no peak
// measurement, and the verdict's stability bounds reported but not judged (two minutes are too few).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import pg from 'pg';
import { createApp, createLogger } from '../src/app.js';
import { ADMIN_SCOPE } from '../src/clients/model.js';
import { loadConfig } from '../src/config.js';
import { ROOT, WORK_DIR } from './paths.js';
import type { ServerProcess } from './processes.js';
import { basic, type Credentials, createRegistry, type Registry, tokenRequest } from './registry.js';
import { startZgwAuth } from './servers.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const smoke = args.includes('--smoke');
const minutes = Number(option('--minutes') ?? (smoke ? 2 : 60));
const outDir = path.resolve(option('--out') ?? path.join(ROOT, 'docs'));
const fixedRate = option('--rate') === undefined ? undefined : Number(option('--rate'));
const prefill = Number(option('--prefill') ?? 0);
if (
  !(minutes > 0 && minutes <= 24 * 60) ||
  (fixedRate !== undefined && !(fixedRate > 0 && fixedRate <= 100_000)) ||
  !(Number.isInteger(prefill) && prefill >= 0 && prefill <= 100_000_000)
) {
  console.error(
    'usage: npm run soak [-- --minutes 1..1440] [-- --rate 1..100000] [-- --out DIR] [-- --smoke] [-- --prefill 0..100000000]',
  );
  process.exit(2);
}
/** Smoke runs report per ten seconds: two minutes are then twelve points, not two. */
const PERIOD_MS = smoke ? 10_000 : 60_000;
const periods = Math.round((minutes * 60_000) / PERIOD_MS);
const SMOKE_RATE = 40;
/** How many clients share the load; one of them is disabled on the way. */
const CLIENTS = 50;
const MAX_IN_FLIGHT = 512;

const log = (message: string) => console.error(`[soak ${Math.round(process.uptime())} s] ${message}`);

interface Period {
  /** Index from 0; `minute` in a full run, ten seconds in a smoke run. */
  index: number;
  requests: number;
  errors: number;
  /** The errors by answer ("0": no answer; "inactive": /introspect said a live token was not). */
  errorsBy: Record<string, number>;
  /** The disabled client's refusals after it was disabled: expected, not errors. */
  expectedRefusals: number;
  p50Ms: number;
  p99Ms: number;
  /** p99 per kind of request: which path moves when the whole does. */
  p99MsBy: Record<Outcome['kind'], number>;
  /** What PostgreSQL did in the period (deltas), and the audit trail's size at its end. */
  database: DatabaseFigures;
  processes: ProcessFigures[];
  /** The load generator's own event-loop delay: a busy generator would make latencies its own. */
  generatorLagP99Ms: number;
  generatorLagMaxMs: number;
  /**
   * CPU time per 1,000 answers, of the generator and of each process. The generator's work per
   * request never changes: when its figure rises with the servers', the machine got slower (a
   * neighbour on the host, a busier kernel), not zgw-auth.
   */
  cpuPerThousandMs: { generator: number; processes: number[] };
  /** The whole machine in the period: what else ran, and time the hypervisor gave to others. */
  machine: MachineFigures;
  /**
   * Answers slower than SLOW_MS, and how many of them fell into the period's worst five seconds:
   * most of them there means a pause; spread over the period means queueing under load.
   */
  slow: { count: number; inWorstFiveSeconds: number };
}

/** What makes an answer "slow" for the clustering figure: above a quiet run's per-minute p99. */
const SLOW_MS = 10;

interface ProcessFigures {
  rssMb: number;
  heapMb: number;
  eventLoopP99Ms: number;
  /** Garbage collection in the period: pause time by kind, and pauses of more than 10 ms. */
  gcMajorMs: number;
  gcMinorMs: number;
  gcPausesOver10Ms: number;
}

interface MachineFigures {
  busyPercent: number;
  stealPercent: number;
  iowaitPercent: number;
}

/** /proc/stat's first line: CPU time of the whole machine since boot, in ticks. */
class MachineWatch {
  private last = MachineWatch.read();

  private static read(): number[] {
    try {
      const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
      return line.trim().split(/\s+/).slice(1, 9).map(Number);
    } catch {
      return [];
    }
  }

  period(): MachineFigures {
    const now = MachineWatch.read();
    const d = now.map((v, i) => v - (this.last[i] ?? 0));
    this.last = now;
    const total = d.reduce((a, b) => a + b, 0);
    if (!(total > 0) || d.length < 8) return { busyPercent: NaN, stealPercent: NaN, iowaitPercent: NaN };
    // user nice system idle iowait irq softirq steal
    const pct = (v: number) => Math.round((1000 * v) / total) / 10;
    return { busyPercent: pct(total - d[3]! - d[4]! - d[7]!), stealPercent: pct(d[7]!), iowaitPercent: pct(d[4]!) };
  }
}

interface DatabaseFigures {
  checkpoints: number;
  /** Buffers written by the connections' own backends: the writer and checkpointer fell behind. */
  backendWrites: number;
  walMb: number;
  autovacuums: number;
  autoanalyzes: number;
  auditMb: number;
  clientsDeadRows: number;
}

/** PostgreSQL's own counters, read once per period: what the database did while latency moved. */
class DatabaseWatch {
  private last: DatabaseFigures | undefined;
  private constructor(
    private readonly client: pg.Client,
    /** The server's autovacuum setting: production runs with it on; a CI server may have it off. */
    readonly autovacuum: string,
  ) {}

  static async open(databaseUrl: string): Promise<DatabaseWatch> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client.query('SHOW autovacuum');
    const watch = new DatabaseWatch(client, String(rows[0].autovacuum));
    if (watch.autovacuum !== 'on')
      log('PostgreSQL runs with autovacuum off: updated rows are never vacuumed, unlike in production');
    await watch.period();
    return watch;
  }

  /** The counters since the last call (sizes as they are now). */
  async period(): Promise<DatabaseFigures> {
    const { rows } = await this.client.query(`SELECT
        (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) AS checkpoints,
        (SELECT buffers_backend FROM pg_stat_bgwriter) AS backend_writes,
        (SELECT wal_bytes FROM pg_stat_wal) AS wal_bytes,
        (SELECT coalesce(sum(autovacuum_count), 0) FROM pg_stat_user_tables) AS autovacuums,
        (SELECT coalesce(sum(autoanalyze_count), 0) FROM pg_stat_user_tables) AS autoanalyzes,
        pg_total_relation_size('audit_events') AS audit_bytes,
        (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'clients') AS clients_dead`);
    const r = rows[0];
    const now: DatabaseFigures = {
      checkpoints: Number(r.checkpoints),
      backendWrites: Number(r.backend_writes),
      walMb: Number(r.wal_bytes) / 2 ** 20,
      autovacuums: Number(r.autovacuums),
      autoanalyzes: Number(r.autoanalyzes),
      auditMb: Number(r.audit_bytes) / 2 ** 20,
      clientsDeadRows: Number(r.clients_dead),
    };
    const before = this.last ?? now;
    this.last = now;
    return {
      checkpoints: now.checkpoints - before.checkpoints,
      backendWrites: now.backendWrites - before.backendWrites,
      walMb: Math.round((now.walMb - before.walMb) * 10) / 10,
      autovacuums: now.autovacuums - before.autovacuums,
      autoanalyzes: now.autoanalyzes - before.autoanalyzes,
      auditMb: Math.round(now.auditMb),
      clientsDeadRows: now.clientsDeadRows,
    };
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/**
 * Older events in the audit trail, written straight into the table: token.issued events of the
 * registry's clients, as many per hour as the load writes, ending before the run starts. Not in
 * the hourly counts (the activity page is not under test here).
 */
async function prefillAudit(databaseUrl: string, events: number, clients: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const end = Date.now() - 60_000;
    const step = 1000 / 1100; // ms between events: about the load's rate of tokens
    for (let done = 0; done < events; done += 500_000) {
      const n = Math.min(500_000, events - done);
      await c.query(
        `INSERT INTO audit_events (at, actor, action, target, organisation, address, reason, details)
         SELECT ($1::bigint - ((i + $2::bigint) * $3::float8)::bigint), t.client_id, 'token.issued', t.client_id,
                '000000000', '127.0.0.1', NULL,
                json_build_object('jti', gen_random_uuid(), 'scope', '', 'expiresIn', 3600)::text
         FROM generate_series(0, $4 - 1) AS i, LATERAL (SELECT ($5::text[])[1 + i % $6] AS client_id) AS t`,
        [end, done, step, n, clients, clients.length],
      );
      log(`prefilled ${done + n} audit events`);
    }
    await c.query('VACUUM ANALYZE audit_events');
  } finally {
    await c.end();
  }
}

interface Outcome {
  status: number;
  ms: number;
  kind: 'token' | 'introspect' | 'admin';
  disabledClient: boolean;
}

async function main(): Promise<void> {
  const work = path.join(WORK_DIR, `soak-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(work, { recursive: true });
  log(`registry of ${CLIENTS} clients on PostgreSQL; Redis ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`);
  const registry = await createRegistry(path.join(work, 'registry'), { alg: 'ES256', count: CLIENTS, postgres: true });
  // One issuer for both, as behind a load balancer: each accepts the tokens of the other.
  const env: Record<string, string> = {
    ...registry.env,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ZGW_AUTH_ISSUER: 'https://zgw-auth.soak.example',
  };
  const admin = await adminClient(env);
  await forgetEarlierFailures(env.REDIS_URL!);
  if (prefill)
    await prefillAudit(
      env.DATABASE_URL!,
      prefill,
      registry.clients.map((c) => c.clientId),
    );
  const watch = await DatabaseWatch.open(env.DATABASE_URL!);
  const procs: ServerProcess[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    // Free ports, not the benchmark's range: the smoke run of the test suite runs beside other files.
    for (const name of ['soak A', 'soak B'])
      procs.push(await startZgwAuth({ name, registry: { ...registry, env }, workDir: work, port: await freePort() }));
    const load = new Load(procs, registry, admin, agent, watch);
    await load.prepare();
    const rate = fixedRate ?? (smoke ? SMOKE_RATE : Math.max(10, Math.round((await load.peak(10_000)) / 2)));
    const generatorNice = measureFromAbove();
    const serverNice = procs.map((proc) => os.getPriority(proc.pid));
    log(
      `${minutes} min at ${rate} req/s over ${procs.length} processes (nice ${serverNice.join('/')}); load generator at nice ${generatorNice}`,
    );
    // The run's events are those stamped from its start on: tokens fetched before it may still be
    // in a batch on its way, and a window by count would take them for the run's own.
    const runStartedAt = Date.now();
    const result = await load.run(rate, periods);
    const issuedEvents = await issuedSince(env.DATABASE_URL!, runStartedAt, result.tokensIssued);
    const report = verdict(result.periods, result.latencies, {
      tokensIssued: result.tokensIssued,
      issuedEvents,
      rate,
      events: result.events,
      autovacuum: watch.autovacuum,
      generatorNice,
      serverNice,
    });
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(outDir, 'soak.svg'), chart(report));
    console.log(summary(report));
    process.exitCode = report.verdict === 'failed' ? 1 : 0;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await watch.close();
    agent.destroy();
    await registry.dropDatabase?.();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Clears what an earlier run left in Redis under the same client ids: its disabled client's failed
 * attempts would hold the new one's client of that id in back-off from the first minute.
 */
async function forgetEarlierFailures(redisUrl: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  try {
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'zgw-auth:fail:*bench-*', 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/** A global administrator's credentials, for the admin reads, the rotation and the disabling. */
async function adminClient(env: Record<string, string>): Promise<Credentials> {
  const app = await createApp(loadConfig({ ...env, ZGW_AUTH_LOG_LEVEL: 'silent' }), { log: createLogger('silent') });
  try {
    const created = await app.clients.create(
      { clientId: 'soak-admin', rsin: '000000000', allowedScopes: [ADMIN_SCOPE] },
      { id: 'soak' },
    );
    return { clientId: 'soak-admin', secret: created.secret.value };
  } finally {
    await app.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * token.issued events stamped at or after `since`. The servers write them in batches, later on a
 * busy machine: read again until there are `expected`, or the count has not grown for ten seconds
 * (a lost event never arrives; a batch on its way does).
 */
async function issuedSince(databaseUrl: string, since: number, expected: number): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    let count = -1;
    let grewAt = Date.now();
    for (;;) {
      const { rows } = await c.query(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'token.issued' AND at >= $1",
        [since],
      );
      const now = Number(rows[0].n);
      if (now > count) [count, grewAt] = [now, Date.now()];
      if (count >= expected || Date.now() - grewAt > 10_000) return count;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await c.end();
  }
}

class Load {
  private adminToken = '';
  private introspectable: string[] = [];
  private tokensAt = 0;
  private disabled: string | undefined;
  private next = 0;
  /** Token requests go to every client in turn, the one disabled on the way included. */
  private tokenTurn = 0;
  /** Tokens /token issued during the run, the load's and these helpers' own. */
  tokensIssued = 0;

  constructor(
    private readonly procs: ServerProcess[],
    private readonly registry: Registry,
    private readonly admin: Credentials,
    private readonly agent: http.Agent,
    private readonly database: DatabaseWatch,
  ) {
    this.gcWatch = procs.map(() => new ProcessWatch());
  }

  private readonly gcWatch: ProcessWatch[];
  private readonly machine = new MachineWatch();

  /**
   * The admin token and the tokens to introspect, fetched again every five minutes so that none
   * expires during a long run. Not the last client's: it is the one disabled on the way.
   */
  async prepare(): Promise<void> {
    this.adminToken = await this.token(this.admin, 'scope=' + encodeURIComponent(ADMIN_SCOPE));
    const tokens: string[] = [];
    for (const c of this.registry.clients.slice(0, 20)) tokens.push(await this.token(c));
    this.introspectable = tokens;
    this.tokensAt = performance.now();
  }

  private async token(c: Credentials, scope?: string): Promise<string> {
    const [authorization, body] = tokenRequest(c);
    const res = await this.send(this.procs[0]!, 'POST', '/token', {
      authorization,
      body: scope ? `grant_type=client_credentials&${scope}` : body,
    });
    if (res.status !== 200) throw new Error(`no token for ${c.clientId}: ${res.status} ${res.body}`);
    this.tokensIssued++;
    return JSON.parse(res.body).access_token as string;
  }

  private send(
    proc: ServerProcess,
    method: string,
    pathname: string,
    o: { authorization: string; body?: string; json?: boolean },
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
      const headers: http.OutgoingHttpHeaders = { authorization: o.authorization };
      if (o.body !== undefined) {
        headers['content-type'] = o.json ? 'application/json' : 'application/x-www-form-urlencoded';
        headers['content-length'] = Buffer.byteLength(o.body);
      }
      const req = http.request(
        `${proc.url}${pathname}`,
        { method, headers, agent: this.agent, timeout: 30_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', () => resolve({ status: 0, body }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, body: '' }));
      req.end(o.body);
    });
  }

  /** One request of the mix: 70 % /token, 20 % /introspect, 10 % an admin read; both processes in turn. */
  private async one(): Promise<Outcome> {
    const n = this.next++;
    // Each process gets every kind of the mix: with n % 2 alone, the odd picks (every admin read)
    // would all go to the second process, since the kind is chosen by n % 10.
    const proc = this.procs[(n + Math.floor(n / 10)) % this.procs.length]!;
    const pick = n % 10;
    const began = performance.now();
    if (pick < 7) {
      const client = this.registry.clients[this.tokenTurn++ % this.registry.clients.length]!;
      const [authorization, body] = tokenRequest(client);
      const res = await this.send(proc, 'POST', '/token', { authorization, body });
      return {
        status: res.status,
        ms: performance.now() - began,
        kind: 'token',
        disabledClient: client.clientId === this.disabled,
      };
    }
    if (pick < 9) {
      const token = this.introspectable[n % this.introspectable.length]!;
      const res = await this.send(proc, 'POST', '/introspect', {
        authorization: basic(this.registry.introspector),
        body: `token=${token}`,
      });
      // A body that is not JSON counts as an answer that was not the token's: an error, never a crash.
      const active = res.status === 200 && /"active":true/.test(res.body);
      return {
        status: active ? 200 : res.status === 200 ? 599 : res.status,
        ms: performance.now() - began,
        kind: 'introspect',
        disabledClient: false,
      };
    }
    const res = await this.send(proc, 'GET', '/admin/clients?limit=20', { authorization: `Bearer ${this.adminToken}` });
    return { status: res.status, ms: performance.now() - began, kind: 'admin', disabledClient: false };
  }

  /**
   * Closed-loop throughput of the run's own mix (the same requests, both processes) for `ms`: the
   * peak the rate is half of. A /token-only peak would overstate it, since an admin read costs more.
   */
  async peak(ms: number): Promise<number> {
    log(`measuring the peak for ${ms / 1000} s`);
    const end = performance.now() + ms;
    let done = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < end) if ((await this.one()).status === 200) done++;
      }),
    );
    return (done / ms) * 1000;
  }

  async run(rate: number, count: number) {
    const events: Array<{ at: number; what: string; status: number }> = [];
    const periodsOut: Period[] = [];
    /** Per period, the latencies of all answers: the verdict pools the early ones. */
    const latencies: RecordableHistogram[] = [];
    let current = new Tally();
    let inFlight = 0;
    let overload = 0;
    this.tokensIssued = 0;
    const lag = monitorEventLoopDelay({ resolution: 10 });
    let generatorCpu = process.cpuUsage();
    for (const [i, proc] of this.procs.entries()) this.gcWatch[i]!.cpuMs(proc.pid);
    lag.enable();
    const started = performance.now();
    const total = count * PERIOD_MS;
    let sent = 0;
    const rotateAt = total / 3;
    const disableAt = (2 * total) / 3;
    let rotated = false;
    let disabledDone = false;
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((elapsed / 1000) * rate) - sent;
      for (let i = 0; i < due; i++) {
        sent++;
        if (inFlight >= MAX_IN_FLIGHT) {
          overload++;
          continue;
        }
        inFlight++;
        void this.one().then((o) => {
          inFlight--;
          if (o.kind === 'token' && o.status === 200) this.tokensIssued++;
          // A disabled client is refused: 401, and 429 once its failures reach the back-off.
          current.add(o, o.disabledClient && (o.status === 401 || o.status === 429) && disabledDone);
        });
      }
    }, 5);
    try {
      for (let p = 0; p < count; p++) {
        const periodEnd = started + (p + 1) * PERIOD_MS;
        while (performance.now() < periodEnd) {
          const elapsed = performance.now() - started;
          if (!rotated && elapsed >= rotateAt) {
            rotated = true;
            const res = await this.send(this.procs[0]!, 'POST', '/admin/keys/rotate', {
              authorization: `Bearer ${this.adminToken}`,
              body: '{}',
              json: true,
            });
            events.push({ at: elapsed, what: 'signing key rotated', status: res.status });
          }
          if (!disabledDone && elapsed >= disableAt) {
            disabledDone = true;
            const victim = this.registry.clients.at(-1)!.clientId;
            this.disabled = victim;
            const res = await this.send(this.procs[1]!, 'PATCH', `/admin/clients/${victim}`, {
              authorization: `Bearer ${this.adminToken}`,
              body: JSON.stringify({ enabled: false }),
              json: true,
            });
            events.push({ at: elapsed, what: `client ${victim} disabled`, status: res.status });
          }
          if (performance.now() - this.tokensAt > 300_000) await this.prepare();
          await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, periodEnd - performance.now()))));
        }
        const tally = current;
        current = new Tally();
        if (overload) tally.errorsBy.overload = overload;
        latencies.push(tally.all);
        periodsOut.push({
          index: p,
          requests: tally.requests,
          errors: tally.errors + overload,
          errorsBy: tally.errorsBy,
          expectedRefusals: tally.expectedRefusals,
          p50Ms: percentileMs(tally.all, 50),
          p99Ms: percentileMs(tally.all, 99),
          p99MsBy: {
            token: percentileMs(tally.byKind.token, 99),
            introspect: percentileMs(tally.byKind.introspect, 99),
            admin: percentileMs(tally.byKind.admin, 99),
          },
          database: await this.database.period(),
          processes: await Promise.all(this.procs.map((proc, i) => this.gcWatch[i]!.figures(proc, this.agent))),
          generatorLagP99Ms: lag.percentile(99) / 1e6,
          generatorLagMaxMs: lag.max / 1e6,
          cpuPerThousandMs: {
            generator: perThousand(cpuMsSince(generatorCpu), tally.requests),
            processes: this.procs.map((proc, i) => perThousand(this.gcWatch[i]!.cpuMs(proc.pid), tally.requests)),
          },
          machine: this.machine.period(),
          slow: tally.slow(),
        });
        overload = 0;
        lag.reset();
        generatorCpu = process.cpuUsage();
        const last = periodsOut.at(-1)!;
        log(
          `${smoke ? `${(p + 1) * 10} s` : `minute ${p + 1}`}: ${last.requests} requests, ${last.errors} errors ${JSON.stringify(last.errorsBy)}, p50 ${last.p50Ms.toFixed(1)} ms, p99 ${last.p99Ms.toFixed(1)} ms (${Object.entries(
            last.p99MsBy,
          )
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(
              ', ',
            )}), slow ${last.slow.count} (${last.slow.inWorstFiveSeconds} in the worst 5 s), db ${JSON.stringify(last.database)}, RSS ${last.processes.map((x) => x.rssMb.toFixed(0)).join('/')} MB, GC major ${last.processes.map((x) => x.gcMajorMs.toFixed(0)).join('/')} ms minor ${last.processes.map((x) => x.gcMinorMs.toFixed(0)).join('/')} ms >10 ms ${last.processes.map((x) => x.gcPausesOver10Ms).join('/')}, loop p99 ${last.processes.map((x) => x.eventLoopP99Ms.toFixed(1)).join('/')} ms, generator lag p99/max ${last.generatorLagP99Ms.toFixed(1)}/${last.generatorLagMaxMs.toFixed(1)} ms, CPU per 1,000 answers generator ${last.cpuPerThousandMs.generator} ms, processes ${last.cpuPerThousandMs.processes.join('/')} ms, machine ${JSON.stringify(last.machine)}`,
        );
      }
    } finally {
      clearInterval(tick);
      lag.disable();
    }
    // The last answers of the run (the audit trail's batches are waited for by issuedSince).
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    return { periods: periodsOut, latencies, tokensIssued: this.tokensIssued, events };
  }
}

const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};
const perThousand = (ms: number, requests: number) => (requests ? Math.round((ms / requests) * 10_000) / 10 : 0);

/** Latencies in microseconds (three significant digits): no array of every request to sort. */
const latencyHistogram = () => createHistogram({ lowest: 1, highest: 120_000_000, figures: 3 });
const percentileMs = (h: RecordableHistogram, p: number) => (h.count ? h.percentile(p) / 1000 : 0);

/** One period's answers as they arrive. */
class Tally {
  readonly all = latencyHistogram();
  readonly byKind = { token: latencyHistogram(), introspect: latencyHistogram(), admin: latencyHistogram() };
  requests = 0;
  errors = 0;
  expectedRefusals = 0;
  readonly errorsBy: Record<string, number> = {};
  /** Slow answers per second of the period (by the second they arrived in). */
  private readonly slowBySecond = new Map<number, number>();

  /** `expected`: a refusal of the client disabled on the way, after it was disabled. */
  add(o: Outcome, expected: boolean): void {
    this.requests++;
    if (o.ms > SLOW_MS) {
      const second = Math.floor(performance.now() / 1000);
      this.slowBySecond.set(second, (this.slowBySecond.get(second) ?? 0) + 1);
    }
    const us = Math.max(1, Math.round(o.ms * 1000));
    this.all.record(us);
    this.byKind[o.kind].record(us);
    if (expected) this.expectedRefusals++;
    else if (o.status !== 200) {
      this.errors++;
      const key = o.status === 599 ? 'inactive' : String(o.status);
      this.errorsBy[key] = (this.errorsBy[key] ?? 0) + 1;
    }
  }

  slow(): Period['slow'] {
    const counts = [...this.slowBySecond.values()].sort((a, b) => b - a);
    return {
      count: counts.reduce((a, b) => a + b, 0),
      inWorstFiveSeconds: counts.slice(0, 5).reduce((a, b) => a + b, 0),
    };
  }
}

/**
 * RSS, heap, event-loop delay and garbage collection of a process, from the Prometheus metrics it
 * serves; collection as the change since the last period.
 */
class ProcessWatch {
  private lastGc = { major: 0, minor: 0, over10: 0 };
  private lastCpuMs = 0;

  /** CPU time (user and system) the process used since the last call, in ms. */
  cpuMs(pid: number): number {
    let now = this.lastCpuMs;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks of 10 ms (Linux's USER_HZ).
      now = (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // gone: no CPU since
    }
    const used = now - this.lastCpuMs;
    this.lastCpuMs = now;
    return used;
  }

  async figures(proc: ServerProcess, agent: http.Agent): Promise<ProcessFigures> {
    const text = await new Promise<string>((resolve) => {
      http
        .get(`${proc.url}/metrics`, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', () => resolve(''));
    });
    const metric = (name: string, labels = '') =>
      Number(new RegExp(`^${name}(?:\\{${labels}[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const gcSum = (kind: string) => metric('zgw_auth_nodejs_gc_duration_seconds_sum', `kind="${kind}"`) * 1000 || 0;
    const all = ['major', 'minor', 'incremental', 'weakcb'];
    const over10 = all.reduce(
      (n, kind) =>
        n +
        ((metric('zgw_auth_nodejs_gc_duration_seconds_count', `kind="${kind}"`) || 0) -
          (metric('zgw_auth_nodejs_gc_duration_seconds_bucket', `le="0.01",kind="${kind}"`) || 0)),
      0,
    );
    const gc = { major: gcSum('major'), minor: gcSum('minor'), over10 };
    const last = this.lastGc;
    this.lastGc = gc;
    return {
      rssMb: proc.rssMb(),
      heapMb: metric('zgw_auth_nodejs_heap_size_used_bytes') / 2 ** 20,
      eventLoopP99Ms: metric('zgw_auth_nodejs_eventloop_lag_p99_seconds') * 1000,
      gcMajorMs: Math.round((gc.major - last.major) * 10) / 10,
      gcMinorMs: Math.round((gc.minor - last.minor) * 10) / 10,
      gcPausesOver10Ms: gc.over10 - last.over10,
    };
  }
}

/** What soak.json holds (the smoke test reads it by this type). */
export interface Report {
  minutes: number;
  smoke: boolean;
  rate: number;
  /** PostgreSQL's autovacuum setting during the run. */
  autovacuum: string;
  /** The load generator's nice value during the run (see measureFromAbove), and the servers'. */
  generatorNice: number;
  serverNice: number[];
  periodSeconds: number;
  periods: Period[];
  events: Array<{ at: number; what: string; status: number }>;
  tokensIssued: number;
  issuedEvents: number;
  checks: Array<{ check: string; result: 'met' | 'missed' | 'not judged'; detail: string }>;
  verdict: 'passed' | 'failed';
}

/**
 * The load generator shares the machine with what it measures: when both cores are busy, the
 * scheduler can keep it waiting for tens of milliseconds, and every answer that arrives meanwhile
 * is timed late, on every process and kind of request at once. A client on another machine would
 * not see that delay. So the generator, once the servers are started (they keep the normal
 * priority, which children inherit), asks for a higher priority: nice -10, where the user may.
 * The value it got is in the report.
 */
function measureFromAbove(): number {
  try {
    os.setPriority(-10);
  } catch {
    // not permitted (no CAP_SYS_NICE): measured at the normal priority, and the report says so
  }
  return os.getPriority();
}

function verdict(
  periods: Period[],
  latencies: RecordableHistogram[],
  o: {
    tokensIssued: number;
    issuedEvents: number;
    rate: number;
    events: Report['events'];
    autovacuum: string;
    generatorNice: number;
    serverNice: number[];
  },
): Report {
  const warmUp = Math.max(Math.round(60_000 / PERIOD_MS), Math.ceil(periods.length / 10));
  const after = periods.slice(warmUp);
  const checks: Report['checks'] = [];
  const stability = (check: string, ok: boolean, detail: string) =>
    checks.push({ check, result: smoke ? 'not judged' : ok ? 'met' : 'missed', detail });

  if (after.length > 0) {
    const baseRss = periods[warmUp - 1]!.processes.map((p) => p.rssMb);
    const worst = Math.max(
      ...after.flatMap((p) => p.processes.map((x, i) => Math.abs(x.rssMb - baseRss[i]!) / baseRss[i]!)),
    );
    stability('RSS within ±10 % after warm-up', worst <= 0.1, `largest change ${(worst * 100).toFixed(1)} %`);
    // The p99 of every answer of the early periods together, as the rule says; not the worst of
    // their own p99s, which would be a bound above most of them.
    const earlyCount = Math.min(Math.round(600_000 / PERIOD_MS), Math.ceil(after.length / 2));
    const pooled = latencyHistogram();
    for (const h of latencies.slice(warmUp, warmUp + earlyCount)) pooled.add(h);
    const earlyP99 = percentileMs(pooled, 99);
    const drift = after.filter((p) => Math.abs(p.p99Ms - earlyP99) > Math.max(0.2 * earlyP99, 5));
    // Beside each period outside: how much more CPU the generator needed per answer than early on.
    const early = periods.slice(warmUp, warmUp + earlyCount).map((p) => p.cpuPerThousandMs.generator);
    const earlyGenerator = early.sort((a, b) => a - b)[Math.floor(early.length / 2)] ?? 0;
    const generatorChange = (p: Period) =>
      earlyGenerator > 0
        ? `, generator CPU ${p.cpuPerThousandMs.generator >= earlyGenerator ? '+' : ''}${Math.round((100 * p.cpuPerThousandMs.generator) / earlyGenerator - 100)} %`
        : '';
    stability(
      'p99 within ±20 % (or 5 ms) of its early value',
      drift.length === 0,
      `early p99 ${earlyP99.toFixed(1)} ms; ${drift.length} periods outside (${drift.map((p) => `${p.index + 1}: ${p.p99Ms.toFixed(1)} ms${generatorChange(p)}`).join(', ')})`,
    );
  }
  const errors = periods.reduce((s, p) => s + p.errors, 0);
  checks.push({ check: 'no errors', result: errors === 0 ? 'met' : 'missed', detail: `${errors} errors` });
  const requests = periods.reduce((s, p) => s + p.requests, 0);
  checks.push({
    check: 'load offered at the rate',
    result: requests >= (0.9 * o.rate * (periods.length * PERIOD_MS)) / 1000 ? 'met' : 'missed',
    detail: `${requests} requests answered at ${o.rate} req/s over ${(periods.length * PERIOD_MS) / 1000} s`,
  });
  checks.push({
    check: 'no lost audit event',
    result: o.issuedEvents >= o.tokensIssued ? 'met' : 'missed',
    detail: `${o.tokensIssued} tokens issued during the run, ${o.issuedEvents} token.issued events written in it`,
  });
  const eventsOk = o.events.length === 2 && o.events.every((e) => e.status === 200);
  checks.push({
    check: 'key rotated and client disabled on the way',
    result: eventsOk ? 'met' : 'missed',
    detail: o.events.map((e) => `${e.what}: ${e.status}`).join('; ') || 'none happened',
  });
  return {
    minutes,
    smoke,
    rate: o.rate,
    autovacuum: o.autovacuum,
    generatorNice: o.generatorNice,
    serverNice: o.serverNice,
    periodSeconds: PERIOD_MS / 1000,
    periods,
    events: o.events,
    tokensIssued: o.tokensIssued,
    issuedEvents: o.issuedEvents,
    checks,
    verdict: checks.some((c) => c.result === 'missed') ? 'failed' : 'passed',
  };
}

function summary(r: Report): string {
  const rows = r.checks.map((c) => `| ${c.check} | ${c.result} | ${c.detail} |`);
  return [
    `Soak: ${r.minutes} min at ${r.rate} req/s, two processes on PostgreSQL (autovacuum ${r.autovacuum}) and Redis, load generator at nice ${r.generatorNice}`,
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...rows,
    '',
    `verdict: ${r.verdict}`,
  ].join('\n');
}

/** RSS of each process and p99 latency per period, on two axes: the shape of an hour at a glance. */
function chart(r: Report): string {
  const width = 720;
  const height = 300;
  const left = 50;
  const right = 50;
  const top = 30;
  const bottom = 40;
  const n = Math.max(1, r.periods.length - 1);
  const x = (i: number) => left + (i / n) * (width - left - right);
  const maxRss = Math.max(1, ...r.periods.flatMap((p) => p.processes.map((q) => q.rssMb))) * 1.1;
  const maxP99 = Math.max(1, ...r.periods.map((p) => p.p99Ms)) * 1.1;
  const yRss = (v: number) => top + (1 - v / maxRss) * (height - top - bottom);
  const yP99 = (v: number) => top + (1 - v / maxP99) * (height - top - bottom);
  const line = (points: Array<[number, number]>, colour: string, dash = '') =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
  const rssLines = [0, 1].map((i) =>
    line(
      r.periods.map((p, k) => [x(k), yRss(p.processes[i]?.rssMb ?? 0)]),
      i === 0 ? '#1f77b4' : '#6baed6',
    ),
  );
  const p99Line = line(
    r.periods.map((p, k) => [x(k), yP99(p.p99Ms)]),
    '#d62728',
    '4 3',
  );
  const unit = r.periodSeconds === 60 ? 'minute' : `${r.periodSeconds} s`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="18">Soak: ${r.minutes} min at ${r.rate} req/s, 2 processes (PostgreSQL, Redis): ${r.verdict}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#999"/>`,
    `<text x="${left}" y="${height - 12}">${unit} 1</text>`,
    `<text x="${width - right}" y="${height - 12}" text-anchor="end">${unit} ${r.periods.length}</text>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" fill="#1f77b4">${maxRss.toFixed(0)} MB</text>`,
    `<text x="${width - right + 6}" y="${top + 4}" fill="#d62728">${maxP99.toFixed(1)} ms</text>`,
    ...rssLines,
    p99Line,
    `<text x="${left + 10}" y="${top + 16}" fill="#1f77b4">RSS per process (solid)</text>`,
    `<text x="${left + 10}" y="${top + 32}" fill="#d62728">p99 latency (dashed)</text>`,
    '</svg>',
    '',
  ].join('\n');
}

await main();
