import { type Kysely, sql } from '#kysely';
import type { RegistryTable, Row } from '../transfer/registry-export.js';
import type { RegistryLoad, RegistryTransferStore } from '../transfer/registry-transfer-store.js';
import { addCounts, addCountsOfStoredEvents, deltasOfRows } from './activity-counts.js';
import type { Dialect } from './dialect.js';
import { addMissingOrganisations } from './kysely-organisation-store.js';
import type { Database } from './schema.js';

// The export names exactly the tables of the registry (not the bookkeeping ones): a table added to
// the schema and not to the export fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
/**
 * The notification outbox and the audit sinks' positions are this registry's delivery state, the
 * console sessions its visitors': not registry data, not exported. The hourly counts are derived
 * from the audit events: counted again from them on import.
 */
type NotExported = 'notification_outbox' | 'console_sessions' | 'audit_hourly_counts' | 'audit_sinks';
/** Columns of delivery state in exported tables: an audit event's place in the shipping order is this database's. */
const NOT_EXPORTED_COLUMNS: Partial<Record<RegistryTable, readonly string[]>> = { audit_events: ['tx'] };
const sameTables: Same<RegistryTable | NotExported, keyof Database> = true;
void sameTables;

/** Rows per INSERT: well below the bound parameters either database allows in one statement. */
const BATCH = 500;

/** RegistryTransferStore on SQLite or PostgreSQL. */
export class KyselyRegistryTransferStore implements RegistryTransferStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async rows(table: RegistryTable): Promise<Row[]> {
    const rows = (await this.db.selectFrom(table).selectAll().execute()) as Row[];
    const left = NOT_EXPORTED_COLUMNS[table];
    if (left) for (const row of rows) for (const column of left) delete row[column];
    return rows;
  }

  transaction<T>(load: (registry: RegistryLoad) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => load(new KyselyRegistryLoad(trx, this.dialect)));
  }
}

class KyselyRegistryLoad implements RegistryLoad {
  constructor(
    private readonly trx: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async rowCount(table: RegistryTable): Promise<number> {
    const { n } = await this.trx
      .selectFrom(table)
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  async columns(): Promise<ReadonlyMap<string, ReadonlySet<string>>> {
    const tables = await this.trx.introspection.getTables();
    return new Map(tables.map((t) => [t.name, new Set(t.columns.map((c) => c.name))]));
  }

  async insert(table: RegistryTable, rows: readonly Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += BATCH)
      await this.trx
        .insertInto(table)
        .values(rows.slice(i, i + BATCH) as never)
        .execute();
    // The imported events' hourly counts (an import goes into an empty registry: none are there yet).
    if (table === 'audit_events' && rows.length) await addCountsOfStoredEvents(this.trx, this.dialect, {});
    // Explicit ids bypassed PostgreSQL's sequence; move it past them before any event is added.
    if (table === 'audit_events' && this.dialect === 'postgres')
      await sql`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), GREATEST((SELECT max(id) FROM audit_events), 1))`.execute(
        this.trx,
      );
    if (table === 'applicaties' && this.dialect === 'postgres')
      await sql`SELECT setval(pg_get_serial_sequence('applicaties', 'seq'), GREATEST((SELECT max(seq) FROM applicaties), 1))`.execute(
        this.trx,
      );
  }

  async markDone(name: string): Promise<void> {
    await this.trx
      .withTables<{ registry_state: { name: string; value: string } }>()
      .insertInto('registry_state')
      .values({ name, value: 'done' })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  addMissingOrganisations(at: number) {
    return addMissingOrganisations(this.trx, at);
  }

  async appendAudit(events: Parameters<RegistryLoad['appendAudit']>[0]): Promise<void> {
    if (!events.length) return;
    const rows = events.map((e) => ({ ...e, details: JSON.stringify(e.details) }));
    await this.trx.insertInto('audit_events').values(rows).execute();
    await addCounts(
      this.trx,
      this.dialect,
      deltasOfRows(
        rows.flatMap((e) => [e.at, e.actor, e.action, e.target, e.address, e.reason, e.details, e.organisation]),
      ),
    );
  }
}
