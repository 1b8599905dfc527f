#!/usr/bin/env node
// Removes one security check at a time and runs the tests that should notice (see docs/checks.md).
// Not part of `npm test`. Every mutated file is written back byte for byte, also on failure,
// Ctrl-C or a crash; the script refuses to start when a file it would mutate has local changes.
//
//   node scripts/mutation-check.mjs                  every mutation, stop at the first failing test file
//   node scripts/mutation-check.mjs --only a,b       only these mutation ids
//   node scripts/mutation-check.mjs --all-files      also run the remaining listed files after a failure
//   node scripts/mutation-check.mjs --list           print the mutations and exit
//   node scripts/mutation-check.mjs --check          only check that every pattern still matches once
//   node scripts/mutation-check.mjs --table a.json   the inventory table (markdown) from result files
//
// A mutation "survives" when every test file listed for it passes: the check it removes is untested.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEdits, locate } from './mutation-anchor.mjs';
import { MUTATIONS } from './mutations.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
// Anything unknown (--help included) prints the usage instead of starting an hour-long run.
const KNOWN = new Set(['--only', '--all-files', '--out', '--list', '--check', '--table']);
const VALUED = new Set(['--only', '--out', '--table']);
for (let i = 0; i < args.length; i++) {
  if (!KNOWN.has(args[i])) {
    console.log(
      fs
        .readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('//'))
        .slice(0, 12)
        .join('\n'),
    );
    process.exit(args[i] === '--help' || args[i] === '-h' ? 0 : 2);
  }
  if (VALUED.has(args[i])) i++;
}
const only = opt('--only')?.split(',');
const allFiles = args.includes('--all-files');
const out = opt('--out') ?? path.join(os.tmpdir(), 'zgw-auth-mutation-results.json');

if (args.includes('--list')) {
  for (const m of MUTATIONS) console.log(`${m.id.padEnd(34)} ${m.file}  [${m.tests.join(', ')}]`);
  process.exit(0);
}

// Markdown table of the inventory from result files of earlier runs (docs/checks.md).
if (opt('--table')) {
  const results = new Map(
    opt('--table')
      .split(',')
      .flatMap((f) => JSON.parse(fs.readFileSync(f, 'utf8')))
      .map((r) => [r.id, r]),
  );
  const cell = (t) => String(t).replace(/\|/g, '\\|');
  console.log('| # | Check | Where | Test that fails when it alone is removed |');
  console.log('|---|---|---|---|');
  MUTATIONS.forEach((m, i) => {
    const r = results.get(m.id);
    const test = !r
      ? 'not run'
      : r.outcome === 'killed'
        ? r.caught.map((c) => `${c.file}.test.ts: ${c.failed.map((n) => `"${n}"`).join(', ')}`).join('; ')
        : `**none** (${r.outcome})`;
    console.log(`| ${i + 1} | ${cell(m.check)} | \`${m.file}\`: ${cell(m.fn)} | ${cell(test)} |`);
  });
  process.exit(0);
}

if (args.includes('--check')) {
  let bad = 0;
  for (const m of MUTATIONS) {
    const text = fs.readFileSync(path.join(root, m.file), 'utf8');
    const found = locate(text, m.file, m.fn, m.edits ?? [[m.from, m.to]]);
    if (found.error) {
      bad++;
      console.log(`${m.id}: ${found.error}`);
    }
  }
  const ids = MUTATIONS.map((m) => m.id);
  for (const id of ids)
    if (ids.indexOf(id) !== ids.lastIndexOf(id)) {
      bad++;
      console.log(`duplicate id ${id}`);
    }
  console.log(`${MUTATIONS.length} mutations, ${bad} problems`);
  process.exit(bad ? 1 : 0);
}

const selected = MUTATIONS.filter((m) => !only || only.includes(m.id));
if (only && selected.length !== only.length) throw new Error(`unknown mutation id in ${only.join(',')}`);

// Refuse to run over local changes: restoring writes back what was read, but a diff would hide it.
const files = [...new Set(selected.map((m) => m.file))];
const dirty = execFileSync('git', ['status', '--porcelain', '--', ...files], { cwd: root, encoding: 'utf8' }).trim();
if (dirty) {
  console.error(`refusing to run: files to mutate have local changes:\n${dirty}`);
  process.exit(2);
}

/** Original content of the file currently mutated; written back whatever happens. */
let pending;
/** The build or test run in progress: its process group is ended on interruption. */
let running;
const restore = () => {
  if (!pending) return;
  fs.writeFileSync(pending.abs, pending.original);
  pending = undefined;
};
process.on('exit', restore);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (running) {
      try {
        process.kill(-running.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    restore();
    process.exit(130);
  });
}
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    restore();
    console.error(err);
    process.exit(1);
  });
}

/** Runs a command in its own process group; resolves with its exit status and output. */
function run(cmd, argv, { timeoutMs = 600_000, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      running = undefined;
      resolve({ status: status ?? (signal ? 128 : 1), signal, stdout, stderr });
    });
  });
}

/**
 * tsc -b emits even when it reports errors. Removing a check can leave a constant or helper unused
 * (noUnusedLocals, TS6133): the emitted code is still the mutant, so that error alone is accepted.
 */
async function build() {
  const b = await run('npx', ['tsc', '-b']);
  const errors = (b.stdout + b.stderr).split('\n').filter((l) => /error TS\d+/.test(l));
  return { ok: b.status === 0 || errors.every((l) => /error TS6133/.test(l)), output: b.stdout + b.stderr };
}

/**
 * A listed test file, built: the server's (test/), the verifier package's own
 * (packages/verifier/test/), or a unit test next to its source named by its path ('src/pki/x').
 */
function testFile(file) {
  return ['dist/test', 'dist/packages/verifier/test', 'dist']
    .map((dir) => `${dir}/${file}.test.js`)
    .find((f) => fs.existsSync(path.join(root, f)));
}

/** Runs one test file; returns the names of failing tests ('' for a failure outside any test). */
async function runTests(file) {
  const r = await run(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-timeout=120000', '--test-reporter=tap', testFile(file)],
    {
      env: { ...process.env, FUZZ_RUNS: process.env.FUZZ_RUNS ?? '20' },
    },
  );
  const failed = [];
  const lines = r.stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!m) continue;
    // Only leaves: TAP lists a suite after its tests, so a line whose predecessor is deeper is a suite.
    const depth = m[1].length;
    const previous = lines
      .slice(0, i)
      .reverse()
      .find((l) => /^\s*(not )?ok \d+ - /.test(l));
    if (previous && /^(\s*)/.exec(previous)[1].length > depth) continue;
    failed.push(m[2].replace(/ # .*$/, ''));
  }
  if (r.status !== 0 && failed.length === 0)
    failed.push(`(exit ${r.status}${r.signal ? ` ${r.signal}` : ''} outside any test)`);
  return [...new Set(failed)];
}

const results = [];
const started = Date.now();
for (const m of selected) {
  const abs = path.join(root, m.file);
  const original = fs.readFileSync(abs);
  const text = original.toString('utf8');
  const found = locate(text, m.file, m.fn, m.edits ?? [[m.from, m.to]]);
  if (found.error) {
    results.push({ id: m.id, outcome: 'stale', detail: `${m.file}: ${found.error}` });
    console.log(`${m.id}: STALE (${found.error})`);
    continue;
  }
  pending = { abs, original };
  const t0 = Date.now();
  let result;
  try {
    fs.writeFileSync(abs, applyEdits(text, found.places));
    const b = await build();
    if (!b.ok) {
      result = { id: m.id, outcome: 'compile_error', detail: b.output.slice(0, 2000) };
    } else {
      const caught = [];
      const flaky = [];
      for (const file of m.tests) {
        // A test file not written yet (or not built) is skipped, not counted as a failure.
        if (!testFile(file)) continue;
        let failed = await runTests(file);
        if (failed.length) {
          // Timing tests can fail on a loaded machine: a kill counts only for a named test that
          // fails again on a second run.
          const again = await runTests(file);
          const confirmed = failed.filter((n) => again.includes(n) && !n.startsWith('('));
          if (confirmed.length < failed.length)
            flaky.push({ file, failed: [...new Set([...failed, ...again])].filter((n) => !confirmed.includes(n)) });
          failed = confirmed;
        }
        if (failed.length) caught.push({ file, failed });
        if (caught.length && !allFiles) break;
      }
      result = { id: m.id, outcome: caught.length ? 'killed' : 'survived', caught, ...(flaky.length ? { flaky } : {}) };
    }
  } finally {
    restore();
  }
  result.seconds = Math.round((Date.now() - t0) / 1000);
  results.push(result);
  const summary =
    result.outcome === 'killed'
      ? result.caught.map((c) => `${c.file}: ${c.failed.join(' | ')}`).join('; ')
      : (result.detail ?? '');
  console.log(
    `${m.id}: ${result.outcome.toUpperCase()} (${result.seconds} s) ${summary}${result.flaky ? ` [not confirmed on a second run: ${result.flaky.map((f) => `${f.file}: ${f.failed.join(' | ')}`).join('; ')}]` : ''}`,
  );
  fs.writeFileSync(out, JSON.stringify(results, null, 2));
}

// The tree is as it was; rebuild so that dist/ matches it again.
const diff = execFileSync('git', ['status', '--porcelain', '--', ...files], { cwd: root, encoding: 'utf8' }).trim();
if (diff) {
  console.error(`files not restored:\n${diff}`);
  process.exit(1);
}
await build();
const survived = results.filter((r) => r.outcome !== 'killed');
console.log(
  `\n${results.length} mutations in ${Math.round((Date.now() - started) / 1000)} s: ${results.length - survived.length} killed, ${survived.length} not (${survived.map((r) => `${r.id}=${r.outcome}`).join(', ') || 'none'})`,
);
console.log(`results: ${out}`);
process.exit(survived.length ? 1 : 0);
