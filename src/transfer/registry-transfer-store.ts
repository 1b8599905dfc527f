import type { AuditEvent } from '../audit/audit-store.js';
import type { Organisation } from '../organisations/model.js';
import type { RegistryTable, Row } from './registry-export.js';

/** The registry as rows, for moving it whole: read for an export, loaded in one transaction on import. */
export interface RegistryTransferStore {
  /** Every row of the table, as stored. */
  rows(table: RegistryTable): Promise<Row[]>;
  /** Runs `load` in one transaction: what it stored is committed when it settles, and nothing when it throws. */
  transaction<T>(load: (registry: RegistryLoad) => Promise<T>): Promise<T>;
}

/** What an import does inside its transaction. */
export interface RegistryLoad {
  rowCount(table: RegistryTable): Promise<number>;
  /** The column names each table has in this database. */
  columns(): Promise<ReadonlyMap<string, ReadonlySet<string>>>;
  /**
   * Stores the rows as they are, explicit ids included; ids the database generates afterwards
   * continue past them.
   */
  insert(table: RegistryTable, rows: readonly Row[]): Promise<void>;
  /**
   * Creates the organisation of every RSIN that clients use and that has none, named after its
   * RSIN and enabled, created at `at`. Returns the organisations it created.
   */
  addMissingOrganisations(at: number): Promise<Organisation[]>;
  /** Records that a once-per-registry step (registry_state `name`) is done, as the source registry had it. */
  markDone(name: string): Promise<void>;
  /** Appends audit events, numbered after every event already stored. */
  appendAudit(events: readonly Omit<AuditEvent, 'id'>[]): Promise<void>;
}
