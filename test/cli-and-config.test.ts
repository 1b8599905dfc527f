import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createVerifier, zgwAuthFastify } from '@zgw-auth/verifier';
import Fastify from 'fastify';
import { isValidRsin } from '../src/clients/rsin.js';
import { loadConfig, OPTIONS } from '../src/config.js';
import { CLI, startTestServer } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('configuration', () => {
  it('flags override environment variables, which override defaults', () => {
    assert.equal(loadConfig({}).port, 8080);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }).port, 9000);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }, { port: '9100' }).port, 9100);
    assert.equal(loadConfig({ ZGW_AUTH_PORT: '9000' }).issuer, 'http://127.0.0.1:9000');
    assert.throws(() => loadConfig({ ZGW_AUTH_PORT: 'eighty' }), /ZGW_AUTH_PORT must be a whole number/);
    assert.throws(() => loadConfig({ ZGW_AUTH_SIGNING_ALG: 'HS256' }), /must be one of RS256, ES256, EdDSA/);
    assert.throws(() => loadConfig({ ZGW_AUTH_ISSUER: 'https://x/?a=b' }), /query or fragment/);
  });

  it('README documents every option with its variable, flag and default', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const o of Object.values(OPTIONS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${o.env}\``));
      assert.ok(row, `${o.env} missing from README`);
      assert.ok(row.includes(`\`${o.flag}\``) && row.includes(o.defaultDoc.replace(/\|/g, '\\|')), `${o.env} row is out of date`);
    }
  });

  it('RSIN 11-test', () => {
    for (const ok of ['000000000', '123456782', '111222333', '002220647']) assert.ok(isValidRsin(ok), ok);
    for (const bad of ['123456789', '12345678', '1234567890', 'abcdefghi', '12345678 ']) assert.ok(!isValidRsin(bad), bad);
  });
});

describe('CLI on the local database', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-cli-'));
  const env = { ...process.env, ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env });

  it('creates a client and prints its secret once, as JSON', async () => {
    const { stdout } = await cli('--init', 'clients', 'create', '--client-id', 'oneground-000000000', '--rsin', '000000000', '--scopes', 'zaken.lezen', '--json');
    const out = JSON.parse(stdout);
    assert.equal(out.client_id, 'oneground-000000000');
    assert.equal(Buffer.from(out.client_secret, 'base64url').length, 32);
    const shown = await cli('clients', 'show', 'oneground-000000000');
    assert.match(shown.stdout, /rsin:\s+000000000/);
    assert.ok(!shown.stdout.includes(out.client_secret), 'never shown again');
  });

  it('refuses an invalid RSIN with a one-line reason and a non-zero exit', async () => {
    await assert.rejects(cli('clients', 'create', '--client-id', 'x', '--rsin', '123456789'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.equal(err.stderr.trim().split('\n').length, 1);
      assert.match(err.stderr, /not a valid RSIN/);
      return true;
    });
  });

  it('rotates and revokes secrets and shows the audit trail', async () => {
    const added = JSON.parse((await cli('secrets', 'add', 'oneground-000000000', '--label', 'rotation', '--json')).stdout);
    assert.match(added.secret_id, /^sec_/);
    const listed = JSON.parse((await cli('secrets', 'list', 'oneground-000000000', '--json')).stdout);
    assert.equal(listed.length, 2);
    await cli('secrets', 'revoke', 'oneground-000000000', added.secret_id);
    await cli('clients', 'disable', 'oneground-000000000');
    const table = (await cli('clients', 'list')).stdout;
    assert.match(table, /^CLIENT ID\s+RSIN\s+ENABLED/m);
    assert.match(table, /oneground-000000000\s+000000000\s+false/);
    const events = JSON.parse((await cli('audit', 'list', '--json')).stdout) as Array<{ action: string; actor: string }>;
    assert.deepEqual(events.map((e) => e.action).slice(0, 4), ['client.disabled', 'secret.revoked', 'secret.created', 'client.created']);
    assert.ok(events.every((e) => e.actor === 'cli'));
    const keys = JSON.parse((await cli('keys', 'rotate', '--publish-delay', '0', '--json')).stdout);
    assert.match(keys.kid, /^[\w-]{43}$/);
  });
});

describe('Fastify plugin of the verifier', () => {
  it('protects routes and answers with ZGW problem+json', async () => {
    const ts = await startTestServer();
    const api = Fastify();
    try {
      const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
      await api.register(async (scope) => {
        await scope.register(zgwAuthFastify, { verifier: createVerifier({ issuer: ts.url }), scopes: ['zaken.lezen'], problemJson: true });
        scope.get('/zaken', async (request) => ({ client: (request as unknown as { principal: { clientId: string } }).principal.clientId }));
      });
      api.get('/open', async () => ({ open: true }));
      const ok = await api.inject({ url: '/zaken', headers: { authorization: `Bearer ${await ts.token(c.clientId, c.secret, 'zaken.lezen')}` } });
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
