// npm run build && node dist/bench/tls-handshake.js [--seconds 3] [--concurrency 8]
// Also part of `npm run bench` (`--only tls`), where the cases run in rounds next to each other.
// The cost of a TLS handshake per token: /token with a client certificate (tls_client_auth) over a
// new TLS connection per request versus keep-alive and versus a resumed TLS session, next to a client
// secret over the same listener. A `zgw-auth serve` process with HTTPS and
// ZGW_AUTH_TLS_CLIENT_CERT=optional, a PKIoverheid-shaped test PKI (EC P-256, chain of three under
// the root) and node:https clients in this process.
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, createLogger, initialize } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { makeTestPki, OIN } from '../test/pki/test-pki.js';
import { CLI, SERVE_NODE_FLAGS } from './paths.js';

/** The cases, by the names the report uses. */
export const TLS_CASES = {
  certKeepAlive: 'certificate, keep-alive',
  certNew: 'certificate, new connection per token',
  certResumed: 'certificate, new connection, resumed session',
  secretKeepAlive: 'secret, keep-alive',
  secretNew: 'secret, new connection per token',
} as const;

export interface TlsRow {
  name: string;
  perSecond: number;
  medianMs: number;
  errors: number;
}

interface Case {
  name: string;
  /** An agent per case; `false`: a new connection, and a full handshake, for every request. */
  agent: https.Agent | false;
  tls: https.RequestOptions;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Runs every case `rounds` times, the cases in turn within a round (after a warm-up of each),
 * against one `zgw-auth serve` with HTTPS; returns the rows of each round.
 */
export async function tlsHandshakeBench(options: {
  seconds: number;
  rounds: number;
  warmup: number;
  concurrency: number;
}): Promise<TlsRow[][]> {
  const pki = makeTestPki();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-bench-tls-'));
  const port = await freePort();
  const env = {
    ZGW_AUTH_DATA_DIR: dir,
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    ZGW_AUTH_PORT: String(port),
    ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
    ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
    ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
    ZGW_AUTH_TLS_CLIENT_CERT: 'optional',
    ZGW_AUTH_TLS_CRL: pki.crlPath,
  };
  const app = await createApp(loadConfig(env), { log: createLogger('silent') });
  await initialize(app);
  const actor = { id: 'bench' };
  const certified = await app.clients.create(
    { clientId: 'bench-mtls', rsin: '000000000', authMethods: ['tls_client_auth'], oin: OIN },
    actor,
  );
  const withSecret = await app.clients.create({ clientId: 'bench-secret', rsin: '000000000' }, actor);
  await app.close();

  const server = spawn(process.execPath, [...SERVE_NODE_FLAGS, CLI, 'serve'], {
    env: { ...process.env, ...env, ZGW_AUTH_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const concurrency = options.concurrency;
  const agents: https.Agent[] = [];
  try {
    const ca = pki.rootPem;
    const url = `https://127.0.0.1:${port}/token`;
    await waitUntilReady(server, `https://127.0.0.1:${port}/health/ready`, ca);
    const cert = { cert: pki.certs.client.chainPem, key: pki.certs.client.keyPem, ca };
    const mtlsBody = `grant_type=client_credentials&client_id=${certified.client.clientId}`;
    const secretBody = 'grant_type=client_credentials';
    const basic = `Basic ${Buffer.from(`${withSecret.client.clientId}:${withSecret.secret.value}`).toString('base64')}`;
    const agent = (o: https.AgentOptions) => {
      const a = new https.Agent(o);
      agents.push(a);
      return a;
    };
    const cases: Case[] = [
      {
        name: TLS_CASES.certKeepAlive,
        agent: agent({ keepAlive: true, maxSockets: concurrency, ...cert }),
        tls: cert,
        body: mtlsBody,
      },
      { name: TLS_CASES.certNew, agent: false, tls: cert, body: mtlsBody },
      // Node's agent resumes TLS sessions on new connections: no certificate is sent again.
      {
        name: TLS_CASES.certResumed,
        agent: agent({ keepAlive: false, ...cert }),
        tls: cert,
        body: mtlsBody,
      },
      {
        name: TLS_CASES.secretKeepAlive,
        agent: agent({ keepAlive: true, maxSockets: concurrency, ca }),
        tls: { ca },
        body: secretBody,
        headers: { authorization: basic },
      },
      {
        name: TLS_CASES.secretNew,
        agent: false,
        tls: { ca },
        body: secretBody,
        headers: { authorization: basic },
      },
    ];
    if (options.warmup > 0) for (const c of cases) await load(url, c, options.warmup, concurrency);
    const rounds: TlsRow[][] = [];
    for (let r = 0; r < options.rounds; r++) {
      const rows: TlsRow[] = [];
      for (const c of cases) rows.push({ name: c.name, ...(await load(url, c, options.seconds, concurrency)) });
      rounds.push(rows);
    }
    return rounds;
  } finally {
    for (const a of agents) a.destroy();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
    pki.remove();
  }
}

/** What a round says: the extra milliseconds per token of a full handshake and of a resumed one. */
export function tlsSummary(rows: TlsRow[], concurrency: number): string {
  const rate = (name: string) => rows.find((r) => r.name === name)!.perSecond;
  // Little's law: with `concurrency` requests in flight, the mean time per token is concurrency / rate.
  const extraMs = (a: string, b: string) => (1000 / rate(b) - 1000 / rate(a)) * concurrency;
  const ratio = (a: string, b: string) => (rate(a) / rate(b)).toFixed(2);
  const { certKeepAlive, certNew, certResumed, secretKeepAlive, secretNew } = TLS_CASES;
  return (
    `A full handshake with a client certificate adds about ${extraMs(certKeepAlive, certNew).toFixed(2)} ms per token at ${concurrency} in flight ` +
    `(new connection per token ${ratio(certNew, certKeepAlive)}× keep-alive); a resumed session ${extraMs(certKeepAlive, certResumed).toFixed(2)} ms ` +
    `(${ratio(certResumed, certKeepAlive)}× keep-alive); without a client certificate a new connection adds ${extraMs(secretKeepAlive, secretNew).toFixed(2)} ms ` +
    `(${ratio(secretNew, secretKeepAlive)}×).`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = option('--seconds', 3);
  const concurrency = option('--concurrency', 8);
  const [rows] = await tlsHandshakeBench({ seconds, rounds: 1, warmup: 0.5, concurrency });
  console.log(
    `\n/token over HTTPS, ${concurrency} concurrent clients, ${seconds} s per case, ${os.cpus().length} cores shared by client and server\n`,
  );
  console.log('| case | tokens/s | median ms | errors |\n|---|---:|---:|---:|');
  for (const r of rows!)
    console.log(`| ${r.name} | ${r.perSecond.toFixed(0)} | ${r.medianMs.toFixed(2)} | ${r.errors} |`);
  console.log(`\n${tlsSummary(rows!, concurrency)}`);
}

/** `concurrency` loops sending token requests for `seconds`; every answer must be a 200. */
async function load(url: string, c: Case, seconds: number, concurrency: number) {
  const end = performance.now() + seconds * 1000;
  const times: number[] = [];
  let errors = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const status = await post(url, c).catch(() => 0);
      if (status === 200) times.push(performance.now() - t);
      else errors++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { perSecond: times.length / elapsed, medianMs: times[Math.floor(times.length / 2)] ?? NaN, errors };
}

function post(url: string, c: Case): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        agent: c.agent,
        ...c.tls,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(c.body)),
          ...c.headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

async function waitUntilReady(child: ChildProcess, url: string, ca: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('zgw-auth serve exited before it was ready');
    const ok = await new Promise<boolean>((resolve) =>
      https
        .get(url, { ca, agent: false }, (res) => (res.resume(), resolve(res.statusCode === 200)))
        .on('error', () => resolve(false)),
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('zgw-auth serve did not become ready');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Run on its own (node dist/bench/tls-handshake.js), not when bench/run.ts imports it.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
