#!/usr/bin/env node
// Part of `npm run build`: bundles the ESM libraries that come as hundreds of small modules (Kysely
// about 260, TypeBox about 370) into one file each under dist/vendor. Node resolves, reads and
// links every module of a package on each process start; for these two that was about 250 ms of
// CPU of a `serve` start and 100 ms of every CLI command. The source imports them as `#kysely` and
// `#typebox` (package.json "imports"): the bundles at run time, the packages' own types for tsc.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENDOR = { kysely: 'kysely', typebox: 'typebox' };

await Promise.all(
  Object.entries(VENDOR).map(([name, pkg]) =>
    build({
      entryPoints: [pkg],
      absWorkingDir: root,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile: path.join(root, 'dist', 'vendor', `${name}.js`),
      sourcemap: 'linked',
      legalComments: 'inline',
      logLevel: 'warning',
    }),
  ),
);
