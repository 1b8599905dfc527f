import crypto from 'node:crypto';
import { BoundedCache } from '@zgw-auth/verifier/internal';
import type { AuditLog } from '../audit/audit-log.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import type { ClientFilter, ClientStore, ClientWithSecrets, SecretRecord, StoredSecret } from './client-store.js';
import { type Client, type ClientInput, type ClientPatch, MAX_EPOCH_MS, OWN_SCOPE_PREFIX, type SecretInfo, type SecretInput } from './model.js';
import { isLive, secretInfo } from './secret-lifecycle.js';
import { checkImportedSecret, generateSecret, hashSecret, newSecretId, SECRET_MAX_LENGTH, hashMatches, SECRET_STRENGTH_RULE } from './secrets.js';
import { CLIENT_ID_PATTERN, validateClientFields, validateClientId, validateDefaultScopesAllowed, validateSecretLabel } from './validate.js';

export interface Actor {
  id: string;
  address?: string | undefined;
}

/** Registers the organisation of an RSIN when there is none yet (OrganisationService.ensure), audited as done by `actor`. */
export interface OrganisationRegistration {
  ensure(rsin: string, actor: Actor): Promise<unknown>;
}

export interface CreatedSecret {
  secret: SecretInfo;
  /** The secret's value: returned once, here, and never again. */
  value: string;
  warnings: string[];
}

/**
 * How long a client looked up for authentication or verification is served from memory. Changes
 * made in this process, or announced by the change feed, evict it at once; this is the bound for
 * processes that share a database without a feed (SQLite cluster workers).
 */
export const CLIENT_CACHE_MS = 2000;
const CLIENT_CACHE_MAX = 10_000;
/** How exact "last used" is, for secrets and clients (see noteUsage). */
export const USAGE_PRECISION_MS = 300_000;
const USAGE_WRITES_PER_FLUSH = 250;
const USAGE_BACKLOG_MAX = 10_000;

export type SigningSecrets = { client: Client; secrets: Buffer[]; organisationEnabled: boolean } | undefined;

/** Why a client authentication failed: for the audit trail and the back-off, never for the caller. */
export type AuthFailureReason = 'unknown_client' | 'wrong_secret' | 'revoked_secret' | 'expired_secret' | 'disabled_client' | 'disabled_organisation';

/** A failure names the client's organisation (`rsin`) when the client is known, for the audit trail. */
export type Authentication = { ok: true; client: Client } | { ok: false; reason: AuthFailureReason; secretId?: string; rsin?: string };

interface CachedClient {
  found: ClientWithSecrets | undefined;
  at: number;
  /** The entry is stale from this moment: the first expiry of a secret that was live when read. */
  staleAt: number;
  /** Self-signing secrets, decrypted on first use. */
  opened?: Buffer[];
}

const NOT_REGISTRABLE: CachedClient = { found: undefined, at: Infinity, staleAt: Infinity };

const SELF_SIGNED_NEEDS_NEW_SECRET = 'self-signed tokens need a new secret: the existing secrets are stored as one-way hashes and cannot verify HS256 signatures; add a secret to this client';

/** Client registry operations: validation, secret handling and the audit trail in one place. */
export class ClientService {
  /** Secret id → client id of secrets to mark as used at the next flush. */
  private usage = new Map<string, string>();
  private usageTimer: NodeJS.Timeout | undefined;
  private readonly cache = new BoundedCache<string, CachedClient>(CLIENT_CACHE_MAX);
  private seen = new Set<string>();
  private seenSince = 0;
  /** Spent on unknown clients so that they cost what a known one costs. */
  private readonly dummySecrets: StoredSecret[] = [{ secretId: '', hash: crypto.randomBytes(32), sealed: null, expiresAt: null, lastUsedAt: null, revokedAt: null }];

  constructor(
    private readonly store: ClientStore,
    private readonly masterKey: MasterKey,
    private readonly audit: AuditLog,
    private readonly changes: ChangeFeed,
    private readonly now: () => number = Date.now,
    /** Creating or moving a client to an RSIN without an organisation registers it first. */
    private readonly organisations?: OrganisationRegistration,
  ) {
    changes.onChange((change) => {
      if (change.kind === 'client') this.cache.delete(change.clientId);
      else if (change.kind === 'all' || change.kind === 'organisation') this.cache.clear();
    });
  }

  /**
   * With `deliver`, the generated secret is handed over while the client is stored but not yet
   * committed: when delivery fails or the process dies in it, the client does not exist.
   */
  async create(input: ClientInput, actor: Actor, options?: { deliver: (value: string) => void }): Promise<{ client: Client; secret: CreatedSecret }>;
  /**
   * With `secrets`, the client gets exactly these instead of a generated one: imported values are
   * checked as addSecret checks them, all before anything is stored; an empty list gives none.
   */
  async create(input: ClientInput, actor: Actor, options: { secrets: SecretInput[] }): Promise<{ client: Client; secrets: CreatedSecret[] }>;
  async create(
    input: ClientInput,
    actor: Actor,
    options?: { secrets?: SecretInput[]; deliver?: (value: string) => void },
  ): Promise<{ client: Client; secret?: CreatedSecret; secrets?: CreatedSecret[] }> {
    const clientId = input.clientId ?? `client-${crypto.randomBytes(8).toString('hex')}`;
    validateClientId(clientId);
    validateClientFields(input);
    const t = this.now();
    const client: Client = {
      clientId,
      name: input.name ?? clientId,
      description: input.description ?? '',
      rsin: input.rsin,
      enabled: input.enabled ?? true,
      grantTypes: input.grantTypes ?? ['client_credentials'],
      allowedScopes: input.allowedScopes ?? [],
      defaultScopes: input.defaultScopes ?? input.allowedScopes ?? [],
      tokenLifetime: input.tokenLifetime ?? null,
      staticClaims: input.staticClaims ?? {},
      selfSignedAllowed: input.selfSignedAllowed ?? false,
      createdAt: t,
      updatedAt: t,
      lastTokenAt: null,
      risks: [],
    };
    validateDefaultScopesAllowed(client.defaultScopes, client.allowedScopes);
    if (await this.store.get(clientId, t)) throw new ConflictError(`client "${clientId}" already exists`);
    await this.organisations?.ensure(client.rsin, actor);
    if (options?.secrets) return this.createWithSecrets(client, options.secrets, actor);
    const value = generateSecret();
    const secret = this.newSecret(client, { label: 'initial' }, value);
    const deliver = options?.deliver;
    try {
      await this.store.insert(client, [secret], deliver && (() => deliver(value)));
    } catch (err) {
      // A concurrent create of the same id lost the race on the primary key.
      if (await this.store.get(clientId, t)) throw new ConflictError(`client "${clientId}" already exists`);
      throw err;
    }
    await this.changed(clientId);
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'client.created',
      target: clientId,
      organisation: client.rsin,
      details: { after: client, secretId: secret.secretId, ...ownScopesGranted([], client) },
    });
    return { client, secret: { secret: secretInfo(secret), value, warnings: [] } };
  }

  private async createWithSecrets(client: Client, inputs: SecretInput[], actor: Actor): Promise<{ client: Client; secrets: CreatedSecret[] }> {
    const checked = inputs.map((input) => ({ input, ...this.checkSecretInput(client, input) }));
    const created = checked.map(({ input, warnings, weak }) => {
      const value = input.value ?? generateSecret();
      return { secret: this.newSecret(client, input, value, weak), value, warnings };
    });
    try {
      await this.store.insert(
        client,
        created.map((c) => c.secret),
      );
    } catch (err) {
      if (await this.store.get(client.clientId, this.now())) throw new ConflictError(`client "${client.clientId}" already exists`);
      throw err;
    }
    await this.changed(client.clientId);
    const secrets = created.map((c) => ({ secret: secretInfo(c.secret), value: c.value, warnings: c.warnings }));
    const allowedWeak = client.selfSignedAllowed && checked.some((c) => c.weak) ? { allowedWeak: true } : {};
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'client.created',
      target: client.clientId,
      organisation: client.rsin,
      details: { after: client, secrets: secrets.map((s) => s.secret), warnings: secrets.flatMap((s) => s.warnings), ...allowedWeak, ...ownScopesGranted([], client) },
    });
    return { client, secrets };
  }

  async get(clientId: string): Promise<Client> {
    const client = await this.store.get(clientId, this.now());
    if (!client) throw clientNotFound(clientId);
    return client;
  }

  list(filter: ClientFilter): Promise<{ items: Client[]; total: number }> {
    return this.store.list(filter, this.now());
  }

  async update(clientId: string, patch: ClientPatch, actor: Actor): Promise<{ client: Client; warnings: string[] }> {
    validateClientFields(patch);
    const before = await this.get(clientId);
    const after: Client = { ...before };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (after as unknown as Record<string, unknown>)[k] = v;
    if (patch.allowedScopes && !patch.defaultScopes) after.defaultScopes = before.defaultScopes.filter((s) => after.allowedScopes.includes(s));
    validateDefaultScopesAllowed(after.defaultScopes, after.allowedScopes);
    after.updatedAt = this.now();
    const warnings: string[] = [];
    if (after.selfSignedAllowed && !before.selfSignedAllowed) {
      const found = await this.store.findWithSecrets(clientId, this.now());
      if (!found?.secrets.some((s) => s.sealed && isLive(s, this.now()))) warnings.push(SELF_SIGNED_NEEDS_NEW_SECRET);
    }
    if (after.rsin !== before.rsin) await this.organisations?.ensure(after.rsin, actor);
    await this.store.update(after);
    if (!after.selfSignedAllowed && before.selfSignedAllowed) {
      await this.store.dropSealed(clientId);
      // A weak secret that can no longer sign is no longer a risk.
      after.risks = [];
    }
    await this.changed(clientId);
    const action = before.enabled !== after.enabled && Object.keys(patch).length === 1 ? (after.enabled ? 'client.enabled' : 'client.disabled') : 'client.updated';
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action,
      target: clientId,
      organisation: after.rsin,
      details: { before, after, ...ownScopesGranted(before.allowedScopes, after) },
    });
    // The organisation it left keeps a record of where it went.
    if (after.rsin !== before.rsin) {
      await this.audit.record({ actor: actor.id, address: actor.address, action: 'client.moved', target: clientId, organisation: before.rsin, details: { from: before.rsin, to: after.rsin } });
    }
    return { client: after, warnings };
  }

  async delete(clientId: string, actor: Actor): Promise<void> {
    const before = await this.get(clientId);
    await this.store.delete(clientId);
    await this.changed(clientId);
    await this.audit.record({ actor: actor.id, address: actor.address, action: 'client.deleted', target: clientId, organisation: before.rsin, details: { before } });
  }

  async addSecret(clientId: string, input: SecretInput, actor: Actor): Promise<CreatedSecret> {
    const client = await this.get(clientId);
    const { warnings, weak } = this.checkSecretInput(client, input);
    const value = input.value ?? generateSecret();
    const secret = this.newSecret(client, input, value, weak);
    await this.store.insertSecret(secret);
    await this.changed(clientId);
    const info = secretInfo(secret);
    const allowedWeak = weak && client.selfSignedAllowed ? { allowedWeak: true } : {};
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: input.value !== undefined ? 'secret.imported' : 'secret.created',
      target: clientId,
      organisation: client.rsin,
      details: { after: info, warnings, ...allowedWeak },
    });
    return { secret: info, value, warnings };
  }

  /** Checks a new secret's fields, and an imported value against the weak-secret rule. */
  private checkSecretInput(client: Client, input: SecretInput): { warnings: string[]; weak: boolean } {
    const { warnings, weak } = input.value !== undefined ? checkImportedSecret(input.value) : { warnings: [], weak: false };
    // Anyone holding one HS256 token of this client can test guesses offline: refuse unless allowed.
    if (weak && client.selfSignedAllowed && !input.allowWeak) {
      throw new ValidationError(
        `weak secret refused for a self-signing client (${warnings.join('; ')}): ${SECRET_STRENGTH_RULE}. Generate one, or allow this one explicitly (--allow-weak-secret, "allowWeak": true)`,
        'value',
      );
    }
    if (input.label !== undefined) validateSecretLabel(input.label);
    if (input.expiresAt != null && (!Number.isInteger(input.expiresAt) || input.expiresAt <= this.now() || input.expiresAt > MAX_EPOCH_MS))
      throw new ValidationError('expiresAt must be in the future, before the year 10000', 'expiresAt');
    return { warnings, weak };
  }

  /**
   * Whether `value` is one of the client's secrets (live, or former within FORMER_SECRET_MS): lets
   * an import that runs again leave a secret that is already there alone.
   */
  async hasSecret(clientId: string, value: string): Promise<boolean> {
    return (await this.findSecret(clientId, value)) !== undefined;
  }

  /** The secret `value` is (as hasSecret finds it), with whether and when it was revoked or expires: a former one no longer works. */
  async findSecret(clientId: string, value: string): Promise<Pick<SecretInfo, 'secretId' | 'revokedAt' | 'expiresAt'> | undefined> {
    const found = await this.store.findWithSecrets(clientId, this.now());
    const presented = hashSecret(this.masterKey.hashKey, value);
    let matched: StoredSecret | undefined;
    for (const s of found?.secrets ?? []) if (hashMatches(presented, s.hash)) matched = s;
    return matched && { secretId: matched.secretId, revokedAt: matched.revokedAt, expiresAt: matched.expiresAt };
  }

  async listSecrets(clientId: string): Promise<SecretInfo[]> {
    await this.get(clientId);
    return this.store.listSecrets(clientId);
  }

  async revokeSecret(clientId: string, secretId: string, actor: Actor): Promise<SecretInfo> {
    const client = await this.get(clientId);
    const info = await this.store.revokeSecret(clientId, secretId, this.now());
    if (!info) throw new NotFoundError(`secret "${secretId.slice(0, 60)}" of client "${clientId}" does not exist`);
    await this.changed(clientId);
    await this.audit.record({ actor: actor.id, address: actor.address, action: 'secret.revoked', target: clientId, organisation: client.rsin, details: { after: info } });
    return info;
  }

  /**
   * Client authentication for /token, /introspect and /revoke. Every outcome costs the same work:
   * one HMAC and a constant-time compare per secret the client has (the live ones and its former
   * ones of the last FORMER_SECRET_MS, read in the same query), one dummy for an unknown client.
   * A former secret is recognised so that the back-off can tell a stale instance from a guesser.
   */
  async authenticate(clientId: string, secret: string): Promise<Authentication> {
    const found = (await this.lookup(clientId)).found;
    const presented = hashSecret(this.masterKey.hashKey, secret.length <= SECRET_MAX_LENGTH ? secret : '');
    let matched: StoredSecret | undefined;
    for (const s of found?.secrets ?? this.dummySecrets) {
      if (hashMatches(presented, s.hash) && s.secretId) matched = s;
    }
    if (!found) return { ok: false, reason: 'unknown_client' };
    const rsin = found.client.rsin;
    if (!matched) return { ok: false, reason: 'wrong_secret', rsin };
    const secretId = matched.secretId;
    if (matched.revokedAt !== null) return { ok: false, reason: 'revoked_secret', secretId, rsin };
    if (!isLive(matched, this.now())) return { ok: false, reason: 'expired_secret', secretId, rsin };
    if (!found.client.enabled) return { ok: false, reason: 'disabled_client', secretId, rsin };
    if (!found.organisationEnabled) return { ok: false, reason: 'disabled_organisation', secretId, rsin };
    this.noteUsage(matched, found.client);
    return { ok: true, client: found.client };
  }

  /**
   * Secrets that can verify a self-signed HS256 token of this client (decrypted, in memory only).
   * Answers synchronously from the cache, so the verifier needs no promise for a known client.
   */
  selfSigningSecrets(clientId: string): SigningSecrets | Promise<SigningSecrets> {
    const entry = this.lookup(clientId);
    return entry instanceof Promise ? entry.then((e) => this.openSecrets(clientId, e)) : this.openSecrets(clientId, entry);
  }

  private openSecrets(clientId: string, entry: CachedClient): SigningSecrets {
    if (!entry.found) return undefined;
    const t = this.now();
    entry.opened ??= entry.found.secrets.filter((s) => s.sealed && isLive(s, t)).map((s) => this.masterKey.open(s.sealed!, sealContext(clientId, s.secretId)));
    return { client: entry.found.client, secrets: entry.opened, organisationEnabled: entry.found.organisationEnabled };
  }

  /** The client and its secrets, from memory for at most CLIENT_CACHE_MS (see there). */
  private lookup(clientId: string): CachedClient | Promise<CachedClient> {
    // An id that cannot be registered is not looked up: no database work, and no NUL sent to one.
    if (!CLIENT_ID_PATTERN.test(clientId)) return NOT_REGISTRABLE;
    const t = this.now();
    const hit = this.cache.get(clientId);
    if (hit && t - hit.at < CLIENT_CACHE_MS && t < hit.staleAt) return hit;
    return this.store.findWithSecrets(clientId, t).then((found) => {
      let staleAt = Infinity;
      for (const s of found?.secrets ?? []) if (isLive(s, t) && s.expiresAt !== null) staleAt = Math.min(staleAt, s.expiresAt);
      const entry: CachedClient = { found, at: t, staleAt };
      if (hit || this.seenBefore(clientId, t)) this.cache.set(clientId, entry);
      return entry;
    });
  }

  /**
   * Admission: a client is cached from its second lookup within CLIENT_CACHE_MS on. A client seen
   * once in a large registry would only push out one that is in use, and its entry would age into
   * the old heap as garbage.
   */
  private seenBefore(clientId: string, t: number): boolean {
    if (t - this.seenSince >= CLIENT_CACHE_MS) {
      this.seen.clear();
      this.seenSince = t;
    }
    if (this.seen.has(clientId)) return true;
    if (this.seen.size < CLIENT_CACHE_MAX) this.seen.add(clientId);
    return false;
  }

  private async changed(clientId: string): Promise<void> {
    this.cache.delete(clientId);
    await this.changes.publish({ kind: 'client', clientId });
  }

  /**
   * Writes buffered last-used marks with the flush time: at most USAGE_WRITES_PER_FLUSH per second
   * while serving, so that a burst of first uses across a large registry cannot stall requests;
   * everything (`all`) on shutdown.
   */
  async flushUsage(all = true): Promise<void> {
    if (this.usageTimer) clearTimeout(this.usageTimer);
    this.usageTimer = undefined;
    const secretIds: string[] = [];
    const clientIds = new Set<string>();
    for (const [secretId, clientId] of this.usage) {
      if (!all && secretIds.length >= USAGE_WRITES_PER_FLUSH) break;
      secretIds.push(secretId);
      clientIds.add(clientId);
      this.usage.delete(secretId);
    }
    if (this.usage.size) this.scheduleUsageFlush();
    if (secretIds.length) await this.store.recordUsage(secretIds, [...clientIds], this.now());
  }

  private scheduleUsageFlush(): void {
    this.usageTimer ??= setTimeout(() => void this.flushUsage(false).catch(() => {}), 1000);
    this.usageTimer.unref();
  }

  /**
   * "Last used" is kept to USAGE_PRECISION_MS: a secret already marked within that time is not
   * written again, so a busy registry costs a handful of writes per second, not one per token.
   */
  private noteUsage(secret: StoredSecret, client: Client): void {
    const t = this.now();
    if (secret.lastUsedAt !== null && t - secret.lastUsedAt < USAGE_PRECISION_MS && client.lastTokenAt !== null && t - client.lastTokenAt < USAGE_PRECISION_MS) return;
    // A backlog this large means writes are behind: drop the mark, a later token brings it back.
    if (this.usage.size >= USAGE_BACKLOG_MAX) return;
    // The cached copies say what will be stored, so the next token from cache writes nothing.
    secret.lastUsedAt = t;
    client.lastTokenAt = t;
    this.usage.set(secret.secretId, client.clientId);
    this.scheduleUsageFlush();
  }

  private newSecret(client: Client, input: SecretInput, value: string, weak = false): SecretRecord {
    const secretId = newSecretId();
    return {
      secretId,
      clientId: client.clientId,
      label: input.label ?? '',
      hash: hashSecret(this.masterKey.hashKey, value),
      sealed: client.selfSignedAllowed ? this.masterKey.seal(value, sealContext(client.clientId, secretId)) : null,
      createdAt: this.now(),
      expiresAt: input.expiresAt ?? null,
      lastUsedAt: null,
      revokedAt: null,
      weak,
    };
  }
}

/** The one answer for a client that does not exist, or that the asker may not see: the two must not differ. */
export function clientNotFound(clientId: string): NotFoundError {
  return new NotFoundError(`client "${clientId.slice(0, 60)}" does not exist`);
}

function sealContext(clientId: string, secretId: string): string {
  return `client-secret:${clientId}:${secretId}`;
}

/**
 * zgw-auth's own scopes (admin, introspection, organisation administration) the client gains by
 * this change, named apart in its audit event: who was given rights over the registry is then
 * found without reading every change.
 */
function ownScopesGranted(before: string[], after: Client): { ownScopesGranted?: string[] } {
  const granted = after.allowedScopes.filter((s) => s.startsWith(OWN_SCOPE_PREFIX) && !before.includes(s));
  return granted.length ? { ownScopesGranted: granted } : {};
}
