import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generateKeyPair, publicJwk } from '../src/keys/jwk.js';
import { request, startServeProcess, testKeyPair } from './helpers.js';
import { keepPair, pooledPublicKeys, RSA_POOL_SIZE } from './rsa-pool.js';

const kidOf = (key: import('node:crypto').KeyObject) => publicJwk(key, 'RS256').kid;

describe('signing keys of test servers from the pool of pairs made earlier', () => {
  it('serve processes started by a test take pairs from the pool, each a pair nobody else of the test has', async () => {
    // Two pairs the test process has not used (it has used none yet), for its two servers.
    while (pooledPublicKeys().length < 2) keepPair(generateKeyPair('RS256'), { claimed: false });
    assert.ok(pooledPublicKeys().length <= RSA_POOL_SIZE);
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pooled-')));
    const procs = await Promise.all(dirs.map((dir) => startServeProcess(dir)));
    try {
      const kids = await Promise.all(
        procs.map(async (p) => ((await request(`${p.url}/jwks`)).json.keys as { kid: string }[]).map((k) => k.kid)),
      );
      const pooled = new Set(pooledPublicKeys().map(kidOf));
      for (const [i, served] of kids.entries()) {
        assert.equal(served.length, 1, `server ${i}: ${served.join(', ')}`);
        assert.ok(pooled.has(served[0]!), `server ${i}'s key ${served[0]} is not one of the pool's`);
      }
      assert.notEqual(kids[0]![0], kids[1]![0], 'two servers of one test signed with the same pair');
      // This process does not hand out a pair its servers took either.
      const own = kidOf(testKeyPair('RS256').publicKey);
      assert.ok(!kids.flat().includes(own), `the test process got ${own} again`);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
