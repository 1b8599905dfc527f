import { type CompiledQuery, type Kysely, sql } from '#kysely';
import { ACTIVITY_ACTIONS, activityWeight, HOUR_MS, hourOf } from '../audit/activity.js';
import { AUDIT_FIELDS, type AuditRows } from '../audit/audit-store.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';

/** The organisation column's value for events that name none (a NULL would never match in the key). */
export const NO_ORGANISATION = '';

/** What some events add to one row of audit_hourly_counts. */
export interface CountDelta {
  hour: number;
  organisation: string;
  clientId: string;
  action: string;
  count: number;
}

/** Adds one event to the deltas being gathered (nothing for an action that is not counted). */
export function addEvent(
  deltas: Map<string, CountDelta>,
  at: number,
  action: string,
  target: string,
  organisation: string | null,
  weight: number,
): void {
  if (weight === 0) return;
  const hour = hourOf(at);
  const org = organisation ?? NO_ORGANISATION;
  const key = `${hour}\u0000${org}\u0000${target}\u0000${action}`;
  const delta = deltas.get(key);
  if (delta) delta.count += weight;
  else deltas.set(key, { hour, organisation: org, clientId: target, action, count: weight });
}

/** What AuditRows (at, actor, action, target, address, reason, details, organisation) add to the counts. */
export function deltasOfRows(rows: AuditRows): Map<string, CountDelta> {
  const deltas = new Map<string, CountDelta>();
  for (let i = 0; i + AUDIT_FIELDS <= rows.length; i += AUDIT_FIELDS) {
    const action = rows[i + 2] as string;
    addEvent(
      deltas,
      rows[i] as number,
      action,
      rows[i + 3] as string,
      rows[i + 7] as string | null,
      activityWeight(action, rows[i + 6] as string),
    );
  }
  return deltas;
}

/** Upserts of a few fixed sizes, each compiled once per dialect: compiling costs more than running one. */
const UPSERT_SIZES = [100, 10, 1];
const upserts = new Map<string, CompiledQuery>();

function upsert(db: Kysely<Database>, dialect: Dialect, size: number): CompiledQuery {
  const name = `${dialect} ${size}`;
  let compiled = upserts.get(name);
  if (!compiled) {
    // Placeholder rows in the order hour, organisation, client_id, action, count.
    const row = { hour: 0, organisation: '', client_id: '', action: '', count: 0 };
    compiled = db
      .insertInto('audit_hourly_counts')
      .values(Array.from({ length: size }, () => row))
      .onConflict((oc) =>
        oc
          .columns(['hour', 'organisation', 'client_id', 'action'])
          .doUpdateSet((eb) => ({ count: eb('audit_hourly_counts.count', '+', eb.ref('excluded.count')) })),
      )
      .compile();
    upserts.set(name, compiled);
  }
  return compiled;
}

/**
 * Adds the deltas to audit_hourly_counts (a negative count subtracts), in the caller's transaction.
 * Rows go in key order, so that two PostgreSQL transactions adding to the same rows lock them in
 * the same order and never deadlock; one statement never names a row twice (the map's keys).
 */
export async function addCounts(
  db: Kysely<Database>,
  dialect: Dialect,
  deltas: Map<string, CountDelta>,
): Promise<void> {
  const rows = [...deltas.values()]
    .filter((d) => d.count !== 0)
    .sort(
      (a, b) =>
        a.hour - b.hour ||
        cmp(a.organisation, b.organisation) ||
        cmp(a.clientId, b.clientId) ||
        cmp(a.action, b.action),
    );
  let i = 0;
  for (const size of UPSERT_SIZES)
    for (; rows.length - i >= size; i += size)
      await db.executeQuery({
        ...upsert(db, dialect, size),
        parameters: rows.slice(i, i + size).flatMap((d) => [d.hour, d.organisation, d.clientId, d.action, d.count]),
      });
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The weight of a stored event in SQL: as activityWeight, for the counts a statement derives from audit_events. */
function weightSql(dialect: Dialect) {
  const count =
    dialect === 'postgres'
      ? sql<number>`(details::jsonb ->> 'count')::bigint`
      : sql<number>`json_extract(details, '$.count')`;
  return sql<number>`case when action = 'client_auth.failed' then coalesce(${count}, 1) else 1 end`;
}

/**
 * Adds the counts of the stored events with `at` in [from, until), grouped in the database: an
 * import's events (the migration's backfill is the same statement, frozen in the migration).
 */
export async function addCountsOfStoredEvents(
  db: Kysely<Database>,
  dialect: Dialect,
  range: { from?: number; until?: number },
): Promise<void> {
  const hour = sql<number>`(at / ${sql.lit(HOUR_MS)}) * ${sql.lit(HOUR_MS)}`;
  const org = sql<string>`coalesce(organisation, ${sql.lit(NO_ORGANISATION)})`;
  const sum = sql<number>`sum(${weightSql(dialect)})`;
  let q = db
    .selectFrom('audit_events')
    .select([hour.as('hour'), org.as('organisation'), 'target', 'action', sum.as('count')])
    .where('action', 'in', [...ACTIVITY_ACTIONS]);
  if (range.from !== undefined) q = q.where('at', '>=', range.from);
  if (range.until !== undefined) q = q.where('at', '<', range.until);
  const grouped = await q.groupBy([hour, org, 'target', 'action']).execute();
  const deltas = new Map<string, CountDelta>();
  for (const r of grouped) addEvent(deltas, Number(r.hour), r.action, r.target, r.organisation, Number(r.count));
  await addCounts(db, dialect, deltas);
}
