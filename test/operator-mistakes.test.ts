import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, freshPostgres } from './helpers.js';

const run = promisify(execFile);
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-mistakes-'));

/** Runs the CLI in `cwd`; resolves with exit code and output, never rejects. */
async function cli(args: string[], env: Record<string, string>, cwd: string) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('operator mistakes get clear errors, not silent new registries', () => {
  for (const url of ['mysql://zgw@db/zgw', 'garbage', 'data/zgw-auth.db']) {
    it(`DATABASE_URL=${url} is refused and creates nothing`, async () => {
      const cwd = tempDir();
      for (const args of [
        ['clients', 'list'],
        ['serve', '--port', '0'],
      ]) {
        const r = await cli(args, { DATABASE_URL: url, ZGW_AUTH_DATA_DIR: path.join(cwd, 'data') }, cwd);
        assert.notEqual(r.code, 0, `${args[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /DATABASE_URL must start with postgres:\/\/, postgresql:\/\/ or sqlite:/);
        assert.ok(!r.stderr.includes('zgw@db'), 'the URL itself (it may hold a password) is not echoed');
      }
      assert.deepEqual(fs.readdirSync(cwd), [], 'no file or folder created');
    });
  }

  it('a command other than serve refuses a data folder without a registry and creates no master key', async () => {
    const cwd = tempDir();
    const r = await cli(['clients', 'list', '--data-dir', './dta'], {}, cwd);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no zgw-auth registry at sqlite:.*dta\/zgw-auth\.db.*--init/);
    assert.deepEqual(fs.readdirSync(cwd), [], 'no master key, no database');
    const created = await cli(['--init', 'clients', 'list', '--data-dir', './dta'], {}, cwd);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(fs.existsSync(path.join(cwd, 'dta', 'master.key')) && fs.existsSync(path.join(cwd, 'dta', 'zgw-auth.db')));
    assert.equal((await cli(['clients', 'list', '--data-dir', './dta'], {}, cwd)).code, 0, 'the registry is found from then on');
  });

  it('a command other than serve refuses an empty PostgreSQL database', async () => {
    const pg = await freshPostgres();
    try {
      const env = { DATABASE_URL: pg.url, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
      const r = await cli(['keys', 'list'], env, tempDir());
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /no zgw-auth registry at postgres:.*--init/);
      assert.equal((await cli(['--init', 'keys', 'list'], env, tempDir())).code, 0);
    } finally {
      await pg.drop();
    }
  });
});
