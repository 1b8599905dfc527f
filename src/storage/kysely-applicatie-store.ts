import { type Kysely, type Selectable, sql } from '#kysely';
import {
  type ApplicatieFilter,
  type ApplicatieStore,
  ClientIdsTaken,
  ClientIdsUnknown,
  type OnceEvent,
} from '../autorisaties/applicatie-store.js';
import type { Applicatie, Autorisatie } from '../autorisaties/model.js';
import type { PendingNotification } from '../autorisaties/notifications.js';
import { insertUncountedEvent } from './kysely-audit-store.js';
import { writeNotification } from './kysely-notification-outbox.js';
import type { ApplicatieTable, Database } from './schema.js';

type ApplicatieRow = Omit<Selectable<ApplicatieTable>, 'seq'>;

type RegistryState = { registry_state: { name: string; value: string } };
type Db = Kysely<Database>;

/** A foreign key refused the row: a client id that is not (any more) in the registry. */
function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: unknown } | null;
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** ApplicatieStore on SQLite or PostgreSQL. */
export class KyselyApplicatieStore implements ApplicatieStore {
  constructor(private readonly db: Db) {}

  async list(filter: ApplicatieFilter): Promise<{ items: Applicatie[]; total: number }> {
    let q = this.db.selectFrom('applicaties');
    for (const id of filter.clientIds ?? [])
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('applicatie_clients')
            .select('client_id')
            .where('client_id', '=', id)
            .whereRef('applicatie_clients.applicatie_uuid', '=', 'applicaties.uuid'),
        ),
      );
    const [rows, count] = await Promise.all([
      q.selectAll('applicaties').orderBy('seq', 'desc').limit(filter.limit).offset(filter.offset).execute(),
      q.select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: await this.withClients(this.db, rows), total: Number(count.n) };
  }

  async get(uuid: string): Promise<Applicatie | undefined> {
    const row = await this.db.selectFrom('applicaties').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return row && (await this.withClients(this.db, [row]))[0];
  }

  async byClientId(clientId: string): Promise<Applicatie | undefined> {
    return byClientId(this.db, clientId);
  }

  async insert(applicatie: Applicatie, notification?: PendingNotification): Promise<void> {
    await this.db.transaction().execute((trx) => insert(trx, applicatie, notification));
  }

  async replace(applicatie: Applicatie, notification?: PendingNotification): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const { uuid, ...rest } = toRow(applicatie);
      const r = await trx.updateTable('applicaties').set(rest).where('uuid', '=', uuid).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await trx.deleteFrom('applicatie_clients').where('applicatie_uuid', '=', uuid).execute();
      await insertClients(trx, applicatie);
      // notification-in-transaction: written with the change, committed or rolled back with it.
      if (notification) await writeNotification(trx, notification);
      return true;
    });
  }

  async delete(uuid: string, notification?: PendingNotification): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('applicatie_clients').where('applicatie_uuid', '=', uuid).execute();
      const r = await trx.deleteFrom('applicaties').where('uuid', '=', uuid).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      if (notification) await writeNotification(trx, notification);
      return true;
    });
  }

  async clientOrganisations(clientIds: readonly string[]): Promise<Map<string, string>> {
    return clientOrganisations(this.db, clientIds);
  }

  async once(name: string, grant: (store: ApplicatieStore) => Promise<OnceEvent | undefined>): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const state = trx.withTables<RegistryState>();
      // Taken first: of processes starting together, one grants, the others find the mark.
      const taken = await state
        .insertInto('registry_state')
        .values({ name, value: 'done' })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(taken.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
      const event = await grant(new TransactionStore(trx));
      if (event) await insertUncountedEvent(trx, event);
      return true;
    });
  }

  private withClients(db: Db, rows: ApplicatieRow[]): Promise<Applicatie[]> {
    return withClients(db, rows);
  }
}

/** The same store inside a transaction (for `once`). */
class TransactionStore extends KyselyApplicatieStore {
  constructor(private readonly trx: Db) {
    super(trx);
  }

  override async insert(applicatie: Applicatie, notification?: PendingNotification): Promise<void> {
    await insert(this.trx, applicatie, notification);
  }

  override once(): Promise<boolean> {
    throw new Error('not inside a transaction');
  }
}

async function insert(trx: Db, applicatie: Applicatie, notification?: PendingNotification): Promise<void> {
  await trx.insertInto('applicaties').values(toRow(applicatie)).execute();
  await insertClients(trx, applicatie);
  if (notification) await writeNotification(trx, notification);
}

/**
 * The client ids of an applicatie, each taken only when no other applicatie holds it (ac-001):
 * of two writers racing for one id, the primary key lets one have it; the other gets ClientIdsTaken.
 */
async function insertClients(trx: Db, applicatie: Applicatie): Promise<void> {
  if (applicatie.clientIds.length === 0) return;
  let inserted: number;
  try {
    const r = await trx
      .insertInto('applicatie_clients')
      .values(
        applicatie.clientIds.map((client_id, position) => ({ client_id, applicatie_uuid: applicatie.uuid, position })),
      )
      .onConflict((oc) => oc.column('client_id').doNothing())
      .executeTakeFirst();
    inserted = Number(r.numInsertedOrUpdatedRows ?? 0n);
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new ClientIdsUnknown();
    throw err;
  }
  if (inserted === applicatie.clientIds.length) return;
  const taken = await trx
    .selectFrom('applicatie_clients')
    .select(['client_id', 'applicatie_uuid'])
    .where('client_id', 'in', applicatie.clientIds)
    .where('applicatie_uuid', '!=', applicatie.uuid)
    .execute();
  throw new ClientIdsTaken(taken.map((t) => ({ clientId: t.client_id, applicatie: t.applicatie_uuid })));
}

async function byClientId(db: Db, clientId: string): Promise<Applicatie | undefined> {
  const row = await db
    .selectFrom('applicatie_clients')
    .innerJoin('applicaties', 'applicaties.uuid', 'applicatie_clients.applicatie_uuid')
    .selectAll('applicaties')
    .where('applicatie_clients.client_id', '=', clientId)
    .executeTakeFirst();
  return row && (await withClients(db, [row]))[0];
}

async function clientOrganisations(db: Db, clientIds: readonly string[]): Promise<Map<string, string>> {
  if (clientIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('clients')
    .select(['client_id', 'rsin'])
    .where('client_id', 'in', [...clientIds])
    .execute();
  return new Map(rows.map((r) => [r.client_id, r.rsin]));
}

async function withClients(db: Db, rows: ApplicatieRow[]): Promise<Applicatie[]> {
  if (rows.length === 0) return [];
  const clients = await db
    .selectFrom('applicatie_clients')
    .select(['client_id', 'applicatie_uuid'])
    .where(
      'applicatie_uuid',
      'in',
      rows.map((r) => r.uuid),
    )
    .orderBy('position')
    .execute();
  const byApplicatie = new Map<string, string[]>();
  for (const c of clients) {
    const list = byApplicatie.get(c.applicatie_uuid) ?? [];
    list.push(c.client_id);
    byApplicatie.set(c.applicatie_uuid, list);
  }
  return rows.map((row) => toApplicatie(row, byApplicatie.get(row.uuid) ?? []));
}

function toRow(a: Applicatie): ApplicatieRow {
  return {
    uuid: a.uuid,
    label: a.label,
    heeft_alle_autorisaties: a.heeftAlleAutorisaties ? 1 : 0,
    alleen_is_gereed_voor_publicatie: a.alleenIsGereedVoorPublicatie ? 1 : 0,
    autorisaties: JSON.stringify(a.autorisaties),
    organisation: a.organisation,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
  };
}

function toApplicatie(row: ApplicatieRow, clientIds: string[]): Applicatie {
  return {
    uuid: row.uuid,
    clientIds,
    label: row.label,
    heeftAlleAutorisaties: row.heeft_alle_autorisaties === 1,
    alleenIsGereedVoorPublicatie: row.alleen_is_gereed_voor_publicatie === 1,
    autorisaties: JSON.parse(row.autorisaties) as Autorisatie[],
    organisation: row.organisation,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
