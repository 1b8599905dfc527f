import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type DialectName, DIALECTS, request } from './helpers.js';
import { eachConcurrently, registry, runCli, SECRET_FILE, startAgain, tempDir, tokenFor } from './interrupted.js';

// Interrupted imports: killed at each step and by signals, then importing again either completes
// or finds the whole registry already there.

describe('an interrupted import', () => {
  it('killed at each step and by signals: importing again either completes or finds the whole registry already there', async (t) => {
    const masterKey = crypto.randomBytes(32).toString('base64');
    // The source: a registry with an administrator and a client, exported.
    const source = await registry(t, 'sqlite');
    const sourceEnv = { ...source.env, ZGW_AUTH_MASTER_KEY: masterKey };
    const first = await startAgain(t, source.dir, sourceEnv);
    await first.stop();
    const admin = /client_secret: (\S+)/.exec(fs.readFileSync(path.join(source.dir, SECRET_FILE), 'utf8'))![1]!;
    const created = runCli(
      t,
      ['clients', 'create', '--client-id', 'moved', '--rsin', '000000000', '--json'],
      sourceEnv,
    );
    assert.equal((await created.exited).code, 0, created.output());
    const moved = JSON.parse(created.output()) as { client_secret: string };
    const file = path.join(tempDir(), 'registry.json');
    const exported = runCli(t, ['export', '--file', file], sourceEnv);
    assert.equal((await exported.exited).code, 0, exported.output());

    const cases: Array<{ dialect: DialectName; point?: string; signal?: NodeJS.Signals; delay?: number }> =
      DIALECTS.flatMap((dialect) => [
        ...[
          'start:master-key-checked',
          'migration:0007_registry_state',
          'import:rows-inserted',
          'import:committed',
        ].map((point) => ({ dialect, point })),
        ...[200, 600].map((delay, i) => ({
          dialect,
          signal: (i % 2 ? 'SIGINT' : 'SIGKILL') as NodeJS.Signals,
          delay,
        })),
      ]);
    const runCase = async (c: (typeof cases)[number]) => {
      const { dialect } = c;
      const { dir, env: base } = await registry(t, dialect);
      const env = { ...base, ZGW_AUTH_MASTER_KEY: masterKey };
      const run = runCli(t, ['import', '--file', file], c.point ? { ...env, ZGW_AUTH_TEST_CRASH_AT: c.point } : env);
      const timer = c.signal ? setTimeout(() => run.child.kill(c.signal), c.delay) : undefined;
      const ended = await run.exited;
      clearTimeout(timer);
      const label = `${dialect}: ${c.point ? `killed at ${c.point}` : `${c.signal} after ${c.delay} ms (${ended.signal ?? `exit ${ended.code}`})`}`;
      if (c.point) assert.equal(ended.signal, 'SIGKILL', `${label}: the import reached the point\n${run.output()}`);
      const again = runCli(t, ['import', '--file', file], env);
      const { code } = await again.exited;
      if (code !== 0)
        assert.match(
          again.output(),
          /the target registry is not empty/,
          `${label}: a second import is refused only because the first one completed`,
        );
      const server = await startAgain(t, dir, env);
      assert.equal(
        (await tokenFor(server.url, 'moved', moved.client_secret)).status,
        200,
        `${label}: the imported client authenticates`,
      );
      const token = await tokenFor(server.url, 'zgw-auth-admin', admin);
      assert.equal(token.status, 200, `${label}: the imported administrator authenticates`);
      const clients = await request(`${server.url}/admin/clients`, {
        headers: { authorization: `Bearer ${token.json.access_token}` },
      });
      assert.equal(clients.json.total, 2, `${label}: the registry as exported, no administrator made on top`);
      await server.stop();
    };
    // The signals one after the other, as before: their delays are times into an import running alone.
    for (const c of cases.filter((c) => c.signal)) await runCase(c);
    // The named points do not depend on timing: several at once, each on a registry of its own.
    await eachConcurrently(
      t,
      cases.filter((c) => c.point),
      runCase,
    );
  });
});
