import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { firstAdminSecret, postForm, request, startServeProcess } from './helpers.js';

describe('first start on the embedded default', () => {
  it('creates database, owner-only master key, signing key and an admin credential shown once, outside the log stream', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-first-'));
    const file = path.join(dataDir, 'first-admin-secret.txt');
    let secret: string | undefined;
    const first = await startServeProcess(dataDir);
    try {
      // stdout is a pipe here, as under a log collector: the secret goes to an owner-only file.
      assert.match(first.output(), /"secretFile":"[^"]*first-admin-secret\.txt".*administrator secret is in this owner-only file/);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      secret = firstAdminSecret(first.output());
      assert.ok(secret, fs.readFileSync(file, 'utf8'));
      assert.ok(!first.output().includes(secret), 'the secret is not in the output a log collector keeps');
      assert.doesNotMatch(first.output(), /client_secret/);
      assert.equal(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777, 0o600);
      assert.ok(fs.existsSync(path.join(dataDir, 'zgw-auth.db')));
      const res = await postForm(`${first.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret });
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
      assert.equal((await postForm(`${second.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret })).status, 200, 'same key and client after restart');
    } finally {
      await second.stop();
    }
  });
});
