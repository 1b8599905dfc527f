import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assertAlive, CALLERS, deploy, fmt, REQUEST_TIMEOUT_MS, tempDir, WARM_UP_MS } from './fault-deployment.js';
import { eventually, firstAdminSecret, postForm, request, startServeProcess } from './helpers.js';
import { LoadRun, sleep, startBalancer } from './load-harness.js';

/**
 * Process faults of real `zgw-auth serve` processes whose checks hold at any speed of the machine:
 * a process that drains on SIGTERM behind a balancer while callers load it, and an error nobody
 * handles. No bound here compares a time with a baseline (the drain is proven by the exit code,
 * within the server's own grace period); the faults whose checks do compare latencies are in
 * faults-under-load.test.ts.
 */

describe('process faults under load', () => {
  it('SIGTERM during load behind a balancer: callers see no failed request; the process drains and exits 0', async (t) => {
    // Two processes sharing one SQLite database behind a TCP balancer that, like HAProxy or
    // nginx, tries a refused connection on the next backend.
    // The shutdown delay covers the balancer's 100 ms health checks with room to spare.
    const d = await deploy(2, { ZGW_AUTH_SHUTDOWN_DELAY: '1' });
    const balancer = await startBalancer(d.procs.map((p) => Number(new URL(p.url).port)));
    const run = new LoadRun({
      targets: [balancer.url],
      callers: CALLERS,
      bodies: d.bodies,
      readyUrls: [d.procs[1]!.url],
      admin: { url: balancer.url, token: d.adminToken, prefix: 'sigterm' },
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    let drained: number;
    let signalled: number;
    try {
      run.start();
      // Other files run beside this one: however slow the machine is, every caller has been
      // served before the signal (the bound is only a guard against a deployment that never serves).
      await sleep(WARM_UP_MS);
      await eventually(async () => (run.counts().get('200') ?? 0) >= CALLERS, 60_000);
      signalled = run.mark('SIGTERM to one process');
      const code = await d.procs[0]!.stop('SIGTERM');
      drained = run.mark(`exited ${code}`) - signalled;
      // Exit code 0 is the proof that it drained in time: past the shutdown delay and the grace
      // period the process ends itself with exit code 1.
      assert.equal(code, 0, d.procs[0]!.output().slice(-2000));
      // The survivor's answers, and enough admin writes to judge, however slow the machine is.
      await sleep(2000);
      const after = signalled + drained;
      await eventually(async () => (run.counts(after).get('200') ?? 0) > 0 && run.adminWrites.length > 5, 60_000);
    } finally {
      await run.stop();
      for (const line of run.timeline()) t.diagnostic(line);
      await Promise.all(d.procs.filter((p) => p.child.exitCode === null).map((p) => p.stop()));
      await balancer.close();
    }
    t.diagnostic(`answers: ${fmt(run.counts())}; drained and exited ${Math.round(drained)} ms after SIGTERM`);
    assert.deepEqual([...run.counts().keys()], ['200'], `every request succeeded: ${fmt(run.counts())}`);
    assert.ok(
      (run.counts(0, signalled).get('200') ?? 0) >= CALLERS,
      `the callers were served before the signal: ${fmt(run.counts(0, signalled))}`,
    );
    assert.ok(
      (run.counts(signalled + drained).get('200') ?? 0) > 0,
      'the other process served after the first one was gone',
    );
    assert.ok(
      run.adminWrites.length > 5 && run.adminWrites.every((w) => w.status === 201),
      `every admin write acknowledged: ${JSON.stringify(run.adminWrites.filter((w) => w.status !== 201))}`,
    );
  });
});

describe('last resort', () => {
  it('an error nobody handles is logged, makes the process unready for a while, and does not end it', async () => {
    // A real serve process with one unhandled 'error' event and one unhandled rejection, thrown
    // once it listens (on a signal from the test, not after a guessed delay), as a dependency's
    // stray emitter would.
    const inject = path.join(tempDir(), 'stray.mjs');
    fs.writeFileSync(
      inject,
      `import { EventEmitter } from 'node:events';
process.on('SIGUSR2', () => {
  setTimeout(() => new EventEmitter().emit('error', new Error('stray emitter')), 10);
  setTimeout(() => Promise.reject(new Error('stray rejection')), 20);
});`,
    );
    const proc = await startServeProcess(tempDir(), { NODE_OPTIONS: `--import=${inject}` });
    proc.child.kill('SIGUSR2');
    try {
      const secret = firstAdminSecret(proc.output())!;
      // Both logged, in whichever order and output chunk a busy machine delivers them; generous bound.
      const emitter = /"level":60[^\n]*stray emitter|stray emitter[^\n]*"level":60/;
      assert.ok(
        await eventually(async () => proc.output().includes('stray rejection') && emitter.test(proc.output()), 30_000),
        proc.output().slice(-2000),
      );
      assertAlive([proc]);
      const ready = await request(`${proc.url}/health/ready`);
      assert.equal(ready.status, 503);
      assert.match(ready.json.checks.process, /unexpected error/);
      assert.equal(
        (
          await postForm(`${proc.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'zgw-auth-admin',
            client_secret: secret,
          })
        ).status,
        200,
        'still serving',
      );
    } finally {
      assert.equal(await proc.stop(), 0);
    }
  });
});
