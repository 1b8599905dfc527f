/** Tokens issued and failed client authentications in one hour, or over a period for one client or organisation. */
export interface ActivityCounts {
  issued: number;
  failed: number;
}

export interface ActivityQuery {
  /** Epoch ms: events at or after. */
  since: number;
  clientId?: string | undefined;
  /** The organisation the events recorded (never the one their client id belongs to now). */
  rsin?: string | undefined;
}

export interface HourActivity extends ActivityCounts {
  /** Epoch ms of the hour's start. */
  hour: number;
}

export interface ClientActivity extends ActivityCounts {
  clientId: string;
  /** The organisation the events recorded; null for those that recorded none (e.g. failures of an unknown id). */
  rsin: string | null;
}

export interface OrganisationActivity extends ActivityCounts {
  rsin: string | null;
}

/** The audit actions the activity report counts; every other event leaves the counts alone. */
export const ACTIVITY_ACTIONS = ['token.issued', 'client_auth.failed'] as const;
export type ActivityAction = (typeof ACTIVITY_ACTIONS)[number];
export const HOUR_MS = 3_600_000;

/** The start (epoch ms) of the whole UTC hour a moment falls in. */
export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS;
}

/**
 * What one stored event adds to the activity counts: 1 for a token issued; for a failed
 * authentication the `count` of its details (repeats folded into one event, audit-log.ts), 1
 * without one; 0 for any other action.
 */
export function activityWeight(action: string, details: string): number {
  if (action === 'token.issued') return 1;
  if (action !== 'client_auth.failed') return 0;
  let count: unknown;
  try {
    count = (JSON.parse(details) as { count?: unknown }).count;
  } catch {
    return 1;
  }
  return typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 1;
}

/**
 * Counts of the audit trail (token.issued, client_auth.failed; a repeated failure written
 * once with `count` counts that many), kept per hour as the events are written (the store
 * writes the counts in the transaction that writes the events), so that a report reads the same
 * few rows per hour however many events there are.
 */
export interface ActivityStore {
  perHour(query: ActivityQuery): Promise<HourActivity[]>;
  /** The busiest clients first (issued plus failed, then by client id), at most `limit`. */
  perClient(query: ActivityQuery, limit: number): Promise<ClientActivity[]>;
  /** The busiest organisations first (issued plus failed, then by RSIN, none first), at most `limit`. */
  perOrganisation(query: ActivityQuery, limit: number): Promise<OrganisationActivity[]>;
}
