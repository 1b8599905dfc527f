#!/usr/bin/env node
// The test runner behind `npm run test:run` (and so `npm test` and CI). Runs every compiled test
// file through node's test runner with the spec reporter, several files at a time, each in a
// node --test process of its own, and fails the run when a test file is not run. Arguments:
// compiled test files to run instead of all of them, --jobs=N (or TEST_JOBS=N: files at a time,
// default 5: most files wait on processes, databases and timers more than they compute), and options for node's test runner (e.g. --test-name-pattern=…).
//
// - Test files are found recursively: every *.test.ts of the repository (outside node_modules and
//   build output) must have its compiled dist/…/*.test.js, which must report at least one test.
//   A test file that is not built, or runs no test, fails the run by name.
// - Files run in parallel: each gives its servers free ports and its databases names of its own
//   (test/helpers.ts, test/services.ts). A file whose source holds a line "// RUNS_ALONE: <why>" runs while no other file does: it measures timing under a load it
//   makes itself, or saturates the machine.
// - A file's output is printed whole when it ends, so that files running at once do not mix;
//   then one closing summary of all files, node's counts added up (ℹ tests, ℹ pass, ℹ fail, …),
//   and a plain "N passed, N failed" line. The slowest files are listed with their durations,
//   which are also kept in dist/.test-durations.json: the next run starts the longest first (a
//   fresh clone uses test/durations.json, the durations of a quiet run kept in the repository).
//   Each file's CPU time is printed too (its node --test process, the file's process and the
//   processes they waited for; not shared servers such as PostgreSQL), and kept in
//   dist/.test-cpu.json: where the run's time goes when files wait on each other for cores.
// - Every test file's process loads dist/test/watchdog.js: after TEST_FILE_TIMEOUT_S seconds
//   (default 900) it ends the file with a clear failure, after stopping what the file started.
// - --test-force-exit: a file whose tests are done ends even when a handle is left open; its exit
//   handler (test/resources.ts) stops the processes, servers and databases it left.
// - --test-timeout: the runner's own bound on each file, a little above the watchdog's, for a
//   file whose event loop is stuck so that its watchdog timer cannot fire.
// - A file whose event loop is stuck cannot stop anything either: every test file's process records
//   itself and what it starts (test/run-records.ts) in a folder named in ZGW_TEST_RECORDS (one per
//   file), and once its node --test process has ended (or this runner is ended by SIGTERM/SIGINT),
//   whatever recorded is still alive is SIGKILLed, so that nothing a test file started outlives it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', '.git']);
/** A line of a test file's source, a comment with the reason after it: the file runs while no other file runs. */
const ALONE_MARKER = /^\/\/ RUNS_ALONE: /m;
const DURATIONS = path.join(root, 'dist', '.test-durations.json');
/** Durations of a quiet run, kept in the repository: a fresh clone (CI) starts the longest first too. */
const SEED_DURATIONS = path.join(root, 'test', 'durations.json');
const CPU = path.join(root, 'dist', '.test-cpu.json');
const SUMMARY = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

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
const args = process.argv.slice(2);
const jobsOption = args.find((a) => a.startsWith('--jobs='));
const options = args.filter((a) => a.startsWith('--') && a !== jobsOption);
const files = args.filter((a) => !a.startsWith('--')).map((f) => path.resolve(f));
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

const jobsValue = jobsOption?.slice('--jobs='.length) ?? (process.env.TEST_JOBS || '5');
const jobs = Number(jobsValue);
if (!Number.isInteger(jobs) || jobs < 1 || jobs > 16) {
  console.error(
    `--jobs (TEST_JOBS) must be a whole number of files at a time from 1 to 16, not ${JSON.stringify(jobsValue)}`,
  );
  process.exit(2);
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
const began = performance.now();

const relative = (file) => path.relative(root, file);
const runsAlone = (file) => {
  try {
    return ALONE_MARKER.test(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
};
const readDurations = (file) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
};
// This checkout's own timings where it has them, else the repository's (`npm run test:durations`
// copies this checkout's there after a quiet full run).
const previous = { ...readDurations(SEED_DURATIONS), ...readDurations(DURATIONS) };
// The longest first, so that no long file starts last. A file not timed yet (a fresh clone) comes
// before the timed ones, the larger before the smaller: the size is a rough guess at the length.
const size = (file) => {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
};
const expected = (file) => previous[relative(file)] ?? Infinity;
const queue = [...files].sort((a, b) => expected(b) - expected(a) || size(b) - size(a));

const totals = Object.fromEntries(SUMMARY.map((k) => [k, 0]));
const reported = new Set();
const durations = {};
const cpu = {};
const failed = [];
const running = new Map();
let ending = false;

/** Runs one test file in a node --test process of its own; prints its output whole when it ends. */
async function runFile(file, index) {
  const ran = path.join(scratch, `reported-${index}`);
  const records = path.join(scratch, `records-${index}`);
  fs.mkdirSync(records);
  const child = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(path.join(root, 'dist/test/watchdog.js')).href,
      '--test',
      '--test-force-exit',
      ...(seconds > 0 ? [`--test-timeout=${Math.ceil((seconds + 120) * 1000)}`] : []),
      // Node's spec reporter, without the closing summary: this runner prints one for all files.
      `--test-reporter=${pathToFileURL(path.join(root, 'scripts/test-reporter.mjs')).href}`,
      '--test-reporter-destination=stdout',
      ...options,
      file,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TEST_FILE_TIMEOUT_S: timeout, [RECORDS_ENV]: records, ZGW_TEST_REPORT: ran },
    },
  );
  running.set(file, child);
  const start = performance.now();
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  // Its output to the end; a process it left holding the pipe open does not keep the run waiting.
  await Promise.race([
    Promise.all(
      [child.stdout, child.stderr].map((s) => new Promise((r) => (s.readableEnded ? r() : s.once('end', r)))),
    ),
    new Promise((r) => setTimeout(r, 2_000).unref()),
  ]);
  running.delete(file);
  // A test file still running (node's timeout sent it SIGTERM, or this run was ended) gets a few
  // seconds to clean up after itself; then what is recorded and alive is SIGKILLed.
  const left = await stopRecorded(records, 5_000);
  const ms = performance.now() - start;
  durations[relative(file)] = Math.round(ms);
  for (const line of fs.existsSync(ran) ? fs.readFileSync(ran, 'utf8').split('\n').filter(Boolean) : []) {
    const entry = JSON.parse(line);
    // One process per file: a test it ran counts for this file, also one defined in a module the file
    // imports (node names that module as the test's file).
    if (entry.ran) reported.add(file);
    else if (entry.cpu_ms !== undefined) cpu[relative(file)] = entry.cpu_ms;
    else if (SUMMARY.includes(entry.count) && entry.count !== 'duration_ms') totals[entry.count] += entry.n;
  }
  if (code !== 0) failed.push(`${relative(file)} (${signal ?? `exit ${code}`})`);
  process.stdout.write(
    `\n── ${relative(file)} (${(ms / 1000).toFixed(1)} s${cpuNote(relative(file))})\n${output}` +
      (left.length ? `\nStopped what the test file left running after it ended: ${left.join('; ')}\n` : ''),
  );
}

/** ", CPU 12.3 s" for a file whose CPU time is known. */
const cpuNote = (name) => (cpu[name] === undefined ? '' : `, CPU ${(cpu[name] / 1000).toFixed(1)} s`);

let started = 0;
/** Takes files from `list` until it is empty or the run is ended. */
async function worker(list) {
  for (let next = list.shift(); next !== undefined && !ending; next = list.shift()) await runFile(next, started++);
}

for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => {
    ending = true;
    for (const child of running.values()) {
      child.kill(signal);
      // Should it not end (a handler of its own that hangs), it is ended: what it ran is stopped then.
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }
  });

// First the files that run alone, one after the other; then the others, `jobs` at a time.
await worker(queue.filter(runsAlone));
const together = queue.filter((f) => !runsAlone(f));
await Promise.all(Array.from({ length: Math.min(jobs, together.length) }, () => worker(together)));
fs.rmSync(scratch, { recursive: true, force: true });
if (!ending && files.every((f) => durations[relative(f)] !== undefined)) {
  try {
    // Of files that still exist: a renamed or removed one is forgotten.
    const kept = Object.entries(previous).filter(([f]) => fs.existsSync(path.join(root, f)));
    fs.writeFileSync(DURATIONS, `${JSON.stringify({ ...Object.fromEntries(kept), ...durations }, null, 2)}\n`);
    fs.writeFileSync(CPU, `${JSON.stringify(cpu, null, 2)}\n`);
  } catch {
    // only an ordering hint
  }
}

// A name pattern or --test-only leaves files without a selected test: only a full run is checked.
const selecting = options.some((o) => /^--test-(name-pattern|skip-pattern|only)/.test(o));
if (!selecting && !ending)
  for (const file of files) if (!reported.has(file)) problems.push(`${relative(file)}: ran no test`);
const slowest = Object.entries(durations)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 10);
if (files.length > 1)
  console.log(
    `\nSlowest test files (${jobs} at a time):\n${slowest.map(([f, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${f}${cpuNote(f)}`).join('\n')}`,
  );
const cpuTotal = Object.values(cpu).reduce((sum, ms) => sum + ms, 0);
if (files.length > 1 && cpuTotal > 0) {
  const busiest = Object.entries(cpu)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  console.log(
    `\nMost CPU (${(cpuTotal / 1000).toFixed(0)} s in all):\n${busiest.map(([f, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${f}`).join('\n')}`,
  );
}
if (failed.length) console.log(`\nTest files that failed:\n${failed.map((f) => `  ${f}`).join('\n')}`);
if (problems.length) console.error(`\nTest files not run:\n${problems.map((p) => `  ${p}`).join('\n')}`);
totals.duration_ms = Math.round(performance.now() - began);
console.log(`\n${SUMMARY.map((k) => `ℹ ${k} ${totals[k]}`).join('\n')}`);
console.log(
  `${totals.pass} passed, ${totals.fail} failed, ${totals.cancelled} cancelled, ${totals.skipped} skipped, ${totals.todo} todo` +
    ` (${files.length} files in ${(totals.duration_ms / 1000).toFixed(0)} s)`,
);
process.exit(problems.length || failed.length || ending ? 1 : 0);
