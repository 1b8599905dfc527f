import net from 'node:net';
import path from 'node:path';
import { ASYMMETRIC_ALGS } from '@zgw-auth/verifier/internal';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from './clients/model.js';
import { ValidationError } from './errors.js';

/**
 * Every setting of zgw-auth, declared once: its environment variable, CLI flag, default and meaning.
 * README's configuration reference is checked against this table by a test.
 */
export interface Config {
  host: string;
  port: number;
  issuer: string;
  keycloakPaths: boolean;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  workers: number;
  shutdownDelay: number;
  masterKey: string | undefined;
  masterKeyFile: string | undefined;
  audience: string;
  signingAlg: SigningAlg;
  tokenLifetime: number;
  maxTokenLifetime: number;
  keyPublishDelay: number;
  keyRefreshInterval: number;
  selfSignedMaxAge: number;
  iatLeeway: number;
  clockSkew: number;
  introspectionAnonymous: boolean;
  introspectionRateLimit: number;
  lockoutThreshold: number;
  lockoutBaseSeconds: number;
  lockoutMaxSeconds: number;
  auditRetentionDays: number;
  /** false, a number of proxy hops, or proxy addresses/CIDRs (Fastify's trustProxy). */
  trustProxy: false | number | string[];
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsClientCa: string | undefined;
  tlsClientCert: TlsClientCertMode;
  tlsCrl: string[];
  /** Seconds between looks at the CRL files for a change; 0: read at start only. */
  crlReload: number;
  /** Seconds before a registered certificate expires from which it is announced and marked. */
  expiryWarning: number;
  clientCertHeader: string | undefined;
  mtlsEndpoint: string | undefined;
  headersTimeout: number;
  requestTimeout: number;
  accessLog: boolean;
  logLevel: string;
  console: boolean;
  /** Serve the ZGW Autorisaties API. */
  acEnabled: boolean;
  /** Where the Autorisaties API is mounted (no trailing slash). */
  acBasePath: string;
  /** The Notificaties API's base URL; undefined: the Autorisaties API publishes no notifications. */
  notificationsUrl: string | undefined;
  /** Client id and secret of zgw-auth's own self-signed ZGW tokens towards the Notificaties API. */
  notificationsClientId: string | undefined;
  notificationsSecret: string | undefined;
  /** Seconds one request to the Notificaties API may take. */
  notificationsTimeout: number;
  /** Longest wait, in seconds, between two delivery attempts of one notification. */
  notificationsRetryMax: number;
  /** Syslog receiver of the audit events (tcp://host:port or tls://host:port); undefined: none. */
  auditSyslogUrl: string | undefined;
  /** PEM files: the CAs of the syslog receiver's certificate, and zgw-auth's client certificate and key (tls://). */
  auditSyslogCa: string | undefined;
  auditSyslogCert: string | undefined;
  auditSyslogKey: string | undefined;
  /** Where audit events go as JSON lines: a file path or `stdout`; undefined: nowhere. */
  auditJsonl: string | undefined;
  /** Events a sink may fall behind at most; beyond, the oldest are dropped for it (counted, logged). */
  auditBacklogMax: number;
  consoleIdleTimeout: number;
  consoleSessionLifetime: number;
  dpopProofWindow: number;
  dpopNonce: boolean;
  /** Client authentication methods accepted at /token, /introspect and /revoke. */
  clientAuthMethods: ClientAuthMethod[];
  /** Methods a client may be registered with or changed to; undefined: clientAuthMethods. */
  newClientAuthMethods: ClientAuthMethod[] | undefined;
  /** Seconds a private_key_jwt client assertion may live at most. */
  assertionMaxLifetime: number;
  /** Addresses (CIDRs) and host names a jwks_uri may point at besides public addresses. */
  jwksUriAllow: string[];
}

/** Whether the HTTPS listener asks for a client certificate, and whether the handshake fails without a valid one. */
export const TLS_CLIENT_CERT_MODES = ['off', 'optional', 'required'] as const;
export type TlsClientCertMode = (typeof TLS_CLIENT_CERT_MODES)[number];

/** The server signs with what its verifier accepts from an IdP. */
export const SIGNING_ALGS = ASYMMETRIC_ALGS;
/** The longest publish delay of a key rotation: a day. */
export const MAX_KEY_PUBLISH_DELAY = 86_400;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

interface OptionSpec<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  doc: string;
  /** Human-readable default for docs; `undefined` means "not set". */
  defaultDoc: string;
  parse: (raw: string, name: string) => Config[K];
}

const int =
  (min: number, max: number) =>
  (raw: string, name: string): number => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
      throw new ValidationError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
const str = (raw: string): string => raw;
/** PostgreSQL or SQLite by scheme; anything else (a typo, mysql://, a bare path) is refused rather than read as a SQLite file name. */
const databaseUrl = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  if (/^(postgres|postgresql):\/\/./.test(raw) || /^sqlite:./.test(raw)) return raw;
  const scheme = /^([a-z][\w+.-]*):/i.exec(raw)?.[1];
  throw new ValidationError(
    `${name} must start with postgres://, postgresql:// or sqlite: (e.g. sqlite:/var/lib/zgw-auth/zgw-auth.db), got ${scheme ? `a ${scheme}: URL` : 'no scheme'}`,
  );
};
const optStr = (raw: string): string | undefined => (raw === '' ? undefined : raw);
export const bool = (raw: string, name: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ValidationError(`${name} must be true or false, got "${raw}"`);
};
/** A hop count or a list of addresses/CIDRs; never a bare `true`, which trusts what the caller writes. */
const trustProxy = (raw: string, name: string): false | number | string[] => {
  const v = raw.trim();
  if (/^(0|false|no|off)?$/i.test(v)) return false;
  if (/^(1|true|yes|on)$/i.test(v) && !/^1$/.test(v)) {
    throw new ValidationError(
      `${name}=${v} is refused: it would trust the leftmost X-Forwarded-For entry, which the caller chooses. Give the number of proxies in front of zgw-auth (e.g. 1) or their addresses or CIDRs (e.g. 10.0.0.5,10.1.0.0/16)`,
    );
  }
  if (/^\d+$/.test(v)) return int(1, 10)(v, name);
  const list = v.split(',').map((a) => a.trim());
  for (const a of list) {
    const [ip, bits, extra] = a.split('/');
    const family = net.isIP(ip ?? '');
    const ok =
      family !== 0 &&
      extra === undefined &&
      (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)));
    if (!ok)
      throw new ValidationError(
        `${name} must be a number of proxy hops or a comma-separated list of proxy addresses or CIDRs, got "${a.slice(0, 60)}"`,
      );
  }
  return list;
};
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevel = (raw: string, name: string): string => {
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw;
  throw new ValidationError(`${name} must be one of ${LOG_LEVELS.join(', ')}, got "${raw.slice(0, 40)}"`);
};
const tlsClientCertMode = (raw: string, name: string): TlsClientCertMode => {
  if ((TLS_CLIENT_CERT_MODES as readonly string[]).includes(raw)) return raw as TlsClientCertMode;
  throw new ValidationError(`${name} must be one of ${TLS_CLIENT_CERT_MODES.join(', ')}, got "${raw.slice(0, 40)}"`);
};
const fileList = (raw: string): string[] =>
  raw
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
/** A header name as Node gives it (lower case); the ones a caller sets for itself are refused. */
const headerName = (raw: string, name: string): string | undefined => {
  const v = raw.trim().toLowerCase();
  if (v === '') return undefined;
  if (!/^[a-z0-9-]{1,64}$/.test(v) || ['authorization', 'host', 'content-type', 'content-length', 'cookie'].includes(v))
    throw new ValidationError(
      `${name} must be a header name such as client-cert or x-ssl-client-cert, got "${raw.slice(0, 60)}"`,
    );
  return v;
};
const httpsUrl = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${name} must be an absolute https URL, got "${raw.slice(0, 100)}"`);
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password)
    throw new ValidationError(`${name} must be an https URL without query, fragment or credentials`);
  return raw.replace(/\/+$/, '');
};
/** The Notificaties API: https, or plain http only to this machine (a test receiver, a local sidecar). */
const notificationsUrl = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${name} must be an absolute https URL, got "${raw.slice(0, 100)}"`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (
    !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) ||
    url.search ||
    url.hash ||
    url.username ||
    url.password ||
    raw.length > 500
  )
    throw new ValidationError(
      `${name} must be an https URL (http only to 127.0.0.1, [::1] or localhost) without query, fragment or credentials, at most 500 characters`,
    );
  return raw.replace(/\/+$/, '');
};
const notificationsClientId = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  if (!/^[\x21-\x7e]{1,100}$/.test(raw))
    throw new ValidationError(`${name} must be 1 to 100 printable characters without spaces`);
  return raw;
};
const notificationsSecret = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  // The value itself never goes into the message: it is a secret.
  if (!/^[\x20-\x7e]{16,512}$/.test(raw)) throw new ValidationError(`${name} must be 16 to 512 printable characters`);
  return raw;
};
/** A syslog receiver: tcp://host[:port] or tls://host[:port], nothing more. */
const auditSyslogUrl = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    !['tcp:', 'tls:'].includes(url.protocol) ||
    !url.hostname ||
    !['', '/'].includes(url.pathname) ||
    url.search ||
    url.hash ||
    url.username ||
    url.password ||
    raw.length > 300
  )
    throw new ValidationError(
      `${name} must be tcp://host:port (plain TCP) or tls://host:port (TLS), without path, query or credentials, at most 300 characters, got "${raw.slice(0, 100)}"`,
    );
  return raw;
};
/** A file path or `stdout`. */
const auditJsonl = (raw: string, name: string): string | undefined => {
  if (raw === '') return undefined;
  if (raw.length > 1024 || /[\u0000-\u001f]/.test(raw))
    throw new ValidationError(`${name} must be a file path (at most 1024 characters) or stdout`);
  return raw;
};
const alg = (raw: string, name: string): SigningAlg => {
  if ((SIGNING_ALGS as readonly string[]).includes(raw)) return raw as SigningAlg;
  throw new ValidationError(`${name} must be one of ${SIGNING_ALGS.join(', ')}, got "${raw}"`);
};

const authMethods = (raw: string, name: string): ClientAuthMethod[] => {
  const list = [...new Set(raw.split(',').map((m) => m.trim()))].filter(Boolean);
  for (const m of list)
    if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(m))
      throw new ValidationError(
        `${name}: "${m.slice(0, 40)}" is not a client authentication method (one of ${CLIENT_AUTH_METHODS.join(', ')})`,
      );
  if (!list.length) throw new ValidationError(`${name} must name at least one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  return list as ClientAuthMethod[];
};
const optAuthMethods = (raw: string, name: string): ClientAuthMethod[] | undefined =>
  raw.trim() === '' ? undefined : authMethods(raw, name);
/** Address ranges (CIDR or single address) and DNS host names. */
const jwksUriAllow = (raw: string, name: string): string[] => {
  const list = raw
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const a of list) {
    const [ip, bits, extra] = a.split('/');
    const family = net.isIP(ip ?? '');
    const range =
      family !== 0 &&
      extra === undefined &&
      (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)));
    const host = bits === undefined && /^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}$/.test(a);
    if (!range && !host)
      throw new ValidationError(
        `${name} must be a comma-separated list of addresses, CIDRs or host names, got "${a.slice(0, 60)}"`,
      );
  }
  return list;
};

export const OPTIONS: { [K in keyof Config]: OptionSpec<K> } = {
  host: {
    key: 'host',
    env: 'ZGW_AUTH_HOST',
    flag: '--host',
    defaultDoc: '127.0.0.1',
    parse: str,
    doc: 'Address to listen on. Use 0.0.0.0 behind a load balancer.',
  },
  port: {
    key: 'port',
    env: 'ZGW_AUTH_PORT',
    flag: '--port',
    defaultDoc: '8080',
    parse: int(0, 65535),
    doc: 'TCP port to listen on (0 picks a free port).',
  },
  issuer: {
    key: 'issuer',
    env: 'ZGW_AUTH_ISSUER',
    flag: '--issuer',
    defaultDoc: 'http://<host>:<port>',
    parse: (raw, name) => parseIssuer(raw, name),
    doc: 'Public base URL of this server: the `iss` of every token and the base of every endpoint URL in discovery. It may have a path (`https://auth.example.nl/realms/OneGround`): the endpoints and discovery documents then answer under that path, and at the root as well.',
  },
  keycloakPaths: {
    key: 'keycloakPaths',
    env: 'ZGW_AUTH_KEYCLOAK_PATHS',
    flag: '--keycloak-paths',
    defaultDoc: 'false',
    parse: bool,
    doc: "Also answer at Keycloak's URLs under the issuer's path (the realm): `…/protocol/openid-connect/token`, `…/certs`, `…/token/introspect`, `…/revoke` and the OneGround plugin's `…/zgw-token-introspection/introspect`. Needs an issuer with a path.",
  },
  dataDir: {
    key: 'dataDir',
    env: 'ZGW_AUTH_DATA_DIR',
    flag: '--data-dir',
    defaultDoc: './data',
    parse: str,
    doc: 'Folder for the embedded SQLite database and the generated master key file.',
  },
  databaseUrl: {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    flag: '--database-url',
    defaultDoc: '(SQLite in the data folder)',
    parse: databaseUrl,
    doc: '`postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:/path/file.db` a SQLite file elsewhere. Any other value is refused.',
  },
  redisUrl: {
    key: 'redisUrl',
    env: 'REDIS_URL',
    flag: '--redis-url',
    defaultDoc: '(none: limits are per process)',
    parse: optStr,
    doc: '`redis://…`: failed-authentication back-off and the per-address request limit are shared by every process. When Redis is unreachable, back-off continues per process (logged) and resumes shared when it returns.',
  },
  workers: {
    key: 'workers',
    env: 'ZGW_AUTH_WORKERS',
    flag: '--workers',
    defaultDoc: '1',
    parse: int(1, 64),
    doc: '`serve` forks this many worker processes sharing the port (node:cluster), e.g. one per core. Workers restart when they die.',
  },
  shutdownDelay: {
    key: 'shutdownDelay',
    env: 'ZGW_AUTH_SHUTDOWN_DELAY',
    flag: '--shutdown-delay',
    defaultDoc: '0',
    parse: int(0, 60),
    doc: "Seconds after SIGTERM during which `serve` reports unready but still accepts connections (each answer closes its connection), so that a load balancer's health check takes it out before it stops listening. Set it to the balancer's time to notice.",
  },
  masterKey: {
    key: 'masterKey',
    env: 'ZGW_AUTH_MASTER_KEY',
    flag: '--master-key',
    defaultDoc: '(key file `master.key` in the data folder, created on first start)',
    parse: optStr,
    doc: '32 bytes, base64 or base64url. Encrypts signing keys and self-signing client secrets (AES-256-GCM) and keys the secret hashes. Required (or the key file) when several processes share one database. As a flag it shows in the process list: prefer the key file.',
  },
  masterKeyFile: {
    key: 'masterKeyFile',
    env: 'ZGW_AUTH_MASTER_KEY_FILE',
    flag: '--master-key-file',
    defaultDoc: '(none)',
    parse: optStr,
    doc: 'File holding the master key (as ZGW_AUTH_MASTER_KEY), e.g. a mounted secret. Not together with ZGW_AUTH_MASTER_KEY.',
  },
  audience: {
    key: 'audience',
    env: 'ZGW_AUTH_AUDIENCE',
    flag: '--audience',
    defaultDoc: 'ZGW_APIs',
    parse: str,
    doc: '`aud` claim of issued tokens (the seed uses `ZGW_APIs`).',
  },
  signingAlg: {
    key: 'signingAlg',
    env: 'ZGW_AUTH_SIGNING_ALG',
    flag: '--signing-alg',
    defaultDoc: 'RS256',
    parse: alg,
    doc: 'Algorithm of newly generated signing keys: RS256 (what OneGround resource servers expect), PS256 (RSA-PSS), ES256 or EdDSA. Keys already made keep theirs: a rotation with another algorithm switches.',
  },
  tokenLifetime: {
    key: 'tokenLifetime',
    env: 'ZGW_AUTH_TOKEN_LIFETIME',
    flag: '--token-lifetime',
    defaultDoc: '3600',
    parse: int(1, 31_536_000),
    doc: 'Access token lifetime in seconds, unless the client overrides it.',
  },
  maxTokenLifetime: {
    key: 'maxTokenLifetime',
    env: 'ZGW_AUTH_MAX_TOKEN_LIFETIME',
    flag: '--max-token-lifetime',
    defaultDoc: '86400',
    parse: int(1, 31_536_000),
    doc: 'Cap on any per-client lifetime override, in seconds; also how long a rotated-out key stays published.',
  },
  keyPublishDelay: {
    key: 'keyPublishDelay',
    env: 'ZGW_AUTH_KEY_PUBLISH_DELAY',
    flag: '--key-publish-delay',
    defaultDoc: '600',
    parse: int(0, MAX_KEY_PUBLISH_DELAY),
    doc: 'Seconds a rotated-in key is published in the JWKS before it starts signing. Rule: at least the JWKS cache time of the slowest resource server (our `/jwks` says max-age 60; some verifiers keep a JWKS for minutes) plus its refetch cooldown for an unknown `kid` (jose: 30 s) plus `ZGW_AUTH_KEY_REFRESH_INTERVAL`; 10 minutes covers the common ones. `keys rotate --now` signs at once (an emergency: verifiers that cache keys refuse tokens until they refetch).',
  },
  keyRefreshInterval: {
    key: 'keyRefreshInterval',
    env: 'ZGW_AUTH_KEY_REFRESH_INTERVAL',
    flag: '--key-refresh-interval',
    defaultDoc: '10',
    parse: int(1, 3600),
    doc: 'Seconds between reloads of the signing key set from the database.',
  },
  selfSignedMaxAge: {
    key: 'selfSignedMaxAge',
    env: 'ZGW_AUTH_SELF_SIGNED_MAX_AGE',
    flag: '--self-signed-max-age',
    defaultDoc: '3600',
    parse: int(1, 31_536_000),
    doc: "A self-signed HS256 token expires at min(exp, iat + this), like Open Zaak's JWT_EXPIRY.",
  },
  iatLeeway: {
    key: 'iatLeeway',
    env: 'ZGW_AUTH_IAT_LEEWAY',
    flag: '--iat-leeway',
    defaultDoc: '300',
    parse: int(0, 86_400),
    doc: "How far in the future a self-signed token's `iat` may be (the seed sets it 257 s ahead).",
  },
  clockSkew: {
    key: 'clockSkew',
    env: 'ZGW_AUTH_CLOCK_SKEW',
    flag: '--clock-skew',
    defaultDoc: '30',
    parse: int(0, 3600),
    doc: 'Leeway in seconds for `exp` and `nbf` checks.',
  },
  introspectionAnonymous: {
    key: 'introspectionAnonymous',
    env: 'ZGW_AUTH_INTROSPECTION_ANONYMOUS',
    flag: '--introspection-anonymous',
    defaultDoc: 'false',
    parse: bool,
    doc: 'Let unauthenticated callers use /introspect (drop-in for the Keycloak ZGW plugin). Risk: anyone who can reach it can test tokens.',
  },
  introspectionRateLimit: {
    key: 'introspectionRateLimit',
    env: 'ZGW_AUTH_INTROSPECTION_RATE_LIMIT',
    flag: '--introspection-rate-limit',
    defaultDoc: '200',
    parse: int(1, 1_000_000),
    doc: 'Requests per second one address may send to /introspect and /revoke; beyond it 429 with Retry-After. Shared between processes through Redis when REDIS_URL is set.',
  },
  lockoutThreshold: {
    key: 'lockoutThreshold',
    env: 'ZGW_AUTH_LOCKOUT_THRESHOLD',
    flag: '--lockout-threshold',
    defaultDoc: '5',
    parse: int(1, 1_000_000),
    doc: 'Failed authentications of one client id from one address before back-off starts; a client id from all addresses gets 20 times this, an address 4 times this in distinct client ids (README, Protection).',
  },
  lockoutBaseSeconds: {
    key: 'lockoutBaseSeconds',
    env: 'ZGW_AUTH_LOCKOUT_BASE_SECONDS',
    flag: '--lockout-base-seconds',
    defaultDoc: '1',
    parse: int(1, 86_400),
    doc: 'First back-off; doubles with each further failure.',
  },
  lockoutMaxSeconds: {
    key: 'lockoutMaxSeconds',
    env: 'ZGW_AUTH_LOCKOUT_MAX_SECONDS',
    flag: '--lockout-max-seconds',
    defaultDoc: '900',
    parse: int(1, 86_400),
    doc: 'Longest back-off, and how long failures are remembered.',
  },
  auditRetentionDays: {
    key: 'auditRetentionDays',
    env: 'ZGW_AUTH_AUDIT_RETENTION_DAYS',
    flag: '--audit-retention-days',
    defaultDoc: '365',
    parse: int(1, 36_500),
    doc: 'Audit events older than this are deleted (checked hourly and at start).',
  },
  headersTimeout: {
    key: 'headersTimeout',
    env: 'ZGW_AUTH_HEADERS_TIMEOUT',
    flag: '--headers-timeout',
    defaultDoc: '5',
    parse: int(1, 300),
    doc: 'Seconds a client may take to send the request line and headers; a slower connection is closed (408).',
  },
  requestTimeout: {
    key: 'requestTimeout',
    env: 'ZGW_AUTH_REQUEST_TIMEOUT',
    flag: '--request-timeout',
    defaultDoc: '10',
    parse: int(1, 600),
    doc: 'Seconds a client may take to send a whole request, body included; a slower one is answered 408 and closed, so trickling bodies cannot hold connections.',
  },
  accessLog: {
    key: 'accessLog',
    env: 'ZGW_AUTH_ACCESS_LOG',
    flag: '--access-log',
    defaultDoc: 'false',
    parse: bool,
    doc: 'Log every request (two lines at info: received, answered). Off by default: it costs a third of /introspect throughput, the audit trail already records every token issued and every failed authentication, and errors are always logged.',
  },
  trustProxy: {
    key: 'trustProxy',
    env: 'ZGW_AUTH_TRUST_PROXY',
    flag: '--trust-proxy',
    defaultDoc: 'false',
    parse: trustProxy,
    doc: 'Proxies whose X-Forwarded-For is believed: a number of hops (e.g. `1` for one proxy in front) or their addresses/CIDRs (e.g. `10.0.0.5,10.1.0.0/16`). The client is the nearest address that is not a trusted proxy. `true` is refused: it would trust the entry the caller writes.',
  },
  tlsCert: {
    key: 'tlsCert',
    env: 'ZGW_AUTH_TLS_CERT',
    flag: '--tls-cert',
    defaultDoc: '(none: plain HTTP)',
    parse: optStr,
    doc: 'PEM file with the server certificate (and its intermediates, leaf first): zgw-auth then listens with HTTPS itself. Needs ZGW_AUTH_TLS_KEY.',
  },
  tlsKey: {
    key: 'tlsKey',
    env: 'ZGW_AUTH_TLS_KEY',
    flag: '--tls-key',
    defaultDoc: '(none)',
    parse: optStr,
    doc: "PEM file with the server certificate's private key (unencrypted; keep it owner-only).",
  },
  tlsClientCa: {
    key: 'tlsClientCa',
    env: 'ZGW_AUTH_TLS_CLIENT_CA',
    flag: '--tls-client-ca',
    defaultDoc: '(none)',
    parse: optStr,
    doc: 'PEM bundle of the CAs that client certificates (mutual TLS, and the `x5c` chains of private_key_jwt keys) must chain to: every self-signed certificate in it is a trust anchor (for PKIoverheid: the Staat der Nederlanden root, e.g. Private Root CA - G1); other CA certificates in it serve as intermediates when a client or a proxy passes only its own certificate. Without it, `tls_client_auth` and OIN checks refuse every certificate.',
  },
  tlsClientCert: {
    key: 'tlsClientCert',
    env: 'ZGW_AUTH_TLS_CLIENT_CERT',
    flag: '--tls-client-cert',
    defaultDoc: 'off',
    parse: tlsClientCertMode,
    doc: "Whether the HTTPS listener asks for a client certificate: `off`; `optional` (asked, and whatever is presented is judged by zgw-auth per client, so a bad certificate gets OAuth's `invalid_client`, not a TLS alert; secrets keep working on the same port); `required` (the handshake fails without a certificate chaining to ZGW_AUTH_TLS_CLIENT_CA, before any HTTP). Needs ZGW_AUTH_TLS_CERT and ZGW_AUTH_TLS_CLIENT_CA.",
  },
  tlsCrl: {
    key: 'tlsCrl',
    env: 'ZGW_AUTH_TLS_CRL',
    flag: '--tls-crl',
    defaultDoc: '(none)',
    parse: fileList,
    doc: "Comma-separated CRL files (DER or PEM) of the CAs in ZGW_AUTH_TLS_CLIENT_CA or below them, read at start (a file that cannot serve stops the start) and again when they change (ZGW_AUTH_CRL_RELOAD): a listed certificate is refused, and once a CRL's nextUpdate has passed every certificate of its CA is refused until a newer CRL is in place (fail closed). Refresh the files (e.g. a cron job fetching the TSP's CRL, written to a temporary file and renamed over the old one).",
  },
  crlReload: {
    key: 'crlReload',
    env: 'ZGW_AUTH_CRL_RELOAD',
    flag: '--crl-reload',
    defaultDoc: '60',
    parse: int(0, 86_400),
    doc: 'Seconds between looks at the ZGW_AUTH_TLS_CRL files (size, modification time, inode); a changed file is read again and used from then on, no restart or signal needed. A new file that cannot be read, does not parse, is not signed by its CA or is older than the CRL in use is refused and the last good CRL stays in use (logged, `zgw_auth_crl_reload_failing`, readiness `crl`). 0: read at start only.',
  },
  expiryWarning: {
    key: 'expiryWarning',
    env: 'ZGW_AUTH_EXPIRY_WARNING',
    flag: '--expiry-warning',
    defaultDoc: '2592000',
    parse: int(0, 94_608_000),
    doc: "Seconds (default 30 days) before a client credential expires from which it counts as expiring soon: a secret given an expiry, a private_key_jwt key's `x5c` certificate, a certificate registered for self_signed_tls_client_auth. Counted per organisation and kind by `zgw_auth_credentials_expiring`, listed by `GET /admin/expiring` (which takes `within_days` for another look ahead), marked in `clients list`, the console's client list (sortable by expiry) and a key's `expiresSoon`, and announced once per credential in the audit trail (`secret.expiring`, `client_key.expiring`). 0: no warning.",
  },
  clientCertHeader: {
    key: 'clientCertHeader',
    env: 'ZGW_AUTH_CLIENT_CERT_HEADER',
    flag: '--client-cert-header',
    defaultDoc: '(none)',
    parse: headerName,
    doc: "Header in which a TLS-terminating proxy passes the client certificate it received: RFC 9440's `client-cert` (a byte sequence `:base64 DER:`, with the chain in `client-cert-chain`) or nginx's `$ssl_client_escaped_cert` (URL-escaped PEM), recognised by their form. Believed only from the ZGW_AUTH_TRUST_PROXY addresses; from any other address a request with it is refused (`invalid_client`, audited). Make the proxy overwrite the header on every request.",
  },
  mtlsEndpoint: {
    key: 'mtlsEndpoint',
    env: 'ZGW_AUTH_MTLS_ENDPOINT',
    flag: '--mtls-endpoint',
    defaultDoc: '(none)',
    parse: httpsUrl,
    doc: 'Base URL where clients reach zgw-auth with mutual TLS, when that is another host or port than the issuer (e.g. `https://mtls.auth.example.nl`): discovery then lists `mtls_endpoint_aliases` (RFC 8705 §5): its `/token`, `/introspect` and `/revoke`. With an issuer that has a path, give the same path here (`https://mtls.auth.example.nl/realms/OneGround`).',
  },
  logLevel: {
    key: 'logLevel',
    env: 'ZGW_AUTH_LOG_LEVEL',
    flag: '--log-level',
    defaultDoc: 'info',
    parse: logLevel,
    doc: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
  },
  console: {
    key: 'console',
    env: 'ZGW_AUTH_CONSOLE',
    flag: '--console',
    defaultDoc: 'true',
    parse: bool,
    doc: 'Serve the web console for administrators at `/console`. Its sessions live in the database (table `console_sessions`, nothing secret in the clear): any process serves any session, no sticky sessions needed.',
  },
  acEnabled: {
    key: 'acEnabled',
    env: 'ZGW_AUTH_AC_ENABLED',
    flag: '--ac-enabled',
    defaultDoc: 'true',
    parse: bool,
    doc: 'Serve the ZGW Autorisaties API (the rights of each client id, see "Autorisaties API") under ZGW_AUTH_AC_BASE_PATH. Its callers need a token and an applicatie granting them autorisaties.lezen or autorisaties.bijwerken.',
  },
  acBasePath: {
    key: 'acBasePath',
    env: 'ZGW_AUTH_AC_BASE_PATH',
    flag: '--ac-base-path',
    defaultDoc: '/autorisaties/api/v1',
    parse: acBasePath,
    doc: "Path where the Autorisaties API answers (`<path>/applicaties`): plain segments, not under zgw-auth's own /admin, /console, /health, /metrics or /.well-known.",
  },
  notificationsUrl: {
    key: 'notificationsUrl',
    env: 'ZGW_AUTH_NOTIFICATIONS_URL',
    flag: '--notifications-url',
    defaultDoc: '(none: no notifications)',
    parse: notificationsUrl,
    doc: 'Base URL of the Notificaties API (NRC) to which every create, update and destroy of an applicatie is published on kanaal `autorisaties` (see "Autorisaties API", Notifications), e.g. `https://nrc.example.nl/api/v1`. https, or http to a loopback address only. Unset: nothing is published and nothing is kept for it. Needs ZGW_AUTH_NOTIFICATIONS_CLIENT_ID and ZGW_AUTH_NOTIFICATIONS_SECRET.',
  },
  notificationsClientId: {
    key: 'notificationsClientId',
    env: 'ZGW_AUTH_NOTIFICATIONS_CLIENT_ID',
    flag: '--notifications-client-id',
    defaultDoc: '(none)',
    parse: notificationsClientId,
    doc: "Client id with which zgw-auth signs its ZGW tokens (HS256, as every ZGW component does) towards the Notificaties API. The Notificaties API's Autorisaties API must give it `notificaties.publiceren` (component `nrc`).",
  },
  notificationsSecret: {
    key: 'notificationsSecret',
    env: 'ZGW_AUTH_NOTIFICATIONS_SECRET',
    flag: '--notifications-secret',
    defaultDoc: '(none)',
    parse: notificationsSecret,
    doc: 'Secret (16 to 512 characters) of ZGW_AUTH_NOTIFICATIONS_CLIENT_ID, shared with the Notificaties API; never logged. As a flag it shows in the process list: prefer the environment variable.',
  },
  notificationsTimeout: {
    key: 'notificationsTimeout',
    env: 'ZGW_AUTH_NOTIFICATIONS_TIMEOUT',
    flag: '--notifications-timeout',
    defaultDoc: '10',
    parse: int(1, 120),
    doc: 'Seconds one request to the Notificaties API may take; a slower one counts as the Notificaties API being away (retried).',
  },
  notificationsRetryMax: {
    key: 'notificationsRetryMax',
    env: 'ZGW_AUTH_NOTIFICATIONS_RETRY_MAX',
    flag: '--notifications-retry-max',
    defaultDoc: '300',
    parse: int(1, 86_400),
    doc: 'Longest wait in seconds between two attempts to deliver one notification while the Notificaties API is away (5xx, 429, timeout, refused connection): the waits double from 1 s up to this.',
  },
  auditSyslogUrl: {
    key: 'auditSyslogUrl',
    env: 'ZGW_AUTH_AUDIT_SYSLOG_URL',
    flag: '--audit-syslog-url',
    defaultDoc: '(none)',
    parse: auditSyslogUrl,
    doc: 'Syslog receiver to which every audit event is sent as it is written (see "Audit events to your SIEM"): `tls://host:port` (RFC 5425, TLS; port 6514 when left out) or `tcp://host:port` (plain TCP, port 514 when left out), RFC 5424 messages with octet-counting framing (RFC 6587).',
  },
  auditSyslogCa: {
    key: 'auditSyslogCa',
    env: 'ZGW_AUTH_AUDIT_SYSLOG_CA',
    flag: '--audit-syslog-ca',
    defaultDoc: "(Node's CA list)",
    parse: optStr,
    doc: "PEM file with the CAs the syslog receiver's certificate must chain to (tls:// only); its name must match the URL's host.",
  },
  auditSyslogCert: {
    key: 'auditSyslogCert',
    env: 'ZGW_AUTH_AUDIT_SYSLOG_CERT',
    flag: '--audit-syslog-cert',
    defaultDoc: '(none)',
    parse: optStr,
    doc: 'PEM file with the client certificate (and its intermediates) zgw-auth shows a syslog receiver that asks for one (tls:// only). Needs ZGW_AUTH_AUDIT_SYSLOG_KEY.',
  },
  auditSyslogKey: {
    key: 'auditSyslogKey',
    env: 'ZGW_AUTH_AUDIT_SYSLOG_KEY',
    flag: '--audit-syslog-key',
    defaultDoc: '(none)',
    parse: optStr,
    doc: 'PEM file with the private key of ZGW_AUTH_AUDIT_SYSLOG_CERT (unencrypted; keep it owner-only).',
  },
  auditJsonl: {
    key: 'auditJsonl',
    env: 'ZGW_AUTH_AUDIT_JSONL',
    flag: '--audit-jsonl',
    defaultDoc: '(none)',
    parse: auditJsonl,
    doc: 'Every audit event as a line of JSON, as it is written: appended to this file (created owner-only) or, with `stdout`, written to standard output next to the log lines (`"type":"zgw-auth.audit"` tells them apart).',
  },
  auditBacklogMax: {
    key: 'auditBacklogMax',
    env: 'ZGW_AUTH_AUDIT_BACKLOG_MAX',
    flag: '--audit-backlog-max',
    defaultDoc: '1000000',
    parse: int(1, 100_000_000),
    doc: 'Audit events a sink (syslog, JSON lines) may fall behind at most while its receiver is away; beyond it the oldest are dropped for that sink (they stay in the audit trail), counted in `zgw_auth_audit_shipping_total{outcome="dropped"}` and logged.',
  },
  consoleIdleTimeout: {
    key: 'consoleIdleTimeout',
    env: 'ZGW_AUTH_CONSOLE_IDLE_TIMEOUT',
    flag: '--console-idle-timeout',
    defaultDoc: '900',
    parse: int(60, 86_400),
    doc: 'Seconds without a request after which a console session ends. Sessions live in the database, so this holds whichever process takes each request; every process sweeps run-out sessions once a minute, two minutes after they ran out and never by a clock ahead of the database clock (a request ends one at once).',
  },
  consoleSessionLifetime: {
    key: 'consoleSessionLifetime',
    env: 'ZGW_AUTH_CONSOLE_SESSION_LIFETIME',
    flag: '--console-session-lifetime',
    defaultDoc: '28800',
    parse: int(300, 86_400),
    doc: 'Seconds after sign-in at which a console session ends however active it is (at most ZGW_AUTH_MAX_TOKEN_LIFETIME: its access token lives as long). Held in the database like the session: a restart does not end it.',
  },
  dpopProofWindow: {
    key: 'dpopProofWindow',
    env: 'ZGW_AUTH_DPOP_PROOF_WINDOW',
    flag: '--dpop-proof-window',
    defaultDoc: '60',
    parse: int(5, 600),
    doc: "Seconds a DPoP proof's `iat` may lie before or after the server's clock at /token (5 s leeway on top). Each proof's `jti` is remembered this long (twice, plus the leeway), to refuse its replay.",
  },
  dpopNonce: {
    key: 'dpopNonce',
    env: 'ZGW_AUTH_DPOP_NONCE',
    flag: '--dpop-nonce',
    defaultDoc: 'false',
    parse: bool,
    doc: 'Require a server nonce in DPoP proofs at /token (RFC 9449 §8): a proof without a current one is answered `use_dpop_nonce` with a `DPoP-Nonce` header (clients such as openid-client retry by themselves), and every token answer to a proof carries the nonce to use next. Limits proofs made ahead of time by a client whose key leaked; every process derives the same nonces from the master key.',
  },
  clientAuthMethods: {
    key: 'clientAuthMethods',
    env: 'ZGW_AUTH_CLIENT_AUTH_METHODS',
    flag: '--client-auth-methods',
    defaultDoc: CLIENT_AUTH_METHODS.join(','),
    parse: authMethods,
    doc: 'Client authentication methods accepted at /token, /introspect and /revoke (comma-separated). Leaving out client_secret_basic and client_secret_post is "NL GOV mode": no client authenticates there with a secret. The console sign-in stays a secret sign-in.',
  },
  newClientAuthMethods: {
    key: 'newClientAuthMethods',
    env: 'ZGW_AUTH_NEW_CLIENT_AUTH_METHODS',
    flag: '--new-client-auth-methods',
    defaultDoc: 'ZGW_AUTH_CLIENT_AUTH_METHODS',
    parse: optAuthMethods,
    doc: 'Methods a client may be registered with or changed to (comma-separated); clients keep the methods they have.',
  },
  assertionMaxLifetime: {
    key: 'assertionMaxLifetime',
    env: 'ZGW_AUTH_ASSERTION_MAX_LIFETIME',
    flag: '--assertion-max-lifetime',
    defaultDoc: '300',
    parse: int(10, 3600),
    doc: 'Seconds a private_key_jwt client assertion may live (exp - iat, or exp - now without iat); its jti is remembered that long.',
  },
  jwksUriAllow: {
    key: 'jwksUriAllow',
    env: 'ZGW_AUTH_JWKS_URI_ALLOW',
    flag: '--jwks-uri-allow',
    defaultDoc: '(none)',
    parse: jwksUriAllow,
    doc: "Addresses, CIDRs or host names a client's jwks_uri may point at besides public addresses (e.g. 10.0.0.0/8,keys.intern.example); there plain http is allowed too. Loopback, link-local, private, CGNAT, unique-local, multicast and unspecified addresses are refused otherwise.",
  },
};

const DEFAULTS: Omit<Config, 'issuer'> = {
  host: '127.0.0.1',
  port: 8080,
  keycloakPaths: false,
  dataDir: './data',
  databaseUrl: undefined,
  redisUrl: undefined,
  workers: 1,
  shutdownDelay: 0,
  masterKey: undefined,
  masterKeyFile: undefined,
  audience: 'ZGW_APIs',
  signingAlg: 'RS256',
  tokenLifetime: 3600,
  maxTokenLifetime: 86_400,
  keyPublishDelay: 600,
  keyRefreshInterval: 10,
  selfSignedMaxAge: 3600,
  iatLeeway: 300,
  clockSkew: 30,
  introspectionAnonymous: false,
  introspectionRateLimit: 200,
  lockoutThreshold: 5,
  lockoutBaseSeconds: 1,
  lockoutMaxSeconds: 900,
  auditRetentionDays: 365,
  trustProxy: false,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsClientCa: undefined,
  tlsClientCert: 'off',
  tlsCrl: [],
  crlReload: 60,
  expiryWarning: 2_592_000,
  clientCertHeader: undefined,
  mtlsEndpoint: undefined,
  headersTimeout: 5,
  requestTimeout: 10,
  accessLog: false,
  logLevel: 'info',
  console: true,
  acEnabled: true,
  acBasePath: '/autorisaties/api/v1',
  notificationsUrl: undefined,
  notificationsClientId: undefined,
  notificationsSecret: undefined,
  notificationsTimeout: 10,
  notificationsRetryMax: 300,
  auditSyslogUrl: undefined,
  auditSyslogCa: undefined,
  auditSyslogCert: undefined,
  auditSyslogKey: undefined,
  auditJsonl: undefined,
  auditBacklogMax: 1_000_000,
  consoleIdleTimeout: 900,
  consoleSessionLifetime: 28_800,
  dpopProofWindow: 60,
  dpopNonce: false,
  clientAuthMethods: [...CLIENT_AUTH_METHODS],
  newClientAuthMethods: undefined,
  assertionMaxLifetime: 300,
  jwksUriAllow: [],
};

/** First path segments where zgw-auth's own endpoints answer: an issuer path there would mix with them. */
const RESERVED_ISSUER_SEGMENTS = ['admin', 'console', 'health', 'metrics', '.well-known'];
/** Path segments of RFC 3986 unreserved characters: the path becomes routes, where `:` and `*` have a meaning. */
const ISSUER_PATH = /^(\/[A-Za-z0-9._~-]+)*$/;

function parseIssuer(raw: string, name: string): string {
  // URL parsing drops leading and trailing blanks; tokens would carry them and no verifier would match.
  if (/[\s\u0000-\u001f\u007f]/.test(raw))
    throw new ValidationError(`${name} must not contain spaces or control characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${name} must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(`${name} must be http(s)`);
  if (url.search || url.hash || raw.includes('?') || raw.includes('#'))
    throw new ValidationError(`${name} must not have a query or fragment (RFC 8414 §2)`);
  if (url.username || url.password) throw new ValidationError(`${name} must not hold credentials`);
  const issuer = raw.replace(/\/+$/, '');
  const path = url.pathname.replace(/\/+$/, '');
  // Tokens carry the issuer as written and routes use the parsed path: they must be the same path.
  if (
    !ISSUER_PATH.test(path) ||
    !issuer.endsWith(path) ||
    /\/\.{1,2}(\/|$)/.test(issuer.slice(url.protocol.length + 2))
  ) {
    throw new ValidationError(
      `${name} may have a path of plain segments (letters, digits, . _ ~ -), without percent-encoding, dot segments or empty segments, got "${url.pathname.slice(0, 100)}"`,
    );
  }
  const first = path.split('/')[1];
  if (first !== undefined && RESERVED_ISSUER_SEGMENTS.includes(first)) {
    throw new ValidationError(`${name} must not have a path under /${first}: zgw-auth's own endpoints answer there`);
  }
  return issuer;
}

/** ZGW_AUTH_AC_BASE_PATH: one or more plain segments, outside the paths of zgw-auth's own endpoints. */
function acBasePath(raw: string, name: string): string {
  const path = raw.replace(/\/+$/, '');
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path) || /\/\.{1,2}(\/|$)/.test(path) || path.length > 200)
    throw new ValidationError(
      `${name} must be a path of plain segments (letters, digits, . _ ~ -), e.g. /autorisaties/api/v1, got "${raw.slice(0, 100)}"`,
    );
  const first = path.split('/')[1]!;
  if (RESERVED_ISSUER_SEGMENTS.includes(first))
    throw new ValidationError(`${name} must not be under /${first}: zgw-auth's own endpoints answer there`);
  return path;
}

function checkTlsSettings(config: Config): void {
  if (!config.tlsCert !== !config.tlsKey)
    throw new ValidationError('set both ZGW_AUTH_TLS_CERT and ZGW_AUTH_TLS_KEY for HTTPS, or neither');
  if (config.tlsClientCert !== 'off' && !config.tlsCert)
    throw new ValidationError(
      `ZGW_AUTH_TLS_CLIENT_CERT=${config.tlsClientCert} needs HTTPS: set ZGW_AUTH_TLS_CERT and ZGW_AUTH_TLS_KEY`,
    );
  if (config.tlsClientCert !== 'off' && !config.tlsClientCa)
    throw new ValidationError(
      `ZGW_AUTH_TLS_CLIENT_CERT=${config.tlsClientCert} needs ZGW_AUTH_TLS_CLIENT_CA: the CAs client certificates must chain to`,
    );
  if (config.tlsCrl.length > 0 && !config.tlsClientCa)
    throw new ValidationError(
      'ZGW_AUTH_TLS_CRL needs ZGW_AUTH_TLS_CLIENT_CA: a CRL is checked along a chain to those CAs',
    );
  // A hop count trusts whoever connects directly: a client reaching zgw-auth past the proxy could
  // then write its own certificate header.
  if (config.clientCertHeader && !Array.isArray(config.trustProxy))
    throw new ValidationError(
      "ZGW_AUTH_CLIENT_CERT_HEADER needs ZGW_AUTH_TRUST_PROXY to list the proxies' addresses: the header is believed only from them (a hop count cannot tell a proxy from a client)",
    );
}

function checkAuditSyslogSettings(config: Config): void {
  const tls = config.auditSyslogUrl?.startsWith('tls:') ?? false;
  for (const [value, env] of [
    [config.auditSyslogCa, 'ZGW_AUTH_AUDIT_SYSLOG_CA'],
    [config.auditSyslogCert, 'ZGW_AUTH_AUDIT_SYSLOG_CERT'],
    [config.auditSyslogKey, 'ZGW_AUTH_AUDIT_SYSLOG_KEY'],
  ] as const)
    if (value && !tls) throw new ValidationError(`${env} needs ZGW_AUTH_AUDIT_SYSLOG_URL=tls://host:port`);
  if (!config.auditSyslogCert !== !config.auditSyslogKey)
    throw new ValidationError('set both ZGW_AUTH_AUDIT_SYSLOG_CERT and ZGW_AUTH_AUDIT_SYSLOG_KEY, or neither');
}

/** The path of an issuer URL without a trailing slash: '' for an issuer at the root. */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

/** Flags (already parsed by the CLI, as strings) override environment variables, which override defaults. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<keyof Config, string>> = {},
): Config {
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const spec of Object.values(OPTIONS) as OptionSpec<keyof Config>[]) {
    const fromFlag = flags[spec.key];
    const raw = fromFlag ?? env[spec.env];
    if (raw === undefined) continue;
    out[spec.key] = spec.parse(String(raw), fromFlag !== undefined ? spec.flag : spec.env);
  }
  const config = out as unknown as Config;
  config.dataDir = path.resolve(config.dataDir);
  if (config.issuer === undefined) {
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const scheme = config.tlsCert ? 'https' : 'http';
    config.issuer = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
  }
  if (config.keycloakPaths && issuerPath(config.issuer) === '') {
    throw new ValidationError(
      "ZGW_AUTH_KEYCLOAK_PATHS needs ZGW_AUTH_ISSUER with the realm's path, as Keycloak published it (e.g. https://auth.example.nl/realms/OneGround): Keycloak's URLs are under that path",
    );
  }
  if (config.headersTimeout > config.requestTimeout)
    throw new ValidationError('ZGW_AUTH_HEADERS_TIMEOUT must not exceed ZGW_AUTH_REQUEST_TIMEOUT');
  if (config.masterKey && config.masterKeyFile)
    throw new ValidationError('set either ZGW_AUTH_MASTER_KEY or ZGW_AUTH_MASTER_KEY_FILE, not both');
  checkTlsSettings(config);
  if (config.notificationsUrl && !(config.notificationsClientId && config.notificationsSecret))
    throw new ValidationError(
      'ZGW_AUTH_NOTIFICATIONS_URL needs ZGW_AUTH_NOTIFICATIONS_CLIENT_ID and ZGW_AUTH_NOTIFICATIONS_SECRET: the Notificaties API accepts only authenticated publishers',
    );
  checkAuditSyslogSettings(config);
  if (config.tokenLifetime > config.maxTokenLifetime) {
    throw new ValidationError('ZGW_AUTH_TOKEN_LIFETIME must not exceed ZGW_AUTH_MAX_TOKEN_LIFETIME');
  }
  return config;
}
