/**
 * The README's verifier example as an API outside this repository gets it: the package packed
 * from the checkout, installed into an empty project as the README's install line says (offline:
 * it has no dependencies), the README's code block saved as server.mjs and run with node against
 * a real zgw-auth.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const EXAMPLE = path.join(ROOT, 'examples/zaken-api-server.mjs');

const PACKAGE_README = fs.readFileSync(path.join(ROOT, 'packages/verifier/README.md'), 'utf8');

/** The first ```js block after `heading` (the whole text when absent). */
function exampleBlock(markdown = README, heading = '## Accepting tokens in a ZGW API'): string {
  const section = markdown.slice(Math.max(0, markdown.indexOf(heading)));
  const block = /^```js\n([\s\S]*?)^```$/m.exec(section)?.[1];
  assert.ok(block, `no js block after "${heading}"`);
  return block;
}

describe("the README's verifier example, installed outside the repository", () => {
  let ts: TestServer;
  let project: string;
  let api: ReturnType<typeof spawn> | undefined;

  before(async () => {
    ts = await startTestServer();
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-api-'));
  });
  after(async () => {
    if (api && api.exitCode === null) {
      const exited = new Promise((r) => api!.once('exit', r));
      api.kill();
      await exited;
    }
    await ts.close();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('is examples/zaken-api-server.mjs, word for word, in both READMEs', () => {
    assert.equal(exampleBlock(), fs.readFileSync(EXAMPLE, 'utf8'));
    assert.equal(exampleBlock(PACKAGE_README, '## A protected API in one file'), fs.readFileSync(EXAMPLE, 'utf8'));
  });

  it('installs from the packed tarball and runs as written, accepting and refusing tokens from zgw-auth', async () => {
    const { stdout: packed } = await run(
      'npm',
      ['pack', './packages/verifier', '--pack-destination', project, '--silent'],
      { cwd: ROOT },
    );
    const tarball = path.join(project, packed.trim().split('\n').at(-1)!);
    assert.ok(fs.existsSync(tarball), packed);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'zaken-api', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project });
    fs.writeFileSync(path.join(project, 'server.mjs'), exampleBlock());

    api = spawn(process.execPath, ['server.mjs'], {
      cwd: project,
      env: { ...process.env, ZGW_AUTH_ISSUER: ts.config.issuer, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    api.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    api.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the example did not start within 15 s:\n${output}`)), 15_000);
      api!.stdout!.on('data', () => {
        const m = /Zaken API on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(`${m[1]!}/zaken/api/v1/zaken`);
        }
      });
      api!.once('exit', (code) => reject(new Error(`the example exited ${code}:\n${output}`)));
    });

    const reader = await ts.createClient({ rsin: '123456782', allowedScopes: ['zaken.lezen'] });
    const other = await ts.createClient({ rsin: '123456782', allowedScopes: ['zaken.aanmaken'] });
    const ok = await request(url, {
      headers: { authorization: `Bearer ${await ts.token(reader.clientId, reader.secret)}` },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.caller, { clientId: reader.clientId, rsin: '123456782', kind: 'oauth2' });
    const lacking = await request(url, {
      headers: { authorization: `Bearer ${await ts.token(other.clientId, other.secret)}` },
    });
    assert.equal(lacking.status, 403);
    assert.equal((await request(url)).status, 401);
    assert.match(output, /token refused: insufficient_scope/);
  });
});
