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
  /** RSIN of the organisation the event concerns (its client's, or its own); null for keys and the system. */
  organisation: string | null;
}

export interface AuditQuery {
  action?: string;
  target?: string;
  actor?: string;
  reason?: string;
  /** Events of this organisation (RSIN) only. */
  organisation?: string;
  since?: number;
  /** Events with an id lower than this: paging backwards from the newest. */
  before?: number;
  limit?: number;
}

/** Values per event in AuditRows. */
export const AUDIT_FIELDS = 8;

/**
 * Events to append, flattened: AUDIT_FIELDS values per event, in the order at, actor, action,
 * target, address, reason, details (as JSON text), organisation. A buffered event then costs no
 * object of its own.
 */
export type AuditRows = (string | number | null)[];

/** Persistence of the audit trail: appended, read newest first; only a folded event's details change. */
export interface AuditStore {
  /** Appends the events in their order; each gets an id higher than every earlier one. */
  append(rows: AuditRows): Promise<void>;
  /** As append, and returns the new events' ids in the order of the rows. */
  appendReturningIds(rows: AuditRows): Promise<number[]>;
  /** Replaces the details (JSON text) of stored events: a folded event's count grows after it was written. */
  updateDetails(updates: readonly (readonly [id: number, details: string])[]): Promise<void>;
  /** Matching events, newest (highest id) first, at most `limit`. */
  list(query: AuditQuery & { limit: number }): Promise<AuditEvent[]>;
  /** Deletes the events from before `before`; returns how many. */
  deleteBefore(before: number): Promise<number>;
}

/**
 * An event written in the caller's own transaction, together with a once-only mark; outside every
 * hourly count (activity.ts), so only for actions that are not counted.
 */
export interface UncountedEvent {
  at: number;
  actor: string;
  action: string;
  target: string;
  organisation: string | null;
  details: Record<string, unknown>;
}
