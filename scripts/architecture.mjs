#!/usr/bin/env node
// The diagram of docs/architecture.md, from the code: which folders of src/ import which, as a
// Mermaid graph between the markers below. `--write` rewrites it; `--check` (CI) fails when the
// document no longer matches the code.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOC = path.join(root, 'docs/architecture.md');
const BEGIN = '<!-- imports:begin (npm run architecture -- --write) -->';
const END = '<!-- imports:end -->';
// Files at the top of src/: the composition root, and the shared kernel every layer may use.
const ROOT_FILES = {
  'app.ts': 'app',
  'config.ts': 'kernel',
  'errors.ts': 'kernel',
  'counts.ts': 'kernel',
  'control-characters.ts': 'kernel',
  'crash-point.ts': 'kernel',
};
const EDGES = ['cli', 'http', 'console', 'ops', 'app'];

const json = execFileSync('npx', ['depcruise', '--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'src'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
const { modules } = JSON.parse(json);

/** The diagram's node of a module: its folder under src/, 'kernel' or 'app' for top files, 'verifier' for the package. */
function nodeOf(source) {
  if (source.startsWith('packages/verifier/')) return 'verifier';
  const m = /^src\/([^/]+)(\/)?/.exec(source);
  if (!m) return undefined;
  if (!m[2]) return ROOT_FILES[m[1]] ?? 'kernel';
  return m[1];
}

const edges = new Set();
for (const mod of modules) {
  if (/\.test\.ts$/.test(mod.source)) continue;
  const from = nodeOf(mod.source);
  if (!from) continue;
  for (const dep of mod.dependencies) {
    const to = nodeOf(dep.resolved);
    if (to && to !== from && to !== 'kernel') edges.add(`${from} --> ${to}`);
  }
}
// dependency-cruiser leaves out the verifier package (it resolves to its build output): read those imports, static or
// `await import()`, from the sources.
for (const mod of modules) {
  const from = nodeOf(mod.source);
  if (!from || /\.test\.ts$/.test(mod.source) || !mod.source.startsWith('src/')) continue;
  if (/(from |import\()'@zgw-auth\/verifier(\/[a-z]+)?'/.test(fs.readFileSync(path.join(root, mod.source), 'utf8')))
    edges.add(`${from} --> verifier`);
}
const nodes = new Set([...edges].flatMap((e) => e.split(' --> ')));
const group = (name, members) => [
  `  subgraph ${name}`,
  ...members.filter((n) => nodes.has(n)).map((n) => `    ${n}`),
  '  end',
];
const domains = [...nodes].filter((n) => !EDGES.includes(n) && n !== 'storage' && n !== 'verifier').sort();
const diagram = [
  '```mermaid',
  'flowchart TD',
  ...group('edges', EDGES),
  ...group('domains', domains),
  ...group('stores', ['storage']),
  ...group('library', ['verifier']),
  ...[...edges].sort().map((e) => `  ${e}`),
  '```',
].join('\n');

const doc = fs.readFileSync(DOC, 'utf8');
const start = doc.indexOf(BEGIN);
const end = doc.indexOf(END);
if (start < 0 || end < start) throw new Error(`docs/architecture.md lacks the markers ${BEGIN} … ${END}`);
const updated = `${doc.slice(0, start + BEGIN.length)}\n${diagram}\n${doc.slice(end)}`;
if (process.argv.includes('--write')) {
  fs.writeFileSync(DOC, updated);
  console.log(`docs/architecture.md: ${edges.size} imports between ${nodes.size} parts`);
} else if (updated !== doc) {
  console.error(
    'docs/architecture.md does not show the imports of the code any more: run `npm run architecture -- --write` and commit it',
  );
  process.exit(1);
} else {
  console.log(`docs/architecture.md matches the code (${edges.size} imports between ${nodes.size} parts)`);
}
