import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

/**
 * The verifier package as npm would publish it: what the tarball holds and what its main entry
 * offers. (verifier-example.test.ts installs the tarball outside the repository and runs the
 * READMEs' example against a real zgw-auth.)
 */
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/verifier');

describe('the published verifier package', () => {
  let work: string;
  let tarball: string;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-verifier-pkg-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [packed] = JSON.parse(out.slice(out.indexOf('['))) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = path.join(work, packed!.filename);
  });

  after(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships its README, licence, types and the sources its source maps name, and no tests', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const files = new Set(listing.map((f) => f.replace(/^package\//, '')));
    for (const f of [
      'README.md',
      'LICENSE',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/testing.js',
      'dist/testing.d.ts',
    ])
      assert.ok(files.has(f), `${f} is in the package`);
    assert.ok(
      ![...files].some((f) => f.startsWith('test/') || f.endsWith('.tsbuildinfo')),
      'no tests or build state in the package',
    );
    for (const map of [...files].filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, map), 'utf8')) as { sources: string[] };
      for (const source of sources)
        assert.ok(
          files.has(path.posix.join(path.posix.dirname(map), source)),
          `${map} names ${source}, which is shipped`,
        );
    }
  });

  it('keeps the server internals out of its main entry', async () => {
    const main = (await import('@zgw-auth/verifier')) as Record<string, unknown>;
    for (const name of ['signJws', 'signJwsAsync', 'hs256', 'BoundedCache', 'jwsSigningInput', 'hs256MatchesAny'])
      assert.equal(main[name], undefined, `${name} is not in the main entry`);
    assert.equal(typeof main.createVerifier, 'function');
  });
});
