import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { DialectName } from './helpers.js';
import {
  CASES_AT_ONCE,
  eachConcurrently,
  median,
  registry,
  rowCount,
  runCli,
  SECRET_FILE,
  startAgain,
  startMsAtOnce,
  tokenFor,
} from './interrupted.js';

// Interrupted first starts: a process is killed at many points (named points it reaches through
// ZGW_AUTH_TEST_CRASH_AT, and signals after a range of delays), then the next start must accept
// the registry, with one administrator whose secret was delivered. One test file per dialect
// (interrupted-first-start-*.test.ts), so that the runner can run them side by side.

/**
 * What an interrupted first start may leave: an administrator whose secret was delivered (the
 * owner-only file holds a secret that works), made by the interrupted start or by this one, and
 * never a second administrator or one whose secret nobody has. What is stored is read from the
 * registry (`env`) itself.
 */
async function assertOneDeliveredAdministrator(
  env: Record<string, string>,
  server: { url: string; output: () => string },
  label: string,
) {
  const file = path.join(env.ZGW_AUTH_DATA_DIR!, SECRET_FILE);
  assert.ok(fs.existsSync(file), `${label}: the administrator's secret was delivered\n${server.output()}`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const secret = /client_secret: (\S+)/.exec(fs.readFileSync(file, 'utf8'))?.[1];
  assert.ok(secret, `${label}: the file holds a secret`);
  const token = await tokenFor(server.url, 'zgw-auth-admin', secret);
  assert.equal(
    token.status,
    200,
    `${label}: the delivered secret is the administrator's (${/"secretFile"/.test(server.output()) ? 'made by this start' : 'made by the interrupted one'})`,
  );
  assert.equal(token.json.scope, 'zgw-auth:admin', `${label}: the administrator's token grants administration`);
  assert.equal(await rowCount(env, 'clients'), 1, `${label}: one administrator, never a second`);
  // Its applicatie of the Autorisaties API, made once per registry, and its creation audited once.
  assert.equal(
    await rowCount(env, 'audit_events', 'applicatie.created'),
    1,
    `${label}: the administrator's applicatie audited once`,
  );
  assert.doesNotMatch(server.output(), /has never been used/, `${label}: nothing to recover`);
}

/** The crash points of a first start, in order. */
const FIRST_START_POINTS = [
  'start:master-key-checked',
  'migration:0001_initial',
  'migration:0007_registry_state',
  'first-start:signing-key',
  'first-start:admin-inserted',
  'first-start:delivered',
  'first-start:committed',
  'first-start:autorisaties-granted',
];
/** Signals and when they come, as a share of a start measured in the same run (machines and load differ). */
const TIMED: Array<[NodeJS.Signals, number]> = [
  ['SIGINT', 0.2],
  ['SIGKILL', 0.4],
  ['SIGINT', 0.6],
  ['SIGKILL', 0.8],
  ['SIGTERM', 1],
];

/**
 * A fresh registry for a first start that makes an Ed25519 signing key: made in a millisecond,
 * where an RSA key (the default) costs 0.1-0.5 s of CPU, at random, in each of the ~25 starts here.
 * Making a key in memory leaves nothing behind to interrupt; storing it (first-start:signing-key)
 * is the same for every algorithm.
 */
async function freshRegistry(t: TestContext, dialect: DialectName) {
  const { dir, env } = await registry(t, dialect);
  return { dir, env: { ...env, ZGW_AUTH_SIGNING_ALG: 'EdDSA' } };
}

/**
 * The points where a killed start has committed nothing to the registry (its migrations are rolled
 * back): the next start does all of a first start's work. The first ones, so that their tests run
 * at the same time (CASES_AT_ONCE of them), and so do their next starts.
 */
const NOTHING_KEPT = ['start:master-key-checked', 'migration:0001_initial', 'migration:0007_registry_state'];

export function interruptedFirstStart(dialect: DialectName): void {
  describe(`an interrupted first start (${dialect})`, () => {
    /** How long the next starts after NOTHING_KEPT took to listen, when their tests ran. */
    const wholeStartMs: number[] = [];

    // The named points do not depend on timing: several at once, each on a registry of its own.
    describe('at each named point', { concurrency: CASES_AT_ONCE }, () => {
      for (const point of FIRST_START_POINTS) {
        it(`killed at ${point}: the next start accepts the registry and there is one administrator, its secret delivered`, async (t) => {
          const { dir, env } = await freshRegistry(t, dialect);
          const run = runCli(t, ['serve', '--port', '0'], { ...env, ZGW_AUTH_TEST_CRASH_AT: point });
          assert.equal((await run.exited).signal, 'SIGKILL', `the start reached ${point}\n${run.output()}`);
          const began = Date.now();
          const again = await startAgain(t, dir, env);
          if (NOTHING_KEPT.includes(point)) wholeStartMs.push(Date.now() - began);
          await assertOneDeliveredAdministrator(env, again, point);
        });
      }
    });

    // After those, three at a time as well: the signals come after shares of a whole first start
    // timed with as many starting at once.
    it('killed or interrupted by signals across the whole start: each next start accepts the registry, one administrator, its secret delivered', async (t) => {
      // How long a whole first start takes here and now, to spread the signals over it: as the
      // next starts after NOTHING_KEPT took (three whole first starts at once), or, when this test
      // runs without those, as long as three fresh ones take.
      const startMs =
        wholeStartMs.length === NOTHING_KEPT.length
          ? median(wholeStartMs)
          : await startMsAtOnce(t, CASES_AT_ONCE, async () => {
              const baseline = await freshRegistry(t, dialect);
              const began = Date.now();
              const measured = await startAgain(t, baseline.dir, baseline.env);
              const ms = Date.now() - began;
              await measured.stop();
              return ms;
            });
      await eachConcurrently(t, TIMED, async ([signal, share]) => {
        const { dir, env } = await freshRegistry(t, dialect);
        const run = runCli(t, ['serve', '--port', '0'], env);
        const delay = Math.round(startMs * share);
        const timer = setTimeout(() => run.child.kill(signal), delay);
        const ended = await run.exited;
        clearTimeout(timer);
        const label = `${signal} after ${delay} ms of a ${startMs} ms start (${ended.signal ?? `exit ${ended.code}`})`;
        const again = await startAgain(t, dir, env);
        await assertOneDeliveredAdministrator(env, again, label);
        await again.stop();
      });
    });
  });
}
