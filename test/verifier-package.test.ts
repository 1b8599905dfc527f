import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { request, startTestServer, type TestServer } from './helpers.js';

/**
 * The verifier package as an API outside this repository gets it: `npm pack`, installed from the
 * tarball into a fresh folder, and the README's first example run as written against a real
 * zgw-auth. A README that drifts from the package, a file the package forgot, or an export that
 * only resolves inside the workspace fails here.
 */
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/verifier');

function firstBlock(markdown: string, lang: string): string {
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(markdown);
  assert.ok(match, `the README has a ${lang} block`);
  return match[1]!;
}

describe('the published verifier package', () => {
  let work: string;
  let tarball: string;
  let ts: TestServer;
  let api: ChildProcess | undefined;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-verifier-pkg-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: PACKAGE_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [packed] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, packed!.filename);
  });

  after(async () => {
    api?.kill('SIGKILL');
    await ts?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships its README, licence, types and the sources its source maps name, and no tests', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const files = new Set(listing.map((f) => f.replace(/^package\//, '')));
    for (const f of ['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing.js', 'dist/testing.d.ts']) assert.ok(files.has(f), `${f} is in the package`);
    assert.ok(![...files].some((f) => f.startsWith('test/') || f.endsWith('.tsbuildinfo')), 'no tests or build state in the package');
    for (const map of [...files].filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, map), 'utf8')) as { sources: string[] };
      for (const source of sources) assert.ok(files.has(path.posix.join(path.posix.dirname(map), source)), `${map} names ${source}, which is shipped`);
    }
  });

  it('keeps the server internals out of its main entry', async () => {
    const main = (await import('@zgw-auth/verifier')) as Record<string, unknown>;
    for (const name of ['signJws', 'signJwsAsync', 'hs256', 'BoundedCache', 'jwsSigningInput', 'hs256MatchesAny']) assert.equal(main[name], undefined, `${name} is not in the main entry`);
    assert.equal(typeof main.createVerifier, 'function');
  });

  it('installs from the tarball outside the repository and runs the README example as written', async () => {
    const app = path.join(work, 'api');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'some-zgw-api', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: 'pipe' });
    const readme = fs.readFileSync(path.join(app, 'node_modules/@zgw-auth/verifier/README.md'), 'utf8');
    assert.match(firstBlock(readme, 'sh'), /npm install @zgw-auth\/verifier/);
    fs.writeFileSync(path.join(app, 'server.mjs'), firstBlock(readme, 'js'));

    ts = await startTestServer();
    const reader = await ts.createClient({ allowedScopes: ['zaken.lezen'], defaultScopes: ['zaken.lezen'] });
    const other = await ts.createClient({ allowedScopes: ['zaken.aanmaken'], defaultScopes: ['zaken.aanmaken'] });

    const child = spawn(process.execPath, ['server.mjs'], { cwd: app, env: { ...process.env, ZGW_AUTH_ISSUER: ts.url, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    api = child;
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the example did not start: ${out}`)), 15_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /"port":(\d+)/.exec(out);
        if (!m) return;
        clearTimeout(timer);
        resolve(Number(m[1]));
      });
      child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the example exited with ${code}: ${out}`));
      });
    });
    const url = `http://127.0.0.1:${port}/zaken`;

    const anonymous = await request(url);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers['www-authenticate'] ?? '', /^Bearer realm="zgw"/);

    const ok = await request(url, { headers: { authorization: `Bearer ${await ts.token(reader.clientId, reader.secret)}` } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((ok.json as { caller: { clientId: string } }).caller.clientId, reader.clientId);

    const lacking = await request(url, { headers: { authorization: `Bearer ${await ts.token(other.clientId, other.secret)}` } });
    assert.equal(lacking.status, 403);
    assert.equal(lacking.headers['content-type'], 'application/problem+json');

    const forged = await request(url, { headers: { authorization: `Bearer ${(await ts.token(reader.clientId, reader.secret)).slice(0, -4)}AAAA` } });
    assert.equal(forged.status, 401);
  });
});
