import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { postForm, request } from './helpers.js';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

/** Starts `zgw-auth serve` as a real process and waits for its first-start banner. */
export async function startServeProcess(dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: { ...process.env, ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 10 s:\n${out}`)), 10_000);
    child.stdout.on('data', () => {
      const m = /"issuer":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  return { child, url, output: () => out, stop: () => new Promise<number | null>((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

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
