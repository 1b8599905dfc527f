import type { CompiledQuery, DatabaseConnection, Dialect as KyselyDialect, Driver } from '#kysely';
import { StorageUnavailableError, UnstorableValueError } from '../errors.js';
import { isRejectedInput } from './input-errors.js';
import { isUnavailable } from './unavailable-errors.js';

/**
 * A database driver's error as the refusal it stands for: a value the database cannot store (400),
 * or the database away (503, retry after a second), the driver's error as its cause. Anything else
 * is returned as it is: an internal error, or a refusal a store turns into its own (a taken key).
 */
export function storageError(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return err;
  if (isRejectedInput(err)) return new UnstorableValueError(err);
  if (isUnavailable(err)) return new StorageUnavailableError(err);
  return err;
}

/**
 * The dialect with every driver error translated (storageError) where the driver raises it: when
 * a connection is taken and on every statement, transactions included. Every store and query on a
 * Kysely instance made with it throws only refusals the edges know, none can forget to.
 */
export function translatingErrors(dialect: KyselyDialect): KyselyDialect {
  return {
    createDriver: () => new TranslatingDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

const rethrow = (err: unknown): never => {
  throw storageError(err);
};

/**
 * Hands out the driver's own connections, each given a translating executeQuery once, the way
 * Kysely adds its query logging: the driver's transaction and release code gets the objects it
 * made, and a statement costs one extra promise, nothing else.
 */
class TranslatingDriver implements Driver {
  readonly #translating = new WeakSet<DatabaseConnection>();
  readonly savepoint?: Driver['savepoint'];
  readonly rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  readonly releaseSavepoint?: Driver['releaseSavepoint'];

  constructor(private readonly driver: Driver) {
    // Optional in a driver; Kysely asks whether they are there.
    this.savepoint = driver.savepoint?.bind(driver);
    this.rollbackToSavepoint = driver.rollbackToSavepoint?.bind(driver);
    this.releaseSavepoint = driver.releaseSavepoint?.bind(driver);
  }

  init(): Promise<void> {
    return this.driver.init().catch(rethrow);
  }

  // Taken for every statement: one promise more, no async function around it.
  acquireConnection(): Promise<DatabaseConnection> {
    return this.driver.acquireConnection().then(this.#translated, rethrow);
  }

  readonly #translated = (connection: DatabaseConnection): DatabaseConnection => {
    if (!this.#translating.has(connection)) {
      translateStatements(connection);
      this.#translating.add(connection);
    }
    return connection;
  };

  // These run their statements through the connection's (translating) executeQuery.
  beginTransaction(...args: Parameters<Driver['beginTransaction']>): Promise<void> {
    return this.driver.beginTransaction(...args);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.rollbackTransaction(connection);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}

function translateStatements(connection: DatabaseConnection): void {
  const executeQuery = connection.executeQuery.bind(connection);
  const streamQuery = connection.streamQuery.bind(connection);
  connection.executeQuery = <R>(compiledQuery: CompiledQuery) => {
    // SQLite's driver throws where it runs the statement, before any promise; PostgreSQL's rejects.
    try {
      return executeQuery<R>(compiledQuery).catch(rethrow);
    } catch (err) {
      return Promise.reject(storageError(err));
    }
  };
  connection.streamQuery = async function* <R>(compiledQuery: CompiledQuery, chunkSize?: number) {
    try {
      yield* streamQuery<R>(compiledQuery, chunkSize);
    } catch (err) {
      throw storageError(err);
    }
  };
}
