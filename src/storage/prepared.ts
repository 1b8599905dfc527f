import type { CompiledQuery, Kysely, QueryResult } from '#kysely';

/**
 * A hot-path query compiled once, then run with fresh parameter values: building and compiling a
 * Kysely query costs more than the indexed lookup it runs. `build` uses placeholder values; the
 * caller passes the real ones in the order they appear in the query.
 */
export function prepareQuery<DB, R>(
  db: Kysely<DB>,
  build: (db: Kysely<DB>) => { compile(): CompiledQuery<R> },
): (parameters: readonly unknown[]) => Promise<QueryResult<R>> {
  const compiled = build(db).compile();
  return (parameters) => {
    if (parameters.length !== compiled.parameters.length)
      throw new Error(`prepared query expects ${compiled.parameters.length} parameters, got ${parameters.length}`);
    return db.executeQuery<R>({ ...compiled, parameters });
  };
}
