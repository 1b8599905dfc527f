import { type ExpressionBuilder, type Kysely, sql } from '#kysely';
import type { ClientCounts, Organisation, OrganisationFilter, OrganisationWithCounts } from '../organisations/model.js';
import type { OrganisationChanges, OrganisationStore } from '../organisations/organisation-store.js';
import type { Database, OrganisationRow } from './schema.js';

/** OrganisationStore on SQLite or PostgreSQL; client counts come from the clients table's (rsin, enabled) index. */
export class KyselyOrganisationStore implements OrganisationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(organisation: Organisation): Promise<boolean> {
    const result = await this.db
      .insertInto('organisations')
      .values(toRow(organisation))
      .onConflict((oc) => oc.column('rsin').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(rsin: string): Promise<Organisation | undefined> {
    const row = await this.db.selectFrom('organisations').selectAll().where('rsin', '=', rsin).executeTakeFirst();
    return row && toOrganisation(row);
  }

  async clientCounts(rsin: string): Promise<ClientCounts> {
    const row = await this.db
      .selectFrom('clients')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('total'),
        eb.fn.sum<number | string | null>('enabled').as('enabled'),
      ])
      .where('rsin', '=', rsin)
      .executeTakeFirstOrThrow();
    return { clientCount: Number(row.total), enabledClientCount: Number(row.enabled ?? 0) };
  }

  async list(filter: OrganisationFilter): Promise<{ items: OrganisationWithCounts[]; total: number }> {
    let q = this.db.selectFrom('organisations as o');
    if (filter.enabled !== undefined) q = q.where('o.enabled', '=', filter.enabled ? 1 : 0);
    if (filter.q) {
      // Both sides folded by the database: the same letters on both, whatever its lower() folds.
      const pattern = '%' + filter.q.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`lower(o.rsin) like lower(${pattern}) escape '\\'`,
          sql<boolean>`lower(o.name) like lower(${pattern}) escape '\\'`,
        ]),
      );
    }
    const [rows, count] = await Promise.all([
      q
        .selectAll('o')
        .select((eb) => [clientCount(eb, false).as('client_count'), clientCount(eb, true).as('enabled_client_count')])
        .orderBy('o.rsin')
        .limit(filter.limit)
        .offset(filter.offset)
        .execute(),
      q.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return {
      items: rows.map((r) => ({
        ...toOrganisation(r),
        clientCount: Number(r.client_count),
        enabledClientCount: Number(r.enabled_client_count),
      })),
      total: Number(count.n),
    };
  }

  async update(rsin: string, changes: OrganisationChanges): Promise<Organisation | undefined> {
    const row = await this.db
      .updateTable('organisations')
      .set({
        updated_at: changes.updatedAt,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
      })
      .where('rsin', '=', rsin)
      .returningAll()
      .executeTakeFirst();
    return row && toOrganisation(row);
  }
}

/** The organisation's clients (only the enabled ones: `enabled`), counted per row of a page. */
function clientCount(eb: ExpressionBuilder<Database & { o: Database['organisations'] }, 'o'>, enabled: boolean) {
  let q = eb
    .selectFrom('clients as c')
    .select((c) => c.fn.countAll<number | string>().as('n'))
    .whereRef('c.rsin', '=', 'o.rsin');
  if (enabled) q = q.where('c.enabled', '=', 1);
  return q;
}

/**
 * Creates the organisation of every RSIN that clients use and that has none, named after its RSIN
 * and enabled: after loading clients from elsewhere (an export of an earlier version). Returns
 * the organisations it created.
 */
export async function addMissingOrganisations(db: Kysely<Database>, at: number): Promise<Organisation[]> {
  const t = sql.lit(at);
  const rows = await db
    .insertInto('organisations')
    .columns(['rsin', 'name', 'enabled', 'created_at', 'updated_at'])
    .expression((eb) =>
      eb
        .selectFrom('clients as c')
        .select(['c.rsin', 'c.rsin as name', sql.lit(1).as('enabled'), t.as('created_at'), t.as('updated_at')])
        .where((w) =>
          w.not(w.exists(w.selectFrom('organisations as o').select('o.rsin').whereRef('o.rsin', '=', 'c.rsin'))),
        )
        .distinct(),
    )
    .returningAll()
    .execute();
  return rows.map(toOrganisation);
}

function toRow(o: Organisation): OrganisationRow {
  return { rsin: o.rsin, name: o.name, enabled: o.enabled ? 1 : 0, created_at: o.createdAt, updated_at: o.updatedAt };
}

function toOrganisation(r: OrganisationRow): Organisation {
  return {
    rsin: r.rsin,
    name: r.name,
    enabled: r.enabled === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
