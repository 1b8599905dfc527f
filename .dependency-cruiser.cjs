/** @type {import('dependency-cruiser').IConfiguration} */
// Import checks (`npm run check:cycles`), type-only imports included: no module of src/, test/,
// bench/, examples/ or the verifier package is part of a cycle, and in src/ imports point from the
// edges (http, console, cli, ops, app.ts) to use cases and domains, and from stores to domains,
// never back; of the edges only app.ts, the composition root, imports the stores.
// docs/architecture.md shows the folders and their imports.

// Domain folders: what the registry, tokens and keys are, with their use cases and store ports.
const DOMAINS =
  '^src/(audit|changes|clients|inspection|keys|limits|migrate|organisations|pki|sessions|tokens|transfer)/';
// Use cases: the operations the edges call. A store implements a port; it never calls one of these.
const USE_CASES =
  '^src/(audit/audit-log|clients/(authenticate-client|client-service)|keys/rotate-key|migrate/apply-(migration-plan|applicatie-migration)|organisations/(client-administration|organisation-service)|sessions/console-sessions|tokens/(issue|introspect|revoke)-token|transfer/registry-transfer)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order matter and tie modules together; move the shared part to its own module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-not-to-edges',
      severity: 'error',
      comment:
        'A domain module depends on ports it owns, never on storage, the HTTP layer, the console, the CLI, operations or the composition root (app.ts): inject what it needs.',
      from: { path: DOMAINS, pathNot: '\\.test\\.ts$' },
      to: { path: '^src/(storage|http|console|cli|ops)/|^src/app\\.ts$' },
    },
    {
      name: 'edges-not-to-storage',
      severity: 'error',
      comment:
        'The HTTP layer, the console, the CLI and operations work on what the composition root (app.ts) wires, never on a store, the schema or a database driver: stores throw their driver errors as ZgwAuthErrors (storage/storage-errors.ts), so no edge needs to know them.',
      from: { path: '^src/(http|console|cli|ops)/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'store-not-to-use-cases',
      severity: 'error',
      comment: 'A store implements a domain port; calling a use case from it turns the layers upside down.',
      from: { path: '^src/storage/' },
      to: { path: USE_CASES },
    },
    {
      name: 'verifier-package-stands-alone',
      severity: 'error',
      comment: 'The published verifier package may not import the server.',
      from: { path: '^packages/verifier/src/' },
      to: { path: '^(src|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|^bench/deps/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
