import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createApp, createLogger, initialize } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { cliInProcess, type DialectName, DIALECTS, testKeyPair } from './helpers.js';
import { eachConcurrently, registry, rowCount, runCli, startAgain, tempDir, tokenFor } from './interrupted.js';

// Interrupted imports: killed at each step and by signals, then importing again either completes
// or finds the whole registry already there.

describe('an interrupted import', () => {
  it('killed at each step and by signals: importing again either completes or finds the whole registry already there', async (t) => {
    const masterKey = crypto.randomBytes(32).toString('base64');
    // The source, made in this process (it is what is imported, not what is tested): a registry
    // after its first start, with an administrator and a client, exported.
    const source = tempDir();
    const sourceEnv = { ZGW_AUTH_DATA_DIR: source, ZGW_AUTH_MASTER_KEY: masterKey };
    const app = await createApp(loadConfig(sourceEnv, {}), {
      log: createLogger('warn', { write: () => {} }),
      newKeyPair: testKeyPair,
    });
    let admin: string;
    let moved: string;
    try {
      admin = (await initialize(app)).admin!.secret;
      moved = (await app.clients.create({ clientId: 'moved', rsin: '000000000' }, { id: 'cli' })).secret!.value;
    } finally {
      await app.close();
    }
    const file = path.join(tempDir(), 'registry.json');
    const exported = await cliInProcess(['export', '--file', file], sourceEnv);
    assert.equal(exported.code, 0, exported.stderr);

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
      // Importing again is about its result, not its process: run in this one (cliInProcess).
      const again = await cliInProcess(['import', '--file', file], env);
      if (again.code !== 0)
        assert.match(
          again.stderr,
          /the target registry is not empty/,
          `${label}: a second import is refused only because the first one completed`,
        );
      const server = await startAgain(t, dir, env);
      assert.equal(
        (await tokenFor(server.url, 'moved', moved)).status,
        200,
        `${label}: the imported client authenticates`,
      );
      const token = await tokenFor(server.url, 'zgw-auth-admin', admin);
      assert.equal(token.status, 200, `${label}: the imported administrator authenticates`);
      assert.equal(
        await rowCount(env, 'clients'),
        2,
        `${label}: the registry as exported, no administrator made on top`,
      );
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
