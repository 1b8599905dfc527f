import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CLI, forEachDialect, hs256, type HttpResult, request, startTestServer, type TestServer } from './helpers.js';

const WEAK = 'Zomer2024!';
const STRONG = 'q7Vx2mKp9LwZr4TbNc8HsYd3FgJe6UaQ1oRi5';

/** The CLI with `input` on standard input; resolves with exit code and output. */
function cli(
  args: string[],
  env: Record<string, string>,
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

forEachDialect((dialect) => {
  describe(`weak secrets for self-signing clients (${dialect})`, () => {
    let ts: TestServer;
    let adminToken: string;
    let env: Record<string, string>;
    const api = (method: string, path: string, body?: unknown): Promise<HttpResult> =>
      request(`${ts.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    before(async () => {
      ts = await startTestServer({ dialect });
      adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
      env = {
        ZGW_AUTH_DATA_DIR: ts.config.dataDir,
        ZGW_AUTH_MASTER_KEY: ts.config.masterKey!,
        ...(ts.config.databaseUrl ? { DATABASE_URL: ts.config.databaseUrl } : {}),
      };
    });
    after(() => ts.close());

    it('admin API: refuses a weak import unless allowWeak, which is audited and shown as a risk until the secret is revoked', async () => {
      assert.equal(
        (await api('POST', '/clients', { clientId: 'hs-weak', rsin: '000000000', selfSignedAllowed: true })).status,
        201,
      );
      const refused = await api('POST', '/clients/hs-weak/secrets', { value: WEAK });
      assert.equal(refused.status, 400);
      assert.match(
        refused.json.detail,
        /weak secret refused for a self-signing client.*at least 32 characters.*128 bits.*allowWeak/,
      );
      assert.equal(refused.json.invalidParams[0].name, 'value');
      assert.equal((await api('GET', '/clients/hs-weak/secrets')).json.length, 1, 'nothing stored');
      assert.equal(
        (await api('POST', '/clients/hs-weak/secrets', { value: STRONG })).status,
        201,
        'a strong import needs no flag',
      );
      assert.deepEqual((await api('GET', '/clients/hs-weak')).json.risks, []);

      const allowed = await api('POST', '/clients/hs-weak/secrets', { value: WEAK, allowWeak: true, label: 'legacy' });
      assert.equal(allowed.status, 201, allowed.text);
      assert.equal(allowed.json.secret.weak, true);
      assert.equal(allowed.json.value, undefined);
      assert.deepEqual((await api('GET', '/clients/hs-weak')).json.risks, ['weak_secret']);
      const listed = (await api('GET', '/clients?q=hs-weak')).json.items;
      assert.deepEqual(
        listed.map((c: { risks: string[] }) => c.risks),
        [['weak_secret']],
      );
      const [imported] = await ts.app.audit.list({ action: 'secret.imported', target: 'hs-weak' });
      assert.equal(imported!.details.allowedWeak, true);
      assert.ok(!JSON.stringify(imported).includes(WEAK), 'the value is not in the audit trail');
      const token = hs256({ client_id: 'hs-weak', iat: Math.floor(ts.clock.now() / 1000) }, WEAK);
      assert.equal(
        (await request(`${ts.url}/admin/keys`, { headers: { authorization: `Bearer ${token}` } })).status,
        403,
        'the allowed weak secret signs (no admin scope)',
      );

      assert.equal((await api('DELETE', `/clients/hs-weak/secrets/${allowed.json.secret.secretId}`)).status, 200);
      assert.deepEqual((await api('GET', '/clients/hs-weak')).json.risks, [], 'revoked: no longer a risk');
    });

    it('long secrets made of repeats or runs are weak too', async () => {
      assert.equal(
        (await api('POST', '/clients', { clientId: 'hs-patterns', rsin: '000000000', selfSignedAllowed: true })).status,
        201,
      );
      for (const value of [
        'Password1!Password1!Password1!Pa',
        'abcdABCDabcdABCDabcdABCDabcdABCD',
        '0123456789abcdef0123456789abcdef',
        'x'.repeat(64),
      ]) {
        const res = await api('POST', '/clients/hs-patterns/secrets', { value });
        assert.equal(res.status, 400, `${value}: ${res.text}`);
      }
      // What Keycloak generates (32 alphanumerics) and random hex of 128 bits are not weak.
      for (const value of ['Kx9fQ2mLp7RtZ4vW8nB3cY6hJ1sD5gA0', 'ca540f86e81d2a491a0f0a9f76ac4036']) {
        assert.equal((await api('POST', '/clients/hs-patterns/secrets', { value })).status, 201, value);
      }
    });

    it('a client switched to self-signing gets the same rule; its older weak secret cannot sign and is no risk', async () => {
      assert.equal((await api('POST', '/clients', { clientId: 'switcher', rsin: '000000000' })).status, 201);
      const plain = await api('POST', '/clients/switcher/secrets', { value: WEAK });
      assert.equal(plain.status, 201, 'not self-signing: a warning only (online guessing is backed off)');
      assert.ok(plain.json.warnings.some((w: string) => /weak secret/.test(w)));
      assert.equal((await api('PATCH', '/clients/switcher', { selfSignedAllowed: true })).status, 200);
      assert.deepEqual((await api('GET', '/clients/switcher')).json.risks, []);
      assert.equal((await api('POST', '/clients/switcher/secrets', { value: WEAK })).status, 400);
    });

    it('CLI: secrets add --import-stdin refuses, --allow-weak-secret keeps it, clients show and list show the risk', async () => {
      assert.equal(
        (await api('POST', '/clients', { clientId: 'cli-weak', rsin: '000000000', selfSignedAllowed: true })).status,
        201,
      );
      const refused = await cli(['secrets', 'add', 'cli-weak', '--import-stdin'], env, `${WEAK}\n`);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /weak secret refused for a self-signing client.*--allow-weak-secret/);
      const allowed = await cli(
        ['secrets', 'add', 'cli-weak', '--import-stdin', '--allow-weak-secret', '--json'],
        env,
        `${WEAK}\n`,
      );
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match((await cli(['clients', 'show', 'cli-weak'], env)).stdout, /^risks:\s+weak_secret/m);
      assert.match(
        (await cli(['clients', 'list', '--search', 'cli-weak'], env)).stdout,
        /^cli-weak\s.*\sweak_secret\s/m,
      );
    });
  });
});
