import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createVerifier, zgwAuthFastify } from '@zgw-auth/verifier';
import { base64urlJson } from '@zgw-auth/verifier/testing';
import Fastify from 'fastify';
import { isValidRsin } from '../src/clients/rsin.js';
import { loadConfig, OPTIONS } from '../src/config.js';
import { CLI, eventually, request, startServeProcess, startTestServer } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('configuration', () => {
  it('flags override environment variables, which override defaults', () => {
    assert.equal(loadConfig({}).port, 8080);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }).port, 9000);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }, { port: '9100' }).port, 9100);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }).issuer, 'http://127.0.0.1:9000');
    assert.throws(() => loadConfig({ ZGW_AUTH_PORT: 'eighty' }), /ZGW_AUTH_PORT must be a whole number/);
    assert.throws(() => loadConfig({ ZGW_AUTH_SIGNING_ALG: 'HS256' }), /must be one of RS256, PS256, ES256, EdDSA/);
    assert.throws(() => loadConfig({ ZGW_AUTH_ISSUER: 'https://x/?a=b' }), /query or fragment/);
  });

  it('README documents every option with its variable, flag and default', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const o of Object.values(OPTIONS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${o.env}\``));
      assert.ok(row, `${o.env} missing from README`);
      assert.ok(
        row.includes(`\`${o.flag}\``) && row.includes(o.defaultDoc.replace(/\|/g, '\\|')),
        `${o.env} row is out of date`,
      );
    }
  });

  it('RSIN 11-test', () => {
    for (const ok of ['000000000', '123456782', '111222333', '002220647']) assert.ok(isValidRsin(ok), ok);
    for (const bad of ['123456789', '12345678', '1234567890', 'abcdefghi', '12345678 '])
      assert.ok(!isValidRsin(bad), bad);
  });
});

describe('CLI on the local database', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-cli-'));
  const env = {
    ...process.env,
    ZGW_AUTH_DATA_DIR: dataDir,
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
  };
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env });

  it('creates a client and prints its secret once, as JSON', async () => {
    const { stdout } = await cli(
      '--init',
      'clients',
      'create',
      '--client-id',
      'oneground-000000000',
      '--rsin',
      '000000000',
      '--scopes',
      'zaken.lezen',
      '--json',
    );
    const out = JSON.parse(stdout);
    assert.equal(out.client_id, 'oneground-000000000');
    assert.equal(Buffer.from(out.client_secret, 'base64url').length, 32);
    const shown = await cli('clients', 'show', 'oneground-000000000');
    assert.match(shown.stdout, /rsin:\s+000000000/);
    assert.ok(!shown.stdout.includes(out.client_secret), 'never shown again');
  });

  /**
   * What a command run in a process of its own loaded: every script V8 compiled (ES modules and
   * CommonJS alike), as packages (`pino`) and as files of this repository (`dist/src/app.js`).
   */
  const loadedBy = async (...args: string[]) => {
    const script = `
      import inspector from 'node:inspector';
      const { runCli } = await import(${JSON.stringify(new URL('../src/cli/program.js', import.meta.url).href)});
      const code = await runCli(['node', 'zgw-auth', ...${JSON.stringify(args)}], () => {});
      const scripts = [];
      const session = new inspector.Session();
      session.connect();
      session.on('Debugger.scriptParsed', ({ params }) => scripts.push(params.url));
      session.post('Debugger.enable');
      session.disconnect();
      process.stdout.write(JSON.stringify({ code, scripts }));
      process.exit(0);
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
    const { code, scripts } = JSON.parse(stdout) as { code: number; scripts: string[] };
    assert.equal(code, 0);
    const files = scripts.filter((u) => u.startsWith('file:')).map((u) => path.relative(ROOT, fileURLToPath(u)));
    const packages = new Set(files.map((f) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1]));
    const own = files.filter((f) => !f.includes('node_modules'));
    return { packages, own, all: files };
  };
  /** What `serve` or a few commands use, and no other command may load (each an eager import, once). */
  const SERVE_ONLY = {
    packages: ['fastify', 'ajv', 'prom-client', '@opentelemetry/api', 'ioredis', 'pino', 'thread-stream'],
    files: [
      /^dist\/src\/http\//,
      /^dist\/src\/console\//,
      /^dist\/src\/ops\/(metrics|tracing)\.js$/,
      /^dist\/src\/audit\/(audit-shipping|audit-sinks|syslog-sink|json-lines-sink)\.js$/,
      /^dist\/src\/autorisaties\/notification-delivery\.js$/,
      /^dist\/src\/storage\/(redis|kysely-audit-feed)\.js$/,
      /^dist\/src\/pki\/(crl-file|revocation-reload)\.js$/,
      /^dist\/src\/tokens\/server-verifier\.js$/,
      /^dist\/src\/(migrate|transfer|inspection)\//,
      // The verifier library's main entry: the commands use its internal JOSE core only.
      /^packages\/verifier\/dist\/(index|verifier)\.js$/,
    ],
  };
  const assertNotLoaded = (loaded: Awaited<ReturnType<typeof loadedBy>>, packages: string[], files: RegExp[]) => {
    for (const name of packages) assert.ok(!loaded.packages.has(name), `${name} loaded`);
    for (const pattern of files) {
      const found = loaded.own.filter((f) => pattern.test(f));
      assert.deepEqual(found, [], `${pattern} loaded`);
    }
  };

  it('a command loads the registry and its domains, not what serve and other commands use', async () => {
    const loaded = await loadedBy('clients', 'list', '--json');
    // What a command needs is listed: the list is complete enough to show what is missing.
    assert.ok(loaded.packages.has('better-sqlite3') && loaded.packages.has('commander'), [...loaded.packages].join());
    assert.ok(loaded.own.includes(path.join('dist', 'src', 'app.js')), loaded.own.join());
    assertNotLoaded(loaded, SERVE_ONLY.packages, SERVE_ONLY.files);
  });

  it('--help loads the command definitions only, not the app or its database', async () => {
    const loaded = await loadedBy('--help');
    assert.ok(loaded.own.includes(path.join('dist', 'src', 'cli', 'clients-commands.js')), loaded.own.join());
    assertNotLoaded(
      loaded,
      [...SERVE_ONLY.packages, 'better-sqlite3'],
      [...SERVE_ONLY.files, /^dist\/src\/app\.js$/, /^dist\/src\/storage\//, /^dist\/vendor\//],
    );
  });

  it('ends quietly, with 141 as after SIGPIPE, when the reader of its output is gone (`| head`)', async () => {
    // A pipe whose reader has closed, made before the command starts: its first write fails with EPIPE.
    const fifo = path.join(dataDir, 'closed-pipe');
    await run('mkfifo', [fifo]);
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writer = fs.openSync(fifo, 'w');
    fs.closeSync(reader);
    const child = spawn(process.execPath, [CLI, '--help'], { env, stdio: ['ignore', writer, 'pipe'] });
    fs.closeSync(writer);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    fs.rmSync(fifo);
    assert.equal(stderr, '');
    // Output was lost (it may have been a secret shown once): not a success.
    assert.equal(code, 141);
  });

  it('refuses an invalid RSIN with a one-line reason and a non-zero exit', async () => {
    await assert.rejects(
      cli('clients', 'create', '--client-id', 'x', '--rsin', '123456789'),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.equal(err.stderr.trim().split('\n').length, 1);
        assert.match(err.stderr, /not a valid RSIN/);
        return true;
      },
    );
  });

  it('rotates and revokes secrets and shows the audit trail', async () => {
    const added = JSON.parse(
      (await cli('secrets', 'add', 'oneground-000000000', '--label', 'rotation', '--json')).stdout,
    );
    assert.match(added.secret_id, /^sec_/);
    const listed = JSON.parse((await cli('secrets', 'list', 'oneground-000000000', '--json')).stdout);
    assert.equal(listed.length, 2);
    await cli('secrets', 'revoke', 'oneground-000000000', added.secret_id);
    await cli('clients', 'disable', 'oneground-000000000');
    const table = (await cli('clients', 'list')).stdout;
    assert.match(table, /^CLIENT ID\s+RSIN\s+ENABLED/m);
    assert.match(table, /oneground-000000000\s+000000000\s+false/);
    const events = JSON.parse((await cli('audit', 'list', '--json')).stdout) as Array<{
      action: string;
      actor: string;
    }>;
    assert.deepEqual(events.map((e) => e.action).slice(0, 4), [
      'client.disabled',
      'secret.revoked',
      'secret.created',
      'client.created',
    ]);
    assert.ok(events.every((e) => e.actor === 'cli'));
    const keys = JSON.parse((await cli('keys', 'rotate', '--publish-delay', '0', '--json')).stdout);
    assert.match(keys.kid, /^[\w-]{43}$/);
  });

  it('sets authentication methods, jwks_uri, TLS subject, OIN and token binding, and shows them', async () => {
    const created = await cli(
      'clients',
      'create',
      '--client-id',
      'keys-only',
      '--rsin',
      '000000000',
      '--auth-methods',
      'private_key_jwt,tls_client_auth',
      '--jwks-uri',
      'https://keys.example.nl/jwks.json',
      '--tls-subject',
      'subject_dn=CN=keys-only,O=Gemeente Voorbeeld',
      '--oin',
      '00000001234567890000',
      '--dpop-bound',
      '--certificate-bound',
    );
    // A client of keys and certificates only gets no secret, and says so.
    assert.doesNotMatch(created.stdout, /client_secret:/);
    assert.match(created.stdout, /no client secret/);
    const shown = (await cli('clients', 'show', 'keys-only')).stdout;
    assert.match(shown, /auth methods:\s+private_key_jwt tls_client_auth$/m);
    assert.match(shown, /jwks_uri:\s+https:\/\/keys\.example\.nl\/jwks\.json$/m);
    assert.match(shown, /tls subject:\s+subject_dn=CN=keys-only,O=Gemeente Voorbeeld$/m);
    assert.match(shown, /oin:\s+00000001234567890000$/m);
    assert.match(shown, /dpop-bound:\s+true/);
    assert.match(shown, /certificate-bound:\s+true/);
    assert.deepEqual(JSON.parse((await cli('secrets', 'list', 'keys-only', '--json')).stdout), []);
    const listed = (await cli('clients', 'list', '--search', 'keys-only')).stdout;
    assert.match(listed, /BOUND TOKENS/);
    assert.match(listed, /keys-only\s+000000000\s+true\s+private_key_jwt,tls_client_auth\s+dpop,certificate\s/);

    // --no-… clears a flag; '' clears a field; a secret method added says how to get a secret.
    const updated = await cli(
      'clients',
      'update',
      'keys-only',
      '--no-dpop-bound',
      '--oin',
      '',
      '--tls-subject',
      '',
      '--auth-methods',
      'private_key_jwt',
      '--auth-methods',
      'client_secret_basic',
      '--json',
    );
    const out = JSON.parse(updated.stdout) as { client: Record<string, unknown>; warnings: string[] };
    assert.equal(out.client.dpopBoundAccessTokens, false);
    assert.equal(out.client.tlsClientCertificateBoundAccessTokens, true, 'left as it was');
    assert.equal(out.client.oin, null);
    assert.equal(out.client.tlsSubject, null);
    assert.deepEqual(out.client.authMethods, ['private_key_jwt', 'client_secret_basic']);
    assert.match(updated.stderr, /warning: .*has none: create one .*secrets add keys-only/);
    const later = (await cli('clients', 'list', '--search', 'keys-only', '--json')).stdout;
    assert.equal(JSON.parse(later).items[0].dpopBoundAccessTokens, false);
    const secret = JSON.parse((await cli('secrets', 'add', 'keys-only', '--json')).stdout);
    assert.equal(Buffer.from(secret.client_secret, 'base64url').length, 32);
    await cli('clients', 'update', 'keys-only', '--no-certificate-bound');
    assert.match((await cli('clients', 'show', 'keys-only')).stdout, /certificate-bound:\s+false/);
  });

  it('refuses a secret for a client without a secret method, with its reason and exit 1', async () => {
    await cli(
      'clients',
      'create',
      '--client-id',
      'keys-too',
      '--rsin',
      '000000000',
      '--auth-methods',
      'private_key_jwt',
    );
    await assert.rejects(cli('secrets', 'add', 'keys-too'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /authenticates without a secret .*add client_secret_basic or client_secret_post/);
      return true;
    });
    await assert.rejects(
      cli('clients', 'create', '--rsin', '000000000', '--auth-methods', 'password'),
      /expected one of/,
    );
  });
});

describe('Fastify plugin of the verifier', () => {
  it('protects routes and answers with ZGW problem+json', async () => {
    const ts = await startTestServer();
    const api = Fastify();
    try {
      const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
      await api.register(async (scope) => {
        await scope.register(zgwAuthFastify, {
          verifier: createVerifier({ issuer: ts.url }),
          scopes: ['zaken.lezen'],
          problemJson: true,
        });
        scope.get('/zaken', async (request) => ({
          client: (request as unknown as { principal: { clientId: string } }).principal.clientId,
        }));
      });
      api.get('/open', async () => ({ open: true }));
      const ok = await api.inject({
        url: '/zaken',
        headers: { authorization: `Bearer ${await ts.token(c.clientId, c.secret, 'zaken.lezen')}` },
      });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().client, c.clientId);
      const refused = await api.inject({ url: '/zaken', headers: { authorization: 'Bearer abc' } });
      assert.equal(refused.statusCode, 401);
      assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
      assert.equal(refused.json().code, 'invalid_token', 'before authenticity, no reason is told');
      assert.equal((await api.inject({ url: '/open' })).statusCode, 200, 'routes outside the scope stay open');
    } finally {
      await api.close();
      await ts.close();
    }
  });
});

describe('CLI ergonomics', () => {
  /** The CLI; resolves with exit code and output, never rejects. */
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const emptyDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-ergo-'));

  it('a boolean flag works without a value, before or after the command', async () => {
    const proc = await startServeProcess(emptyDir(), {}, ['--access-log']);
    try {
      await request(`${proc.url}/health/live`);
      assert.ok(await eventually(async () => /request completed/.test(proc.output()), 2000), 'the access log is on');
    } finally {
      await proc.stop();
    }
    // Before the command, the command is not taken for the flag's value.
    const r = await cli(['--access-log', '--introspection-anonymous', 'keys', 'list', '--data-dir', emptyDir()]);
    assert.match(r.stderr, /no zgw-auth registry/);
  });

  it('--help lists the commands before the server options', async () => {
    const { stdout } = await cli(['--help']);
    assert.ok(
      stdout.indexOf('Commands:') >= 0 && stdout.indexOf('Commands:') < stdout.indexOf('--port <value>'),
      stdout.slice(0, 400),
    );
    assert.match(stdout, /--access-log \[value\]/);
  });

  it('a port in use suggests --port', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const r = await cli(['serve', '--port', String((busy.address() as net.AddressInfo).port)], {
        ZGW_AUTH_DATA_DIR: emptyDir(),
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already in use.*--port/);
    } finally {
      busy.close();
    }
  });

  it('a bad log level names its variable', async () => {
    for (const args of [
      ['serve', '--port', '0'],
      ['keys', 'list'],
    ]) {
      const r = await cli(args, { ZGW_AUTH_DATA_DIR: emptyDir(), ZGW_AUTH_LOG_LEVEL: 'verbose' });
      assert.equal(r.code, 1, args[0]);
      assert.match(
        r.stderr,
        /ZGW_AUTH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/,
        args[0],
      );
    }
    assert.throws(() => loadConfig({ ZGW_AUTH_LOG_LEVEL: 'verbose' }), /ZGW_AUTH_LOG_LEVEL/);
  });

  it('clients create --help marks --rsin as required', async () => {
    assert.match((await cli(['clients', 'create', '--help'])).stdout, /--rsin <rsin>\s+required/);
  });

  it('token inspect without a registry or --server says it could not check, with exit 2', async () => {
    const token = `${base64urlJson({ alg: 'HS256', typ: 'JWT' })}.${base64urlJson({ client_id: 'x', iat: 1 })}.c2ln`;
    const r = await cli(['token', 'inspect', token], { ZGW_AUTH_DATA_DIR: emptyDir() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /could not check the token/);
    assert.doesNotMatch(r.stdout, /VALID/);
  });
});
