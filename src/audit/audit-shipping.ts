import type { AuditFeed, FedEvent } from './audit-feed.js';
import type { StoredEvent } from './shipped-event.js';

/** A destination of the audit events: a syslog receiver, a JSON lines file or stdout. */
export interface AuditSink {
  /** Its row in the database ('syslog', 'jsonl'): one position and one shipping process per name. */
  readonly name: string;
  /** Where it ships to, for log lines (never credentials). */
  readonly target: string;
  /** Resolves once the events are confirmed by the receiver or on disk; rejects when that is not known. */
  deliver(events: readonly StoredEvent[], signal: AbortSignal): Promise<void>;
}

export type ShippingOutcome = 'shipped' | 'dropped' | 'failed';

export interface AuditShippingOptions {
  feed: AuditFeed;
  sinks: readonly AuditSink[];
  /** Events a sink may fall behind at most (ZGW_AUTH_AUDIT_BACKLOG_MAX); beyond, the oldest are dropped for it. */
  backlogMax: number;
  /** This process, as the sinks' lease names it. */
  holder: string;
  now: () => number;
  log: (level: 'info' | 'warn' | 'error', details: Record<string, unknown>, message: string) => void;
  /** Counted per sink: events shipped, events dropped (backlog over the bound), failed deliveries. */
  counted: (sink: string, outcome: ShippingOutcome, n: number) => void;
}

/** Events per delivery at most. */
export const BATCH = 500;
/** Milliseconds between looks for new events (written by this or another process). */
const POLL_MS = 500;
/** How long a sink's lease lasts; the holder renews it well before. */
export const LEASE_MS = 10_000;
/** Milliseconds one delivery may take at most, connection included; always well inside a lease. */
const DELIVERY_MS = 5000;
/** A delivery starts only with at least this much lease left (renewed first otherwise). */
const LEASE_LEFT_MS = DELIVERY_MS + 2000;
/** Milliseconds between attempts of a process that does not hold a sink to take it (when its holder stopped or died). */
const TAKE_OVER_MS = 2000;
/** The first wait after a failed delivery; it doubles up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;
/** Milliseconds between looks at the backlog's size while a sink falls behind. */
const TRIM_EVERY_MS = 2000;

/** Milliseconds a read is kept for another sink at the same position. */
const SHARED_READ_MS = 1000;

/**
 * Sinks that stand at the same position (the usual case: they keep up) read the trail once: a
 * read is kept for a moment for the next sink asking for the same events. Nothing can be missed by
 * a kept read: an event written or changed since gets a place after every event it holds.
 */
function sharedReads(feed: AuditFeed, now: () => number): AuditFeed {
  let last: { position: string; limit: number; at: number; events: Promise<FedEvent[]> } | undefined;
  return {
    ensureSink: (...a) => feed.ensureSink(...a),
    hold: (...a) => feed.hold(...a),
    advance: (...a) => feed.advance(...a),
    release: (...a) => feed.release(...a),
    trim: (...a) => feed.trim(...a),
    read(position, limit) {
      const t = now();
      if (last && last.position === position && last.limit === limit && t - last.at < SHARED_READ_MS)
        return last.events;
      const events = feed.read(position, limit);
      last = { position, limit, at: t, events };
      // A failed read is not kept.
      events.catch(() => last?.events === events && (last = undefined));
      return events;
    },
  };
}

/** Ships the audit trail to every configured sink; one loop per sink, one process per sink at a time. */
export class AuditShipping {
  private readonly shippers: SinkShipper[];

  constructor(options: AuditShippingOptions) {
    const o = options.sinks.length > 1 ? { ...options, feed: sharedReads(options.feed, options.now) } : options;
    this.shippers = options.sinks.map((sink) => new SinkShipper(sink, o));
  }

  start(): void {
    for (const s of this.shippers) s.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.shippers.map((s) => s.stop()));
  }

  /** The sinks this process ships now. */
  holding(): string[] {
    return this.shippers.filter((s) => s.holding()).map((s) => s.sink.name);
  }
}

/**
 * One sink's loop: take the sink's lease (or wait for it), read the events after its position,
 * deliver them, move the position on (only while still holding the lease), and again. While the
 * receiver is away the events wait in the audit trail itself, the position stays, and attempts
 * come with doubling waits; when more than backlogMax events wait, the oldest are skipped, counted
 * and logged. At least once, in order: a batch whose delivery was not confirmed, or whose process
 * died before moving the position, is delivered again (by this process or the one taking over).
 */
class SinkShipper {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly aborter = new AbortController();
  private wake: (() => void) | undefined;
  /** Where the sink stands while this process holds it; undefined when it does not. */
  private position: string | undefined;
  private heldUntil = 0;
  /** Failed deliveries in a row. */
  private failures = 0;
  /** The backlog may be over the bound: looked at (at most every TRIM_EVERY_MS) until a look finds it is not. */
  private behind = true;
  private lastTrim = 0;
  /** The last errors logged (the database's, the receiver's): a loop that keeps failing the same way says so once. */
  private lastError = '';
  private lastDeliveryError = '';

  constructor(
    readonly sink: AuditSink,
    private readonly o: AuditShippingOptions,
  ) {}

  holding(): boolean {
    return this.position !== undefined;
  }

  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let ready = false;
    while (!this.stopped) {
      let wait: number;
      try {
        if (!ready) {
          await this.o.feed.ensureSink(this.sink.name, this.o.now());
          ready = true;
        }
        wait = await this.round();
        this.lastError = '';
      } catch (err) {
        // The database away or refusing: the position stays where it was, tried again shortly.
        const text = err instanceof Error ? err.message : String(err);
        if (text !== this.lastError)
          this.o.log('error', { sink: this.sink.name, err }, 'audit shipping: reading or moving the position failed');
        this.lastError = text;
        wait = RETRY_MAX_MS;
      }
      if (!this.stopped && wait > 0) await this.sleep(wait);
    }
    if (this.position !== undefined) {
      this.position = undefined;
      // Given up for the next process (or this one started again) to take at once; on failure its lease lapses.
      await this.o.feed.release(this.sink.name, this.o.holder).catch(() => {});
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref?.();
      this.wake = () => (clearTimeout(timer), resolve());
    }).finally(() => (this.wake = undefined));
  }

  /** One step; answers how long to wait before the next. */
  private async round(): Promise<number> {
    const { feed, holder } = this.o;
    const name = this.sink.name;
    let now = this.o.now();
    if (this.position === undefined || this.heldUntil - now < LEASE_LEFT_MS) {
      const hold = await feed.hold(name, holder, now, now + LEASE_MS);
      if (!hold.held) {
        if (this.position !== undefined)
          this.o.log('warn', { sink: name }, 'audit shipping: another process ships this sink now');
        this.position = undefined;
        return TAKE_OVER_MS;
      }
      if (this.position === undefined) {
        this.o.log('info', { sink: name, target: this.sink.target }, 'audit shipping: this process ships the sink');
        this.behind = true;
      }
      this.position = hold.position;
      this.heldUntil = now + LEASE_MS;
    }
    if (this.behind && now - this.lastTrim >= TRIM_EVERY_MS && !(await this.trim(now))) return TAKE_OVER_MS;
    const limit = Math.min(BATCH, this.o.backlogMax);
    const events = await feed.read(this.position, limit);
    if (events.length === 0) {
      this.behind = false;
      return POLL_MS;
    }
    try {
      await this.sink.deliver(events, AbortSignal.any([AbortSignal.timeout(DELIVERY_MS), this.aborter.signal]));
    } catch (err) {
      // Stopping: the batch is left for the next process; not a failure of the receiver.
      if (this.stopped) return 0;
      return this.failed(err, events);
    }
    if (this.failures > 0)
      this.o.log(
        'info',
        { sink: name, target: this.sink.target, failedAttempts: this.failures },
        'audit shipping: the receiver takes events again',
      );
    this.failures = 0;
    this.lastDeliveryError = '';
    now = this.o.now();
    const position = events[events.length - 1]!.position;
    if (!(await feed.advance(name, holder, position, now, now + LEASE_MS))) {
      // Its lease lapsed and another process took the sink: that one delivers this batch again.
      this.o.log(
        'warn',
        { sink: name, events: events.length },
        'audit shipping: another process took over this sink during a delivery; the batch may arrive twice',
      );
      this.position = undefined;
      return TAKE_OVER_MS;
    }
    this.position = position;
    this.heldUntil = now + LEASE_MS;
    this.o.counted(name, 'shipped', events.length);
    // A full batch: more may wait, possibly more than the bound.
    if (events.length === limit) {
      this.behind = true;
      return 0;
    }
    return POLL_MS;
  }

  private failed(err: unknown, events: readonly FedEvent[]): number {
    this.failures++;
    this.behind = true;
    this.o.counted(this.sink.name, 'failed', 1);
    const text = err instanceof Error ? err.message : String(err);
    // Once per kind of failure, not per attempt: a receiver away for an hour is one line, not thousands.
    if (this.failures === 1 || text !== this.lastDeliveryError)
      this.o.log(
        'warn',
        { sink: this.sink.name, target: this.sink.target, error: text, waiting: events.length },
        'audit shipping: delivery failed; the events wait in the audit trail and are sent again',
      );
    this.lastDeliveryError = text;
    return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(this.failures - 1, 20));
  }

  /** Drops the oldest events beyond the bound, counted and logged, never silently; false when the sink was lost to another process. */
  private async trim(now: number): Promise<boolean> {
    this.lastTrim = now;
    const trimmed = await this.o.feed.trim(this.position!, this.o.backlogMax);
    if (!trimmed) {
      this.behind = this.failures > 0;
      return true;
    }
    const t = this.o.now();
    if (!(await this.o.feed.advance(this.sink.name, this.o.holder, trimmed.position, t, t + LEASE_MS))) {
      this.position = undefined;
      return false;
    }
    this.position = trimmed.position;
    this.heldUntil = t + LEASE_MS;
    this.o.counted(this.sink.name, 'dropped', trimmed.skipped);
    this.o.log(
      'warn',
      { sink: this.sink.name, target: this.sink.target, dropped: trimmed.skipped, backlogMax: this.o.backlogMax },
      'audit shipping: more events waited than ZGW_AUTH_AUDIT_BACKLOG_MAX; the oldest were dropped for this sink (they stay in the audit trail)',
    );
    return true;
  }
}
