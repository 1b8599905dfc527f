import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, from dist/bench/ or bench/ alike. */
export const ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`) ? '../..' : '..',
);
export const BENCH_DIR = path.join(ROOT, 'bench');
/** Packages installed for the benchmark only (the peer, autocannon, other JWT libraries). */
export const DEPS_DIR = path.join(BENCH_DIR, 'deps');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** How `npm start` runs Node (package.json; the README's production example sets the same in NODE_OPTIONS). */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=8'];
export const WORK_DIR = path.join(ROOT, '.bench');
