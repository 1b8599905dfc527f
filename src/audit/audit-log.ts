import { ZgwAuthError } from '../errors.js';
import { AUDIT_FIELDS, type AuditEvent, type AuditQuery, type AuditRows, type AuditStore } from './audit-store.js';

export type { AuditEvent, AuditQuery };

/** Buffered events are written in batches of this many (or sooner, see recordLater). */
const BATCH_EVENTS = 100;
/** Repeats of one event (same key) within this time are written as one event with a count. */
export const REPEAT_WINDOW_MS = 60_000;
const REPEAT_KEYS_MAX = 10_000;
/** Buffered events kept while the database is away, written when it is back; older ones beyond are dropped (logged). */
export const PENDING_EVENTS_MAX = 100_000;
const RETRY_MS = 1000;
const REPEAT_TARGETS_MAX = 10;

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at' | 'address' | 'reason' | 'organisation'> & {
  address?: string | null | undefined;
  reason?: string | undefined;
  organisation?: string | null | undefined;
};

interface Repeated {
  event: NewAuditEvent;
  at: number;
  count: number;
  targets: Set<string>;
}

/**
 * The audit trail. Changes made by administrators are written before the change is acknowledged;
 * high-volume events (tokens issued, failed authentications) are buffered and written in batches
 * so that they stay off the /token hot path.
 */
export class AuditLog {
  /** Buffered events as AuditRows: nothing else to allocate or keep. */
  private buffer: AuditRows = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** A write failed because the database is away: the retry timer writes next. */
  private waitingForStore = false;
  /** Events being counted (recordRepeated), by key. */
  private repeated = new Map<string, Repeated>();
  private repeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<void> {
    await this.store.append([this.now(), event.actor, event.action, event.target, event.address ?? null, event.reason ?? null, JSON.stringify(event.details), event.organisation ?? null]);
  }

  recordLater(event: NewAuditEvent, at = this.now()): void {
    this.buffer.push(at, event.actor, event.action, event.target, event.address ?? null, event.reason ?? null, JSON.stringify(event.details), event.organisation ?? null);
    // Small batches, written soon: buffered events die young instead of aging into the old heap.
    if (this.buffer.length >= BATCH_EVENTS * AUDIT_FIELDS) {
      if (!this.waitingForStore) void this.flush();
    } else if (!this.timer) {
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
    // The database is away: events wait for the retry (or a final flush), not one attempt per batch.
    if (this.waitingForStore && !all) return this.flushing;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      // An attempt asked for before an earlier one found the database away waits for the retry too.
      if (this.waitingForStore && !all) return;
      // Taken when its turn comes, not when asked: a batch put back for retry stays ahead of later events.
      const batch = this.buffer;
      this.buffer = [];
      try {
        if (batch.length) await this.store.append(batch);
        this.waitingForStore = false;
      } catch (err) {
        if (err instanceof ZgwAuthError && err.code === 'storage_unavailable') this.keepForRetry(batch, err);
        else this.onError(err);
      }
    });
    return this.flushing;
  }

  /**
   * A batch the store could not write because the database is away goes back in front of the
   * buffer, in order, and is tried again: tokens issued from cache during an outage keep their
   * audit events. Bounded: beyond PENDING_EVENTS_MAX the oldest are dropped, and the error says how
   * many. Any other refusal is not retried: it would refuse again and hold back every later event.
   */
  private keepForRetry(batch: AuditRows, err: Error): void {
    const pending = batch.concat(this.buffer);
    const excess = pending.length - PENDING_EVENTS_MAX * AUDIT_FIELDS;
    this.buffer = excess > 0 ? pending.slice(excess) : pending;
    this.onError(Object.assign(err, { auditEventsPending: this.buffer.length / AUDIT_FIELDS, auditEventsDropped: Math.max(0, excess / AUDIT_FIELDS) }));
    this.waitingForStore = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.waitingForStore = false;
      void this.flush();
    }, RETRY_MS);
    this.timer.unref();
  }

  async list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    await this.flush(true);
    return this.store.list({ ...query, limit: Math.min(query.limit ?? 100, 1000) });
  }

  async prune(retentionDays: number): Promise<number> {
    return this.store.deleteBefore(this.now() - retentionDays * 86_400_000);
  }
}
