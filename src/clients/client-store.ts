import type { Client, ClientAuthMethod, ClientKey, SecretInfo } from './model.js';

export const CLIENT_SORTS = ['clientId', 'lastToken', 'expiry'] as const;
export type ClientSort = (typeof CLIENT_SORTS)[number];

export interface ClientFilter {
  rsin?: string;
  enabled?: boolean;
  selfSignedAllowed?: boolean;
  /** Clients that may authenticate with this method (among others). */
  authMethod?: ClientAuthMethod;
  /** Case-insensitive substring of client id or name. */
  q?: string;
  /**
   * Client id order (the default); the latest token first and clients that never had one last; or
   * `expiry`: the soonest expiry of a credential that still works first (a live secret's, a key's
   * certificate's), clients with none that expires last; ties in client id order.
   */
  sort?: ClientSort;
  limit: number;
  offset: number;
}

/** A client secret as the registry keeps it: never its value, only its keyed hash and, for a self-signing client, a sealed copy. */
export interface SecretRecord {
  secretId: string;
  clientId: string;
  label: string;
  /** HMAC-SHA-256 of the value (secrets.ts hashSecret). */
  hash: Buffer;
  /** The value sealed under the master key; only while the client may sign its own tokens. */
  sealed: string | null;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  /** Set for a former secret: recognised when presented, never accepted. */
  revokedAt: number | null;
  /** Imported below the strength rule and allowed explicitly. */
  weak: boolean;
}

/** What authentication needs of a secret: read on every lookup of a client, so no more than this. */
export type StoredSecret = Pick<
  SecretRecord,
  'secretId' | 'hash' | 'sealed' | 'expiresAt' | 'lastUsedAt' | 'revokedAt'
>;

export interface ClientWithSecrets {
  client: Client;
  secrets: StoredSecret[];
  /** The client's registered public keys; read only when one of its methods uses keys (KEY_AUTH_METHODS). */
  keys: ClientKey[];
  /** False when the client's organisation is disabled: then none of its clients is accepted. No organisation reads as enabled. */
  organisationEnabled: boolean;
}

/**
 * Persistence of clients and their secrets, in domain terms. A client's `risks` are derived when
 * read (a live, sealed secret marked weak is `weak_secret`), never stored. Every method returns
 * copies: changing what it returned changes nothing stored.
 */
export interface ClientStore {
  /**
   * Stores a new client with its first secrets, all or nothing; rejects when the client id is
   * taken. `beforeCommit` runs once the rows are in, before they are committed: when it throws (or
   * the process dies in it) nothing is stored.
   */
  insert(client: Client, secrets: SecretRecord[], beforeCommit?: () => void): Promise<void>;
  /** The client, with its risks as of `now`. */
  get(clientId: string, now: number): Promise<Client | undefined>;
  /** One page of the matching clients in the filter's order, and how many match in all. */
  list(filter: ClientFilter, now: number): Promise<{ items: Client[]; total: number }>;
  /**
   * Stores every field of an existing client but its id and creation time; an unknown id changes
   * nothing. With `revokeLiveSecretsAt`, every secret of the client live at that time (read in the
   * same transaction, so that one added meanwhile is among them) is revoked at it, all or nothing;
   * the ids revoked.
   */
  update(client: Client, revokeLiveSecretsAt?: number): Promise<string[]>;
  /** Deletes the client with its secrets; false when there was no such client. */
  delete(clientId: string): Promise<boolean>;
  /**
   * Rejects when the client does not exist or the secret id is taken. `accepts` sees the client's
   * methods as stored, read in the transaction that inserts (after any update of the client that
   * committed first): false from it stores nothing, and insertSecret returns false.
   */
  insertSecret(secret: SecretRecord, accepts?: (client: Pick<Client, 'authMethods'>) => boolean): Promise<boolean>;
  /** The client's secrets, revoked ones too, oldest first. */
  listSecrets(clientId: string): Promise<SecretInfo[]>;
  /** Marks the secret revoked at `at` unless it already is; its state after, or undefined when this client has no such secret. */
  revokeSecret(clientId: string, secretId: string, at: number): Promise<SecretInfo | undefined>;
  /** Forgets the sealed copies of the client's secrets. */
  dropSealed(clientId: string): Promise<void>;
  /**
   * The client (risks as of `now`) with the secrets that work at `now` and the former ones:
   * revoked or expired within FORMER_SECRET_MS before `now` (secret-lifecycle.ts), and whether
   * its organisation is enabled, all in one read.
   */
  findWithSecrets(clientId: string, now: number): Promise<ClientWithSecrets | undefined>;
  /** Marks the secrets as last used, and the clients as last given a token, at `at`. */
  recordUsage(secretIds: string[], clientIds: string[], at: number): Promise<void>;
  /** Adds keys to an existing client, all or nothing; rejects when the client does not exist or a kid is taken for it. */
  insertKeys(keys: ClientKey[]): Promise<void>;
  /** The client's registered keys, oldest first. */
  listKeys(clientId: string): Promise<ClientKey[]>;
  /** Removes one key of the client; the removed key, or undefined when it had no such key. */
  removeKey(clientId: string, kid: string): Promise<ClientKey | undefined>;
  /** Marks the keys (client id, kid) as last used, and their clients as last given a token, at `at`. */
  recordKeyUsage(keys: { clientId: string; kid: string }[], at: number): Promise<void>;
}
