import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config.js';
import type { KeyInfo } from '../src/keys/key-ring.js';
import { consoleSignIn } from './console-helpers.js';
import { CLI, decodePart, firstAdminSecret, postForm, request, startServeProcess, startTestServer } from './helpers.js';

const run = promisify(execFile);
/** Our /jwks max-age, and jose's cooldown before it refetches a JWKS for an unknown kid. */
const JWKS_MAX_AGE = 60;
const JOSE_COOLDOWN = 30;

describe('key rotation and JWKS caches', () => {
  it('by default a new key is published longer than JWKS caches and refetch cooldowns take, before it signs', () => {
    const config = loadConfig({});
    assert.ok(
      config.keyPublishDelay >= JWKS_MAX_AGE + JOSE_COOLDOWN + config.keyRefreshInterval,
      `publish delay ${config.keyPublishDelay} s`,
    );
  });

  it('a CLI rotation reaches a running SQLite server at once; --now signs at once', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-rotate-'));
    const masterKey = crypto.randomBytes(32).toString('base64');
    // The default publish delay: startServeProcess, unlike startTestServer, does not set 0.
    const proc = await startServeProcess(dataDir, { ZGW_AUTH_MASTER_KEY: masterKey });
    const cli = async (...args: string[]) =>
      JSON.parse(
        (
          await run(process.execPath, [CLI, ...args], {
            env: { ...process.env, ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_MASTER_KEY: masterKey },
          })
        ).stdout,
      );
    try {
      const secret = firstAdminSecret(proc.output())!;
      const signingKid = async () => {
        const res = await postForm(`${proc.url}/token`, {
          grant_type: 'client_credentials',
          client_id: 'zgw-auth-admin',
          client_secret: secret,
        });
        assert.equal(res.status, 200, res.text);
        return decodePart(res.json.access_token, 0).kid;
      };
      const published = async () =>
        ((await request(`${proc.url}/jwks`)).json.keys as { kid: string }[]).map((k) => k.kid);
      const within = async (ms: number, check: () => Promise<boolean>) => {
        const start = Date.now();
        while (Date.now() - start < ms) if (await check()) return true;
        return false;
      };
      const first = await signingKid();

      const rotated = await cli('keys', 'rotate', '--json');
      assert.ok(
        rotated.activatesAt - Date.now() >= (JWKS_MAX_AGE + JOSE_COOLDOWN) * 1000,
        'signs only after the default publish delay',
      );
      assert.ok(
        await within(500, async () => (await published()).includes(rotated.kid)),
        'published by the running server within 0.5 s',
      );
      assert.equal(await signingKid(), first, 'the new key does not sign yet');

      const urgent = await cli('keys', 'rotate', '--now', '--json');
      assert.ok(urgent.activatesAt <= Date.now());
      assert.ok(
        await within(500, async () => (await signingKid()) === urgent.kid),
        'an emergency rotation signs within 0.5 s',
      );
    } finally {
      await proc.stop();
    }
  });

  it('admin API: rotation waits for the publish delay unless {"now": true}', async () => {
    const ts = await startTestServer({ env: { ZGW_AUTH_KEY_PUBLISH_DELAY: '600' } });
    try {
      const token = await ts.token(ts.admin.clientId, ts.admin.secret);
      const rotate = (body: unknown) =>
        request(`${ts.url}/admin/keys/rotate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const later = await rotate({});
      assert.equal(later.status, 200, later.text);
      assert.equal(later.json.activatesAt, ts.clock.now() + 600_000);
      const now = await rotate({ now: true });
      assert.equal(now.status, 200, now.text);
      assert.equal(now.json.activatesAt, ts.clock.now());
      const refused = await rotate({ now: true, publishDelay: 5 });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.invalidParams[0].name, 'publishDelay');
      assert.equal((await rotate({ alg: 'HS256' })).status, 400);

      const events = await ts.app.audit.list({ action: 'key.rotated' });
      assert.deepEqual(
        events.map((e) => [e.actor, e.address, e.target, e.details.publishDelay]),
        [
          [ts.admin.clientId, '127.0.0.1', now.json.kid, 0],
          [ts.admin.clientId, '127.0.0.1', later.json.kid, 600],
        ],
        'each rotation audited with who did it; refused ones not',
      );
    } finally {
      await ts.close();
    }
  });

  it('keys list, the admin API and the console show one plan: an emergency rotation supersedes the pending key', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-rotate-plan-'));
    const masterKey = crypto.randomBytes(32).toString('base64');
    const ts = await startTestServer({ dataDir, masterKey, env: { ZGW_AUTH_KEY_PUBLISH_DELAY: '600' } });
    try {
      const token = await ts.token(ts.admin.clientId, ts.admin.secret);
      const admin = (method: string, url: string, body?: unknown) =>
        request(`${ts.url}/admin${url}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      const [first] = (await admin('GET', '/keys')).json.items;
      const pending = (await admin('POST', '/keys/rotate', {})).json;
      const urgent = (await admin('POST', '/keys/rotate', { now: true })).json;
      assert.deepEqual(urgent.superseded, [pending.kid]);

      const api = (await admin('GET', '/keys')).json.items;
      assert.deepEqual(
        api.map((k: KeyInfo) => [k.kid, k.state, k.signsUntil, k.retiresAt]),
        [
          [first.kid, 'published', urgent.activatesAt, urgent.previousRetireAt],
          [urgent.kid, 'active', null, null],
          [pending.kid, 'superseded', null, ts.clock.now()],
        ],
      );
      const cli = (...args: string[]) =>
        run(process.execPath, [CLI, 'keys', 'list', ...args], {
          env: { ...process.env, ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_MASTER_KEY: masterKey },
        });
      assert.deepEqual(
        JSON.parse((await cli('--json')).stdout),
        api,
        'the CLI derives the same plan from the database',
      );
      const table = (await cli()).stdout.split('\n');
      assert.match(table[0]!, /STATE +SIGNS FROM +SIGNS UNTIL +RETIRES/);
      assert.match(
        table.find((l) => l.startsWith(pending.kid))!,
        /superseded +- +- +\d{4}-/,
        'never signs: no signing window',
      );

      const page = (await (await consoleSignIn(ts)).get('/console/keys?lang=en')).text;
      assert.match(page, /Signs until/);
      const row = page.slice(page.indexOf(pending.kid), page.indexOf('</tr>', page.indexOf(pending.kid)));
      assert.match(row, /Superseded before it signed/);
    } finally {
      await ts.close();
    }
  });

  it('a CLI rotation is audited like one through the admin API, and refused on the same rules', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-rotate-cli-'));
    const env = {
      ...process.env,
      ZGW_AUTH_DATA_DIR: dataDir,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    };
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const rotated = JSON.parse(
      (await cli('--init', 'keys', 'rotate', '--alg', 'ES256', '--publish-delay', '30', '--json')).stdout,
    );
    assert.equal(rotated.alg, 'ES256');
    const urgent = JSON.parse((await cli('keys', 'rotate', '--now', '--json')).stdout);

    const both = await cli('keys', 'rotate', '--now', '--publish-delay', '5');
    assert.equal(both.code, 1);
    assert.match(both.stderr, /give now or publishDelay, not both/);
    const alg = await cli('keys', 'rotate', '--alg', 'HS256');
    assert.equal(alg.code, 1);
    assert.match(alg.stderr, /alg must be one of RS256, PS256, ES256, EdDSA/);

    const events = JSON.parse((await cli('audit', 'list', '--action', 'key.rotated', '--json')).stdout) as Array<{
      actor: string;
      target: string;
      details: Record<string, unknown>;
    }>;
    assert.deepEqual(
      events.map((e) => [e.actor, e.target, e.details.alg, e.details.publishDelay, e.details.activatesAt]),
      [
        ['cli', urgent.kid, urgent.alg, 0, urgent.activatesAt],
        ['cli', rotated.kid, 'ES256', 30, rotated.activatesAt],
      ],
    );
  });
});
