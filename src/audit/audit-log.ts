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

/** One window of a folded event: written at once, its row updated with the repeats. */
interface Fold {
  event: NewAuditEvent;
  at: number;
  count: number;
  lastAt: number;
  targets: Set<string>;
  /** The stored row, once written; -1: given up (refused by the store, or dropped while the database was away). */
  id?: number;
  /** The count the stored row shows (0: not written yet). */
  written: number;
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
  /** Open windows of folded events (recordRepeated), by key. */
  private repeated = new Map<string, Fold>();
  /** Folds not written yet, oldest first. */
  private fresh: Fold[] = [];
  /** Ended windows whose row still lacks its last repeats. */
  private closed: Fold[] = [];
  private repeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<void> {
    await this.store.append([
      this.now(),
      event.actor,
      event.action,
      event.target,
      event.address ?? null,
      event.reason ?? null,
      JSON.stringify(event.details),
      event.organisation ?? null,
    ]);
  }

  recordLater(event: NewAuditEvent, at = this.now()): void {
    this.buffer.push(
      at,
      event.actor,
      event.action,
      event.target,
      event.address ?? null,
      event.reason ?? null,
      JSON.stringify(event.details),
      event.organisation ?? null,
    );
    // Small batches, written soon: buffered events die young instead of aging into the old heap.
    if (this.buffer.length >= BATCH_EVENTS * AUDIT_FIELDS) {
      if (!this.waitingForStore) void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), 200);
      this.timer.unref();
    }
  }

  /**
   * For events that come in floods (failed authentications): the first with a given key is written
   * at once (within a second, as recordLater) and starts a window of REPEAT_WINDOW_MS; repeats
   * within it only update that event's `count`, `lastAt` and distinct targets seen (up to 10), when
   * the window ends or someone lists the trail. A flood of one key writes one event per window.
   */
  recordRepeated(key: string, event: NewAuditEvent): void {
    const t = this.now();
    const entry = this.repeated.get(key);
    if (entry && t - entry.at < REPEAT_WINDOW_MS) {
      entry.count++;
      entry.lastAt = t;
      if (entry.targets.size < REPEAT_TARGETS_MAX) entry.targets.add(event.target);
      return;
    }
    if (entry) this.close(key, entry);
    // A flood of distinct keys ends the open windows early rather than holding them without bound.
    else if (this.repeated.size >= REPEAT_KEYS_MAX) this.flushRepeated(true);
    const fold: Fold = { event, at: t, count: 1, lastAt: t, targets: new Set([event.target]), written: 0 };
    this.repeated.set(key, fold);
    this.fresh.push(fold);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), 200);
      this.timer.unref();
    }
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

  private close(key: string, fold: Fold): void {
    this.repeated.delete(key);
    if (fold.id === -1 || (fold.id !== undefined && fold.written === fold.count)) return;
    this.closed.push(fold);
    // The database away for long: the oldest ended windows are given up (their first event may stay unwritten).
    const excess = this.closed.length - PENDING_EVENTS_MAX;
    if (excess > 0) for (const dropped of this.closed.splice(0, excess)) dropped.id = -1;
  }

  /** Ends the windows whose time is over (`all`: every one). */
  private flushRepeated(all: boolean): void {
    const t = this.now();
    for (const [key, entry] of this.repeated) {
      if (all || t - entry.at >= REPEAT_WINDOW_MS) this.close(key, entry);
    }
    this.scheduleRepeatFlush();
  }

  private static foldRow(f: Fold): AuditRows {
    const e = f.event;
    const details = {
      ...e.details,
      lastAt: f.lastAt,
      count: f.count,
      ...(f.targets.size > 1 ? { targets: [...f.targets] } : {}),
    };
    return [
      f.at,
      e.actor,
      e.action,
      e.target,
      e.address ?? null,
      e.reason ?? null,
      JSON.stringify(details),
      e.organisation ?? null,
    ];
  }

  /**
   * Writes the folds not written yet, then the counts of ended windows (`all`: of open ones too).
   * Throws what the store threw, with every fold kept for the next attempt.
   */
  private async writeFolds(all: boolean): Promise<void> {
    const fresh = this.fresh.filter((f) => f.id === undefined);
    this.fresh = [];
    if (fresh.length) {
      const counts = fresh.map((f) => f.count);
      let ids: number[];
      try {
        ids = await this.store.appendReturningIds(fresh.flatMap((f) => AuditLog.foldRow(f)));
      } catch (err) {
        this.fresh = fresh.concat(this.fresh);
        throw err;
      }
      fresh.forEach((f, i) => ((f.id = ids[i]), (f.written = counts[i]!)));
    }
    const stale = (all ? this.closed.concat([...this.repeated.values()]) : this.closed).filter(
      (f) => f.id !== undefined && f.id !== -1 && f.written !== f.count,
    );
    const counts = stale.map((f) => f.count);
    if (stale.length) await this.store.updateDetails(stale.map((f) => [f.id!, AuditLog.foldRow(f)[6] as string]));
    stale.forEach((f, i) => (f.written = counts[i]!));
    this.closed = this.closed.filter((f) => f.id !== -1 && (f.id === undefined || f.written !== f.count));
  }

  /** A fold the store refused for another reason than being away is not tried again. */
  private giveUpFolds(): void {
    for (const f of this.fresh) f.id = -1;
    for (const f of this.closed) f.id = -1;
    this.fresh = [];
    this.closed = [];
  }

  /**
   * Writes buffered events and folds, and the counts of ended windows (`all`: of open ones too,
   * which stay open); resolves when they (and any flush before) are stored.
   */
  flush(all = false): Promise<void> {
    this.flushRepeated(false);
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
        if (err instanceof ZgwAuthError && err.code === 'storage_unavailable') return this.keepForRetry(batch, err);
        this.onError(err);
      }
      try {
        await this.writeFolds(all);
      } catch (err) {
        if (err instanceof ZgwAuthError && err.code === 'storage_unavailable') return this.keepForRetry([], err);
        this.giveUpFolds();
        this.onError(err);
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
    this.onError(
      Object.assign(err, {
        auditEventsPending: this.buffer.length / AUDIT_FIELDS,
        auditEventsDropped: Math.max(0, excess / AUDIT_FIELDS),
      }),
    );
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
