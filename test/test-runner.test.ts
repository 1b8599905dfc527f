import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { eventually } from './helpers.js';

/**
 * The test runner (scripts/run-tests.mjs) on test files written here: a failing test that leaves
 * a zgw-auth cluster running, a test that hangs, a file that runs no test. Each must end the run
 * promptly with a failure and leave no process behind.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helpers = pathToFileURL(path.join(root, 'dist/test/helpers.js')).href;
const resources = pathToFileURL(path.join(root, 'dist/test/resources.js')).href;
const services = pathToFileURL(path.join(root, 'dist/test/services.js')).href;

interface Outcome {
  code: number | null;
  output: string;
  /** Set when the runner had to be killed: it did not end by itself. */
  killed: boolean;
}

/** Runs the runner on `files`; only a guard against a runner that never ends kills it, after 3 minutes. */
function runner(files: string[], env: Record<string, string> = {}): Promise<Outcome> {
  // Our own process is a test file: the runner inside must not think it is one too.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, 'scripts/run-tests.mjs'), ...files],
      { env: { ...outer, ...env }, timeout: 180_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number; killed?: boolean }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          output: `${stdout}${stderr}`,
          killed: e?.killed === true,
        });
      },
    );
  });
}

/** Whether the process runs: a zombie (dead, not yet reaped by its new parent) does not. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The run ended by itself, failed, printed the closing summary, and left none of the processes listed in `pidsFile`. */
async function assertFailedLeavingNothing(
  r: Outcome,
  pidsFile: string,
  count: number,
  summary = /ℹ pass 0\nℹ fail 1\n/,
) {
  assert.equal(r.killed, false, `the run ended by itself:\n${r.output}`);
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, summary, 'the closing summary');
  const started = JSON.parse(fs.readFileSync(pidsFile, 'utf8')) as number[];
  assert.equal(started.length, count, 'the test file started its processes');
  // SIGKILLed as the file ended; a busy machine may take a moment to tear one down.
  await eventually(async () => !started.some(running), 10_000);
  assert.deepEqual(
    started.filter((pid) => running(pid)),
    [],
    'none of them is left',
  );
}

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-runner-'));

/** Writes test file `name` into a scratch folder; `source` is given the folder and the file to write the started pids to. */
function writeTestFile(name: string, source: (dir: string, pids: string) => string): { file: string; pids: string } {
  const dir = scratch();
  const pids = path.join(dir, 'pids');
  const file = path.join(dir, name);
  fs.writeFileSync(file, source(dir, pids));
  return { file, pids };
}

describe('test runner', () => {
  it('a failing assertion in a test that started a zgw-auth cluster ends the file with the failure, and nothing it started survives', async () => {
    // As in the fault tests: the assertion fails before the test's own cleanup could run.
    const { file, pids } = writeTestFile(
      'fails.test.mjs',
      (dir, pids) => `import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { eventually, startServeProcess } from '${helpers}';
it('starts a cluster, then fails', async () => {
  const proc = await startServeProcess(fs.mkdtempSync('${dir}/data-'), {}, ['--workers', '2']);
  const workers = () => [...new Set([...proc.output().matchAll(/"pid":(\\d+)[^\\n]*zgw-auth listening/g)].map((m) => Number(m[1])))];
  await eventually(async () => workers().length === 2, 60_000);
  fs.writeFileSync('${pids}', JSON.stringify([proc.child.pid, ...workers()]));
  assert.equal(1, 2, 'deliberate failure');
});
`,
    );
    const r = await runner([file]);
    // A primary and its two workers.
    await assertFailedLeavingNothing(r, pids, 3);
    assert.match(r.output, /deliberate failure/);
  });

  it('a test that hangs is ended by the watchdog with a clear failure, stopping what it started', async () => {
    // A registered process group and an unregistered child (as a CLI run through execFile).
    const { file, pids } = writeTestFile(
      'hangs.test.mjs',
      (_dir, pids) => `import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { it } from 'node:test';
import { spawnTracked } from '${resources}';
it('hangs', async () => {
  const tracked = spawnTracked('sleep', ['600'], { stdio: 'ignore' });
  const loose = execFile('sleep', ['601']);
  fs.writeFileSync('${pids}', JSON.stringify([tracked.pid, loose.pid]));
  await new Promise(() => setInterval(() => {}, 1000));
});
it('runs after', () => {});
`,
    );
    const r = await runner([file], { TEST_FILE_TIMEOUT_S: '5' });
    await assertFailedLeavingNothing(r, pids, 2);
    assert.match(
      r.output,
      /watchdog: .*hangs\.test\.mjs did not finish within 5 s \(TEST_FILE_TIMEOUT_S\) and was ended; stopped what it had left running: sleep 600/,
    );
  });

  it('a test file that blocks its event loop after starting processes and a private PostgreSQL leaves none of them running', async () => {
    // Neither its watchdog nor its exit and signal handlers can run: only the runner can stop it.
    // The blocking call writes its own pid first: a CLI run through execFileSync that never returns.
    const { file, pids } = writeTestFile(
      'blocks.test.mjs',
      (dir, pids) => `import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { it } from 'node:test';
import { spawnTracked } from '${resources}';
import { privatePostgres } from '${services}';
it('blocks', async () => {
  const pg = await privatePostgres();
  const postmaster = Number(fs.readFileSync(pg.dir + '/postmaster.pid', 'utf8').split('\\n')[0]);
  const tracked = spawnTracked('sleep', ['600'], { stdio: 'ignore' });
  fs.writeFileSync('${dir}/pg', pg.dir);
  fs.writeFileSync('${pids}.partial', JSON.stringify([process.pid, tracked.pid, postmaster]));
  execFileSync('sh', ['-c', 'echo "$$" > ${dir}/blocker; exec sleep 602']);
});
`,
    );
    const dir = path.dirname(file);
    // The file writes its pids before it blocks; the blocker's own pid completes the list.
    // Time enough to start PostgreSQL on a busy machine; node's own bound ends the blocked file.
    const r = await runner([file, '--test-timeout=20000'], { TEST_FILE_TIMEOUT_S: '15' });
    const started = JSON.parse(fs.readFileSync(`${pids}.partial`, 'utf8')) as number[];
    const all = [...started, Number(fs.readFileSync(path.join(dir, 'blocker'), 'utf8'))];
    fs.writeFileSync(pids, JSON.stringify(all));
    const pgDir = fs.readFileSync(path.join(dir, 'pg'), 'utf8');
    try {
      await assertFailedLeavingNothing(
        r,
        pids,
        4,
        /'test timed out after 20000ms'[^]*ℹ pass 0\nℹ fail 0\nℹ cancelled 1\n/,
      );
      assert.equal(fs.existsSync(pgDir), false, 'the private PostgreSQL data directory is removed');
    } finally {
      // Only when the runner left them: SIGQUIT is the postmaster's immediate shutdown.
      for (const pid of all.filter(running)) process.kill(pid, pid === started[2] ? 'SIGQUIT' : 'SIGKILL');
      await eventually(async () => !all.some(running), 10_000);
      fs.rmSync(pgDir, { recursive: true, force: true });
    }
  });

  it('a TEST_FILE_TIMEOUT_S out of bounds or not a number is refused with a clear message before any file runs', async () => {
    const { file } = writeTestFile(
      'passing.test.mjs',
      () => `import { it } from 'node:test';\nit('passes', () => { throw new Error('ran'); });\n`,
    );
    for (const value of ['3000000', 'soon', '-5']) {
      const r = await runner([file], { TEST_FILE_TIMEOUT_S: value });
      assert.equal(r.code, 2, r.output);
      assert.match(
        r.output,
        new RegExp(`TEST_FILE_TIMEOUT_S must be a number of seconds from 0 \\(no limit\\) to 86400, not "${value}"`),
      );
      assert.doesNotMatch(r.output, /ran|Test files not run/);
    }
  });

  it('runs files at the same time, a file marked to run alone while no other runs, and sums their counts in one closing summary', async () => {
    const dir = scratch();
    // Each file marks that it runs, with a file named after it, while its test runs.
    const file = (name: string, body: string, header = '') =>
      fs.writeFileSync(
        path.join(dir, `${name}.test.mjs`),
        `${header}import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { eventually } from '${helpers}';
const running = (name) => fs.existsSync('${dir}/' + name + '.running');
const mark = () => fs.writeFileSync('${dir}/${name}.running', '');
const unmark = () => fs.rmSync('${dir}/${name}.running');
${body}
`,
      );
    // Built here, so that this file's own source has no such line: it runs with the others.
    const alone = ['//', 'RUNS_ALONE:', 'for this test'].join(' ');
    file(
      'alone',
      `it('runs while no other file does', async () => {
  mark();
  assert.ok(!running('a') && !running('b'), 'no other file runs as it starts');
  // Long enough for files started with it by mistake to be seen.
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(!running('a') && !running('b'), 'nor while it runs');
  unmark();
});`,
      `${alone}\n`,
    );
    for (const [self, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ])
      file(
        self!,
        `describe('${self}', () => {
  it('runs at the same time as ${other}', async () => {
    mark();
    assert.ok(await eventually(async () => running('${other}'), 60_000), '${other} runs too');
    assert.ok(!running('alone'), 'not while the file that runs alone does');
    // Until the other has seen it too.
    await eventually(async () => false, 1_000);
    unmark();
  });
  it('counts', () => {});
});`,
      );
    const r = await runner(['alone', 'a', 'b'].map((n) => path.join(dir, `${n}.test.mjs`)).concat('--jobs=2'));
    assert.equal(r.code, 0, r.output);
    // Two files of one suite and two tests each, and one test: node's counts, added up.
    assert.match(
      r.output,
      /\nℹ tests 5\nℹ suites 2\nℹ pass 5\nℹ fail 0\nℹ cancelled 0\nℹ skipped 0\nℹ todo 0\nℹ duration_ms \d+\n5 passed, 0 failed, 0 cancelled, 0 skipped, 0 todo \(3 files in \d+ s\)\n$/,
    );
    assert.equal(r.output.match(/ℹ tests/g)?.length, 1, 'one summary, not one per file');
    for (const name of ['alone', 'a', 'b'])
      assert.match(r.output, new RegExp(`── .*${name}\\.test\\.mjs \\(`), `${name}'s output is headed by its name`);
  });

  it('a test file that runs no test fails the run by name', async () => {
    const dir = scratch();
    const empty = path.join(dir, 'empty.test.mjs');
    fs.writeFileSync(empty, `import 'node:test';\n`);
    const passing = path.join(dir, 'passing.test.mjs');
    fs.writeFileSync(passing, `import { it } from 'node:test';\nit('passes', () => {});\n`);
    const r = await runner([passing, empty]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /Test files not run:\n {2}.*empty\.test\.mjs: ran no test\n/);
    assert.doesNotMatch(r.output, /passing\.test\.mjs: ran no test/);
    const ok = await runner([passing]);
    assert.equal(ok.code, 0, ok.output);
  });
});
