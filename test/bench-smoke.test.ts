import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// Runs beside other test files. wrk loads both cores for its two one-second rounds, which makes the
// other files slower, not wrong (no test compares a time with anything but a baseline of its own
// run). Nothing here needs the machine to itself, and nothing asserts a throughput: the harness
// refuses a round with a failed or refused request, so a series above zero is of real tokens; a
// ratio need only lie between 0.1 and 10; --check judges no quick run.
const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bench/run.js');

/** Not a benchmark: one short round proves the harness measures real servers and reports honestly. */
describe('benchmark harness (smoke)', () => {
  it('loads zgw-auth and the bare baseline with wrk, runs the TLS handshake cases, times start-up, and writes JSON and SVG; --check does not judge it', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-bench-'));
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [RUN, '--smoke', '--check', '--out', out],
          { maxBuffer: 1 << 22 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    // A harness that failed before writing its report says why here, not as a missing file.
    assert.ok(
      fs.existsSync(path.join(out, 'benchmarks.json')),
      `no report written (exit ${code}): ${stderr.slice(-2000)}`,
    );
    const report = JSON.parse(fs.readFileSync(path.join(out, 'benchmarks.json'), 'utf8')) as {
      series: Record<string, { values: number[] }>;
      targets: Array<{ id: string; measured: number; pass: boolean; unchecked?: string }>;
    };
    for (const name of ['/token RS256, zgw-auth, SQLite', '/token RS256, bare Fastify']) {
      assert.ok(report.series[name]!.values[0]! > 0, `${name}: a real server answered tokens, none refused`);
    }
    // The TLS handshake cases: every one measured (a round with a refused request aborts the run),
    // and their ratios against keep-alive shown side by side, not checked.
    for (const name of [
      'certificate, keep-alive',
      'certificate, new connection per token',
      'certificate, new connection, resumed session',
      'secret, keep-alive',
      'secret, new connection per token',
    ])
      assert.ok(report.series[`tls: ${name}`]!.values[0]! > 0, `tls: ${name} is measured`);
    for (const id of ['tls-new-connection', 'tls-resumed-session', 'tls-secret-new-connection']) {
      const t = report.targets.find((x) => x.id === id);
      assert.ok(t && t.measured > 0 && t.unchecked, `${id}: a ratio shown, not a target`);
    }
    assert.match(stdout, /\| \/token mTLS: new TLS connection \(full handshake\) per token vs keep-alive +\|/);
    const startup = report.targets.find((t) => t.id === 'startup')!;
    assert.ok(startup.measured > 0 && startup.measured < 20_000, 'start-up to first token is timed');
    const ratio = report.targets.find((t) => t.id === 'token-rs256-bare')!;
    assert.ok(ratio.measured > 0.1 && ratio.measured < 10, 'the ratio is computed from both series');
    assert.match(fs.readFileSync(path.join(out, 'benchmarks.svg'), 'utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    assert.match(stdout, /\| \/token RS256, zgw-auth, SQLite +\|/, 'the table is printed');
    // A smoke run is a quick one: its rows are reported, none judged, so --check exits 0 (the
    // verdict of a full run: test/bench-targets.test.ts).
    assert.ok(
      report.targets.every((t) => t.unchecked),
      'no row of a quick run is judged',
    );
    assert.equal(code, 0, `--check does not judge a quick run: ${stderr.slice(-2000)}`);
    assert.match(stderr, /a quick run is reported, not judged/);
  });
});
