import { type Kysely, sql } from '#kysely';
import type {
  ClientFilter,
  ClientStore,
  ClientWithSecrets,
  SecretRecord,
  StoredSecret,
} from '../clients/client-store.js';
import {
  type Client,
  type ClientAuthMethod,
  type ClientKey,
  KEY_AUTH_METHODS,
  type PublicJwk,
  type SecretInfo,
  type TlsSubjectField,
} from '../clients/model.js';
import type {
  CredentialExpiryStore,
  CredentialKind,
  ExpiringCredential,
  ExpiryAnnouncement,
} from '../clients/credential-expiry.js';
import { crashPoint } from '../crash-point.js';
import { ConflictError, StorageUnavailableError } from '../errors.js';
import { FORMER_SECRET_MS, isLive } from '../clients/secret-lifecycle.js';
import { insertUncountedEvent } from './kysely-audit-store.js';
import { prepareQuery } from './prepared.js';
import type { ClientKeyRow, ClientRow, ClientSecretRow, Database, NewClientRow } from './schema.js';

const USAGE_CHUNK = 500;
/** A client's auth_methods (JSON text) naming self_signed_tls_client_auth: its keys' certificates are presented on TLS. */
const SELF_SIGNED_TLS = '%"self_signed_tls_client_auth"%';
/** Clients that never had a token sort after every time; the same expression as the index. */
const LAST_TOKEN_ORDER = sql`coalesce(last_token_at, -1)`;

/**
 * The soonest expiry after `now` of a client's live secrets and its keys' certificates;
 * MAX_SAFE_INTEGER when none expires (the smaller of two subqueries, written as CASE: SQLite's
 * min(a, b) and PostgreSQL's least(a, b) treat NULL apart).
 */
function soonestExpiry(now: number) {
  const none = Number.MAX_SAFE_INTEGER;
  const secret = sql<number>`coalesce((select min(s.expires_at) from client_secrets s where s.client_id = clients.client_id and s.revoked_at is null and s.expires_at > ${now}), ${none})`;
  const key = sql<number>`coalesce((select min(k.expires_at) from client_keys k where k.client_id = clients.client_id and k.expires_at > ${now}), ${none})`;
  return sql<number>`case when ${secret} < ${key} then ${secret} else ${key} end`;
}

/** ClientStore on SQLite or PostgreSQL: rows to domain types and back, nothing more. */
export class KyselyClientStore implements ClientStore, CredentialExpiryStore {
  /** The lookup behind every client authentication: one statement, compiled once. */
  private readonly selectWithSecrets;
  /** A client's keys, read with it when one of its methods uses keys. */
  private readonly selectKeys;

  constructor(private readonly db: Kysely<Database>) {
    // Parameters in query order: the join's bounds for former secrets (revoked, expired), then the client id.
    this.selectWithSecrets = prepareQuery(db, (d) =>
      d
        .selectFrom('clients')
        .leftJoin('client_secrets', (join) =>
          join
            .onRef('client_secrets.client_id', '=', 'clients.client_id')
            .on((eb) => eb.or([eb('client_secrets.revoked_at', 'is', null), eb('client_secrets.revoked_at', '>', 0)]))
            .on((eb) => eb.or([eb('client_secrets.expires_at', 'is', null), eb('client_secrets.expires_at', '>', 0)])),
        )
        .leftJoin('organisations', 'organisations.rsin', 'clients.rsin')
        .selectAll('clients')
        .select([
          'client_secrets.secret_id',
          'client_secrets.hash',
          'client_secrets.sealed',
          'client_secrets.expires_at',
          'client_secrets.last_used_at',
          'client_secrets.revoked_at',
          'client_secrets.weak',
          'organisations.enabled as organisation_enabled',
        ])
        .where('clients.client_id', '=', ''),
    );
    this.selectKeys = prepareQuery(db, (d) =>
      d.selectFrom('client_keys').selectAll().where('client_id', '=', '').orderBy('created_at').orderBy('kid'),
    );
  }

  /** Clients with the computed `weak_risk`: a live, sealed (self-signing) secret marked weak (secretRisks). */
  private selectClients(now: number) {
    return this.db
      .selectFrom('clients')
      .selectAll('clients')
      .select((eb) =>
        eb
          .exists(
            eb
              .selectFrom('client_secrets as s')
              .select('s.secret_id')
              .whereRef('s.client_id', '=', 'clients.client_id')
              .where('s.weak', '=', 1)
              .where('s.sealed', 'is not', null)
              .where('s.revoked_at', 'is', null)
              .where((w) => w.or([w('s.expires_at', 'is', null), w('s.expires_at', '>', now)])),
          )
          .as('weak_risk'),
      );
  }

  async insert(client: Client, secrets: SecretRecord[], beforeCommit?: () => void): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('clients').values(toRow(client)).execute();
      if (secrets.length) await trx.insertInto('client_secrets').values(secrets.map(toSecretRow)).execute();
      beforeCommit?.();
    });
  }

  async get(clientId: string, now: number): Promise<Client | undefined> {
    const row = await this.selectClients(now).where('clients.client_id', '=', clientId).executeTakeFirst();
    return row && toClient(row);
  }

  async list(filter: ClientFilter, now: number): Promise<{ items: Client[]; total: number }> {
    let q = this.db.selectFrom('clients');
    if (filter.rsin !== undefined) q = q.where('rsin', '=', filter.rsin);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    if (filter.selfSignedAllowed !== undefined)
      q = q.where('self_signed_allowed', '=', filter.selfSignedAllowed ? 1 : 0);
    if (filter.authMethod !== undefined) q = q.where('auth_methods', 'like', `%"${filter.authMethod}"%`);
    if (filter.q) {
      const pattern = '%' + filter.q.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%';
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`lower(client_id) like ${pattern} escape '\\'`,
          sql<boolean>`lower(name) like ${pattern} escape '\\'`,
        ]),
      );
    }
    // The latest token first: the expression of index clients_last_token (migration 0004), so that a page is read in index order.
    // The soonest expiry first: computed per client (no index), as for the console's list of a registry.
    const order =
      filter.sort === 'lastToken'
        ? { by: LAST_TOKEN_ORDER, direction: 'desc' as const }
        : filter.sort === 'expiry'
          ? { by: soonestExpiry(now), direction: 'asc' as const }
          : undefined;
    const ids = (order ? q.orderBy(order.by, order.direction) : q)
      .select('client_id')
      .orderBy('client_id')
      .limit(filter.limit)
      .offset(filter.offset);
    const page = this.selectClients(now).where('clients.client_id', 'in', ids);
    const [rows, count] = await Promise.all([
      (order ? page.orderBy(order.by, order.direction) : page).orderBy('clients.client_id').execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toClient), total: Number(count.n) };
  }

  async update(client: Client, revokeLiveSecretsAt?: number): Promise<string[]> {
    const { client_id, created_at, ...rest } = toRow(client);
    return this.db.transaction().execute(async (trx) => {
      // An applicatie's clients are of its organisation: a client in one does not move out alone.
      const other = (
        await trx
          .selectFrom('applicatie_clients')
          .innerJoin('applicaties', 'applicaties.uuid', 'applicatie_clients.applicatie_uuid')
          .select(['applicaties.uuid', 'applicaties.organisation'])
          .where('applicatie_clients.client_id', '=', client_id)
          .where('applicaties.organisation', '!=', client.rsin)
          .executeTakeFirst()
      )?.uuid;
      if (other !== undefined)
        throw new ConflictError(
          `client ${client_id} is in applicatie ${other} of the Autorisaties API, of another organisation: take it out of that applicatie first`,
        );
      // The client's row first: PostgreSQL locks it, so an insertSecret waiting on it (below) reads the new methods,
      // and one that committed before is seen by the select after it. SQLite runs one transaction at a time.
      const r = await trx.updateTable('clients').set(rest).where('client_id', '=', client_id).executeTakeFirst();
      if (revokeLiveSecretsAt === undefined || Number(r.numUpdatedRows) === 0) return [];
      const at = revokeLiveSecretsAt;
      const live = await trx
        .selectFrom('client_secrets')
        .select('secret_id')
        .where('client_id', '=', client_id)
        .where('revoked_at', 'is', null)
        .where((w) => w.or([w('expires_at', 'is', null), w('expires_at', '>', at)]))
        .execute();
      const ids = live.map((s) => s.secret_id);
      if (ids.length)
        await trx
          .updateTable('client_secrets')
          .set({ revoked_at: at })
          .where('client_id', '=', client_id)
          .where('secret_id', 'in', ids)
          .execute();
      return ids;
    });
  }

  async delete(clientId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The Autorisaties API stays consistent: a client in an applicatie is taken out of it first,
      // by whoever manages its rights, not silently here.
      const inApplicatie = (
        await trx
          .selectFrom('applicatie_clients')
          .select('applicatie_uuid')
          .where('client_id', '=', clientId)
          .executeTakeFirst()
      )?.applicatie_uuid;
      if (inApplicatie !== undefined)
        throw new ConflictError(
          `client ${clientId} is in applicatie ${inApplicatie} of the Autorisaties API: remove it from that applicatie first`,
        );
      await trx.deleteFrom('client_secrets').where('client_id', '=', clientId).execute();
      await trx.deleteFrom('client_keys').where('client_id', '=', clientId).execute();
      const r = await trx.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async insertSecret(
    secret: SecretRecord,
    accepts: (client: Pick<Client, 'authMethods'>) => boolean = () => true,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // A write that changes nothing, to lock the client's row (PostgreSQL) and read its methods as
      // committed last: an update removing the secret methods is either seen here or sees this secret.
      const row = await trx
        .updateTable('clients')
        .set((eb) => ({ auth_methods: eb.ref('auth_methods') }))
        .where('client_id', '=', secret.clientId)
        .returning('auth_methods')
        .executeTakeFirst();
      if (row && !accepts({ authMethods: JSON.parse(row.auth_methods) as ClientAuthMethod[] })) return false;
      await trx.insertInto('client_secrets').values(toSecretRow(secret)).execute();
      return true;
    });
  }

  async listSecrets(clientId: string): Promise<SecretInfo[]> {
    const rows = await this.db
      .selectFrom('client_secrets')
      .selectAll()
      .where('client_id', '=', clientId)
      .orderBy('created_at')
      .execute();
    return rows.map(toSecretInfo);
  }

  async revokeSecret(clientId: string, secretId: string, at: number): Promise<SecretInfo | undefined> {
    await this.db
      .updateTable('client_secrets')
      .set({ revoked_at: at })
      .where('client_id', '=', clientId)
      .where('secret_id', '=', secretId)
      .where('revoked_at', 'is', null)
      .execute();
    const row = await this.db
      .selectFrom('client_secrets')
      .selectAll()
      .where('client_id', '=', clientId)
      .where('secret_id', '=', secretId)
      .executeTakeFirst();
    return row && toSecretInfo(row);
  }

  async dropSealed(clientId: string): Promise<void> {
    await this.db.updateTable('client_secrets').set({ sealed: null }).where('client_id', '=', clientId).execute();
  }

  async findWithSecrets(clientId: string, now: number): Promise<ClientWithSecrets | undefined> {
    const since = now - FORMER_SECRET_MS;
    const { rows } = await this.selectWithSecrets([since, since, clientId]);
    if (!rows[0]) return undefined;
    const secrets: StoredSecret[] = [];
    let weakRisk = false;
    for (const r of rows) {
      if (r.secret_id === null) continue;
      const s: StoredSecret = {
        secretId: r.secret_id,
        hash: Buffer.from(r.hash!, 'base64url'),
        sealed: r.sealed,
        expiresAt: r.expires_at,
        lastUsedAt: r.last_used_at,
        revokedAt: r.revoked_at,
      };
      secrets.push(s);
      if (r.weak === 1 && s.sealed && isLive(s, now)) weakRisk = true;
    }
    const client = toClient({ ...rows[0], weak_risk: weakRisk });
    const keys = client.authMethods.some((m) => KEY_AUTH_METHODS.includes(m))
      ? (await this.selectKeys([clientId])).rows.map(toClientKey)
      : [];
    // No organisation row (a registry changed by hand) is not a disabled organisation.
    return { client, secrets, keys, organisationEnabled: rows[0].organisation_enabled !== 0 };
  }

  async insertKeys(keys: ClientKey[]): Promise<void> {
    if (!keys.length) return;
    await this.db.insertInto('client_keys').values(keys.map(toKeyRow)).execute();
  }

  async listKeys(clientId: string): Promise<ClientKey[]> {
    const rows = await this.db
      .selectFrom('client_keys')
      .selectAll()
      .where('client_id', '=', clientId)
      .orderBy('created_at')
      .orderBy('kid')
      .execute();
    return rows.map(toClientKey);
  }

  async removeKey(clientId: string, kid: string): Promise<ClientKey | undefined> {
    const row = await this.db
      .deleteFrom('client_keys')
      .where('client_id', '=', clientId)
      .where('kid', '=', kid)
      .returningAll()
      .executeTakeFirst();
    return row && toClientKey(row);
  }

  /**
   * Credentials of the kind expiring within (from, until], with their client's organisation: live
   * secrets with an expiry; keys with a certificate, as `certificate` when their client
   * authenticates with self_signed_tls_client_auth and as `key` otherwise.
   */
  async expiringCredentials(
    kind: CredentialKind,
    from: number,
    until: number,
    limit: number,
    organisation?: string,
  ): Promise<ExpiringCredential[]> {
    if (kind === 'secret') {
      const rows = await this.db
        .selectFrom('client_secrets')
        .innerJoin('clients', 'clients.client_id', 'client_secrets.client_id')
        .select([
          'client_secrets.client_id',
          'client_secrets.secret_id',
          'client_secrets.expires_at',
          'client_secrets.expiry_announced_at',
          'clients.rsin',
        ])
        .where('client_secrets.revoked_at', 'is', null)
        .where('client_secrets.expires_at', '>', from)
        .where('client_secrets.expires_at', '<=', until)
        .$if(organisation !== undefined, (q) => q.where('clients.rsin', '=', organisation!))
        .orderBy('client_secrets.expires_at')
        .orderBy('client_secrets.client_id')
        .orderBy('client_secrets.secret_id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        kind,
        clientId: r.client_id,
        organisation: r.rsin,
        id: r.secret_id,
        thumbprint: null,
        expiresAt: Number(r.expires_at),
        announcedAt: r.expiry_announced_at === null ? null : Number(r.expiry_announced_at),
      }));
    }
    const rows = await this.db
      .selectFrom('client_keys')
      .innerJoin('clients', 'clients.client_id', 'client_keys.client_id')
      .select([
        'client_keys.client_id',
        'client_keys.kid',
        'client_keys.thumbprint',
        'client_keys.expires_at',
        'client_keys.expiry_announced_at',
        'clients.rsin',
      ])
      .where('client_keys.expires_at', '>', from)
      .where('client_keys.expires_at', '<=', until)
      .where('clients.auth_methods', kind === 'certificate' ? 'like' : 'not like', SELF_SIGNED_TLS)
      .$if(organisation !== undefined, (q) => q.where('clients.rsin', '=', organisation!))
      .orderBy('client_keys.expires_at')
      .orderBy('client_keys.client_id')
      .orderBy('client_keys.kid')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      kind,
      clientId: r.client_id,
      organisation: r.rsin,
      id: r.kid,
      thumbprint: r.thumbprint,
      expiresAt: Number(r.expires_at),
      announcedAt: r.expiry_announced_at === null ? null : Number(r.expiry_announced_at),
    }));
  }

  /**
   * Claims the announcement with one conditional update (of racing processes, one changes the row)
   * and writes its event in the same transaction: the mark never commits without the event.
   */
  async announceExpiry(
    kind: CredentialKind,
    clientId: string,
    id: string,
    at: number,
    event: ExpiryAnnouncement,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.announceExpiryOnce(kind, clientId, id, at, event);
      } catch (err) {
        // SQLite's write lock held by another connection that did not let go within the busy
        // timeout: SQLite waits for it without yielding, so a holder in this same process (two
        // registries open in one process) cannot finish meanwhile. Tried again after yielding.
        if (attempt >= BUSY_ATTEMPTS || !sqliteBusy(err)) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  private announceExpiryOnce(
    kind: CredentialKind,
    clientId: string,
    id: string,
    at: number,
    event: ExpiryAnnouncement,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result =
        kind === 'secret'
          ? await trx
              .updateTable('client_secrets')
              .set({ expiry_announced_at: at })
              .where('client_id', '=', clientId)
              .where('secret_id', '=', id)
              .where('client_secrets.expiry_announced_at', 'is', null)
              .executeTakeFirst()
          : await trx
              .updateTable('client_keys')
              .set({ expiry_announced_at: at })
              .where('client_id', '=', clientId)
              .where('kid', '=', id)
              .where('expiry_announced_at', 'is', null)
              .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      crashPoint('expiry:marked');
      await insertUncountedEvent(trx, { ...event, at });
      return true;
    });
  }

  async recordKeyUsage(keys: { clientId: string; kid: string }[], at: number): Promise<void> {
    for (const k of keys) {
      await this.db
        .updateTable('client_keys')
        .set({ last_used_at: at })
        .where('client_id', '=', k.clientId)
        .where('kid', '=', k.kid)
        .execute();
    }
    const clientIds = [...new Set(keys.map((k) => k.clientId))];
    for (let i = 0; i < clientIds.length; i += USAGE_CHUNK) {
      await this.db
        .updateTable('clients')
        .set({ last_token_at: at })
        .where('client_id', 'in', clientIds.slice(i, i + USAGE_CHUNK))
        .execute();
    }
  }

  /** Two statements per 500, whatever the count. */
  async recordUsage(secretIds: string[], clientIds: string[], at: number): Promise<void> {
    for (let i = 0; i < secretIds.length; i += USAGE_CHUNK) {
      await this.db
        .updateTable('client_secrets')
        .set({ last_used_at: at })
        .where('secret_id', 'in', secretIds.slice(i, i + USAGE_CHUNK))
        .execute();
    }
    for (let i = 0; i < clientIds.length; i += USAGE_CHUNK) {
      await this.db
        .updateTable('clients')
        .set({ last_token_at: at })
        .where('client_id', 'in', clientIds.slice(i, i + USAGE_CHUNK))
        .execute();
    }
  }
}

function toRow(c: Client): NewClientRow {
  return {
    client_id: c.clientId,
    name: c.name,
    description: c.description,
    rsin: c.rsin,
    enabled: c.enabled ? 1 : 0,
    grant_types: JSON.stringify(c.grantTypes),
    allowed_scopes: JSON.stringify(c.allowedScopes),
    default_scopes: JSON.stringify(c.defaultScopes),
    token_lifetime: c.tokenLifetime,
    static_claims: JSON.stringify(c.staticClaims),
    self_signed_allowed: c.selfSignedAllowed ? 1 : 0,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    last_token_at: c.lastTokenAt,
    auth_methods: JSON.stringify(c.authMethods),
    jwks_uri: c.jwksUri,
    tls_subject_field: c.tlsSubject?.field ?? null,
    tls_subject_value: c.tlsSubject?.value ?? null,
    oin: c.oin,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens ? 1 : 0,
    certificate_bound_access_tokens: c.tlsClientCertificateBoundAccessTokens ? 1 : 0,
  };
}

function toClient(r: ClientRow & { weak_risk?: unknown }): Client {
  return {
    clientId: r.client_id,
    name: r.name,
    description: r.description,
    rsin: r.rsin,
    enabled: r.enabled === 1,
    grantTypes: JSON.parse(r.grant_types) as string[],
    allowedScopes: JSON.parse(r.allowed_scopes) as string[],
    defaultScopes: JSON.parse(r.default_scopes) as string[],
    tokenLifetime: r.token_lifetime,
    staticClaims: JSON.parse(r.static_claims) as Record<string, unknown>,
    selfSignedAllowed: r.self_signed_allowed === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastTokenAt: r.last_token_at,
    // SQLite answers EXISTS with 0/1, PostgreSQL with a boolean.
    risks: r.weak_risk === true || r.weak_risk === 1 ? ['weak_secret'] : [],
    authMethods: JSON.parse(r.auth_methods) as ClientAuthMethod[],
    jwksUri: r.jwks_uri,
    tlsSubject:
      r.tls_subject_field !== null && r.tls_subject_value !== null
        ? { field: r.tls_subject_field as TlsSubjectField, value: r.tls_subject_value }
        : null,
    oin: r.oin,
    dpopBoundAccessTokens: r.dpop_bound_access_tokens === 1,
    tlsClientCertificateBoundAccessTokens: r.certificate_bound_access_tokens === 1,
  };
}

function toKeyRow(k: ClientKey): ClientKeyRow {
  return {
    client_id: k.clientId,
    kid: k.kid,
    thumbprint: k.thumbprint,
    kty: k.kty,
    alg: k.alg,
    public_jwk: JSON.stringify(k.publicJwk),
    expires_at: k.expiresAt,
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    expiry_announced_at: null,
  };
}

function toClientKey(r: ClientKeyRow): ClientKey {
  return {
    clientId: r.client_id,
    kid: r.kid,
    thumbprint: r.thumbprint,
    kty: r.kty,
    alg: r.alg,
    publicJwk: JSON.parse(r.public_jwk) as PublicJwk,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

function toSecretRow(s: SecretRecord): ClientSecretRow {
  return {
    secret_id: s.secretId,
    client_id: s.clientId,
    label: s.label,
    hash: s.hash.toString('base64url'),
    sealed: s.sealed,
    created_at: s.createdAt,
    expires_at: s.expiresAt,
    expiry_announced_at: null,
    last_used_at: s.lastUsedAt,
    revoked_at: s.revokedAt,
    weak: s.weak ? 1 : 0,
  };
}

function toSecretInfo(r: ClientSecretRow): SecretInfo {
  return {
    secretId: r.secret_id,
    clientId: r.client_id,
    label: r.label,
    usableForSelfSigned: r.sealed !== null,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    weak: r.weak === 1,
  };
}

const BUSY_ATTEMPTS = 3;

function sqliteBusy(err: unknown): boolean {
  const code =
    (err instanceof StorageUnavailableError ? (err.cause as { code?: unknown } | undefined)?.code : undefined) ?? '';
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
