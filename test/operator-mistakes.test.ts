import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
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

  it('DATABASE_URL naming a PostgreSQL that does not answer: the database is unreachable, and the driver says why', async () => {
    const cwd = tempDir();
    for (const args of [
      ['clients', 'list'],
      ['serve', '--port', '0'],
    ]) {
      const r = await cli(args, { DATABASE_URL: 'postgres://zgw:pw-not-shown@127.0.0.1:1/zgw' }, cwd);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^zgw-auth: the database is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:1\)$/m);
      assert.ok(!r.stderr.includes('pw-not-shown'), 'no password from the URL');
    }
  });

  it('a command other than serve refuses a data folder without a registry and creates no master key', async () => {
    const cwd = tempDir();
    const r = await cli(['clients', 'list', '--data-dir', './dta'], {}, cwd);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no zgw-auth registry at sqlite:.*dta\/zgw-auth\.db.*--init/);
    assert.deepEqual(fs.readdirSync(cwd), [], 'no master key, no database');
    const created = await cli(['--init', 'clients', 'list', '--data-dir', './dta'], {}, cwd);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(
      fs.existsSync(path.join(cwd, 'dta', 'master.key')) && fs.existsSync(path.join(cwd, 'dta', 'zgw-auth.db')),
    );
    assert.equal(
      (await cli(['clients', 'list', '--data-dir', './dta'], {}, cwd)).code,
      0,
      'the registry is found from then on',
    );
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

describe('a missing or wrong master key stops every start and command at once, and writes nothing', () => {
  /** Runs the CLI; a run past `limitMs` is killed and reported as `hung` (the defect this guards against). */
  async function bounded(args: string[], env: Record<string, string>, cwd: string, limitMs: number) {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let hung = false;
    const timer = setTimeout(() => ((hung = true), child.kill('SIGKILL')), limitMs);
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      return { code, out, hung };
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  }
  const listing = (dir: string) =>
    fs
      .readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => !/-(wal|shm)$/.test(f))
      .sort()
      .map((f) => {
        const file = path.join(dir, f);
        return fs.statSync(file).isFile()
          ? `${f} ${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`
          : f;
      });

  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`${dialect}: serve and the commands exit non-zero with the reason; no master.key, nothing else changed`, async (t) => {
      const masterKey = crypto.randomBytes(32).toString('base64');
      const cwd = tempDir();
      const db = dialect === 'postgres' ? await freshPostgres() : undefined;
      t.after(() => db?.drop());
      // PostgreSQL: the data folder is the default ./data of the working folder, not there yet.
      const env: Record<string, string> = db
        ? { DATABASE_URL: db.url }
        : { ZGW_AUTH_DATA_DIR: path.join(cwd, 'registry') };
      // Ed25519: an RSA signing key costs tenths of a second of CPU, and the algorithm is no part of this.
      const withKey = { ...env, ZGW_AUTH_MASTER_KEY: masterKey, ZGW_AUTH_SIGNING_ALG: 'EdDSA' };
      if (db) {
        // A signing key, and no check value: a registry as an earlier version left it.
        assert.equal((await cli(['--init', 'keys', 'rotate'], withKey, cwd)).code, 0);
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        await c.query('DELETE FROM registry_state');
        await c.end();
      } else {
        // Clients only, no signing key: checked against the value recorded when the registry was made.
        assert.equal(
          (
            await cli(
              ['--init', 'clients', 'create', '--client-id', 'only-hashed', '--rsin', '000000000'],
              withKey,
              cwd,
            )
          ).code,
          0,
        );
      }
      // How long a command that works takes here and now: a refused one must not take much longer.
      const began = Date.now();
      assert.equal((await cli(['clients', 'list'], withKey, cwd)).code, 0);
      const limitMs = 10 * (Date.now() - began) + 5000;
      const before = listing(cwd);

      const wrong = { ...env, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
      for (const [key, keyEnv, reason] of [
        ['missing', env, /holds clients or signing keys, but there is no master key .*master\.key does not exist/],
        ['wrong', wrong, /does not fit the registry at .*sealed value does not open with this master key/],
      ] as const) {
        for (const args of [
          ['serve', '--port', '0'],
          ['clients', 'list'],
          ['keys', 'list'],
          ['clients', 'create', '--client-id', 'another', '--rsin', '000000000'],
          ['export', '--file', path.join(tempDir(), 'x.json')],
        ]) {
          const r = await bounded(args, keyEnv, cwd, limitMs);
          const label = `${key} key, ${args.slice(0, 2).join(' ')}`;
          assert.ok(!r.hung, `${label}: exits at once (limit ${limitMs} ms)\n${r.out}`);
          assert.equal(r.code, 1, `${label}\n${r.out}`);
          assert.match(r.out, reason, label);
          assert.deepEqual(listing(cwd), before, `${label}: wrote nothing`);
        }
      }
      const r = await cli(['clients', 'list'], withKey, cwd);
      assert.equal(r.code, 0, 'the right key still opens the registry');
      if (!db) assert.match(r.stdout, /only-hashed/);
    });
  }
});
