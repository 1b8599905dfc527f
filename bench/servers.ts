import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, DEPS_DIR, ROOT, SERVE_NODE_FLAGS } from './paths.js';
import { type ServerProcess, startServer } from './processes.js';
import type { Credentials, Registry } from './registry.js';

let nextPort = 18_100;

export interface ZgwServerOptions {
  name: string;
  registry: Registry;
  workDir: string;
  workers?: number;
  pin?: string;
  /** e.g. --cpu-prof, to see where the time goes. */
  nodeArgs?: string[];
  /** The port; by default the next of the benchmark's own range (18100 and up). */
  port?: number;
}

/**
 * `zgw-auth serve` on a registry, as `npm start` runs it (same Node flags, default log level, audit
 * on), with the per-address /introspect limit raised: the load comes from one address, as from an
 * API gateway.
 */
export function startZgwAuth(o: ZgwServerOptions): Promise<ServerProcess> {
  const port = o.port ?? nextPort++;
  return startServer({
    name: o.name,
    command: [process.execPath, ...SERVE_NODE_FLAGS, ...(o.nodeArgs ?? []), CLI, 'serve'],
    env: {
      ...o.registry.env,
      ZGW_AUTH_PORT: String(port),
      ZGW_AUTH_INTROSPECTION_RATE_LIMIT: '1000000',
      ZGW_AUTH_WORKERS: String(o.workers ?? 1),
    },
    port,
    readyPath: '/health/ready',
    ...(o.pin ? { pin: o.pin } : {}),
    logFile: path.join(o.workDir, `${slug(o.name)}.log`),
  });
}

export interface PeerOptions {
  name: string;
  alg: 'RS256' | 'ES256';
  clients: Credentials[];
  workDir: string;
  /** For the bare server's /introspect: the JSON zgw-auth answers for a token. */
  introspectionAnswer?: Record<string, unknown>;
  /** For the bare server's GET /applicaties/consumer: its path and the JSON zgw-auth answers there. */
  consumer?: { path: string; answer: unknown };
}

/** The bare Fastify baseline (bench/bare-server.ts). */
export function startBare(o: PeerOptions): Promise<ServerProcess> {
  const port = nextPort++;
  const { privateKey } = newKeyPair(o.alg);
  const configFile = writeConfig(o, {
    port,
    issuer: `http://127.0.0.1:${port}`,
    alg: o.alg,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }),
    clients: o.clients,
    introspectionAnswer: o.introspectionAnswer ?? {},
    ...(o.consumer ? { consumer: o.consumer } : {}),
  });
  return startServer({
    name: o.name,
    command: [process.execPath, path.join(ROOT, 'dist', 'bench', 'bare-server.js'), configFile],
    port,
    readyPath: '/health',
    logFile: path.join(o.workDir, `${slug(o.name)}.log`),
  });
}

/** The peer: oidc-provider (bench/deps/oidc-provider-server.mjs). */
export function startOidcProvider(o: PeerOptions): Promise<ServerProcess> {
  const port = nextPort++;
  const { privateKey } = newKeyPair(o.alg);
  const configFile = writeConfig(o, {
    port,
    issuer: `http://127.0.0.1:${port}`,
    alg: o.alg,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid: 'peer' },
    clients: o.clients,
  });
  return startServer({
    name: o.name,
    command: [process.execPath, path.join(DEPS_DIR, 'oidc-provider-server.mjs'), configFile],
    env: { NODE_ENV: 'production' },
    port,
    readyPath: '/.well-known/openid-configuration',
    logFile: path.join(o.workDir, `${slug(o.name)}.log`),
  });
}

function newKeyPair(alg: 'RS256' | 'ES256') {
  return alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function writeConfig(o: PeerOptions, config: object): string {
  const file = path.join(o.workDir, `${slug(o.name)}.json`);
  fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

export function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
