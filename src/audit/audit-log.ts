import type { Kysely } from 'kysely';
import { prepareQuery } from '../storage/prepared.js';
import type { Database } from '../storage/schema.js';

const INSERT_SIZES = [100, 10, 1];
/** at, actor, action, target, address, details */
const COLUMNS = 6;

export interface AuditEvent {
  id: number;
  at: number;
  /** Who did it: an admin client id, `cli`, `system`, or the client that asked for a token. */
  actor: string;
  /** e.g. client.created, secret.revoked, token.issued, client_auth.failed */
  action: string;
  target: string;
  address: string | null;
  /** Before/after and context, never secret material. */
  details: Record<string, unknown>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at' | 'address'> & { address?: string | null | undefined };

export interface AuditQuery {
  action?: string;
  target?: string;
  actor?: string;
  since?: number;
  /** Events with an id lower than this: paging backwards from the newest. */
  before?: number;
  limit?: number;
}

/**
 * The audit trail. Changes made by administrators are written before the change is acknowledged;
 * high-volume events (tokens issued, failed authentications) are buffered and written in batches
 * so that they stay off the /token hot path.
 */
export class AuditLog {
  /** Buffered events as insert parameters, COLUMNS values per event: nothing else to allocate or keep. */
  private buffer: unknown[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Multi-row inserts in a few fixed sizes, each compiled (and, on SQLite, prepared) once. */
  private readonly inserts = new Map<number, (parameters: readonly unknown[]) => Promise<unknown>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<void> {
    await this.db.insertInto('audit_events').values(this.toRow(event)).execute();
  }

  recordLater(event: NewAuditEvent): void {
    this.buffer.push(this.now(), event.actor, event.action, event.target, event.address ?? null, JSON.stringify(event.details));
    // Small batches, written soon: buffered events die young instead of aging into the old heap.
    if (this.buffer.length >= INSERT_SIZES[0]! * COLUMNS) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), 200);
      this.timer.unref();
    }
  }

  /** Writes buffered events; resolves when they (and any flush before) are stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      try {
        const rows = batch.length / COLUMNS;
        let i = 0;
        for (const size of INSERT_SIZES) {
          for (; rows - i >= size; i += size) await this.insertRows(size)(batch.slice(i * COLUMNS, (i + size) * COLUMNS));
        }
      } catch (err) {
        this.onError(err);
      }
    });
    return this.flushing;
  }

  private insertRows(size: number) {
    let insert = this.inserts.get(size);
    if (!insert) {
      // Placeholder rows in the column order of recordLater's parameters.
      const row = { at: 0, actor: '', action: '', target: '', address: '', details: '' };
      insert = prepareQuery(this.db, (db) => db.insertInto('audit_events').values(Array.from({ length: size }, () => row)));
      this.inserts.set(size, insert);
    }
    return insert;
  }

  async list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    await this.flush();
    let q = this.db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(Math.min(query.limit ?? 100, 1000));
    if (query.action) q = q.where('action', '=', query.action);
    if (query.target) q = q.where('target', '=', query.target);
    if (query.actor) q = q.where('actor', '=', query.actor);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    const rows = await q.execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  async prune(retentionDays: number): Promise<number> {
    const result = await this.db.deleteFrom('audit_events').where('at', '<', this.now() - retentionDays * 86_400_000).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private toRow(event: NewAuditEvent) {
    return { at: this.now(), actor: event.actor, action: event.action, target: event.target, address: event.address ?? null, details: JSON.stringify(event.details) };
  }
}
