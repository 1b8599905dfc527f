import { type CompiledQuery, type Kysely, sql } from '#kysely';
import {
  AUDIT_FIELDS,
  type AuditEvent,
  type AuditQuery,
  type AuditRows,
  type AuditStore,
  type UncountedEvent,
} from '../audit/audit-store.js';
import { activityWeight, hourOf } from '../audit/activity.js';
import { addCounts, addEvent, type CountDelta, deltasOfRows } from './activity-counts.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';

const INSERT_SIZES = [100, 10, 1];

/**
 * Writes an uncounted event in the caller's transaction, as the audit store would: for once-only marks
 * that must commit together with their event. Counted actions go through the store (they add to
 * audit_hourly_counts).
 */
export async function insertUncountedEvent(db: Kysely<Database>, event: UncountedEvent): Promise<void> {
  const { at, actor, action, target, organisation } = event;
  await db
    .insertInto('audit_events')
    .values({
      at,
      actor,
      action,
      target,
      organisation,
      address: null,
      reason: null,
      details: JSON.stringify(event.details),
    })
    .execute();
}

/**
 * AuditStore on SQLite or PostgreSQL. Every write keeps audit_hourly_counts (activity-counts.ts)
 * in step with the events, in the transaction that writes them: a batch is stored with its counts
 * or not at all, so a batch written again after a failure is never counted twice.
 */
export class KyselyAuditStore implements AuditStore {
  /** Multi-row inserts in a few fixed sizes (negative: returning ids), each compiled once. */
  private readonly inserts = new Map<number, CompiledQuery<{ id: number | string }>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async append(rows: AuditRows): Promise<void> {
    await this.insert(rows, false);
  }

  appendReturningIds(rows: AuditRows): Promise<number[]> {
    return this.insert(rows, true);
  }

  /** A folded event's count grew: its hour's count grows by the difference, in the same transaction. */
  async updateDetails(updates: readonly (readonly [id: number, details: string])[]): Promise<void> {
    if (!updates.length) return;
    await this.db.transaction().execute(async (trx) => {
      const deltas = new Map<string, CountDelta>();
      for (const [id, details] of updates) {
        const before = await trx
          .selectFrom('audit_events')
          .select(['at', 'action', 'target', 'organisation', 'details'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (!before) continue;
        // A new place in the shipping order, so that sinks get the event again with its new count.
        const updated = await trx
          .updateTable('audit_events')
          .set({ details, tx: await this.nextPlace(trx) })
          .where('id', '=', id)
          .executeTakeFirst();
        // Deleted meanwhile by a prune, which took its count away with it.
        if (Number(updated.numUpdatedRows) !== 1) continue;
        const grown = activityWeight(before.action, details) - activityWeight(before.action, before.details);
        addEvent(deltas, Number(before.at), before.action, before.target, before.organisation, grown);
      }
      await addCounts(trx, this.dialect, deltas);
    });
  }

  /**
   * A changed event's new place in the shipping order (src/audit/audit-feed.ts): PostgreSQL the
   * changing transaction's id; SQLite the next number of the table's AUTOINCREMENT sequence, which
   * no event will take as its id.
   */
  private async nextPlace(trx: Kysely<Database>) {
    if (this.dialect === 'postgres') return sql<string>`pg_current_xact_id()`;
    const taken = await sql<{
      seq: number;
    }>`UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'audit_events' RETURNING seq`.execute(trx);
    const seq = taken.rows[0]?.seq;
    if (seq !== undefined) return Number(seq);
    // No sequence row yet (only explicit ids were ever inserted): start it above them.
    const made = await sql<{
      seq: number;
    }>`INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_events', coalesce(max(id), 0) + 1 FROM audit_events RETURNING seq`.execute(
      trx,
    );
    return Number(made.rows[0]!.seq);
  }

  private async insert(rows: AuditRows, returning: boolean): Promise<number[]> {
    const deltas = deltasOfRows(rows);
    // Nothing counted (administrators' changes): the insert alone, as before there were counts.
    if (!deltas.size) return this.insertEvents(this.db, rows, returning);
    return this.db.transaction().execute(async (trx) => {
      const ids = await this.insertEvents(trx, rows, returning);
      await addCounts(trx, this.dialect, deltas);
      return ids;
    });
  }

  private async insertEvents(db: Kysely<Database>, rows: AuditRows, returning: boolean): Promise<number[]> {
    const events = rows.length / AUDIT_FIELDS;
    const ids: number[] = [];
    let i = 0;
    for (const size of INSERT_SIZES) {
      for (; events - i >= size; i += size) {
        const result = await db.executeQuery<{ id: number | string }>({
          ...this.insertRows(size, returning),
          parameters: rows.slice(i * AUDIT_FIELDS, (i + size) * AUDIT_FIELDS),
        });
        // One statement numbers its rows upwards in their order; RETURNING may list them in any order.
        if (returning) ids.push(...result.rows.map((r) => Number(r.id)).sort((a, b) => a - b));
      }
    }
    return ids;
  }

  /** The insert of `size` rows, compiled once; run on the store's connection or in a transaction. */
  private insertRows(size: number, returning: boolean): CompiledQuery<{ id: number | string }> {
    const name = returning ? -size : size;
    let insert = this.inserts.get(name);
    if (!insert) {
      // Placeholder rows in the column order of AuditRows.
      const row = { at: 0, actor: '', action: '', target: '', address: '', reason: '', details: '', organisation: '' };
      const values = this.db.insertInto('audit_events').values(Array.from({ length: size }, () => row));
      insert = (returning ? values.returning('id') : values).compile() as CompiledQuery<{ id: number | string }>;
      this.inserts.set(name, insert);
    }
    return insert;
  }

  async list(query: AuditQuery & { limit: number }): Promise<AuditEvent[]> {
    let q = this.db
      .selectFrom('audit_events')
      .select(['id', 'at', 'actor', 'action', 'target', 'address', 'reason', 'details', 'organisation'])
      .orderBy('id', 'desc')
      .limit(query.limit);
    if (query.action) q = q.where('action', '=', query.action);
    if (query.target) q = q.where('target', '=', query.target);
    if (query.actor) q = q.where('actor', '=', query.actor);
    if (query.reason) q = q.where('reason', '=', query.reason);
    if (query.organisation !== undefined) q = q.where('organisation', '=', query.organisation);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    const rows = await q.execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  /**
   * Deletes the events before `before` with their counts: the hours wholly before it go, and the
   * hour it falls in loses what the events deleted from it had added. Those are deleted first and
   * counted from what the deletion returns, so that processes pruning at once never subtract an
   * event twice: on PostgreSQL the second waits for the first's rows and then finds them gone.
   */
  async deleteBefore(before: number): Promise<number> {
    const partial = hourOf(before);
    return this.db.transaction().execute(async (trx) => {
      let deleted = 0;
      if (partial < before) {
        const gone = await trx
          .deleteFrom('audit_events')
          .where('at', '>=', partial)
          .where('at', '<', before)
          .returning(['at', 'action', 'target', 'organisation', 'details'])
          .execute();
        const deltas = new Map<string, CountDelta>();
        for (const e of gone)
          addEvent(deltas, Number(e.at), e.action, e.target, e.organisation, -activityWeight(e.action, e.details));
        await addCounts(trx, this.dialect, deltas);
        deleted = gone.length;
      }
      // Rows of that hour whose every event went are gone too: no client listed with nothing.
      await trx
        .deleteFrom('audit_hourly_counts')
        .where((eb) => eb.or([eb('hour', '<', partial), eb.and([eb('hour', '=', partial), eb('count', '<=', 0)])]))
        .execute();
      const result = await trx.deleteFrom('audit_events').where('at', '<', partial).executeTakeFirst();
      return deleted + Number(result.numDeletedRows);
    });
  }
}
