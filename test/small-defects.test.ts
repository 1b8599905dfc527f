import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request, startServeProcess, startTestServer } from './helpers.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('small defects', () => {
  it('/admin/docs loads its assets with and without a trailing slash', async () => {
    const ts = await startTestServer({ env: FAST_KEYS });
    try {
      for (const page of ['/admin/docs', '/admin/docs/']) {
        const res = await request(`${ts.url}${page}`);
        assert.equal(res.status, 200, page);
        const assets = [...res.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) =>
          new URL(m[1]!, `${ts.url}${page}`).toString(),
        );
        assert.ok(assets.length >= 2, `${page} refers to its scripts and styles`);
        for (const asset of assets) assert.equal((await request(asset)).status, 200, `${page}: ${asset}`);
      }
    } finally {
      await ts.close();
    }
  });

  it('serve starts without a deprecation warning', async () => {
    const proc = await startServeProcess(fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-start-')));
    await proc.stop();
    assert.doesNotMatch(proc.output(), /DeprecationWarning|FSTDEP/);
  });

  it('npm test runs only the test files, with a reporter that ends in a summary', () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<
      string,
      string
    >;
    // The runner finds the test files itself (test-runner.test.ts checks that none is left out).
    assert.match(scripts['test:run']!, /scripts\/run-tests\.mjs/);
    // Node's spec reporter per file; the runner adds one closing summary (test-runner.test.ts runs it).
    assert.match(fs.readFileSync(path.join(ROOT, 'scripts/test-reporter.mjs'), 'utf8'), /from 'node:test\/reporters'/);
    assert.match(fs.readFileSync(path.join(ROOT, 'scripts/run-tests.mjs'), 'utf8'), /scripts\/test-reporter\.mjs/);
  });
});
