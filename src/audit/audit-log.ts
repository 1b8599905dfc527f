import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

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
  private buffer: Array<Omit<AuditEvent, 'id'>> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<void> {
    await this.db.insertInto('audit_events').values(this.toRow(event)).execute();
  }

  recordLater(event: NewAuditEvent): void {
    this.buffer.push({ ...event, at: this.now(), address: event.address ?? null });
    if (this.buffer.length >= 500) void this.flush();
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
      if (!batch.length) return;
      try {
        await this.db
          .insertInto('audit_events')
          .values(batch.map((e) => ({ at: e.at, actor: e.actor, action: e.action, target: e.target, address: e.address, details: JSON.stringify(e.details) })))
          .execute();
      } catch (err) {
        this.onError(err);
      }
    });
    return this.flushing;
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
