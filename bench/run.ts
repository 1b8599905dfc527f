// npm run bench [-- --quick] [-- --check] [-- --only token,pkjwt,tls,verifier,...]
// zgw-auth side by side with its peer (oidc-provider) and with baselines, in one run; see docs/benchmarks.md.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signJws } from '@zgw-auth/verifier/internal';
import { type LoadResult, wrk } from './load.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { CLI, DEPS_DIR, ROOT, SERVE_NODE_FLAGS, WORK_DIR } from './paths.js';
import type { ServerProcess } from './processes.js';
import {
  assertionRequests,
  basic,
  createRegistry,
  type Credentials,
  type Registry,
  seedApplicaties,
  selfSignedToken,
  tokenRequest,
  writeRequests,
} from './registry.js';
import { chartSvg, median, type Series, seriesTable, type Target, targetsTable, writeFileAtomic } from './report.js';
import { slug, startBare, startOidcProvider, startZgwAuth } from './servers.js';
import {
  AC_CASES,
  AUDIT_CASES,
  DPOP_TOKEN_ALGS,
  dpopTokenCase,
  missedTargets,
  p99,
  targets,
  TRACING_CASES,
} from './targets.js';
import { tlsHandshakeBench, tlsSummary } from './tls-handshake.js';

const GROUPS = [
  'token',
  'pkjwt',
  'tls',
  'cores',
  'introspect',
  'verifier',
  'scale',
  'latency',
  'memory',
  'startup',
  'dpop',
  'autorisaties',
  'tracing',
  'audit',
] as const;
type Group = (typeof GROUPS)[number];

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const smoke = flag('--smoke');
const quick = flag('--quick') || smoke;
const check = flag('--check');
const only = new Set<Group>(
  (option('--only')?.split(',') as Group[] | undefined) ?? (smoke ? ['token', 'tls', 'startup'] : GROUPS),
);
const outDir = path.resolve(option('--out') ?? path.join(ROOT, 'docs'));
const plan = smoke
  ? {
      rounds: 1,
      seconds: 1,
      // None, as in --quick: the smoke round proves the harness measures real servers, not how fast
      // they are warm. A warm-up second per case loaded both cores for ~7 s of the test suite.
      warmup: 0,
      clients: 100,
      memoryRequests: 0,
      microRounds: 0,
      microMs: 0,
      latencySeconds: 0,
      startups: 1,
    }
  : quick
    ? {
        rounds: 3,
        seconds: 1,
        warmup: 0,
        clients: 20_000,
        memoryRequests: 100_000,
        microRounds: 3,
        microMs: 200,
        latencySeconds: 3,
        startups: 3,
      }
    : {
        rounds: 3,
        seconds: 5,
        warmup: 2,
        clients: 100_000,
        memoryRequests: 1_000_000,
        microRounds: 5,
        microMs: 500,
        latencySeconds: 10,
        startups: 3,
      };

/** Requests in flight in the TLS handshake cases. */
const TLS_CONCURRENCY = 8;

const series: Record<string, Series> = {};
const servers: ServerProcess[] = [];
const registries: Registry[] = [];
const workDir = path.join(WORK_DIR, new Date().toISOString().replace(/[:.]/g, '-'));
const log = (...m: unknown[]) =>
  console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s]`, ...m);
const started = performance.now();

function record(name: string, unit: string, value: number): void {
  (series[name] ??= { unit, values: [] }).values.push(value);
}

interface LoadCase {
  name: string;
  server: ServerProcess;
  path: string;
  requests: string;
  /** GET: each request line names its path (bench/wrk/requests.lua). */
  method?: 'GET';
  /**
   * Also record the server's requests per CPU second (its whole process, from /proc): on a machine
   * shared with other work, CPU time per request moves less than throughput does.
   */
  cpu?: boolean;
  /** Also record wrk's p99 latency of each round (series `p99(name)`, in ms). */
  p99?: boolean;
  /** Waits, after each round, until work the round left behind is done (counted in its CPU time, before the next case runs). */
  settle?: () => Promise<void>;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds a process has used (user and system, all its threads). */
function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds a process's main thread (its event loop) has used: the thread pool not counted. */
function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(file: string): number {
  const fields = fs.readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Warm every server up, then `rounds` rounds in which each case runs once, in turn. */
async function throughput(cases: LoadCase[]): Promise<void> {
  const options = (c: LoadCase) => (c.method ? { method: c.method } : {});
  if (plan.warmup) for (const c of cases) await wrk(c.server.url + c.path, c.requests, plan.warmup, options(c));
  for (let r = 0; r < plan.rounds; r++) {
    for (const c of cases) {
      const cpuBefore = c.cpu ? cpuSeconds(c.server.pid) : 0;
      const result = await wrk(c.server.url + c.path, c.requests, plan.seconds, options(c));
      assertClean(c.name, result);
      record(c.name, 'req/s', result.rps);
      if (c.p99) record(p99(c.name), 'ms', result.p99Ms);
      await c.settle?.();
      let perCpu = '';
      if (c.cpu) {
        const used = cpuSeconds(c.server.pid) - cpuBefore;
        record(`${c.name}, per CPU second`, 'req/CPU-s', result.requests / used);
        perCpu = `, ${((used * 1e6) / result.requests).toFixed(1)} µs CPU per request`;
      }
      log(`${c.name}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms${perCpu}`);
    }
  }
}

function assertClean(name: string, r: LoadResult): void {
  if (r.failures > 0 || r.requests === 0)
    throw new Error(
      `${name}: ${r.failures} failed of ${r.requests} requests; a benchmark of refusals measures nothing`,
    );
}

async function start<T extends ServerProcess>(p: Promise<T>): Promise<T> {
  const s = await p;
  servers.push(s);
  return s;
}

function ensureBenchDeps(): void {
  if (fs.existsSync(path.join(DEPS_DIR, 'node_modules', 'oidc-provider'))) return;
  log(
    'installing the benchmark-only packages (oidc-provider, autocannon, fast-jwt, jsonwebtoken, jose) into bench/deps',
  );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--silent'], { cwd: DEPS_DIR, stdio: 'inherit' });
}

/** A form POST; resolves with the status and the parsed JSON answer. */
function postForm(
  url: string,
  authorization: string,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One access token from a server, for introspection. */
async function fetchToken(url: string, client: Credentials): Promise<string> {
  const res = await postForm(`${url}/token`, ...tokenRequest(client));
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.access_token as string;
}

async function introspect(url: string, caller: Credentials, token: string): Promise<Record<string, unknown>> {
  return (await postForm(`${url}/introspect`, basic(caller), `token=${token}`)).json;
}

/** Milliseconds from spawning `zgw-auth serve` on an existing database to its first issued token. */
async function timeToFirstToken(registry: Registry, client: Credentials): Promise<number> {
  const port = 18_090;
  const t0 = performance.now();
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, CLI, 'serve'], {
    env: { ...process.env, ...registry.env, ZGW_AUTH_PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error('zgw-auth exited during start-up');
      const ok = await fetchToken(`http://127.0.0.1:${port}`, client).then(
        () => true,
        () => false,
      );
      if (ok) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 20_000) throw new Error('no token within 20 s of start');
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<Target[]> {
  fs.mkdirSync(workDir, { recursive: true });
  const needsDeps = !smoke && (only.has('token') || only.has('verifier'));
  if (needsDeps) ensureBenchDeps();
  const clientCount = plan.clients;

  log('creating registries (this is the admin API path: every client created with its audit event)');
  const rs = await createRegistry(path.join(workDir, 'rs256-sqlite'), { alg: 'RS256', count: 10 });
  registries.push(rs);
  const needEs = !smoke && (only.has('token') || only.has('scale') || only.has('memory') || only.has('introspect'));
  const es = needEs ? await createRegistry(path.join(workDir, 'es256-sqlite'), { alg: 'ES256', count: 10 }) : undefined;
  const pgReg =
    !smoke && only.has('token')
      ? await createRegistry(path.join(workDir, 'rs256-pg'), { alg: 'RS256', count: 10, postgres: true })
      : undefined;
  if (pgReg) registries.push(pgReg);
  const wantMany = !smoke && (only.has('scale') || only.has('memory') || only.has('introspect'));
  const many = wantMany
    ? await createRegistry(path.join(workDir, 'es256-many'), { alg: 'ES256', count: clientCount })
    : undefined;
  log('registries ready');

  const req = (name: string, lines: Array<[string, string]>) =>
    writeRequests(path.join(workDir, `${slug(name)}.txt`), lines);
  const tokenReqs = (r: Registry) =>
    req(`token-${path.basename(r.env.ZGW_AUTH_DATA_DIR!)}`, r.clients.map(tokenRequest));

  const zgwRs = await start(startZgwAuth({ name: 'zgw-auth RS256 SQLite', registry: rs, workDir }));
  const bareRs = await start(
    startBare({
      name: 'bare Fastify RS256',
      alg: 'RS256',
      clients: rs.clients,
      workDir,
      introspectionAnswer: await introspect(zgwRs.url, rs.introspector, await fetchToken(zgwRs.url, rs.clients[0]!)),
    }),
  );
  const rsRequests = tokenReqs(rs);

  if (only.has('token')) {
    const cases: LoadCase[] = [
      { name: '/token RS256, zgw-auth, SQLite', server: zgwRs, path: '/token', requests: rsRequests, p99: !smoke },
      { name: '/token RS256, bare Fastify', server: bareRs, path: '/token', requests: rsRequests },
    ];
    if (!smoke) {
      const zgwPg = await start(startZgwAuth({ name: 'zgw-auth RS256 PostgreSQL', registry: pgReg!, workDir }));
      const oidcRs = await start(
        startOidcProvider({ name: 'oidc-provider RS256', alg: 'RS256', clients: rs.clients, workDir }),
      );
      const zgwEs = await start(startZgwAuth({ name: 'zgw-auth ES256 SQLite', registry: es!, workDir }));
      const bareEs = await start(
        startBare({ name: 'bare Fastify ES256', alg: 'ES256', clients: es!.clients, workDir }),
      );
      const oidcEs = await start(
        startOidcProvider({ name: 'oidc-provider ES256', alg: 'ES256', clients: es!.clients, workDir }),
      );
      const esRequests = tokenReqs(es!);
      cases.push(
        { name: '/token RS256, oidc-provider', server: oidcRs, path: '/token', requests: rsRequests },
        {
          name: '/token RS256, zgw-auth, PostgreSQL',
          server: zgwPg,
          path: '/token',
          requests: tokenReqs(pgReg!),
          p99: true,
        },
        { name: '/token ES256, zgw-auth, SQLite', server: zgwEs, path: '/token', requests: esRequests },
        { name: '/token ES256, bare Fastify', server: bareEs, path: '/token', requests: esRequests },
        { name: '/token ES256, oidc-provider', server: oidcEs, path: '/token', requests: esRequests },
      );
    }
    log('token endpoint');
    await throughput(cases);
  }

  if (only.has('pkjwt')) {
    // Every assertion is single-use: each round gets requests of its own, more than it can send.
    const keyed = await createRegistry(path.join(workDir, 'es256-keys'), { alg: 'RS256', count: 10, keys: true });
    registries.push(keyed);
    const lifetime = 3600;
    const server = await start(
      startZgwAuth({
        name: 'zgw-auth private_key_jwt',
        registry: { ...keyed, env: { ...keyed.env, ZGW_AUTH_ASSERTION_MAX_LIFETIME: String(lifetime) } },
        workDir,
      }),
    );
    const secretRequests = tokenReqs(keyed);
    const perRound = Math.ceil(plan.seconds * 12_000) + 1000;
    log('private_key_jwt vs client_secret_basic');
    for (let r = -1; r < plan.rounds; r++) {
      const seconds = r < 0 ? plan.warmup : plan.seconds;
      if (!seconds) continue;
      const assertions = req(`pkjwt-${r}`, assertionRequests(keyed.clients, `${server.url}/token`, perRound, lifetime));
      for (const [name, requests] of [
        ['/token RS256, client_secret_basic', secretRequests],
        ['/token RS256, private_key_jwt ES256', assertions],
      ] as const) {
        const result = await wrk(server.url + '/token', requests, seconds);
        if (r < 0) continue;
        assertClean(name, result);
        record(name, 'req/s', result.rps);
        log(`${name}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms`);
      }
    }
  }

  if (only.has('tls')) {
    // Its own `zgw-auth serve` with HTTPS and a test PKI; node:https clients (wrk has no client certificates).
    log('TLS handshake per token: new connection, resumed session and keep-alive, certificate and secret');
    const rounds = await tlsHandshakeBench({
      seconds: plan.seconds,
      rounds: plan.rounds,
      warmup: plan.warmup,
      concurrency: TLS_CONCURRENCY,
    });
    for (const rows of rounds) {
      for (const r of rows) {
        if (r.errors > 0 || r.perSecond === 0)
          throw new Error(`tls: ${r.name}: ${r.errors} failed requests; a benchmark of refusals measures nothing`);
        record(`tls: ${r.name}`, 'req/s', r.perSecond);
        log(`tls: ${r.name}: ${Math.round(r.perSecond)} req/s, median ${r.medianMs.toFixed(1)} ms`);
      }
      log(tlsSummary(rows, TLS_CONCURRENCY));
    }
  }

  // Separate processes on the large registry: the stress load (every request from another client)
  // must not leave its heap and caches to the rounds that compare registry sizes.
  let zgwMany: ServerProcess | undefined;
  let zgwManyAll: ServerProcess | undefined;
  let manyRequests: string | undefined;
  if (many) {
    zgwMany = await start(
      startZgwAuth({ name: `zgw-auth ES256 SQLite, ${clientCount} clients`, registry: many, workDir }),
    );
    zgwManyAll = await start(
      startZgwAuth({ name: `zgw-auth ES256 SQLite, ${clientCount} clients, all active`, registry: many, workDir }),
    );
    manyRequests = tokenReqs(many);
  }

  if (only.has('cores')) {
    const pinned = await start(
      startZgwAuth({ name: 'zgw-auth RS256 pinned to one core', registry: rs, workDir, pin: '0' }),
    );
    const cluster = await start(
      startZgwAuth({ name: 'zgw-auth RS256 --workers 2', registry: rs, workDir, workers: 2 }),
    );
    log('one core vs both');
    await throughput([
      { name: '/token RS256, zgw-auth pinned to one core', server: pinned, path: '/token', requests: rsRequests },
      { name: '/token RS256, zgw-auth one process, both cores', server: zgwRs, path: '/token', requests: rsRequests },
      { name: '/token RS256, zgw-auth --workers 2', server: cluster, path: '/token', requests: rsRequests },
    ]);
  }

  if (only.has('introspect') || only.has('scale')) {
    const zgwEs =
      servers.find((s) => s.name === 'zgw-auth ES256 SQLite') ??
      (await start(startZgwAuth({ name: 'zgw-auth ES256 SQLite', registry: es!, workDir })));
    const iat = Math.floor(Date.now() / 1000);
    const idpTokens = await Promise.all(
      Array.from({ length: 500 }, (_, i) => fetchToken(zgwRs.url, rs.clients[i % rs.clients.length]!)),
    );
    const idp = req(
      'introspect-idp',
      idpTokens.map((t) => [basic(rs.introspector), `token=${t}`]),
    );
    // As many distinct self-signed tokens for 10 clients as for the large registry: only the registry differs.
    const fewSelfSigned = req(
      'introspect-self-signed-10',
      Array.from({ length: clientCount }, (_, i) => [
        basic(es!.introspector),
        `token=${selfSignedToken(es!.clients[i % 10]!, iat - (i % 600))}`,
      ]),
    );
    const manySelfSigned = req(
      'introspect-self-signed-many',
      many!.clients.map((c) => [basic(many!.introspector), `token=${selfSignedToken(c, iat)}`]),
    );
    const manyTenActiveSelfSigned = req(
      'introspect-self-signed-many-10-active',
      Array.from({ length: clientCount }, (_, i) => [
        basic(many!.introspector),
        `token=${selfSignedToken(many!.clients[i % 10]!, iat - (i % 600))}`,
      ]),
    );
    log('introspection and registry size');
    const cases: LoadCase[] = [];
    if (only.has('introspect'))
      cases.push(
        { name: '/introspect IdP RS256 token, zgw-auth', server: zgwRs, path: '/introspect', requests: idp },
        { name: '/introspect, bare Fastify route, same JSON', server: bareRs, path: '/introspect', requests: idp },
      );
    cases.push(
      {
        name: '/introspect self-signed token, zgw-auth, 10 clients',
        server: zgwEs,
        path: '/introspect',
        requests: fewSelfSigned,
      },
      {
        name: `/introspect self-signed token, zgw-auth, ${clientCount} clients, 10 active`,
        server: zgwMany!,
        path: '/introspect',
        requests: manyTenActiveSelfSigned,
      },
      {
        name: `/introspect self-signed token, zgw-auth, ${clientCount} clients, all active`,
        server: zgwManyAll!,
        path: '/introspect',
        requests: manySelfSigned,
      },
    );
    if (only.has('scale'))
      cases.push(
        { name: '/token ES256, zgw-auth, 10 clients', server: zgwEs, path: '/token', requests: tokenReqs(es!) },
        {
          name: `/token ES256, zgw-auth, ${clientCount} clients, 10 active`,
          server: zgwMany!,
          path: '/token',
          requests: req('token-many-10-active', many!.clients.slice(0, 10).map(tokenRequest)),
        },
        {
          name: `/token ES256, zgw-auth, ${clientCount} clients, all active`,
          server: zgwManyAll!,
          path: '/token',
          requests: manyRequests!,
        },
      );
    await throughput(cases);
  }

  if (only.has('latency')) {
    const peak = median(series['/token RS256, zgw-auth, SQLite']?.values ?? []);
    if (!Number.isFinite(peak)) throw new Error('latency needs the token group (its peak throughput)');
    log(`latency at half of peak: ${Math.round(peak / 2)} req/s for ${plan.latencySeconds} s`);
    const result = await wrk(`${zgwRs.url}/token`, rsRequests, plan.latencySeconds, {
      connections: 64,
      rate: peak / 2,
    });
    assertClean('latency', result);
    record('/token RS256 at half of peak: p99 latency', 'ms', result.p99Ms);
    record('/token RS256 at half of peak: achieved rate', 'req/s', result.rps);
  }

  if (only.has('memory') && many) {
    // Its own process, serving nothing but the scenario: token requests spread over every client.
    const server = await start(
      startZgwAuth({ name: `zgw-auth ES256 SQLite, ${clientCount} clients, memory`, registry: many, workDir }),
    );
    log(`memory: /token until ${plan.memoryRequests.toLocaleString('en-US')} requests over ${clientCount} clients`);
    let served = 0;
    let peak = 0;
    while (served < plan.memoryRequests) {
      const result = await wrk(`${server.url}/token`, manyRequests!, quick ? 2 : 10);
      assertClean('memory', result);
      served += result.requests;
      const rss = server.rssMb();
      peak = Math.max(peak, rss);
      log(`memory: ${served.toLocaleString('en-US')} requests, RSS ${rss.toFixed(0)} MB`);
    }
    record(`RSS after ${(served / 1e6).toFixed(2)} M token requests, ${clientCount} clients`, 'MB', server.rssMb());
    record('RSS, highest reading between load rounds of that run', 'MB', peak);
    await server.stop();
  }

  if (only.has('verifier')) {
    log('verifier (in-process, pinned to one core)');
    for (const group of ['rs256', 'hs256', 'repeated']) {
      const spec = JSON.stringify({ group, rounds: plan.microRounds, ms: plan.microMs });
      const out = execFileSync(
        'taskset',
        ['-c', '1', process.execPath, path.join(ROOT, 'dist', 'bench', 'micro.js'), spec],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      for (const [name, values] of Object.entries(JSON.parse(out) as Record<string, number[]>))
        for (const v of values) record(`verifier: ${name}`, 'ops/s', v);
    }
  }

  if (only.has('dpop')) await senderConstrained();

  if (only.has('autorisaties')) await autorisaties();
  if (only.has('autorisaties')) {
    log('autorisaties: verify + decide against verify alone (in-process, pinned to one core)');
    const spec = JSON.stringify({ rounds: Math.max(1, plan.microRounds), ms: Math.max(100, plan.microMs) });
    const out = execFileSync(
      'taskset',
      ['-c', '1', process.execPath, path.join(ROOT, 'dist', 'bench', 'autorisaties-micro.js'), spec],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    for (const [name, values] of Object.entries(JSON.parse(out) as Record<string, number[]>))
      for (const v of values) record(`autorisaties: ${name}`, 'ops/s', v);
  }

  if (only.has('tracing')) await tracing(rs, rsRequests, zgwRs);

  if (only.has('audit')) await auditShipping();

  if (only.has('startup')) {
    log('start-up to first token');
    for (const s of servers.filter((s) => s.name.startsWith('zgw-auth RS256 SQLite'))) await s.stop();
    for (let i = 0; i < plan.startups; i++)
      record('first token after process start (existing database)', 'ms', await timeToFirstToken(rs, rs.clients[0]!));
  }

  return targets(series, { clients: plan.clients, memoryRequests: plan.memoryRequests, quick });
}

/**
 * /token with traces on against the same server without (the token group's, tracing off as by
 * default), side by side in interleaved rounds. On: every request sampled (the default sampler),
 * its spans batched and exported over OTLP/HTTP protobuf (the default protocol) to a receiver in
 * this process that counts and discards them. Shown beside them: on with no request sampled, the
 * cost of the context tracking alone (what a low sampling ratio tends to).
 */
async function tracing(rs: Registry, requests: string, off: ServerProcess): Promise<void> {
  const receiver = await startOtlpReceiver();
  const traced = (name: string, env: Record<string, string>) =>
    start(
      startZgwAuth({
        name,
        registry: {
          ...rs,
          env: { ...rs.env, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env },
        },
        workDir,
      }),
    );
  try {
    const on = await traced('zgw-auth RS256 SQLite, tracing on', {});
    const unsampled = await traced('zgw-auth RS256 SQLite, tracing on, none sampled', {
      OTEL_TRACES_SAMPLER: 'always_off',
    });
    log('tracing: /token with traces exported vs without');
    await throughput([
      { name: TRACING_CASES.off, server: off, path: '/token', requests, cpu: true },
      { name: TRACING_CASES.on, server: on, path: '/token', requests, cpu: true },
      { name: TRACING_CASES.unsampled, server: unsampled, path: '/token', requests, cpu: true },
    ]);
    await Promise.all([on.stop(), unsampled.stop()]);
    const { requests: exports, bytes } = receiver.stats();
    log(`tracing: the receiver got ${exports} exports, ${(bytes / 1e6).toFixed(1)} MB`);
    if (exports === 0)
      throw new Error('tracing: no span was exported; a benchmark of tracing off twice measures nothing');
  } finally {
    await receiver.close();
  }
}

/**
 * /token with audit shipping on (ZGW_AUTH_AUDIT_SYSLOG_URL to a syslog receiver on this machine,
 * ZGW_AUTH_AUDIT_JSONL to a file) against the same registry shape without: shipping reads the audit
 * trail in the background, off the request path, so throughput should stay within noise. The
 * receiver, in this process, reads octet-counted frames and closes after each batch as rsyslog does.
 * After each round of the shipping server the harness waits until every event written has arrived,
 * so its CPU time per request includes the shipping and none of it spills into the next case.
 */
async function auditShipping(): Promise<void> {
  let received = 0;
  const receiver = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      for (;;) {
        const space = buffered.indexOf(0x20);
        if (space < 0) break;
        const length = Number(buffered.subarray(0, space).toString('ascii'));
        if (buffered.length < space + 1 + length) break;
        buffered = buffered.subarray(space + 1 + length);
        received++;
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    const port = (receiver.address() as net.AddressInfo).port;
    const offRegistry = await createRegistry(path.join(workDir, 'audit-off'), { alg: 'RS256', count: 10 });
    const onRegistry = await createRegistry(path.join(workDir, 'audit-on'), { alg: 'RS256', count: 10 });
    registries.push(offRegistry, onRegistry);
    const off = await start(startZgwAuth({ name: 'zgw-auth audit shipping off', registry: offRegistry, workDir }));
    const on = await start(
      startZgwAuth({
        name: 'zgw-auth audit shipping on',
        registry: {
          ...onRegistry,
          env: {
            ...onRegistry.env,
            ZGW_AUTH_AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${port}`,
            ZGW_AUTH_AUDIT_JSONL: path.join(workDir, 'audit-on', 'audit.jsonl'),
          },
        },
        workDir,
      }),
    );
    const shipped = async () => {
      const text = await new Promise<string>((resolve, reject) =>
        http
          .get(`${on.url}/metrics`, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(body));
          })
          .on('error', reject),
      );
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('zgw_auth_audit_shipping_total{') &&
            l.includes('sink="syslog"') &&
            l.includes('outcome="shipped"'),
        );
      return Number(line?.split(' ').pop() ?? 0);
    };
    /** Until the shipping server has caught up: the receiver's count stops growing for a second. */
    const caughtUp = async () => {
      let last = -1;
      let still = 0;
      const end = performance.now() + 60_000;
      while (still < 1000 && performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        still = received === last ? still + 100 : 0;
        last = received;
      }
    };
    const requests = (r: Registry, name: string) =>
      writeRequests(path.join(workDir, `${name}.txt`), r.clients.map(tokenRequest));
    log('audit shipping: /token with the audit events shipped to syslog and a JSON lines file, and without');
    await throughput([
      { name: AUDIT_CASES.off, server: off, path: '/token', requests: requests(offRegistry, 'audit-off'), cpu: true },
      {
        name: AUDIT_CASES.on,
        server: on,
        path: '/token',
        requests: requests(onRegistry, 'audit-on'),
        cpu: true,
        settle: caughtUp,
      },
    ]);
    await caughtUp();
    const count = await shipped();
    log(`audit shipping: ${received} events received by the syslog receiver, ${count} shipped`);
    if (count === 0 || received < count) throw new Error('audit shipping: the events did not arrive');
    record('audit shipping: events received by the syslog receiver', 'events', received);
  } finally {
    await new Promise<void>((r) => receiver.close(() => r()));
  }
  // The shipping's own cost, by CPU time (steadier than throughput on a shared machine): a backlog
  // shipped in-process, pinned to one core.
  log('audit shipping: CPU per event shipped (in-process, pinned to one core)');
  const spec = JSON.stringify({ rounds: Math.max(1, plan.microRounds), events: smoke ? 2000 : 20_000 });
  const out = execFileSync(
    'taskset',
    ['-c', '1', process.execPath, path.join(ROOT, 'dist', 'bench', 'audit-micro.js'), spec],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  for (const [name, values] of Object.entries(JSON.parse(out) as Record<string, number[]>))
    for (const v of values) record(`audit shipping: ${name}`, 'µs', v);
}

/** Where zgw-auth serves the Autorisaties API by default (ZGW_AUTH_AC_BASE_PATH). */
const AC_BASE = '/autorisaties/api/v1';

/**
 * The Autorisaties API's GET /applicaties/consumer, as a ZGW API asks it about every request it
 * gets: against a bare Fastify route answering the same JSON, and on a registry of `plan.clients`
 * applicaties against one of 10. The callers are the registries' 10 clients, each with an access
 * token of its own from /token (a ZGW API reuses its token until it expires), asking about the same
 * 10 client ids in both registries; the stress reading asks about every applicatie in turn.
 */
async function autorisaties(): Promise<void> {
  const n = plan.clients;
  log(`Autorisaties API: registries of 10 and ${n} applicaties`);
  const few = await createRegistry(path.join(workDir, 'ac-10'), { alg: 'ES256', count: 10 });
  registries.push(few);
  await seedApplicaties(few, 10);
  const many = await createRegistry(path.join(workDir, 'ac-many'), { alg: 'ES256', count: 10 });
  registries.push(many);
  const seeding = performance.now();
  await seedApplicaties(many, n);
  log(`seeded ${n} applicaties in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
  const zgwFew = await start(startZgwAuth({ name: 'zgw-auth AC SQLite, 10 applicaties', registry: few, workDir }));
  const zgwMany = await start(startZgwAuth({ name: `zgw-auth AC SQLite, ${n} applicaties`, registry: many, workDir }));
  const zgwManyAll = await start(
    startZgwAuth({ name: `zgw-auth AC SQLite, ${n} applicaties, all asked`, registry: many, workDir }),
  );
  const consumer = (clientId: string) => `${AC_BASE}/applicaties/consumer?clientId=${encodeURIComponent(clientId)}`;
  const tokensOf = (server: ServerProcess, registry: Registry) =>
    Promise.all(registry.clients.map((c) => fetchToken(server.url, c)));
  /** `count` requests: caller i % 10 asks about client (3i + 1) % 10, or about `ids[i]` when given. */
  const lines = (tokens: string[], registry: Registry, count: number, ids?: (i: number) => string) =>
    Array.from({ length: count }, (_, i): [string, string] => [
      `Bearer ${tokens[i % tokens.length]}`,
      consumer(ids ? ids(i) : registry.clients[(3 * i + 1) % registry.clients.length]!.clientId),
    ]);
  const req = (name: string, list: Array<[string, string]>) => writeRequests(path.join(workDir, `${name}.txt`), list);
  const fewTokens = await tokensOf(zgwFew, few);
  const fewRequests = req('ac-consumer-10', lines(fewTokens, few, 1000));
  const manyRequests = req('ac-consumer-many', lines(await tokensOf(zgwMany, many), many, 1000));
  // Every applicatie in turn: the 10 seeded through the use case and the rest (bench/registry.ts).
  const allIds = (i: number) => (i < 10 ? many.clients[i]!.clientId : `bench-ac-${i - 10}`);
  const allRequests = req('ac-consumer-all', lines(await tokensOf(zgwManyAll, many), many, n, allIds));
  const answer = await getJson(`${zgwFew.url}${consumer(few.clients[1]!.clientId)}`, `Bearer ${fewTokens[0]}`);
  const bare = await start(
    startBare({
      name: 'bare Fastify, consumer route',
      alg: 'ES256',
      clients: few.clients,
      workDir,
      consumer: { path: `${AC_BASE}/applicaties/consumer`, answer },
    }),
  );
  log('Autorisaties API: GET /applicaties/consumer');
  await throughput([
    { name: AC_CASES.few, server: zgwFew, path: '', requests: fewRequests, method: 'GET', cpu: true },
    { name: AC_CASES.bare, server: bare, path: '', requests: fewRequests, method: 'GET', cpu: true },
    { name: AC_CASES.many(n), server: zgwMany, path: '', requests: manyRequests, method: 'GET', cpu: true },
    { name: AC_CASES.all(n), server: zgwManyAll, path: '', requests: allRequests, method: 'GET', cpu: true },
  ]);
  for (const s of [zgwFew, zgwMany, zgwManyAll, bare]) await s.stop();
}

/** A GET with a bearer token; its JSON answer (a 200, or the run stops: a refusal measures nothing). */
function getJson(url: string, authorization: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { authorization } }, (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(JSON.parse(data) as unknown)
            : reject(new Error(`GET ${url}: ${res.statusCode} ${data.slice(0, 300)}`)),
        );
      })
      .on('error', reject);
  });
}

/**
 * DPoP: the verifier on a DPoP-bound token against a bearer token (in-process, one core), the
 * replay cache's memory under a flood of unique jti, and /token with a proof against without, with
 * RS256 tokens (the server's default, the target) and with ES256 tokens (shown).
 */
async function senderConstrained(): Promise<void> {
  log('DPoP: verifier and replay cache (in-process, pinned to one core)');
  const spec = JSON.stringify({ rounds: Math.max(1, plan.microRounds), ms: Math.max(100, plan.microMs) });
  const out = execFileSync(
    'taskset',
    ['-c', '1', process.execPath, '--expose-gc', path.join(ROOT, 'dist', 'bench', 'dpop-micro.js'), spec],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  for (const [name, values] of Object.entries(JSON.parse(out) as Record<string, number[]>)) {
    const unit = name.includes('MB') ? 'MB' : name.includes('bytes') ? 'B' : 'ops/s';
    for (const v of values) record(`dpop: ${name}`, unit, v);
  }

  // The server's default signing algorithm (RS256), where the token's signature is most of a
  // request, and ES256, where the proof's ES256 verification weighs as much as the token's signing.
  for (const alg of DPOP_TOKEN_ALGS) await tokenWithAndWithoutProof(alg);
}

/** /token with a fresh DPoP proof on every request against without, on a registry that signs with `alg`. */
async function tokenWithAndWithoutProof(alg: (typeof DPOP_TOKEN_ALGS)[number]): Promise<void> {
  log(`DPoP: /token ${alg} with a proof and without`);
  const registry = await createRegistry(path.join(workDir, `registry-dpop-${alg}`), { alg, count: 10 });
  registries.push(registry);
  const server = await start(startZgwAuth({ name: `zgw-auth ${alg} SQLite, DPoP`, registry, workDir }));
  const plain = writeRequests(path.join(workDir, `dpop-${alg}-plain.txt`), registry.clients.map(tokenRequest));
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = key.publicKey.export({ format: 'jwk' });
  // Every request its own proof (ES256, whatever the token's algorithm), made just before the run
  // (a proof lives 60 s): more than a run sends.
  const withProofs = (file: string, count: number) =>
    writeRequests(
      path.join(workDir, file),
      Array.from({ length: count }, (_, i) => {
        const proof = signJws(
          { alg: 'ES256', typ: 'dpop+jwt', jwk } as { alg: string },
          {
            jti: crypto.randomBytes(16).toString('base64url'),
            htm: 'POST',
            htu: `${server.url}/token`,
            iat: Math.floor(Date.now() / 1000),
          },
          key.privateKey,
        );
        return [...tokenRequest(registry.clients[i % registry.clients.length]!), proof] as [string, string, string];
      }),
    );
  const proofsPerRun = (seconds: number) => Math.max(5000, seconds * 8000);
  const runOnce = async (name: string, file: string, seconds: number, measured: boolean) => {
    const cpuBefore = cpuSeconds(server.pid);
    const mainBefore = mainThreadCpuSeconds(server.pid);
    const result = await wrk(`${server.url}/token`, file, seconds);
    assertClean(name, result);
    if (measured) {
      // CPU per request moves less than throughput when other work shares the machine: shown beside it.
      const used = cpuSeconds(server.pid) - cpuBefore;
      const main = mainThreadCpuSeconds(server.pid) - mainBefore;
      record(name, 'req/s', result.rps);
      record(`${name}, per CPU second`, 'req/CPU-s', result.requests / used);
      record(`${name}, per CPU second of the event loop`, 'req/CPU-s', result.requests / main);
      log(
        `${name}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms, ` +
          `${((used * 1e6) / result.requests).toFixed(1)} µs CPU per request (event loop ${((main * 1e6) / result.requests).toFixed(1)})`,
      );
    }
  };
  if (plan.warmup) {
    await runOnce('warm-up', plain, plan.warmup, false);
    await runOnce('warm-up', withProofs(`dpop-${alg}-warm.txt`, proofsPerRun(plan.warmup)), plan.warmup, false);
  }
  for (let r = 0; r < plan.rounds; r++) {
    await runOnce(dpopTokenCase(alg, false), plain, plan.seconds, true);
    const file = withProofs(`dpop-${alg}-round-${r}.txt`, proofsPerRun(plan.seconds));
    await runOnce(dpopTokenCase(alg, true), file, plan.seconds, true);
  }
  await server.stop();
}

async function cleanUp(): Promise<void> {
  await Promise.allSettled(servers.map((s) => s.stop()));
  await Promise.allSettled(registries.flatMap((r) => (r.dropDatabase ? [r.dropDatabase()] : [])));
}

try {
  const results = await main();
  await cleanUp();
  const mode = smoke ? 'smoke' : quick ? 'quick' : 'full';
  const title = `zgw-auth benchmarks (${mode}), ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version}`;
  console.log(`\n${title}\n\n${seriesTable(series)}\n\n${targetsTable(results)}\n`);
  fs.mkdirSync(outDir, { recursive: true });
  const report = {
    title,
    mode,
    generatedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    plan,
    series,
    targets: results,
  };
  writeFileAtomic(path.join(outDir, 'benchmarks.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(path.join(outDir, 'benchmarks.svg'), chartSvg(results, title) + '\n');
  log(`wrote ${path.join(outDir, 'benchmarks.json')} and benchmarks.svg`);
  // Only a full run judges: a quick one reports its rows, all unchecked, and --check exits 0.
  const missed = missedTargets(results);
  if (check && quick)
    console.error('--check: a quick run is reported, not judged; run without --quick for the verdict');
  if (check && missed.length) {
    console.error(`missed: ${missed.map((t) => t.label).join('; ')}`);
    process.exitCode = 1;
  }
} catch (err) {
  await cleanUp();
  console.error(err);
  process.exitCode = 2;
}
