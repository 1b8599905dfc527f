#!/usr/bin/env node
// The test runner behind `npm run test:run` (and so `npm test` and CI). Runs every compiled test
// file, one at a time, through node's test runner with the spec reporter, and fails the run when a
// test file is not run. Arguments: compiled test files to run instead of all of them, and options
// for node's test runner (e.g. --test-name-pattern=…).
//
// - Test files are found recursively: every *.test.ts of the repository (outside node_modules and
//   build output) must have its compiled dist/…/*.test.js, which must report at least one test.
//   A test file that is not built, or runs no test, fails the run by name.
// - Every test file's process loads dist/test/watchdog.js: after TEST_FILE_TIMEOUT_S seconds
//   (default 900) it ends the file with a clear failure, after stopping what the file started.
// - --test-force-exit: a file whose tests are done ends even when a handle is left open; its exit
//   handler (test/resources.ts) stops the processes, servers and databases it left.
// - --test-timeout: the runner's own bound on each file, a little above the watchdog's, for a
//   file whose event loop is stuck so that its watchdog timer cannot fire.
// - A file whose event loop is stuck cannot stop anything either: every test file's process records
//   itself and what it starts (test/run-records.ts) in a folder named in ZGW_TEST_RECORDS, and once
//   node's test runner has ended (or this runner is ended by SIGTERM/SIGINT), whatever recorded is
//   still alive is SIGKILLed, so that nothing a test file started outlives the run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', '.git']);

/** Every *.test.ts below `dir`, relative to the repository. */
function testSources(dir = root) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !SKIP.has(entry.name) && !entry.name.startsWith('.'))
      out.push(...testSources(path.join(dir, entry.name)));
    else if (entry.isFile() && entry.name.endsWith('.test.ts'))
      out.push(path.relative(root, path.join(dir, entry.name)));
  }
  return out.sort();
}

const problems = [];
const options = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map((f) => path.resolve(f));
if (files.length === 0) {
  for (const source of testSources()) {
    const compiled = path.join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (fs.existsSync(compiled)) files.push(compiled);
    else
      problems.push(
        `${source}: not built to ${path.relative(root, compiled)} (is its folder in tsconfig.json's include?), so it would not run`,
      );
  }
}

// Bounded: node refuses a --test-timeout above 2^31-1 ms, and the watchdog's timer would fire at once.
const MAX_SECONDS = 86_400;
// Unset or empty: 900. Passed on as checked, so that the watchdog reads the same value.
const timeout = process.env.TEST_FILE_TIMEOUT_S || '900';
const seconds = Number(timeout);
if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SECONDS) {
  console.error(
    `TEST_FILE_TIMEOUT_S must be a number of seconds from 0 (no limit) to ${MAX_SECONDS}, not ${JSON.stringify(timeout)}`,
  );
  process.exit(2);
}
const { RECORDS_ENV, stopRecorded } = await import(pathToFileURL(path.join(root, 'dist/test/run-records.js')).href);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-test-run-'));
const ran = path.join(scratch, 'files');
const records = path.join(scratch, 'records');
fs.mkdirSync(records);
const args = [
  '--import',
  pathToFileURL(path.join(root, 'dist/test/watchdog.js')).href,
  '--test',
  '--test-concurrency=1',
  '--test-force-exit',
  ...(seconds > 0 ? [`--test-timeout=${Math.ceil((seconds + 120) * 1000)}`] : []),
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${pathToFileURL(path.join(root, 'scripts/test-files-reporter.mjs')).href}`,
  `--test-reporter-destination=${ran}`,
  ...options,
  ...files,
];
const child = spawn(process.execPath, args, {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, TEST_FILE_TIMEOUT_S: timeout, [RECORDS_ENV]: records },
});
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => {
    child.kill(signal);
    // Should it not end (a handler of its own that hangs), it is ended: what it ran is stopped below.
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
// A test file still running (node's timeout sent it SIGTERM, or this run was ended) gets a few
// seconds to clean up after itself; then what is recorded and alive is SIGKILLed.
const left = await stopRecorded(records, 5_000);
if (left.length) console.error(`\nStopped what test files left running after the run: ${left.join('; ')}`);

const reported = new Set(fs.existsSync(ran) ? fs.readFileSync(ran, 'utf8').split('\n').filter(Boolean) : []);
fs.rmSync(scratch, { recursive: true, force: true });
// A name pattern or --test-only leaves files without a selected test: only a full run is checked.
const selecting = options.some((o) => /^--test-(name-pattern|skip-pattern|only)/.test(o));
if (!selecting)
  for (const file of files) if (!reported.has(file)) problems.push(`${path.relative(root, file)}: ran no test`);
if (problems.length) console.error(`\nTest files not run:\n${problems.map((p) => `  ${p}`).join('\n')}`);
process.exit(problems.length ? 1 : (code ?? (signal ? 1 : 0)));
