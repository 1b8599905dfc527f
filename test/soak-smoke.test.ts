import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Report as SoakReport } from '../bench/soak.js';
import { spawnTracked } from './resources.js';

// The soak tool (`npm run soak`) for two minutes at a low fixed rate: not a soak, a proof that the
// tool loads two real processes on PostgreSQL and Redis, samples them, makes its events happen,
// counts the audit trail and reports honestly. Runs beside other files: 40 requests a second is a
// small share of one core, and nothing here compares a time with anything.
const SOAK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bench/soak.js');

/** The priority a process started from here gets when it asks for nice -10: -10 where that is allowed. */
function priorityWithin(): number {
  const probe =
    "const os = require('os'); try { os.setPriority(-10) } catch {} process.stdout.write(String(os.getPriority()))";
  return Number(spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' }).stdout);
}

describe('soak tool (smoke)', () => {
  it('two processes under steady load for two minutes: per-period figures, a key rotation and a disabled client, no error, no lost audit event', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-soak-'));
    const child = spawnTracked(
      process.execPath,
      [SOAK, '--smoke', '--minutes', '2', '--prefill', '20000', '--out', out],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    // Two minutes of load plus set-up: five minutes is a wide bound on a busy machine.
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);

    // Whatever fails, the soak's own account of the run goes with the failure.
    try {
      const file = path.join(out, 'soak.json');
      assert.ok(fs.existsSync(file), `no report written (exit ${code}):\n${output.slice(-3000)}`);
      const report = JSON.parse(fs.readFileSync(file, 'utf8')) as SoakReport;
      assert.equal(report.smoke, true);
      assert.match(report.autovacuum, /^(on|off)$/, "PostgreSQL's autovacuum setting is reported");
      // The generator raises its priority where it may: then above the servers', which keep ours.
      const ours = os.getPriority();
      assert.deepEqual(report.serverNice, [ours, ours], 'the servers keep the priority the soak was started with');
      assert.equal(report.generatorNice, priorityWithin(), "the generator's priority is raised as far as allowed");
      assert.equal(report.periods.length, 12, 'two minutes in periods of ten seconds');
      for (const [i, p] of report.periods.entries()) {
        // 40 a second for ten seconds: the rate was kept (a stalled generator or server would not).
        assert.ok(p.requests >= 300, `period ${i + 1}: the load was offered (${p.requests} requests)`);
        assert.equal(p.errors, 0, `period ${i + 1}: no error (${JSON.stringify(p.errorsBy)})\n${output.slice(-3000)}`);
        assert.ok(p.p50Ms > 0 && p.p99Ms >= p.p50Ms, `period ${i + 1}: latencies measured`);
        for (const [kind, ms] of Object.entries(p.p99MsBy))
          assert.ok(ms > 0 && Number.isFinite(ms), `period ${i + 1}: p99 of ${kind} measured (${ms} ms)`);
        // The audit trail holds the older events written before the run, and grows with the load.
        assert.ok(p.database.auditMb >= 1, `period ${i + 1}: audit trail size read (${p.database.auditMb} MB)`);
        assert.ok(p.database.walMb > 0, `period ${i + 1}: WAL written during the period`);
        assert.equal(p.processes.length, 2, 'both processes sampled');
        for (const proc of p.processes) {
          assert.ok(proc.rssMb > 20 && proc.rssMb < 2000, `RSS read from the process: ${proc.rssMb}`);
          assert.ok(proc.heapMb > 1 && proc.heapMb < proc.rssMb, `heap read from its metrics: ${proc.heapMb}`);
          assert.ok(Number.isFinite(proc.eventLoopP99Ms), 'event-loop delay read from its metrics');
          for (const ms of [proc.gcMajorMs, proc.gcMinorMs, proc.gcPausesOver10Ms])
            assert.ok(Number.isFinite(ms) && ms >= 0, `garbage collection read from its metrics: ${ms}`);
        }
        assert.ok(p.generatorLagMaxMs >= p.generatorLagP99Ms, "the generator's own event-loop delay");
        assert.ok(p.machine.busyPercent > 0 && p.machine.busyPercent <= 100, `machine CPU: ${p.machine.busyPercent}`);
        assert.ok(p.machine.stealPercent >= 0 && p.machine.iowaitPercent >= 0, 'steal and I/O wait read');
        // Every answer costs the generator and each server some CPU: a figure of 0 was not read.
        assert.ok(p.cpuPerThousandMs.generator > 0, `generator CPU per 1,000 answers: ${p.cpuPerThousandMs.generator}`);
        assert.equal(p.cpuPerThousandMs.processes.length, 2);
        for (const ms of p.cpuPerThousandMs.processes) assert.ok(ms > 0, `server CPU per 1,000 answers: ${ms}`);
        assert.ok(p.slow.inWorstFiveSeconds <= p.slow.count && p.slow.count <= p.requests, 'slow answers counted');
      }
      // Ten seconds of 400 tokens and introspections make young-generation collections in a server.
      assert.ok(
        report.periods.some((p) => p.processes.some((proc) => proc.gcMinorMs > 0)),
        'garbage collection time is read from the processes, not left at zero',
      );
      assert.deepEqual(
        report.events.map((e) => [e.what.replace(/client \S+/, 'client'), e.status]),
        [
          ['signing key rotated', 200],
          ['client disabled', 200],
        ],
      );
      // The disabled client was in the load: its refusals after that are counted apart, not as errors.
      assert.ok(
        report.periods.slice(-4).some((p) => p.expectedRefusals > 0),
        'the disabled client was refused after it was disabled',
      );
      assert.ok(report.tokensIssued > 2000, `tokens issued during the run: ${report.tokensIssued}`);
      assert.match(output, /prefilled 20000 audit events/);
      assert.equal(report.issuedEvents, report.tokensIssued, 'one token.issued audit event per token, none lost');
      assert.deepEqual(
        report.checks.filter((c) => c.result === 'not judged').map((c) => c.check),
        ['RSS within ±10 % after warm-up', 'p99 within ±20 % (or 5 ms) of its early value'],
        'two minutes are too few to judge stability: shown, not judged',
      );
      assert.equal(report.verdict, 'passed');
      assert.equal(code, 0, 'exit code 0 with the verdict "passed"');
      assert.match(output, /verdict: passed/);
      assert.match(fs.readFileSync(path.join(out, 'soak.svg'), 'utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- soak output (end) ---\n${output.slice(-4000)}`;
      throw err;
    }
    fs.rmSync(out, { recursive: true, force: true });
  });
});
