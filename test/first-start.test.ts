import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { postForm, request, startServeProcess } from './helpers.js';

describe('first start on the embedded default', () => {
  it('creates database, owner-only master key, signing key and an admin credential shown once', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-first-'));
    const first = await startServeProcess(dataDir);
    const secret = /client_secret: (\S+)/.exec(first.output())?.[1];
    assert.ok(secret, first.output());
    assert.equal(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777, 0o600);
    assert.ok(fs.existsSync(path.join(dataDir, 'zgw-auth.db')));
    const res = await postForm(`${first.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret });
    assert.equal(res.status, 200);
    assert.equal(res.json.scope, 'zgw-auth:admin');
    assert.equal((await request(`${first.url}/jwks`)).json.keys.length, 1);
    assert.equal(await first.stop(), 0, 'SIGTERM exits cleanly');

    const second = await startServeProcess(dataDir);
    assert.doesNotMatch(second.output(), /client_secret/, 'the secret is never shown again');
    assert.equal((await postForm(`${second.url}/token`, { grant_type: 'client_credentials', client_id: 'zgw-auth-admin', client_secret: secret })).status, 200, 'same key and client after restart');
    await second.stop();
  });
});
