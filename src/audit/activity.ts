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

/**
 * Counts read from the audit trail (token.issued, client_auth.failed; a repeated failure written
 * once with `count` counts that many).
 */
export interface ActivityStore {
  perHour(query: ActivityQuery): Promise<HourActivity[]>;
  /** The busiest clients first (issued plus failed), at most `limit`. */
  perClient(query: ActivityQuery, limit: number): Promise<ClientActivity[]>;
  perOrganisation(query: ActivityQuery, limit: number): Promise<OrganisationActivity[]>;
}
