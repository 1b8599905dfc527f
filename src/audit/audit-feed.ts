import type { StoredEvent } from './shipped-event.js';

/** An audit event as the feed hands it out: details as the JSON text stored, and the position right after it. */
export type FedEvent = StoredEvent & {
  /** Where a sink that has shipped this event continues (the feed's own notation). */
  position: string;
};

/** What holding a sink gives: where it stands. */
export type Hold = { held: true; position: string } | { held: false };

/**
 * The audit trail as a stream for sinks (syslog, JSON lines): every event in the order it was
 * written, again when a folded event's count changed, with a position per sink kept in the
 * database and a lease so that one process ships each sink at a time. Only in a database: there
 * is no in-memory one.
 */
export interface AuditFeed {
  /** Makes the sink's row when it has none, positioned at the end of the trail: a new sink starts with events written from now on. */
  ensureSink(sink: string, now: number): Promise<void>;
  /**
   * Takes the sink for `holder` until `until` when nobody holds it, its lease lapsed (`now` past
   * it), or `holder` holds it already (renewing it); answers where the sink stands when held.
   */
  hold(sink: string, holder: string, now: number, until: number): Promise<Hold>;
  /** Moves the sink on to `position` and renews the lease, only while `holder` holds it; false when it no longer does. */
  advance(sink: string, holder: string, position: string, now: number, until: number): Promise<boolean>;
  /** Gives the sink up (a stopping process), so that another takes it over at once. */
  release(sink: string, holder: string): Promise<void>;
  /** At most `limit` events after `position`, in order; only events whose place will not be taken by an earlier one still being written. */
  read(position: string, limit: number): Promise<FedEvent[]>;
  /**
   * When more than `keep` events follow `position`: the position that leaves the newest `keep`,
   * and how many events lie between (the oldest, to be dropped). Undefined when there are `keep` or fewer.
   */
  trim(position: string, keep: number): Promise<{ position: string; skipped: number } | undefined>;
}
