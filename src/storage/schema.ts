import type { Generated, Insertable, Selectable, Updateable } from '#kysely';

/**
 * The one database schema, shared by SQLite and PostgreSQL. Timestamps are epoch milliseconds
 * (bigint), booleans are 0/1 integers and lists/objects JSON text, so that both dialects store the
 * same values and the stores map them to domain types in one place.
 */
export interface Database {
  signing_keys: SigningKeyTable;
  clients: ClientTable;
  client_secrets: ClientSecretTable;
  audit_events: AuditEventTable;
  revoked_tokens: RevokedTokenTable;
  organisations: OrganisationTable;
  client_keys: ClientKeyTable;
  used_once: UsedOnceTable;
  applicaties: ApplicatieTable;
  applicatie_clients: ApplicatieClientTable;
  notification_outbox: NotificationOutboxTable;
  console_sessions: ConsoleSessionTable;
  audit_hourly_counts: AuditHourlyCountTable;
  audit_sinks: AuditSinkTable;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  public_jwk: string;
  /** AES-256-GCM sealed PKCS#8 PEM of the private key. */
  private_key_sealed: string;
  created_at: number;
  /** The key signs from this moment on; before it, it is only published. */
  activates_at: number;
  /**
   * Written by versions before the derived key plan, which retired keys by it; now only set, for
   * them, to `superseded_at`. Never read: a key's retirement follows from the activation times.
   */
  retires_at: number | null;
  /** When a newer key was rotated in to sign before this one's activation: it never signs. */
  superseded_at: number | null;
}

export interface ClientTable {
  client_id: string;
  name: string;
  description: string;
  rsin: string;
  enabled: number;
  grant_types: string;
  allowed_scopes: string;
  default_scopes: string;
  token_lifetime: number | null;
  static_claims: string;
  self_signed_allowed: number;
  created_at: number;
  updated_at: number;
  last_token_at: number | null;
  /** JSON list of client authentication methods. */
  auth_methods: Generated<string>;
  jwks_uri: string | null;
  tls_subject_field: string | null;
  tls_subject_value: string | null;
  oin: string | null;
  /** RFC 9449 §5.2: 1 when the client gets DPoP-bound tokens only. */
  dpop_bound_access_tokens: Generated<number>;
  /** RFC 8705 §3.4: 1 when the client gets certificate-bound tokens only. */
  certificate_bound_access_tokens: Generated<number>;
}

export interface ClientKeyTable {
  client_id: string;
  kid: string;
  thumbprint: string;
  kty: string;
  alg: string | null;
  /** The public JWK as JSON text. */
  public_jwk: string;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
  /** When the certificate's coming expiry was announced in the audit trail; null: not yet. */
  expiry_announced_at: number | null;
}

/** Identifiers that may be used once (assertion jti, later DPoP proofs), until they expire. */
export interface UsedOnceTable {
  namespace: string;
  /** SHA-256 of the identifier, base64url: a bounded key whatever the identifier's length. */
  id_hash: string;
  expires_at: number;
}

export interface ClientSecretTable {
  secret_id: string;
  client_id: string;
  label: string;
  /** HMAC-SHA-256 of the secret under a key derived from the master key. */
  hash: string;
  /** AES-256-GCM sealed secret, only for clients that may sign their own HS256 tokens. */
  sealed: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  /** 1 when an imported secret is below the strength rule and was allowed explicitly. */
  weak: number;
  /** When the secret's coming expiry was announced in the audit trail; null: not yet. */
  expiry_announced_at: Generated<number | null>;
}

export interface AuditEventTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string;
  address: string | null;
  /** Why, for refusals (client_auth.failed). */
  reason: string | null;
  details: string;
  /** RSIN of the organisation the event concerns, when it concerns one. */
  organisation: string | null;
  /**
   * Its place in the order audit events are shipped in (migration 0017): PostgreSQL the writing
   * transaction's id (xid8, as text), SQLite a changed row's new place (NULL: its id is its place).
   */
  tx: Generated<string | number | null>;
}

/** A destination of the audit events (syslog, JSON lines): how far it got, who ships it. */
export interface AuditSinkTable {
  name: string;
  /** After which event it continues (the feed's own notation). */
  position: string;
  /** The process shipping it, until held_until (a lease). */
  holder: string | null;
  held_until: number | null;
  updated_at: number;
}

/**
 * Tokens issued and failed authentications per hour (epoch ms of its start), organisation ('' for
 * events that name none), client id (the event's target) and action: written with the events.
 */
export interface AuditHourlyCountTable {
  hour: number;
  organisation: string;
  client_id: string;
  action: string;
  count: number;
}

export interface RevokedTokenTable {
  jti: string;
  client_id: string;
  expires_at: number;
}

export interface OrganisationTable {
  rsin: string;
  name: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

/** An applicatie of the Autorisaties API. */
export interface ApplicatieTable {
  /** Order of creation. */
  seq: Generated<number>;
  uuid: string;
  label: string;
  heeft_alle_autorisaties: number;
  alleen_is_gereed_voor_publicatie: number;
  /** JSON list of autorisaties as the API writes them. */
  autorisaties: string;
  /** RSIN of the organisation of its clients. */
  organisation: string;
  created_at: number;
  updated_at: number;
}

/** Which applicatie a client id is in: one at most (the primary key), in the order the applicatie lists them. */
export interface ApplicatieClientTable {
  client_id: string;
  applicatie_uuid: string;
  position: number;
}

/** A notification of the Autorisaties API waiting to be (or refused for good when) sent. */
export interface NotificationOutboxTable {
  id: Generated<number>;
  applicatie_uuid: string;
  /** The Notificatie as JSON. */
  message: string;
  attempts: number;
  next_attempt_at: number;
  claimed_until: number | null;
  failed_at: number | null;
  last_error: string | null;
  created_at: number;
}

/** A console session (see src/sessions/console-session-store.ts): no secret in the clear. */
export interface ConsoleSessionTable {
  /** SHA-256 of the session id, base64url: the id itself is never stored. */
  id_hash: string;
  client_id: string;
  rsin: string;
  scope: string;
  jti: string;
  secret_id: string;
  /** Epoch seconds. */
  token_expires_at: number;
  /** The admin token, sealed under a key derived from the session id. */
  token_sealed: string;
  flash_sealed: string | null;
  created_at: number;
  last_seen_at: number;
  ends_at: number;
}

export type SigningKeyRow = Selectable<SigningKeyTable>;
export type ClientRow = Selectable<ClientTable>;
export type NewClientRow = Insertable<ClientTable>;
export type ClientUpdateRow = Updateable<ClientTable>;
export type ClientSecretRow = Selectable<ClientSecretTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
export type ClientKeyRow = Selectable<ClientKeyTable>;
export type OrganisationRow = Selectable<OrganisationTable>;
