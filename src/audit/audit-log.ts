import type { Kysely } from 'kysely';
import { prepareQuery } from '../storage/prepared.js';
import type { Database } from '../storage/schema.js';

const INSERT_SIZES = [100, 10, 1];
/** at, actor, action, target, address, reason, details */
const COLUMNS = 7;
/** Repeats of one event (same key) within this time are written as one event with a count. */
export const REPEAT_WINDOW_MS = 60_000;
const REPEAT_KEYS_MAX = 10_000;
const REPEAT_TARGETS_MAX = 10;

export interface AuditEvent {
  id: number;
  at: number;
  /** Who did it: an admin client id, `cli`, `system`, or the client that asked for a token. */
  actor: string;
  /** e.g. client.created, secret.revoked, token.issued, client_auth.failed */
  action: string;
  target: string;
  address: string | null;
  /** Why, for refusals such as client_auth.failed (e.g. wrong_secret, revoked_secret). */
  reason: string | null;
  /** Before/after and context, never secret material. */
  details: Record<string, unknown>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at' | 'address' | 'reason'> & { address?: string | null | undefined; reason?: string | undefined };

interface Repeated {
  event: NewAuditEvent;
  at: number;
  count: number;
  targets: Set<string>;
}

export interface AuditQuery {
  action?: string;
  target?: string;
  actor?: string;
  reason?: string;
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
  /** Events being counted (recordRepeated), by key. */
  private repeated = new Map<string, Repeated>();
  private repeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<void> {
    await this.db.insertInto('audit_events').values(this.toRow(event)).execute();
  }

  recordLater(event: NewAuditEvent, at = this.now()): void {
    this.buffer.push(at, event.actor, event.action, event.target, event.address ?? null, event.reason ?? null, JSON.stringify(event.details));
    // Small batches, written soon: buffered events die young instead of aging into the old heap.
    if (this.buffer.length >= INSERT_SIZES[0]! * COLUMNS) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), 200);
      this.timer.unref();
    }
  }

  /**
   * For events that come in floods (failed authentications): the first with a given key starts a
   * window of REPEAT_WINDOW_MS; it and its repeats are written as one event when the window ends,
   * at the time of the first, with `count`, `lastAt` and the distinct targets seen (up to 10).
   */
  recordRepeated(key: string, event: NewAuditEvent): void {
    const t = this.now();
    const entry = this.repeated.get(key);
    if (entry && t - entry.at < REPEAT_WINDOW_MS) {
      entry.count++;
      entry.event.details.lastAt = t;
      if (entry.targets.size < REPEAT_TARGETS_MAX) entry.targets.add(event.target);
      return;
    }
    if (entry) this.writeRepeated(entry);
    // A flood of distinct keys is written early rather than held without bound.
    else if (this.repeated.size >= REPEAT_KEYS_MAX) this.flushRepeated(true);
    this.repeated.set(key, { event: { ...event, details: { ...event.details, lastAt: t } }, at: t, count: 1, targets: new Set([event.target]) });
    this.scheduleRepeatFlush();
  }

  private scheduleRepeatFlush(): void {
    if (this.repeatTimer || !this.repeated.size) return;
    this.repeatTimer = setTimeout(() => {
      this.repeatTimer = undefined;
      void this.flush();
    }, REPEAT_WINDOW_MS);
    this.repeatTimer.unref();
  }

  private writeRepeated(entry: Repeated): void {
    const details = { ...entry.event.details, count: entry.count, ...(entry.targets.size > 1 ? { targets: [...entry.targets] } : {}) };
    this.recordLater({ ...entry.event, details }, entry.at);
  }

  /** Moves counted events whose window has ended (`all`: every one) to the write buffer. */
  private flushRepeated(all: boolean): void {
    const t = this.now();
    for (const [key, entry] of this.repeated) {
      if (!all && t - entry.at < REPEAT_WINDOW_MS) continue;
      this.repeated.delete(key);
      this.writeRepeated(entry);
    }
    this.scheduleRepeatFlush();
  }

  /**
   * Writes buffered events, and counted ones whose window ended (`all`: every counted one too);
   * resolves when they (and any flush before) are stored.
   */
  flush(all = false): Promise<void> {
    this.flushRepeated(all);
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
      const row = { at: 0, actor: '', action: '', target: '', address: '', reason: '', details: '' };
      insert = prepareQuery(this.db, (db) => db.insertInto('audit_events').values(Array.from({ length: size }, () => row)));
      this.inserts.set(size, insert);
    }
    return insert;
  }

  async list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    await this.flush(true);
    let q = this.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(Math.min(query.limit ?? 100, 1000));
    if (query.action) q = q.where('action', '=', query.action);
    if (query.target) q = q.where('target', '=', query.target);
    if (query.actor) q = q.where('actor', '=', query.actor);
    if (query.reason) q = q.where('reason', '=', query.reason);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    const rows = await q.execute();
    return rows.map((r) => ({ ...r, id: Number(r.id), details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  async prune(retentionDays: number): Promise<number> {
    const result = await this.db
      .deleteFrom('audit_events')
      .where('at', '<', this.now() - retentionDays * 86_400_000)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private toRow(event: NewAuditEvent) {
    return { at: this.now(), actor: event.actor, action: event.action, target: event.target, address: event.address ?? null, reason: event.reason ?? null, details: JSON.stringify(event.details) };
  }
}
