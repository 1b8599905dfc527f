import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ClientFilter, ClientStore, ClientWithSecrets, SecretRecord } from './client-store.js';
import { type Client, type ClientKey, KEY_AUTH_METHODS, type SecretInfo } from './model.js';
import { isRecognised, secretInfo, secretRisks } from './secret-lifecycle.js';

/** Whether the organisation of an RSIN is enabled (true when there is none): where the memory store learns it. */
export type OrganisationEnabledSource = (rsin: string) => boolean | Promise<boolean>;

/**
 * ClientStore in memory, for unit tests: behaves like the SQL stores (test/store-contract.test.ts
 * holds both to the same cases). What is stored and what is returned are copies, so a caller
 * changing a returned client (as ClientService's cache does) changes nothing stored.
 */
export class MemoryClientStore implements ClientStore {
  private readonly clients = new Map<string, Client>();
  /** By secret id, in insertion order. */
  private readonly secrets = new Map<string, SecretRecord>();
  /** By `clientId kid`, in insertion order. */
  private readonly keys = new Map<string, ClientKey>();

  constructor(private readonly organisationEnabled: OrganisationEnabledSource = () => true) {}

  async insert(client: Client, secrets: SecretRecord[], beforeCommit?: () => void): Promise<void> {
    if (this.clients.has(client.clientId)) throw new ConflictError(`client "${client.clientId}" already exists`);
    const ids = new Set<string>();
    for (const s of secrets) {
      if (s.clientId !== client.clientId) throw new ValidationError(`secret ${s.secretId} belongs to another client`);
      if (this.secrets.has(s.secretId) || ids.has(s.secretId))
        throw new ConflictError(`duplicate secret id ${s.secretId}`);
      ids.add(s.secretId);
    }
    beforeCommit?.();
    this.clients.set(client.clientId, copyClient(client));
    for (const s of secrets) this.secrets.set(s.secretId, copySecret(s));
  }

  async get(clientId: string, now: number): Promise<Client | undefined> {
    const client = this.clients.get(clientId);
    return client && this.withRisks(client, now);
  }

  async list(filter: ClientFilter, now: number): Promise<{ items: Client[]; total: number }> {
    const q = filter.q?.toLowerCase();
    const matching = [...this.clients.values()]
      .filter(
        (c) =>
          (filter.rsin === undefined || c.rsin === filter.rsin) &&
          (filter.enabled === undefined || c.enabled === filter.enabled) &&
          (filter.selfSignedAllowed === undefined || c.selfSignedAllowed === filter.selfSignedAllowed) &&
          (filter.authMethod === undefined || c.authMethods.includes(filter.authMethod)) &&
          (!q || c.clientId.toLowerCase().includes(q) || c.name.toLowerCase().includes(q)),
      )
      // Code unit order, as SQLite's BINARY collation and PostgreSQL's C collation compare ASCII ids.
      .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    // Latest token first, clients that never had one last; ties in client id order (a stable sort).
    if (filter.sort === 'lastToken') matching.sort((a, b) => (b.lastTokenAt ?? -1) - (a.lastTokenAt ?? -1));
    if (filter.sort === 'expiry') {
      const soonest = new Map(matching.map((c) => [c.clientId, this.soonestExpiry(c.clientId, now)]));
      matching.sort((a, b) => soonest.get(a.clientId)! - soonest.get(b.clientId)!);
    }
    const page = matching.slice(filter.offset, filter.offset + filter.limit);
    return { items: page.map((c) => this.withRisks(c, now)), total: matching.length };
  }

  async update(client: Client, revokeLiveSecretsAt?: number): Promise<string[]> {
    const stored = this.clients.get(client.clientId);
    if (!stored) return [];
    this.clients.set(client.clientId, { ...copyClient(client), createdAt: stored.createdAt });
    if (revokeLiveSecretsAt === undefined) return [];
    const at = revokeLiveSecretsAt;
    const live = this.secretsOf(client.clientId).filter(
      (s) => s.revokedAt === null && (s.expiresAt === null || s.expiresAt > at),
    );
    for (const s of live) s.revokedAt = at;
    return live.map((s) => s.secretId);
  }

  async delete(clientId: string): Promise<boolean> {
    for (const s of this.secretsOf(clientId)) this.secrets.delete(s.secretId);
    for (const k of this.keysOf(clientId)) this.keys.delete(keyOf(k));
    return this.clients.delete(clientId);
  }

  async insertSecret(
    secret: SecretRecord,
    accepts: (client: Pick<Client, 'authMethods'>) => boolean = () => true,
  ): Promise<boolean> {
    const client = this.clients.get(secret.clientId);
    if (!client) throw new NotFoundError(`client "${secret.clientId}" does not exist`);
    if (this.secrets.has(secret.secretId)) throw new ConflictError(`duplicate secret id ${secret.secretId}`);
    if (!accepts(copyClient(client))) return false;
    this.secrets.set(secret.secretId, copySecret(secret));
    return true;
  }

  async listSecrets(clientId: string): Promise<SecretInfo[]> {
    // A stable sort: equal creation times keep insertion order.
    return this.secretsOf(clientId)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(secretInfo);
  }

  async revokeSecret(clientId: string, secretId: string, at: number): Promise<SecretInfo | undefined> {
    const s = this.secrets.get(secretId);
    if (!s || s.clientId !== clientId) return undefined;
    s.revokedAt ??= at;
    return secretInfo(s);
  }

  async dropSealed(clientId: string): Promise<void> {
    for (const s of this.secretsOf(clientId)) s.sealed = null;
  }

  async findWithSecrets(clientId: string, now: number): Promise<ClientWithSecrets | undefined> {
    const client = this.clients.get(clientId);
    if (!client) return undefined;
    const secrets = this.secretsOf(clientId)
      .filter((s) => isRecognised(s, now))
      .map((s) => ({
        secretId: s.secretId,
        hash: Buffer.from(s.hash),
        sealed: s.sealed,
        expiresAt: s.expiresAt,
        lastUsedAt: s.lastUsedAt,
        revokedAt: s.revokedAt,
      }));
    const usesKeys = client.authMethods.some((m) => KEY_AUTH_METHODS.includes(m));
    return {
      client: this.withRisks(client, now),
      secrets,
      keys: usesKeys ? this.keysOf(clientId).sort(byCreation).map(copyKey) : [],
      organisationEnabled: await this.organisationEnabled(client.rsin),
    };
  }

  async recordUsage(secretIds: string[], clientIds: string[], at: number): Promise<void> {
    for (const id of secretIds) {
      const s = this.secrets.get(id);
      if (s) s.lastUsedAt = at;
    }
    for (const id of clientIds) {
      const c = this.clients.get(id);
      if (c) c.lastTokenAt = at;
    }
  }

  async insertKeys(keys: ClientKey[]): Promise<void> {
    const seen = new Set<string>();
    for (const k of keys) {
      if (!this.clients.has(k.clientId)) throw new NotFoundError(`client "${k.clientId}" does not exist`);
      if (this.keys.has(keyOf(k)) || seen.has(keyOf(k))) throw new ConflictError(`duplicate key id ${k.kid}`);
      seen.add(keyOf(k));
    }
    for (const k of keys) this.keys.set(keyOf(k), copyKey(k));
  }

  async listKeys(clientId: string): Promise<ClientKey[]> {
    return this.keysOf(clientId).sort(byCreation).map(copyKey);
  }

  async removeKey(clientId: string, kid: string): Promise<ClientKey | undefined> {
    const k = this.keys.get(keyOf({ clientId, kid }));
    if (!k) return undefined;
    this.keys.delete(keyOf(k));
    return copyKey(k);
  }

  async recordKeyUsage(keys: { clientId: string; kid: string }[], at: number): Promise<void> {
    for (const id of keys) {
      const k = this.keys.get(keyOf(id));
      if (k) k.lastUsedAt = at;
      const c = this.clients.get(id.clientId);
      if (c) c.lastTokenAt = at;
    }
  }

  /** The soonest expiry after `now` of the client's live secrets and its keys; MAX_SAFE_INTEGER: none. */
  private soonestExpiry(clientId: string, now: number): number {
    const times = [
      ...this.secretsOf(clientId)
        .filter((s) => s.revokedAt === null)
        .map((s) => s.expiresAt),
      ...this.keysOf(clientId).map((k) => k.expiresAt),
    ].filter((t): t is number => t !== null && t > now);
    return Math.min(Number.MAX_SAFE_INTEGER, ...times);
  }

  private keysOf(clientId: string): ClientKey[] {
    return [...this.keys.values()].filter((k) => k.clientId === clientId);
  }

  private secretsOf(clientId: string): SecretRecord[] {
    return [...this.secrets.values()].filter((s) => s.clientId === clientId);
  }

  private withRisks(client: Client, now: number): Client {
    return { ...copyClient(client), risks: secretRisks(this.secretsOf(client.clientId), now) };
  }
}

/** A copy as a database would keep it: lists and claims through JSON, risks not at all. */
function copyClient(c: Client): Client {
  return {
    ...c,
    grantTypes: [...c.grantTypes],
    allowedScopes: [...c.allowedScopes],
    defaultScopes: [...c.defaultScopes],
    staticClaims: JSON.parse(JSON.stringify(c.staticClaims)) as Record<string, unknown>,
    risks: [],
    authMethods: [...c.authMethods],
    tlsSubject: c.tlsSubject && { ...c.tlsSubject },
  };
}

const keyOf = (k: { clientId: string; kid: string }) => `${k.clientId} ${k.kid}`;
/** Oldest first, then by kid: the SQL stores' order. */
const byCreation = (a: ClientKey, b: ClientKey) =>
  a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);

function copyKey(k: ClientKey): ClientKey {
  return { ...k, publicJwk: JSON.parse(JSON.stringify(k.publicJwk)) as ClientKey['publicJwk'] };
}

function copySecret(s: SecretRecord): SecretRecord {
  return { ...s, hash: Buffer.from(s.hash) };
}
