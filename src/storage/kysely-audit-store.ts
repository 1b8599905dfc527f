import type { Kysely } from '#kysely';
import {
  AUDIT_FIELDS,
  type AuditEvent,
  type AuditQuery,
  type AuditRows,
  type AuditStore,
} from '../audit/audit-store.js';
import { prepareQuery } from './prepared.js';
import type { Database } from './schema.js';

const INSERT_SIZES = [100, 10, 1];

/** AuditStore on SQLite or PostgreSQL. */
export class KyselyAuditStore implements AuditStore {
  /** Multi-row inserts in a few fixed sizes (negative: returning ids), each compiled (and, on SQLite, prepared) once. */
  private readonly inserts = new Map<number, (parameters: readonly unknown[]) => Promise<{ rows: unknown[] }>>();

  constructor(private readonly db: Kysely<Database>) {}

  async append(rows: AuditRows): Promise<void> {
    await this.insert(rows, false);
  }

  appendReturningIds(rows: AuditRows): Promise<number[]> {
    return this.insert(rows, true);
  }

  async updateDetails(updates: readonly (readonly [id: number, details: string])[]): Promise<void> {
    if (!updates.length) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [id, details] of updates)
        await trx.updateTable('audit_events').set({ details }).where('id', '=', id).execute();
    });
  }

  private async insert(rows: AuditRows, returning: boolean): Promise<number[]> {
    const events = rows.length / AUDIT_FIELDS;
    const ids: number[] = [];
    let i = 0;
    for (const size of INSERT_SIZES) {
      for (; events - i >= size; i += size) {
        const result = await this.insertRows(size, returning)(rows.slice(i * AUDIT_FIELDS, (i + size) * AUDIT_FIELDS));
        // One statement numbers its rows upwards in their order; RETURNING may list them in any order.
        if (returning)
          ids.push(...(result.rows as { id: number | string }[]).map((r) => Number(r.id)).sort((a, b) => a - b));
      }
    }
    return ids;
  }

  private insertRows(size: number, returning: boolean) {
    const name = returning ? -size : size;
    let insert = this.inserts.get(name);
    if (!insert) {
      // Placeholder rows in the column order of AuditRows.
      const row = { at: 0, actor: '', action: '', target: '', address: '', reason: '', details: '', organisation: '' };
      const values = (db: Kysely<Database>) =>
        db.insertInto('audit_events').values(Array.from({ length: size }, () => row));
      insert = returning ? prepareQuery(this.db, (db) => values(db).returning('id')) : prepareQuery(this.db, values);
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

  async deleteBefore(before: number): Promise<number> {
    const result = await this.db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
