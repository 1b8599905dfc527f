import crypto from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import { type ClientAuthenticator, sealContext } from './client-authenticator.js';
import type { ClientFilter, ClientStore, SecretRecord, StoredSecret } from './client-store.js';
import {
  type Client,
  type ClientInput,
  type ClientAuthMethod,
  type ClientKey,
  type ClientPatch,
  DEFAULT_AUTH_METHODS,
  MAX_EPOCH_MS,
  SECRET_AUTH_METHODS,
  OWN_SCOPE_PREFIX,
  type SecretInfo,
  type SecretInput,
  usesSecrets,
} from './model.js';
import { MAX_CLIENT_KEYS, parseKeyInput } from './client-keys.js';
import { keyCertificateRefusal } from './key-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';
import { expiryState } from './credential-expiry.js';
import { isLive, secretInfo } from './secret-lifecycle.js';
import {
  checkImportedSecret,
  generateSecret,
  hashSecret,
  newSecretId,
  hashMatches,
  SECRET_STRENGTH_RULE,
} from './secrets.js';
import {
  validateBoundTokensOnly,
  validateClientFields,
  validateClientId,
  validateDefaultScopesAllowed,
  validateAuthFields,
  validateSecretLabel,
} from './validate.js';

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

/** What a client's authentication may be set to: the operator's settings. */
export interface ClientAuthPolicy {
  /** Methods a client may be registered with or changed to (ZGW_AUTH_NEW_CLIENT_AUTH_METHODS). */
  newMethods?: readonly ClientAuthMethod[];
  /** Checks a jwks_uri when it is set (JwksUriPolicy.validate). */
  jwksUri?: { validate(uri: string): void };
  /** Trust anchors the x5c chains of registered keys must validate to (ZGW_AUTH_TLS_CLIENT_CA). */
  trust?: TrustStore;
  /** Seconds before a registered certificate expires from which its key says expiresSoon (ZGW_AUTH_EXPIRY_WARNING). */
  expiryWarning?: number;
}

/** A registered key as administrators see it: whether its certificate expires soon or has expired. */
export type ClientKeyView = ClientKey & { expiresSoon: boolean; expired: boolean };

const SELF_SIGNED_NEEDS_NEW_SECRET =
  'self-signed tokens need a new secret: the existing secrets are stored as one-way hashes and cannot verify HS256 signatures; add a secret to this client';

/**
 * The client registry: creating, changing and deleting clients and their secrets, with validation
 * and the audit trail. Who a caller is, is decided by ClientAuthenticator.
 */
export class ClientService {
  constructor(
    private readonly store: ClientStore,
    private readonly masterKey: MasterKey,
    private readonly audit: AuditLog,
    private readonly changes: ChangeFeed,
    private readonly now: () => number = Date.now,
    /** Creating or moving a client to an RSIN without an organisation registers it first. */
    private readonly organisations?: OrganisationRegistration,
    /** Told of every change made here at once, before the change feed reports it. */
    private readonly authenticator?: Pick<ClientAuthenticator, 'forget'>,
    private readonly authPolicy: ClientAuthPolicy = {},
  ) {}

  /**
   * With `deliver`, the generated secret is handed over while the client is stored but not yet
   * committed: when delivery fails or the process dies in it, the client does not exist.
   */
  async create(
    input: ClientInput & { authMethods?: undefined },
    actor: Actor,
    options?: {
      deliver: (value: string) => void;
      /** The first start's administrator: it signs in to the console with a secret whatever methods new clients may have. */
      firstAdministrator?: boolean;
    },
  ): Promise<{ client: Client; secret: CreatedSecret }>;
  /** A client whose methods include no client_secret_* method gets no secret: `secret` is then absent. */
  async create(
    input: ClientInput,
    actor: Actor,
    options?: { deliver: (value: string) => void },
  ): Promise<{ client: Client; secret?: CreatedSecret }>;
  /**
   * With `secrets`, the client gets exactly these instead of a generated one: imported values are
   * checked as addSecret checks them, all before anything is stored; an empty list gives none.
   */
  async create(
    input: ClientInput,
    actor: Actor,
    options: { secrets: SecretInput[] },
  ): Promise<{ client: Client; secrets: CreatedSecret[] }>;
  async create(
    input: ClientInput,
    actor: Actor,
    options?: { secrets?: SecretInput[]; deliver?: (value: string) => void; firstAdministrator?: boolean },
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
      authMethods: input.authMethods ?? [...DEFAULT_AUTH_METHODS],
      jwksUri: input.jwksUri ?? null,
      tlsSubject: input.tlsSubject ?? null,
      oin: input.oin ?? null,
      dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? false,
      tlsClientCertificateBoundAccessTokens: input.tlsClientCertificateBoundAccessTokens ?? false,
    };
    validateBoundTokensOnly(client, input);
    validateDefaultScopesAllowed(client.defaultScopes, client.allowedScopes);
    this.checkAuthentication(options?.firstAdministrator ? client : undefined, client, []);
    this.checkSelfSigned(undefined, client);
    if (await this.store.get(clientId, t)) throw new ConflictError(`client "${clientId}" already exists`);
    await this.organisations?.ensure(client.rsin, actor);
    if (options?.secrets) return this.createWithSecrets(client, options.secrets, actor);
    // A client of keys or certificates only would hold a secret it cannot use: it gets none.
    if (!usesSecrets(client)) return this.createWithSecrets(client, [], actor);
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

  private async createWithSecrets(
    client: Client,
    inputs: SecretInput[],
    actor: Actor,
  ): Promise<{ client: Client; secrets: CreatedSecret[] }> {
    if (inputs.length && !usesSecrets(client)) throw noSecretMethod(client);
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
      if (await this.store.get(client.clientId, this.now()))
        throw new ConflictError(`client "${client.clientId}" already exists`);
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
      details: {
        after: client,
        secrets: secrets.map((s) => s.secret),
        warnings: secrets.flatMap((s) => s.warnings),
        ...allowedWeak,
        ...ownScopesGranted([], client),
      },
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
    for (const [k, v] of Object.entries(patch))
      if (v !== undefined) (after as unknown as Record<string, unknown>)[k] = v;
    if (patch.allowedScopes && !patch.defaultScopes)
      after.defaultScopes = before.defaultScopes.filter((s) => after.allowedScopes.includes(s));
    validateBoundTokensOnly(after, patch);
    validateDefaultScopesAllowed(after.defaultScopes, after.allowedScopes);
    if (
      patch.jwksUri !== undefined ||
      patch.authMethods !== undefined ||
      patch.tlsSubject !== undefined ||
      patch.oin !== undefined
    )
      this.checkAuthentication(before, after, after.jwksUri !== null ? await this.store.listKeys(clientId) : []);
    if (patch.selfSignedAllowed !== undefined || patch.authMethods !== undefined) this.checkSelfSigned(before, after);
    if (after.oin !== null && after.oin !== before.oin) await this.checkKeysCarryOin(after);
    after.updatedAt = this.now();
    const warnings: string[] = [];
    const live = (await this.store.findWithSecrets(clientId, this.now()))?.secrets.filter((s) => isLive(s, this.now()));
    if (after.selfSignedAllowed && !before.selfSignedAllowed) {
      if (!live?.some((s) => s.sealed)) warnings.push(SELF_SIGNED_NEEDS_NEW_SECRET);
    }
    if (usesSecrets(after) && !usesSecrets(before) && !live?.length) warnings.push(secretMethodNeedsSecret(clientId));
    if (after.rsin !== before.rsin) await this.organisations?.ensure(after.rsin, actor);
    // Without a secret method its secrets can no longer be used: revoked, so that adding a secret
    // method later never brings a forgotten secret back to life. A new one is shown when created.
    // The store reads the live ones in the transaction that stores the client: a secret added by a
    // concurrent rotation is either among them or refused by addSecret's own check.
    const revokedSecrets = await this.store.update(
      after,
      usesSecrets(before) && !usesSecrets(after) ? this.now() : undefined,
    );
    if (revokedSecrets.length)
      warnings.push(
        `client "${clientId}" no longer authenticates with a secret: its secrets ${revokedSecrets.join(', ')} are revoked`,
      );
    if (!after.selfSignedAllowed && before.selfSignedAllowed) {
      await this.store.dropSealed(clientId);
      // A weak secret that can no longer sign is no longer a risk.
      after.risks = [];
    }
    await this.changed(clientId);
    const action =
      before.enabled !== after.enabled && Object.keys(patch).length === 1
        ? after.enabled
          ? 'client.enabled'
          : 'client.disabled'
        : 'client.updated';
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action,
      target: clientId,
      organisation: after.rsin,
      details: {
        before,
        after,
        ...ownScopesGranted(before.allowedScopes, after),
        ...(revokedSecrets.length ? { revokedSecrets } : {}),
      },
    });
    // The organisation it left keeps a record of where it went.
    if (after.rsin !== before.rsin) {
      await this.audit.record({
        actor: actor.id,
        address: actor.address,
        action: 'client.moved',
        target: clientId,
        organisation: before.rsin,
        details: { from: before.rsin, to: after.rsin },
      });
    }
    return { client: after, warnings };
  }

  async delete(clientId: string, actor: Actor): Promise<void> {
    const before = await this.get(clientId);
    await this.store.delete(clientId);
    await this.changed(clientId);
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'client.deleted',
      target: clientId,
      organisation: before.rsin,
      details: { before },
    });
  }

  async addSecret(clientId: string, input: SecretInput, actor: Actor): Promise<CreatedSecret> {
    const client = await this.get(clientId);
    if (!usesSecrets(client)) throw noSecretMethod(client);
    const { warnings, weak } = this.checkSecretInput(client, input);
    const value = input.value ?? generateSecret();
    const secret = this.newSecret(client, input, value, weak);
    // Checked again where it is stored: an update removing the last secret method meanwhile wins.
    if (!(await this.store.insertSecret(secret, usesSecrets)))
      throw noSecretMethod({ ...client, authMethods: (await this.get(clientId)).authMethods });
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
    const { warnings, weak } =
      input.value !== undefined ? checkImportedSecret(input.value) : { warnings: [], weak: false };
    // Anyone holding one HS256 token of this client can test guesses offline: refuse unless allowed.
    if (weak && client.selfSignedAllowed && !input.allowWeak) {
      throw new ValidationError(
        `weak secret refused for a self-signing client (${warnings.join('; ')}): ${SECRET_STRENGTH_RULE}. Generate one, or allow this one explicitly (--allow-weak-secret, "allowWeak": true)`,
        'value',
      );
    }
    if (input.label !== undefined) validateSecretLabel(input.label);
    if (
      input.expiresAt != null &&
      (!Number.isInteger(input.expiresAt) || input.expiresAt <= this.now() || input.expiresAt > MAX_EPOCH_MS)
    )
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
  async findSecret(
    clientId: string,
    value: string,
  ): Promise<Pick<SecretInfo, 'secretId' | 'revokedAt' | 'expiresAt'> | undefined> {
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
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'secret.revoked',
      target: clientId,
      organisation: client.rsin,
      details: { after: info },
    });
    return info;
  }

  /**
   * Self-signed tokens are HS256 with a client secret: allowed only for a client with a secret
   * method, and newly allowed only where new clients may use secrets at all.
   */
  private checkSelfSigned(before: Client | undefined, after: Client): void {
    if (!after.selfSignedAllowed) return;
    if (!after.authMethods.some((m) => SECRET_AUTH_METHODS.includes(m)))
      throw new ValidationError(
        'selfSignedAllowed: self-signed tokens are signed with a client secret; this client has no secret method',
        'selfSignedAllowed',
      );
    const allowed = this.authPolicy.newMethods;
    if (!before?.selfSignedAllowed && allowed && !allowed.some((m) => SECRET_AUTH_METHODS.includes(m)))
      throw new ValidationError(
        'selfSignedAllowed: self-signed tokens need a client secret, and new clients here may not use secrets',
        'selfSignedAllowed',
      );
  }

  /**
   * A client given an OIN (or another one) must already hold only keys whose x5c certificate
   * carries it: otherwise authentication would refuse its keys from the next request on. Refused
   * as addKeys refuses such a key for a client that has the OIN.
   */
  private async checkKeysCarryOin(after: Client): Promise<void> {
    for (const k of await this.store.listKeys(after.clientId)) {
      const refusal = keyCertificateRefusal(k.publicJwk, after, this.authPolicy.trust, this.now());
      if (refusal)
        throw new ValidationError(
          `oin: registered key "${k.kid.slice(0, 60)}" does not prove this OIN (${refusal.detail}); remove it or register keys whose certificate carries the OIN first`,
          'oin',
        );
    }
  }

  /**
   * Methods newly given must be ones the operator allows for new registrations; a jwks_uri must
   * pass the fetch policy, and never come with registered keys (RFC 7591 §2: one or the other).
   */
  private checkAuthentication(before: Client | undefined, after: Client, keys: ClientKey[]): void {
    validateAuthFields(after);
    const allowed = this.authPolicy.newMethods;
    const added = after.authMethods.filter((m) => !before?.authMethods.includes(m));
    const refused = allowed ? added.filter((m) => !allowed.includes(m)) : [];
    if (refused.length)
      throw new ValidationError(
        `authentication method ${refused.join(', ')} is not allowed for new registrations here (allowed: ${allowed!.join(', ')})`,
        'authMethods',
      );
    if (after.jwksUri !== null && after.jwksUri !== before?.jwksUri) this.authPolicy.jwksUri?.validate(after.jwksUri);
    if (after.jwksUri !== null && keys.length)
      throw new ValidationError(
        'a client has registered keys or a jwks_uri, not both: remove its keys first',
        'jwksUri',
      );
  }

  /** Registers public keys (a JWK, a JWKS or PEM certificates, see parseKeyInput); audited by thumbprint. */
  async addKeys(clientId: string, text: string, actor: Actor): Promise<ClientKeyView[]> {
    const client = await this.get(clientId);
    if (client.jwksUri !== null)
      throw new ValidationError(
        'this client publishes its keys at its jwks_uri: clear jwks_uri to register keys',
        'keys',
      );
    const added = parseKeyInput(text, clientId, this.now());
    const existing = await this.store.listKeys(clientId);
    if (existing.length + added.length > MAX_CLIENT_KEYS)
      throw new ValidationError(`at most ${MAX_CLIENT_KEYS} keys per client`, 'keys');
    // Refused now what authentication would refuse: an x5c chain the anchors do not vouch for, a missing OIN.
    for (const k of added) {
      const refusal = keyCertificateRefusal(k.publicJwk, client, this.authPolicy.trust, this.now());
      if (refusal) throw new ValidationError(`key "${k.kid.slice(0, 60)}": ${refusal.detail}`, 'keys');
    }
    const kids = new Set(existing.map((k) => k.kid));
    for (const k of added) {
      if (kids.has(k.kid)) throw new ConflictError(`key "${k.kid.slice(0, 60)}" is already registered for this client`);
      kids.add(k.kid);
    }
    await this.store.insertKeys(added);
    await this.changed(clientId);
    for (const k of added)
      await this.audit.record({
        actor: actor.id,
        address: actor.address,
        action: 'client_key.added',
        target: clientId,
        organisation: client.rsin,
        details: keyDetails(k),
      });
    return added.map((k) => this.keyView(k));
  }

  async listKeys(clientId: string): Promise<ClientKeyView[]> {
    await this.get(clientId);
    return (await this.store.listKeys(clientId)).map((k) => this.keyView(k));
  }

  /** The key with where its certificate stands now (ZGW_AUTH_EXPIRY_WARNING). */
  private keyView(k: ClientKey): ClientKeyView {
    return { ...k, ...expiryState(k.expiresAt, this.now(), (this.authPolicy.expiryWarning ?? 0) * 1000) };
  }

  async removeKey(clientId: string, kid: string, actor: Actor): Promise<ClientKeyView> {
    const client = await this.get(clientId);
    const removed = await this.store.removeKey(clientId, kid);
    if (!removed) throw new NotFoundError(`key "${kid.slice(0, 60)}" of client "${clientId}" does not exist`);
    await this.changed(clientId);
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'client_key.removed',
      target: clientId,
      organisation: client.rsin,
      details: keyDetails(removed),
    });
    return this.keyView(removed);
  }

  private async changed(clientId: string): Promise<void> {
    this.authenticator?.forget(clientId);
    await this.changes.publish({ kind: 'client', clientId });
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

function noSecretMethod(client: Client): ValidationError {
  return new ValidationError(
    `client "${client.clientId}" authenticates without a secret (${client.authMethods.join(', ')}) and holds none: add client_secret_basic or client_secret_post to its authMethods first, then create a secret (shown once)`,
    'authMethods',
  );
}

function secretMethodNeedsSecret(clientId: string): string {
  return `client "${clientId}" may now authenticate with a client secret but has none: create one (admin API POST /admin/clients/${clientId}/secrets, CLI "secrets add ${clientId}", or "Add secret" in the console); its value is shown once`;
}

/** What the audit trail keeps of a key: never its material beyond the thumbprint. */
function keyDetails(k: ClientKey): Record<string, unknown> {
  return { kid: k.kid, thumbprint: k.thumbprint, kty: k.kty, alg: k.alg, expiresAt: k.expiresAt };
}

/** The one answer for a client that does not exist, or that the asker may not see: the two must not differ. */
export function clientNotFound(clientId: string): NotFoundError {
  return new NotFoundError(`client "${clientId.slice(0, 60)}" does not exist`);
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
