import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, postForm, startServeProcess } from './helpers.js';

const run = promisify(execFile);
/** What the README promises for "at once" on SQLite. */
const BOUND_MS = 500;

describe('SQLite: changes made by another process reach a running server at once', () => {
  for (const workers of [1, 2]) {
    it(`a client disabled and a secret revoked with the CLI are refused within ${BOUND_MS} ms (${workers} worker${workers > 1 ? 's' : ''})`, async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-sqlite-feed-'));
      const env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: dataDir,
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      };
      const cli = async (...args: string[]) => (await run(process.execPath, [CLI, ...args], { env })).stdout;
      const proc = await startServeProcess(dataDir, { ZGW_AUTH_MASTER_KEY: env.ZGW_AUTH_MASTER_KEY }, [
        '--workers',
        String(workers),
      ]);
      try {
        const a = JSON.parse(
          await cli('clients', 'create', '--client-id', 'to-disable', '--rsin', '000000000', '--json'),
        );
        const b = JSON.parse(
          await cli('clients', 'create', '--client-id', 'to-revoke', '--rsin', '000000000', '--json'),
        );
        const token = (c: { client_id: string; client_secret: string }) =>
          postForm(`${proc.url}/token`, {
            grant_type: 'client_credentials',
            client_id: c.client_id,
            client_secret: c.client_secret,
          });
        /** Milliseconds from now until five answers in a row refuse (so every worker does); refusals start the back-off, hence not only 401. */
        const refusedAfter = async (c: { client_id: string; client_secret: string }) => {
          const start = Date.now();
          let inARow = 0;
          let first = 0;
          while (Date.now() - start < 5000) {
            if ((await token(c)).status !== 200) {
              if (inARow++ === 0) first = Date.now() - start;
              if (inARow === 5) return first;
            } else inARow = 0;
          }
          return Infinity;
        };
        // Warm every worker's cache: the client is cached from its second lookup on.
        for (let i = 0; i < 6; i++) for (const c of [a, b]) assert.equal((await token(c)).status, 200);

        await cli('clients', 'disable', 'to-disable');
        const disabled = await refusedAfter(a);
        for (let i = 0; i < 4; i++) assert.equal((await token(b)).status, 200);
        await cli('secrets', 'revoke', 'to-revoke', b.secret_id);
        const revoked = await refusedAfter(b);
        process.stdout.write(`# refused after the CLI returned: disabled ${disabled} ms, revoked ${revoked} ms\n`);
        assert.ok(disabled < BOUND_MS, `disabled client refused after ${disabled} ms`);
        assert.ok(revoked < BOUND_MS, `revoked secret refused after ${revoked} ms`);
      } finally {
        await proc.stop();
      }
    });
  }
});
