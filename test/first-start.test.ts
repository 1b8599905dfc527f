import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, firstAdminSecret, postForm, request, startServeProcess, startTestServer } from './helpers.js';

const run = promisify(execFile);

describe('first start on the embedded default', () => {
  it('creates database, owner-only master key, signing key and an admin credential shown once, outside the log stream', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-first-'));
    const file = path.join(dataDir, 'first-admin-secret.txt');
    let secret: string | undefined;
    const first = await startServeProcess(dataDir);
    try {
      // stdout is a pipe here, as under a log collector: the secret goes to an owner-only file.
      assert.match(
        first.output(),
        /"secretFile":"[^"]*first-admin-secret\.txt".*administrator secret is in this owner-only file/,
      );
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      secret = firstAdminSecret(first.output());
      assert.ok(secret, fs.readFileSync(file, 'utf8'));
      assert.ok(!first.output().includes(secret), 'the secret is not in the output a log collector keeps');
      assert.doesNotMatch(first.output(), /client_secret/);
      assert.equal(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777, 0o600);
      assert.ok(fs.existsSync(path.join(dataDir, 'zgw-auth.db')));
      const res = await postForm(`${first.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'zgw-auth-admin',
        client_secret: secret,
      });
      assert.equal(res.status, 200);
      assert.equal(res.json.scope, 'zgw-auth:admin');
      assert.equal((await request(`${first.url}/jwks`)).json.keys.length, 1);
    } finally {
      assert.equal(await first.stop(), 0, 'SIGTERM exits cleanly');
    }

    fs.rmSync(file);
    const second = await startServeProcess(dataDir);
    try {
      assert.doesNotMatch(second.output(), /client_secret|secretFile/, 'the secret is never shown again');
      assert.ok(!fs.existsSync(file));
      assert.equal(
        (
          await postForm(`${second.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'zgw-auth-admin',
            client_secret: secret,
          })
        ).status,
        200,
        'same key and client after restart',
      );
    } finally {
      await second.stop();
    }
  });
});

describe('an administrator whose secret was never delivered', () => {
  it('the next start says how to issue a new secret (never a second administrator, never the old secret); the hint ends once that is done', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-undelivered-'));
    const masterKey = crypto.randomBytes(32).toString('base64');
    // As an earlier version's first start left it when interrupted after storing the client, before showing its secret.
    const earlier = await startTestServer({ dataDir, masterKey });
    await earlier.close();
    const env = { ZGW_AUTH_MASTER_KEY: masterKey };
    const start = await startServeProcess(dataDir, env);
    t.after(() => (start.child.exitCode === null ? start.stop('SIGKILL') : undefined));
    const [secretId] = (
      await run(process.execPath, [CLI, 'secrets', 'list', 'zgw-auth-admin', '--json'], {
        env: { ...process.env, ...env, ZGW_AUTH_DATA_DIR: dataDir },
      })
    ).stdout
      .trim()
      .split('\n')
      .flatMap((l) => (JSON.parse(l) as { secretId: string }[]).map((s) => s.secretId));
    assert.match(
      start.output(),
      new RegExp(
        `administrator zgw-auth-admin has never been used.*zgw-auth secrets add zgw-auth-admin.*zgw-auth secrets revoke zgw-auth-admin ${secretId}`,
      ),
    );
    assert.doesNotMatch(start.output(), /secretFile|client_secret/, 'no second administrator, no secret shown');
    const added = JSON.parse(
      (
        await run(process.execPath, [CLI, 'secrets', 'add', 'zgw-auth-admin', '--json'], {
          env: { ...process.env, ...env, ZGW_AUTH_DATA_DIR: dataDir },
        })
      ).stdout,
    ) as {
      client_secret: string;
    };
    assert.equal(
      (
        await postForm(`${start.url}/token`, {
          grant_type: 'client_credentials',
          client_id: 'zgw-auth-admin',
          client_secret: added.client_secret,
        })
      ).status,
      200,
      'the new secret works',
    );
    await start.stop();
    const again = await startServeProcess(dataDir, env);
    t.after(() => (again.child.exitCode === null ? again.stop('SIGKILL') : undefined));
    assert.doesNotMatch(again.output(), /has never been used/, 'recovered: no hint any more');
    await again.stop();
  });
});
