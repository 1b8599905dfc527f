import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import type pino from 'pino';
import type { Logger } from 'pino';
// What only some processes use (audit shipping, notifications, Redis, CRL reloading, the token
// verifier, metrics) is imported where it is set up, when it is (`await import`): a CLI command
// starts without it.
import type { AuditShipping } from './audit/audit-shipping.js';
import { Activity } from './audit/activity-report.js';
import { AutorisatiesService } from './autorisaties/autorisaties-service.js';
import type { NotificationDelivery } from './autorisaties/notification-delivery.js';
import { KyselyNotificationOutbox } from './storage/kysely-notification-outbox.js';
import { AuditLog } from './audit/audit-log.js';
import { ClientAuthenticator } from './clients/client-authenticator.js';
import { ClientService } from './clients/client-service.js';
import { UsageRecorder } from './clients/usage-recorder.js';
import { ADMIN_SCOPE, FIRST_ADMIN_CLIENT_ID, INTROSPECTION_SCOPE } from './clients/model.js';
import type { Config, SigningAlg } from './config.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { RevocationListReloader } from './pki/revocation-reload.js';
import { type TrustStore, trustStoreFrom } from './pki/trust-store.js';
import { keyTimes } from './keys/key-plan.js';
import { KeyRing } from './keys/key-ring.js';
import { findMasterKey, type MasterKey } from './keys/master-key.js';
import { MemoryFailureLimiter } from './limits/failure-limiter.js';
import { GuessingGuard } from './limits/guessing-guard.js';
import { CredentialExpiry } from './clients/credential-expiry.js';
import { fetchJwks, JwksUriKeys, JwksUriPolicy } from './clients/jwks-uri.js';
import { KyselyReplayCache } from './storage/kysely-replay-cache.js';
import type { Metrics } from './ops/metrics.js';
import { uncountedMetrics } from './ops/uncounted-metrics.js';
import { Readiness } from './ops/readiness.js';
import { OrganisationService } from './organisations/organisation-service.js';
import { type ChangeFeed, LocalChangeFeed } from './changes/change-feed.js';
import { PostgresChangeFeed, SqliteChangeFeed } from './storage/change-feed.js';
import { KyselyOrganisationStore } from './storage/kysely-organisation-store.js';
import { KyselyActivityStore } from './storage/kysely-activity-store.js';
import { KyselyApplicatieStore } from './storage/kysely-applicatie-store.js';
import { KyselyAuditStore } from './storage/kysely-audit-store.js';
import { KyselyClientStore } from './storage/kysely-client-store.js';
import { KyselyConsoleSessionStore } from './storage/kysely-console-session-store.js';
import type { ConsoleSessionStore } from './sessions/console-session-store.js';
import { KyselyKeyStore } from './storage/kysely-key-store.js';
import { KyselyRegistryTransferStore } from './storage/kysely-registry-transfer-store.js';
import { KyselyRevocationStore } from './storage/kysely-revocation-store.js';
import { recordMasterKeyCheck, type RegistryLock, unlockRegistry } from './storage/master-key-check.js';
import { openStorage, registryAnswers, type Storage } from './storage/open-storage.js';
import type { Redis } from './storage/redis.js';
import type { DpopProofChecker, Verifier } from '@zgw-auth/verifier';
import { TokenIssuer } from './tokens/token-issuer.js';
import type { RegistryTransferDeps } from './transfer/registry-transfer.js';
import { Revocations } from './tokens/revocations.js';
import { crashPoint } from './crash-point.js';
import type { ServerTracing } from './tracing.js';

/** Everything a zgw-auth process uses, wired once; the HTTP layer and the CLI both work on this. */
export interface App {
  config: Config;
  log: Logger;
  now: () => number;
  storage: Storage;
  masterKey: MasterKey;
  keys: KeyRing;
  clients: ClientService;
  /** Decides who a caller is: secrets at the token endpoints and the console, self-signing secrets for the verifier. */
  authenticator: ClientAuthenticator;
  /** Last-used marks of secrets and clients, written in batches. */
  usage: UsageRecorder;
  organisations: OrganisationService;
  /** The ZGW Autorisaties API's applicaties: what each client id may do in the ZGW APIs. */
  autorisaties: AutorisatiesService;
  /** Sends the Autorisaties API's notifications (ZGW_AUTH_NOTIFICATIONS_URL); started by `serve`. */
  notifications: NotificationDelivery | undefined;
  /**
   * Starts shipping the audit events to the configured sinks (ZGW_AUTH_AUDIT_SYSLOG_URL,
   * ZGW_AUTH_AUDIT_JSONL), reading their files first; only `serve` does, other commands never
   * touch the sinks. Throws a ValidationError naming the setting whose file cannot serve.
   */
  startAuditShipping(): AuditShipping | undefined;
  audit: AuditLog;
  /** Tokens and failed authentications per hour, from the audit trail. */
  activity: Activity;
  issuer: TokenIssuer;
  /** Back-off for every place a secret is checked. */
  guard: GuessingGuard;
  /** Shared state between processes, when REDIS_URL is set. */
  redis: Redis | undefined;
  /** The web console's sessions, in the registry's database: every process serves every session. */
  consoleSessions: ConsoleSessionStore;
  changes: ChangeFeed;
  metrics: Metrics;
  revocations: Revocations;
  /** Verifies both token kinds for introspection and the admin API. */
  verifier: Verifier;
  /** Checks the DPoP proofs of token requests; their jti shared through Redis when configured. */
  dpop: DpopProofChecker;
  /** Whether a balancer should send this process requests; the process lifecycle marks it. */
  readiness: Readiness;
  /** The whole registry as rows, for export and import. */
  transfer: RegistryTransferDeps;
  /** Trust anchors and CRLs for client certificates (ZGW_AUTH_TLS_CLIENT_CA, ZGW_AUTH_TLS_CRL), read at start. */
  trust: TrustStore | undefined;
  /** Re-reads the CRL files when they change (ZGW_AUTH_CRL_RELOAD); undefined without CRL files. */
  crls: RevocationListReloader | undefined;
  /** Registered certificates that expire soon (ZGW_AUTH_EXPIRY_WARNING): marked, counted and announced once. */
  expiry: CredentialExpiry;
  /** Spans for OpenTelemetry (OTEL_TRACES_EXPORTER=otlp); undefined when tracing is off, and then nothing is wrapped. */
  tracing: ServerTracing | undefined;
  close(): Promise<void>;
}

export interface AppOptions {
  log?: Logger;
  now?: () => number;
  /** Create the database when there is none (default); false refuses instead. */
  create?: boolean;
  /** A fresh install may get a new master key file (default); false needs a configured or existing key. */
  newMasterKey?: boolean;
  /** Traces (ops/tracing.ts, started by `serve` when switched on): spans of the stores, Redis and outgoing requests, trace ids in log lines. */
  tracing?: ServerTracing;
  /** Where new signing key pairs come from (default: generated); tests hand out RSA pairs made earlier. */
  newKeyPair?: (alg: SigningAlg) => crypto.KeyPairKeyObjectResult;
  /** Prometheus metrics (default); false for a process that never shows them (a CLI command): nothing counted, the client not loaded. */
  metrics?: boolean;
  /**
   * The token verifier and the DPoP proof checker (default); false for a process that checks no
   * token (a CLI command other than `token inspect`): the verifier library is not loaded, and
   * `verifier` and `dpop` throw when used.
   */
  verifier?: boolean;
}

/** Paths in log lines that may carry secret material; pino replaces them. */
export const LOG_REDACT = [
  'req.headers.authorization',
  '*.client_secret',
  '*.access_token',
  '*.token',
  '*.secret',
  '*.value',
];

/**
 * Fastify's request serializer, with the query string left out: a client may put its secret in
 * the URL (`/token?client_secret=…`), and the URL is logged before anything parses it.
 */
function requestForLog(req: {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  const q = req.url.indexOf('?');
  return {
    method: req.method,
    url: q < 0 ? req.url : `${req.url.slice(0, q)}?[redacted]`,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * The process log; with `mixin` (tracing on: the current trace and span ids) every line carries
 * what it returns.
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  mixin?: () => Record<string, unknown>,
): Logger {
  // Required when a log is made (pino is CommonJS): a CLI command that logs nothing never loads it.
  const pino = createRequire(import.meta.url)('pino') as typeof import('pino').default;
  return pino(
    {
      level,
      redact: { paths: LOG_REDACT, censor: '[redacted]' },
      serializers: { req: requestForLog },
      ...(mixin ? { mixin } : {}),
    },
    destination,
  );
}

/** The client CA bundle and CRL files of the settings, read and checked; undefined without a bundle. */
export async function loadTrustStore(
  config: Pick<Config, 'tlsClientCa' | 'tlsCrl' | 'clockSkew'>,
  now: number = Date.now(),
): Promise<TrustStore | undefined> {
  if (!config.tlsClientCa) return undefined;
  const { readCrlFileSync } = await import('./pki/crl-file.js');
  const read = (file: string, what: string, reader: (file: string) => Buffer) => {
    try {
      return reader(file);
    } catch (err) {
      if (err instanceof ValidationError) throw new ValidationError(`${what} ${file}: ${err.message}`);
      throw new ValidationError(`${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return trustStoreFrom(
    read(config.tlsClientCa, 'ZGW_AUTH_TLS_CLIENT_CA', (f) => fs.readFileSync(f)).toString('utf8'),
    config.tlsCrl.map((file) => ({ name: file, bytes: read(file, 'ZGW_AUTH_TLS_CRL', readCrlFileSync) })),
    { now, leewayMs: config.clockSkew * 1000 },
  );
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const { tracing } = options;
  const log = options.log ?? createLogger(config.logLevel, undefined, tracing && (() => tracing.logFields()));
  tracing?.logTo((message) => log.warn(message));
  const now = options.now ?? Date.now;
  // Before anything is opened: a bundle or CRL that cannot serve stops the start with its name.
  const trust = await loadTrustStore(config, now());
  const crls =
    trust && config.tlsCrl.length
      ? new (await import('./pki/revocation-reload.js')).RevocationListReloader(
          trust,
          config.tlsCrl,
          now,
          (level, details, message) => log[level](details, message),
          config.clockSkew * 1000,
        )
      : undefined;
  // Read, never created here: a new key file is made only for an empty registry, once the
  // registry has been looked at (unlockRegistry), and nothing is written before that.
  const source = findMasterKey(config.masterKey, config.dataDir, config.masterKeyFile);
  let unlocked: { key: MasterKey; lock: RegistryLock } | undefined;
  const storage = await openStorage(config.databaseUrl, config.dataDir, {
    create: options.create,
    tracing,
    beforeMigrate: async (s) => {
      unlocked = await unlockRegistry(s, source, { newKey: options.newMasterKey });
      crashPoint('start:master-key-checked');
    },
  });
  const masterKey = unlocked!.key;
  // Whatever was opened is closed again when a later step fails: an open connection or listener
  // would keep a failed command or start from exiting.
  const opened: Array<() => unknown> = [() => storage.close()];
  const guarded = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (err) {
      for (const close of opened)
        await Promise.resolve()
          .then(close)
          .catch(() => {});
      throw err;
    }
  };
  await guarded(() => recordMasterKeyCheck(storage, masterKey, unlocked!.lock));
  const changes = await guarded(() => openChangeFeed(storage, config, log));
  opened.unshift(() => changes.close());
  const audit = new AuditLog(
    new KyselyAuditStore(storage.db, storage.dialect),
    (err) => log.error({ err }, 'audit write failed'),
    now,
  );
  const keys = new KeyRing(
    new KyselyKeyStore(storage.db),
    masterKey,
    now,
    keyTimes(config),
    changes,
    options.newKeyPair,
  );
  await guarded(() => keys.load());
  const organisations = new OrganisationService(new KyselyOrganisationStore(storage.db), audit, changes, now);
  const clientStore = new KyselyClientStore(storage.db);
  const usage = new UsageRecorder(clientStore, now);
  const shared = config.redisUrl ? await sharedThroughRedis() : undefined;
  const redis = shared && (await guarded(() => shared.connectRedis(config.redisUrl!, log, tracing)));
  const storedOnce = new KyselyReplayCache(storage.db, now);
  const replay = shared
    ? new shared.RedisReplayCache(
        redis!,
        storedOnce,
        (err) => log.warn({ err }, 'Redis replay filter failed; the database decides alone'),
        now,
      )
    : storedOnce;
  const jwksPolicy = new JwksUriPolicy(config.jwksUriAllow);
  const authenticator = new ClientAuthenticator(clientStore, masterKey, changes, usage, now, {
    methods: config.clientAuthMethods,
    jwks: new JwksUriKeys(
      jwksPolicy,
      now,
      fetchJwks,
      (clientId, uri, detail) => log.warn({ clientId, jwksUri: uri, detail }, 'jwks_uri fetch refused'),
      tracing,
    ),
    replay,
    assertionMaxLifetime: config.assertionMaxLifetime,
    leeway: config.clockSkew,
    ...(trust ? { trust } : {}),
  });
  const clients = new ClientService(clientStore, masterKey, audit, changes, now, organisations, authenticator, {
    newMethods: config.newClientAuthMethods ?? config.clientAuthMethods,
    jwksUri: jwksPolicy,
    ...(trust ? { trust } : {}),
    expiryWarning: config.expiryWarning,
  });
  const expiry = new CredentialExpiry(clientStore, now, config.expiryWarning);
  const issuer = new TokenIssuer(keys, config, now);
  const policy = {
    threshold: config.lockoutThreshold,
    baseSeconds: config.lockoutBaseSeconds,
    maxSeconds: config.lockoutMaxSeconds,
  };
  const local = new MemoryFailureLimiter(now);
  const limiter = shared
    ? new shared.FallbackFailureLimiter(new shared.RedisFailureLimiter(redis!), local, log)
    : local;
  const guard = new GuessingGuard(limiter, audit, policy);
  const revocations = new Revocations(new KyselyRevocationStore(storage.db), changes, now);
  let verifier: Verifier = unbuilt('verifier');
  let dpop: DpopProofChecker = unbuilt('dpop');
  if (options.verifier !== false) {
    const [{ DpopNonces, DpopProofChecker }, { createServerVerifier }] = await Promise.all([
      import('@zgw-auth/verifier'),
      import('./tokens/server-verifier.js'),
    ]);
    verifier = createServerVerifier(config, keys, authenticator, revocations, changes, now);
    dpop = new DpopProofChecker({
      window: config.dpopProofWindow,
      // The client assertions' cache: every process sharing the registry (or Redis) sees each jti.
      replay,
      nonces: config.dpopNonce ? new DpopNonces(masterKey.dpopNonceKey, { now }) : undefined,
      // The proof's signature is most of its cost: on the thread pool, next to the token's own signing.
      threadPool: true,
      now,
    });
  }
  crls?.start(config.crlReload);
  let shipping: AuditShipping | undefined;
  // Only `serve` ships, and only to configured sinks: no other process loads the sinks.
  const shippingCode = config.auditSyslogUrl || config.auditJsonl ? await auditShippingCode() : undefined;
  // Loaded only where counted: the Prometheus client and its default collectors cost every command's start.
  const metrics =
    options.metrics === false
      ? uncountedMetrics()
      : new (await import('./ops/metrics.js')).Metrics(keys, now, {
          expiry,
          auditSinks: () => shipping?.holding() ?? [],
          ...(crls ? { crl: () => crls.status() } : {}),
          ...(config.notificationsUrl ? { outbox: new KyselyNotificationOutbox(storage.db) } : {}),
        });
  // The applicaties' URLs as the Autorisaties API shows them (read at each change: tests set the issuer late).
  const acBase = () => `${new URL(config.issuer).origin}${config.acBasePath}`;
  const notifications = config.notificationsUrl
    ? new (await import('./autorisaties/notification-delivery.js')).NotificationDelivery(
        new KyselyNotificationOutbox(storage.db),
        {
          baseUrl: config.notificationsUrl,
          clientId: config.notificationsClientId!,
          secret: config.notificationsSecret!,
          timeoutMs: config.notificationsTimeout * 1000,
          retryMaxMs: config.notificationsRetryMax * 1000,
          documentatieLink: acBase,
          now,
          log: (level, details, message) => log[level](details, message),
          counted: (outcome) => metrics.notifications.inc({ outcome }),
          tracing,
        },
      )
    : undefined;
  return {
    config,
    log,
    now,
    storage,
    masterKey,
    keys,
    clients,
    authenticator,
    usage,
    organisations,
    autorisaties: new AutorisatiesService(
      new KyselyApplicatieStore(storage.db),
      audit,
      now,
      changes,
      notifications && {
        resourceUrl: (uuid) => `${acBase()}/applicaties/${uuid}`,
        written: () => notifications.kick(),
      },
    ),
    notifications,
    startAuditShipping() {
      if (shipping || !shippingCode) return shipping;
      const { AuditShipping, KyselyAuditFeed, auditSinks } = shippingCode;
      const sinks = auditSinks(config);
      if (!sinks.length) return undefined;
      shipping = new AuditShipping({
        feed: new KyselyAuditFeed(storage.db, storage.dialect),
        sinks,
        backlogMax: config.auditBacklogMax,
        holder: `${os.hostname().slice(0, 60)}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`,
        now,
        log: (level, details, message) => log[level](details, message),
        counted: (sink, outcome, n) => metrics.auditShipping.inc({ sink, outcome }, n),
      });
      shipping.start();
      return shipping;
    },
    audit,
    activity: new Activity(new KyselyActivityStore(storage.db), audit, now),
    issuer,
    guard,
    redis,
    consoleSessions: new KyselyConsoleSessionStore(storage.db, storage.dialect),
    readiness: new Readiness({
      database: () => registryAnswers(storage),
      signingKey: () => keys.current() !== undefined,
      ...(redis ? { redis: () => redis.status === 'ready' } : {}),
      ...(crls ? { crl: () => crlTrouble(crls) } : {}),
    }),
    changes,
    metrics,
    revocations,
    verifier,
    transfer: {
      store: new KyselyRegistryTransferStore(storage.db, storage.dialect),
      masterKey,
      now,
      jwksUri: jwksPolicy,
      ...(trust ? { trust } : {}),
    },
    dpop,
    trust,
    crls,
    expiry,
    tracing,
    async close() {
      keys.stop();
      crls?.stop();
      expiry.stop();
      await notifications?.stop();
      await shipping?.stop();
      await Promise.allSettled([audit.flush(true), usage.flush(), changes.close(), redis?.quit()]);
      redis?.disconnect();
      await storage.close();
    },
  };
}

/** The audit shipping and its sinks' code, for a process that ships the audit events. */
async function auditShippingCode() {
  const [{ AuditShipping }, { KyselyAuditFeed }, { auditSinks }] = await Promise.all([
    import('./audit/audit-shipping.js'),
    import('./storage/kysely-audit-feed.js'),
    import('./audit/audit-sinks.js'),
  ]);
  return { AuditShipping, KyselyAuditFeed, auditSinks };
}

/** What the processes share through Redis (REDIS_URL), loaded by the processes that do. */
async function sharedThroughRedis() {
  const [{ connectRedis }, { RedisReplayCache }, { RedisFailureLimiter }, { FallbackFailureLimiter }] =
    await Promise.all([
      import('./storage/redis.js'),
      import('./limits/redis-replay-cache.js'),
      import('./limits/redis-failure-limiter.js'),
      import('./limits/fallback-failure-limiter.js'),
    ]);
  return { connectRedis, RedisReplayCache, RedisFailureLimiter, FallbackFailureLimiter };
}

/** In place of a part the process was built without (AppOptions): any use of it is a mistake, and says which. */
function unbuilt<T extends object>(part: string): T {
  return new Proxy({} as T, {
    get() {
      throw new Error(`app.${part} was not built for this process (AppOptions.verifier false)`);
    },
  });
}

/** Whether a plain TCP syslog receiver is on this machine (nothing on the way to read the events). */
export function plainSyslogOffHost(config: Pick<Config, 'auditSyslogUrl'>): boolean {
  if (!config.auditSyslogUrl?.startsWith('tcp:')) return false;
  const host = new URL(config.auditSyslogUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  return !(host === 'localhost' || (net.isIP(host) && /^(127\.|::1$)/.test(host)));
}

/**
 * What readiness reports about the CRL files: undefined when every one is current and in use. The
 * files by their place in ZGW_AUTH_TLS_CRL, not their paths: readiness answers anyone (the metrics
 * label them the same way); only the log names the paths.
 */
function crlTrouble(crls: RevocationListReloader): string | undefined {
  const files = crls.status();
  const trouble = files.flatMap((f, k) => {
    const which = `CRL file ${k + 1} of ${files.length}`;
    return [
      ...(f.outdated ? [`${which} past its nextUpdate (its CA's certificates are refused)`] : []),
      ...(f.refused !== undefined ? [`${which} refused (${f.refused}); the last good CRL is in use`] : []),
    ];
  });
  return trouble.length ? trouble.join('; ') : undefined;
}

async function openChangeFeed(storage: Storage, config: Config, log: Logger): Promise<ChangeFeed> {
  if (storage.dialect !== 'postgres') {
    return storage.dataVersion
      ? new SqliteChangeFeed(storage.dataVersion, (err) =>
          log.error({ err }, 'change feed: reading SQLite data_version failed'),
        )
      : new LocalChangeFeed();
  }
  const feed = new PostgresChangeFeed(config.databaseUrl!, (err) =>
    log.warn({ err }, 'change feed: reconnecting to PostgreSQL'),
  );
  await feed.start();
  return feed;
}

/** The first administrator's credential, handed over once. */
export interface FirstAdmin {
  clientId: string;
  secret: string;
}

/**
 * First start: a signing key, and an admin client when the registry is empty. Returns what was
 * created; the admin secret went to `deliver` (see createFirstAdmin).
 */
export async function initialize(
  app: App,
  deliver?: (admin: FirstAdmin) => void,
): Promise<{ keyCreated?: string; admin?: FirstAdmin }> {
  const keyCreated = await ensureSigningKey(app);
  const admin = await createFirstAdmin(app, deliver);
  // The first administrator may manage the Autorisaties API from the start (once per registry).
  await app.autorisaties.bootstrap(FIRST_ADMIN_CLIENT_ID);
  return { keyCreated, admin };
}

export async function ensureSigningKey(app: App): Promise<string | undefined> {
  const kid = await app.keys.ensureKey(app.config.signingAlg);
  crashPoint('first-start:signing-key');
  return kid;
}

/**
 * The administrator client of a registry without clients. Its secret is delivered (shown on the
 * terminal, or written to the owner-only file) after the client is inserted and before that is
 * committed: the administrator exists only if its secret was delivered. A start interrupted before
 * the commit leaves no administrator, and the next start makes one; a delivered secret whose client
 * was never committed is replaced by that start's. Returns the credential when this call made it.
 */
export async function createFirstAdmin(
  app: App,
  deliver: (admin: FirstAdmin) => void = () => {},
): Promise<FirstAdmin | undefined> {
  const { total } = await app.clients.list({ limit: 1, offset: 0 });
  if (total > 0) return undefined;
  let created;
  try {
    created = await app.clients.create(
      {
        clientId: FIRST_ADMIN_CLIENT_ID,
        name: 'zgw-auth administrator',
        description: 'Created on first start. Holds the admin and introspection scopes.',
        rsin: '000000000',
        allowedScopes: [ADMIN_SCOPE, INTROSPECTION_SCOPE],
        defaultScopes: [ADMIN_SCOPE],
      },
      { id: 'system' },
      {
        firstAdministrator: true,
        deliver: (secret) => {
          crashPoint('first-start:admin-inserted');
          deliver({ clientId: FIRST_ADMIN_CLIENT_ID, secret });
          crashPoint('first-start:delivered');
        },
      },
    );
  } catch (err) {
    // Another process starting at the same moment created it first; that one shows the secret.
    if (err instanceof ConflictError) return undefined;
    throw err;
  }
  crashPoint('first-start:committed');
  return { clientId: created.client.clientId, secret: created.secret.value };
}

/**
 * The id of the first administrator's secret when nobody may hold it: the client never had a token
 * and has only that secret, never used. Earlier versions committed this client before showing its
 * secret, so a first start interrupted in between left it so; it is also what an administrator
 * whose secret is stored but not used yet looks like, hence a hint, not a refusal.
 */
export async function unusedFirstAdminSecret(app: App): Promise<string | undefined> {
  const admin = await app.clients
    .get(FIRST_ADMIN_CLIENT_ID)
    .catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
  if (!admin || admin.lastTokenAt !== null) return undefined;
  const secrets = await app.clients.listSecrets(FIRST_ADMIN_CLIENT_ID);
  const [only] = secrets;
  return secrets.length === 1 && only!.lastUsedAt === null && only!.revokedAt === null ? only!.secretId : undefined;
}
