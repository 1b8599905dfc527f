import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, postForm, startTestServer } from './helpers.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const run = promisify(execFile);
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-outside-'));
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('secrets outside the database', () => {
  it('leaves query strings out of the access log', async () => {
    const ts = await startTestServer({ env: FAST_KEYS });
    try {
      const c = await ts.createClient();
      const res = await postForm(
        `${ts.url}/token?client_id=${c.clientId}&client_secret=${c.secret}&grant_type=client_credentials`,
        {},
      );
      assert.equal(res.status, 400);
      const logs = ts.logs.join('\n');
      assert.ok(!logs.includes(c.secret), 'the secret from the URL is not logged');
      assert.ok(
        ts.logs.some((l) => JSON.parse(l).req?.url === '/token?[redacted]'),
        'the request is logged, its query redacted',
      );
    } finally {
      await ts.close();
    }
  });

  it('logs X-Request-Id only when short and plain, else a generated one', async () => {
    const ts = await startTestServer({ env: FAST_KEYS });
    try {
      const c = await ts.createClient();
      const huge = 'A'.repeat(12 * 1024);
      for (const id of [huge, 'evil"id<script>', 'ok-id_1.2'])
        await postForm(
          `${ts.url}/token`,
          { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret },
          { 'x-request-id': id },
        );
      const ids = new Set(ts.logs.map((l) => JSON.parse(l).reqId as string | undefined).filter(Boolean));
      assert.ok(ids.has('ok-id_1.2'), 'a plain id is kept');
      for (const id of ids) assert.ok(/^[A-Za-z0-9._-]{1,64}$/.test(id!), `logged request id ${id!.slice(0, 40)}…`);
      assert.ok(!ts.logs.join('\n').includes('A'.repeat(100)), 'the 12 KB value is not logged');
      assert.ok(!ts.logs.join('\n').includes('<script>'));
    } finally {
      await ts.close();
    }
  });

  it('creates the database, its WAL files and the master key owner-only in a pre-existing 0755 folder', async () => {
    const dataDir = tempDir();
    fs.chmodSync(dataDir, 0o755);
    const umask = process.umask(0o022);
    try {
      const ts = await startTestServer({ dataDir, env: { ...FAST_KEYS, ZGW_AUTH_MASTER_KEY: '' } });
      try {
        await ts.createClient();
        for (const f of ['zgw-auth.db', 'zgw-auth.db-wal', 'zgw-auth.db-shm', 'master.key'])
          assert.equal(mode(path.join(dataDir, f)).toString(8), '600', f);
      } finally {
        await ts.close();
      }
      // A database left readable by an earlier version is narrowed at the next start.
      fs.chmodSync(path.join(dataDir, 'zgw-auth.db'), 0o644);
      const again = await startTestServer({ dataDir, env: { ...FAST_KEYS, ZGW_AUTH_MASTER_KEY: '' } });
      await again.close();
      assert.equal(mode(path.join(dataDir, 'zgw-auth.db')).toString(8), '600');
    } finally {
      process.umask(umask);
    }
  });

  it('reads the master key from a file and warns when it is given on the command line', async () => {
    const dataDir = tempDir();
    const keyFile = path.join(tempDir(), 'master-key');
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    const env = { ...process.env, ZGW_AUTH_DATA_DIR: dataDir };
    const created = JSON.parse(
      (
        await run(
          process.execPath,
          [
            CLI,
            '--init',
            '--master-key-file',
            keyFile,
            'clients',
            'create',
            '--client-id',
            'keyed',
            '--rsin',
            '000000000',
            '--self-signed',
            'true',
            '--json',
          ],
          { env },
        )
      ).stdout,
    );
    assert.equal(created.client_id, 'keyed');
    assert.ok(!fs.existsSync(path.join(dataDir, 'master.key')), 'the key file was used, no key generated');
    const listed = await run(process.execPath, [CLI, 'secrets', 'list', 'keyed', '--json'], {
      env: { ...env, ZGW_AUTH_MASTER_KEY_FILE: keyFile },
    });
    assert.equal(JSON.parse(listed.stdout).length, 1);
    // The secret hash is keyed by the master key: it authenticates only under the file's key.
    const ts = await startTestServer({ env: FAST_KEYS, dataDir, masterKey: fs.readFileSync(keyFile, 'utf8').trim() });
    try {
      assert.equal(
        (
          await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'keyed',
            client_secret: created.client_secret,
          })
        ).status,
        200,
      );
    } finally {
      await ts.close();
    }

    const literal = await run(
      process.execPath,
      [CLI, '--init', '--master-key', crypto.randomBytes(32).toString('base64'), 'clients', 'list'],
      {
        env: { ...process.env, ZGW_AUTH_DATA_DIR: tempDir() },
      },
    );
    assert.match(
      literal.stderr,
      /--master-key shows the key in the process list; use --master-key-file or ZGW_AUTH_MASTER_KEY_FILE/,
    );
    await assert.rejects(
      run(process.execPath, [CLI, '--master-key-file', keyFile, 'clients', 'list'], {
        env: { ...env, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') },
      }),
      /either ZGW_AUTH_MASTER_KEY or ZGW_AUTH_MASTER_KEY_FILE/,
    );
    await assert.rejects(
      run(process.execPath, [CLI, '--master-key-file', path.join(dataDir, 'missing'), 'clients', 'list'], { env }),
      /cannot read the master key file .*ENOENT/,
    );
  });
});
