import type { Kysely } from 'kysely';
import { AUDIT_FIELDS, type AuditEvent, type AuditQuery, type AuditRows, type AuditStore } from '../audit/audit-store.js';
import { classifyStorageError } from './classify-storage-error.js';
import { prepareQuery } from './prepared.js';
import type { Database } from './schema.js';

const INSERT_SIZES = [100, 10, 1];

/** AuditStore on SQLite or PostgreSQL. */
export class KyselyAuditStore implements AuditStore {
  /** Multi-row inserts in a few fixed sizes, each compiled (and, on SQLite, prepared) once. */
  private readonly inserts = new Map<number, (parameters: readonly unknown[]) => Promise<unknown>>();

  constructor(private readonly db: Kysely<Database>) {}

  async append(rows: AuditRows): Promise<void> {
    const events = rows.length / AUDIT_FIELDS;
    let i = 0;
    try {
      for (const size of INSERT_SIZES) {
        for (; events - i >= size; i += size) await this.insertRows(size)(rows.slice(i * AUDIT_FIELDS, (i + size) * AUDIT_FIELDS));
      }
    } catch (err) {
      // As the audit log's retry rule needs it: the database away (storage_unavailable) or not.
      const classified = classifyStorageError(err);
      if (!classified) throw err;
      classified.cause = err;
      throw classified;
    }
  }

  private insertRows(size: number) {
    let insert = this.inserts.get(size);
    if (!insert) {
      // Placeholder rows in the column order of AuditRows.
      const row = { at: 0, actor: '', action: '', target: '', address: '', reason: '', details: '', organisation: '' };
      insert = prepareQuery(this.db, (db) => db.insertInto('audit_events').values(Array.from({ length: size }, () => row)));
      this.inserts.set(size, insert);
    }
    return insert;
  }

  async list(query: AuditQuery & { limit: number }): Promise<AuditEvent[]> {
    let q = this.db.selectFrom('audit_events').select(['id', 'at', 'actor', 'action', 'target', 'address', 'reason', 'details', 'organisation']).orderBy('id', 'desc').limit(query.limit);
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
