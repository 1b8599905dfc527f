import type { CompiledQuery, DatabaseConnection, Dialect as KyselyDialect, Driver, QueryResult } from '#kysely';
import type { OpenSpan, SpanAttributes, Tracing } from '../tracing.js';

/** Where the database is, for the spans: OpenTelemetry's db.system.name and, for a server, its address. */
export interface TracedDatabase {
  system: 'postgresql' | 'sqlite';
  address?: string;
  port?: number;
}

/** Characters of a statement's SQL kept in a span (a multi-row insert can be long). */
const MAX_SQL = 1000;
/** Statements whose span names and attributes are kept, by SQL (the hot ones repeat). */
const SUMMARY_CACHE = 500;

/**
 * The dialect with a span per statement and per transaction, inside the span that is current when
 * it runs (a request's, a notification round's); a statement with no span around it (a background
 * poll, a batched write) gets none. A span names the operation and the table and carries the SQL as
 * compiled, with placeholders: never a parameter's value.
 */
export function tracedDialect(dialect: KyselyDialect, tracing: Tracing, database: TracedDatabase): KyselyDialect {
  return {
    createDriver: () => new TracedDriver(dialect.createDriver(), tracing, database),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

interface Summary {
  name: string;
  attributes: SpanAttributes;
}

class TracedDriver implements Driver {
  readonly #traced = new WeakSet<DatabaseConnection>();
  /** The span of the transaction open on a connection: its statements' parent. */
  readonly #transactions = new WeakMap<DatabaseConnection, OpenSpan>();
  readonly #summaries = new Map<string, Summary>();
  readonly #base: SpanAttributes;
  readonly savepoint?: Driver['savepoint'];
  readonly rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  readonly releaseSavepoint?: Driver['releaseSavepoint'];

  constructor(
    private readonly driver: Driver,
    private readonly tracing: Tracing,
    database: TracedDatabase,
  ) {
    this.#base = {
      'db.system.name': database.system,
      ...(database.address !== undefined ? { 'server.address': database.address } : {}),
      ...(database.port !== undefined ? { 'server.port': database.port } : {}),
    };
    this.savepoint = driver.savepoint?.bind(driver);
    this.rollbackToSavepoint = driver.rollbackToSavepoint?.bind(driver);
    this.releaseSavepoint = driver.releaseSavepoint?.bind(driver);
  }

  init(): Promise<void> {
    return this.driver.init();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.driver.acquireConnection().then(this.#tracedConnection);
  }

  readonly #tracedConnection = (connection: DatabaseConnection): DatabaseConnection => {
    if (this.#traced.has(connection)) return connection;
    this.#traced.add(connection);
    const executeQuery = connection.executeQuery.bind(connection);
    connection.executeQuery = <R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> => {
      const { name, attributes } = this.#summary(compiledQuery.sql);
      const span = this.tracing.start(name, {
        kind: 'client',
        attributes,
        parent: this.#transactions.get(connection),
        requireParent: true,
      });
      if (!span) return executeQuery<R>(compiledQuery);
      let running: Promise<QueryResult<R>>;
      try {
        running = executeQuery<R>(compiledQuery);
      } catch (err) {
        span.end(err);
        throw err;
      }
      return running.then(
        (result) => (span.end(), result),
        (err: unknown) => {
          span.end(err);
          throw err;
        },
      );
    };
    return connection;
  };

  async beginTransaction(...args: Parameters<Driver['beginTransaction']>): Promise<void> {
    const [connection] = args;
    const span = this.tracing.start('transaction', { kind: 'client', attributes: this.#base, requireParent: true });
    if (span) this.#transactions.set(connection, span);
    try {
      await this.driver.beginTransaction(...args);
    } catch (err) {
      this.#ended(connection, err);
      throw err;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.driver.commitTransaction(connection);
    } catch (err) {
      this.#ended(connection, err);
      throw err;
    }
    this.#ended(connection);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.driver.rollbackTransaction(connection);
    } finally {
      this.#transactions.get(connection)?.setAttributes({ 'zgw_auth.transaction.outcome': 'rollback' });
      this.#ended(connection);
    }
  }

  #ended(connection: DatabaseConnection, err?: unknown): void {
    const span = this.#transactions.get(connection);
    if (!span) return;
    this.#transactions.delete(connection);
    span.end(err);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }

  /** The span's name (`SELECT clients`) and attributes of a statement, from its SQL. */
  #summary(sql: string): Summary {
    let summary = this.#summaries.get(sql);
    if (summary === undefined) {
      const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'SQL';
      // The statement's first table: after FROM, INTO or UPDATE (a CTE's own name aside, good enough for a span).
      const table = /\b(?:from|into|update)\s+"?([A-Za-z_]\w*)"?/i.exec(sql)?.[1];
      summary = {
        name: table ? `${operation} ${table}` : operation,
        attributes: {
          ...this.#base,
          'db.operation.name': operation,
          ...(table ? { 'db.collection.name': table } : {}),
          'db.query.text': sql.length > MAX_SQL ? `${sql.slice(0, MAX_SQL)}…` : sql,
        },
      };
      if (this.#summaries.size >= SUMMARY_CACHE) this.#summaries.clear();
      this.#summaries.set(sql, summary);
    }
    return summary;
  }
}
