#!/usr/bin/env node
// Part of `npm run build`: bundles the libraries that come as hundreds of small modules into one
// file each under dist/vendor. Node resolves, reads and links every module of a package on each
// process start: for Kysely (about 260 ESM modules) and TypeBox (about 370) that was about 250 ms
// of CPU of a `serve` start and 100 ms of every CLI command; Fastify with its dependencies (about
// 110 CommonJS modules), its rate-limit plugin, busboy and prom-client (about 80 with the
// OpenTelemetry API it loads) cost a `serve` start about 150 ms more than their bundles. The
// source imports them as `#kysely`, `#typebox`, `#fastify`… (package.json "imports"): the bundles
// at run time, the packages' own types for tsc.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The bundles: ESM packages as they are; a CommonJS one through a module that re-exports what the
 * source imports of it (`names`, besides its default export), with a `require` of its own for what
 * it leaves `external`: Node's modules, and packages loaded apart (pino, which the app imports
 * itself; the schema compilers, which deferred-schemas.ts loads from Fastify's dependencies on
 * first use).
 */
const VENDOR = {
  kysely: { entry: 'kysely' },
  typebox: { entry: 'typebox' },
  fastify: {
    entry: 'fastify',
    names: ['LogController'],
    external: ['pino', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
  },
  'fastify-rate-limit': { entry: '@fastify/rate-limit', names: [] },
  busboy: { entry: '@fastify/busboy', names: ['Busboy'] },
  'prom-client': {
    entry: 'prom-client',
    names: ['collectDefaultMetrics', 'Counter', 'Gauge', 'Histogram', 'Registry'],
  },
};

await Promise.all(
  Object.entries(VENDOR).map(([name, { entry, names, external = [] }]) =>
    build({
      ...(names
        ? {
            stdin: { contents: `export { ${['default', ...names].join(', ')} } from '${entry}';`, resolveDir: root },
            banner: {
              js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
            },
            external,
          }
        : { entryPoints: [entry] }),
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
