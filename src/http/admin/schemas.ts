import { type Static, type TSchema, Type } from '#typebox';
import type { AuditEvent } from '../../audit/audit-log.js';
import { CLIENT_LIMITS } from '../../clients/client-limits.js';
import { CLIENT_SORTS } from '../../clients/client-store.js';
import type { ClientKeyView } from '../../clients/client-service.js';
import { CREDENTIAL_KINDS, MAX_WITHIN_DAYS } from '../../clients/credential-expiry.js';
import {
  type Client,
  CLIENT_AUTH_METHODS,
  GRANT_TYPES,
  MAX_EPOCH_MS,
  type SecretInfo,
  TLS_SUBJECT_FIELDS,
} from '../../clients/model.js';
import { RSIN_PATTERN, RSIN_RULE } from '../../clients/rsin.js';
import { MAX_KEY_INPUT_BYTES } from '../../clients/client-keys.js';
import { JWKS_URI_MAX_LENGTH } from '../../clients/jwks-uri.js';
import { SECRET_MAX_LENGTH, SECRET_MIN_LENGTH } from '../../clients/secrets.js';
import { CLIENT_ID_PATTERN, CLIENT_ID_RULE, SCOPE_PATTERN, SCOPE_RULE } from '../../clients/validate.js';
import { MAX_KEY_PUBLISH_DELAY, SIGNING_ALGS } from '../../config.js';
import type { KeyInfo } from '../../keys/key-ring.js';
import type { KeyRotation } from '../../keys/rotate-key.js';

/**
 * Schemas of the admin API, in TypeBox: Fastify validates requests with them, the OpenAPI document
 * shows them, and the route handlers get their TypeScript types from them. The bounds are the
 * registry's own (client-limits.ts, validate.ts, rsin.ts, secrets.ts). Response schemas list every
 * field allowed out: Fastify serialises only these, so a secret hash or ciphertext cannot leak by
 * accident; ResponseShapes below keeps them equal to the domain types.
 */

/** `T` or null, written as `type: [T, "null"]` (OpenAPI 3.0: `nullable`). */
function nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A JSON object of any members (static claims, audit details). */
const anyObject = (options: { maxProperties?: number; description?: string } = {}) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, ...options });

const epochMs = (options: { minimum?: number; maximum?: number } = {}) =>
  nullable(Type.Integer({ description: 'epoch milliseconds', ...options }));

/**
 * The admin API names every field in camelCase; these two are client registration metadata of
 * their RFCs under another name, said in the OpenAPI description.
 */
const DPOP_BOUND_DESCRIPTION =
  'the client registration metadata `dpop_bound_access_tokens` of RFC 9449 §5.2, in camelCase: the client gets DPoP-bound tokens only; a token request without a DPoP proof is refused, never answered with a bearer token';
const CERTIFICATE_BOUND_DESCRIPTION =
  'the client registration metadata `tls_client_certificate_bound_access_tokens` of RFC 8705 §3.4, in camelCase: the client gets tokens bound to its TLS client certificate only; a token request without one is refused';

// ---- responses ---------------------------------------------------------------------------------

export const clientSchema = Type.Object(
  {
    clientId: Type.String(),
    name: Type.String(),
    description: Type.String(),
    rsin: Type.String(),
    enabled: Type.Boolean(),
    grantTypes: Type.Array(Type.String()),
    allowedScopes: Type.Array(Type.String()),
    defaultScopes: Type.Array(Type.String()),
    tokenLifetime: nullable(Type.Integer({ description: 'seconds; null: the server default' })),
    staticClaims: anyObject(),
    selfSignedAllowed: Type.Boolean(),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
    lastTokenAt: epochMs(),
    risks: Type.Array(Type.Enum(['weak_secret'], { type: 'string' }), {
      description: 'standing risks an operator accepted; weak_secret: a self-signing secret below the strength rule',
    }),
    authMethods: Type.Array(Type.Enum(CLIENT_AUTH_METHODS, { type: 'string' }), {
      description: 'how the client may authenticate (RFC 7591 token_endpoint_auth_method)',
    }),
    jwksUri: nullable(Type.String({ description: 'where the client publishes its public keys (private_key_jwt)' })),
    tlsSubject: Type.Union([
      Type.Object({ field: Type.Enum(TLS_SUBJECT_FIELDS, { type: 'string' }), value: Type.String() }),
      Type.Null(),
    ]),
    oin: nullable(Type.String({ description: 'organisation identification number a certificate must carry' })),
    dpopBoundAccessTokens: Type.Boolean({ description: DPOP_BOUND_DESCRIPTION }),
    tlsClientCertificateBoundAccessTokens: Type.Boolean({ description: CERTIFICATE_BOUND_DESCRIPTION }),
  },
  { $id: 'Client' },
);

export const secretInfoSchema = Type.Object(
  {
    secretId: Type.String(),
    clientId: Type.String(),
    label: Type.String(),
    usableForSelfSigned: Type.Boolean(),
    createdAt: Type.Integer(),
    expiresAt: epochMs(),
    lastUsedAt: epochMs(),
    revokedAt: epochMs(),
    weak: Type.Boolean({ description: 'imported below the strength rule and allowed explicitly' }),
  },
  { $id: 'SecretInfo' },
);

export const problemSchema = Type.Object(
  {
    type: Type.String(),
    code: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    invalidParams: Type.Optional(Type.Array(anyObject())),
  },
  { $id: 'Problem' },
);

/** References to the shared schemas above (added to the admin scope once), typed as what they name. */
export const clientRef = Type.Unsafe<Static<typeof clientSchema>>(Type.Ref('Client#'));
export const secretInfoRef = Type.Unsafe<Static<typeof secretInfoSchema>>(Type.Ref('SecretInfo#'));

export const secretInfoList = Type.Array(secretInfoRef);
export const clientPage = Type.Object({ items: Type.Array(clientRef), total: Type.Integer() });
export const clientWithWarnings = Type.Object({ client: clientRef, warnings: Type.Array(Type.String()) });

export const createdSecretSchema = Type.Object({
  secret: secretInfoRef,
  value: Type.Optional(Type.String({ description: 'the generated secret: shown in this response only' })),
  warnings: Type.Array(Type.String()),
});
export const createdClientSchema = Type.Object({
  client: clientRef,
  secret: Type.Optional(
    Type.Object(createdSecretSchema.properties, {
      description:
        'its first secret, the value shown in this response only; absent for a client whose authMethods hold no client_secret_* method: it gets no secret',
    }),
  ),
});

export const auditEventSchema = Type.Object({
  id: Type.Integer(),
  at: Type.Integer({ description: 'epoch milliseconds' }),
  actor: Type.String(),
  action: Type.String(),
  target: Type.String(),
  address: nullable(Type.String()),
  reason: nullable(Type.String()),
  details: anyObject({ description: 'before/after and context; never secret material' }),
  organisation: nullable(
    Type.String({ description: 'RSIN of the organisation the event concerns; null for keys and the system' }),
  ),
});
export const auditPage = Type.Object({ items: Type.Array(auditEventSchema) });

export const keyInfoSchema = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  createdAt: Type.Integer(),
  activatesAt: Type.Integer({
    description: 'epoch milliseconds from which it signs (or was to sign, when superseded)',
  }),
  signsUntil: nullable(
    Type.Integer({ description: 'epoch milliseconds at which the next key takes over; null while none follows' }),
  ),
  retiresAt: nullable(
    Type.Integer({
      description: 'epoch milliseconds at which it leaves the JWKS, its last token expired; null while it may sign',
    }),
  ),
  supersededAt: nullable(
    Type.Integer({
      description: 'epoch milliseconds at which a newer key was rotated in to sign before it: it never signs',
    }),
  ),
  state: Type.Enum(['pending', 'active', 'published', 'superseded', 'retired'], { type: 'string' }),
});
export const keyList = Type.Object({ items: Type.Array(keyInfoSchema) });

export const keyRotationSchema = Type.Object({
  kid: Type.String(),
  alg: Type.Enum(SIGNING_ALGS, { type: 'string' }),
  activatesAt: Type.Integer({ description: 'epoch milliseconds from which the new key signs' }),
  previousRetireAt: Type.Integer({
    description: 'epoch milliseconds at which the key it takes over from stops being published',
  }),
  superseded: Type.Array(Type.String(), { description: 'kids of pending keys this one supersedes: they never sign' }),
});

/** Fails the build when a response schema and its domain type differ by a field. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type ResponseShapes = [
  Holds<Same<Static<typeof clientSchema>, Client>>,
  Holds<Same<Static<typeof secretInfoSchema>, SecretInfo>>,
  Holds<Same<Static<typeof auditEventSchema>, AuditEvent>>,
  Holds<Same<Static<typeof keyInfoSchema>, KeyInfo>>,
  Holds<Same<Static<typeof keyRotationSchema>, KeyRotation>>,
  Holds<
    Same<Static<typeof clientKeySchema>, Omit<ClientKeyView, 'publicJwk'> & { publicJwk: Record<string, unknown> }>
  >,
];

// ---- requests ----------------------------------------------------------------------------------

const clientId = Type.String({
  minLength: 1,
  maxLength: CLIENT_LIMITS.clientId,
  pattern: CLIENT_ID_PATTERN.source,
  description: CLIENT_ID_RULE,
});
const rsin = Type.String({ pattern: RSIN_PATTERN.source, description: `organisation RSIN: ${RSIN_RULE}` });
const scopes = Type.Array(
  Type.String({ maxLength: CLIENT_LIMITS.scope, pattern: SCOPE_PATTERN.source, description: SCOPE_RULE }),
  { maxItems: CLIENT_LIMITS.scopes },
);

const clientFields = {
  name: Type.Optional(Type.String({ maxLength: CLIENT_LIMITS.name })),
  description: Type.Optional(Type.String({ maxLength: CLIENT_LIMITS.description })),
  enabled: Type.Optional(Type.Boolean()),
  grantTypes: Type.Optional(
    Type.Array(Type.Enum(GRANT_TYPES, { type: 'string' }), { maxItems: CLIENT_LIMITS.grantTypes }),
  ),
  allowedScopes: Type.Optional(scopes),
  defaultScopes: Type.Optional(scopes),
  tokenLifetime: Type.Optional(
    nullable(
      Type.Integer({
        minimum: 1,
        maximum: CLIENT_LIMITS.tokenLifetime,
        description: 'seconds; null: the server default',
      }),
    ),
  ),
  staticClaims: Type.Optional(anyObject({ maxProperties: CLIENT_LIMITS.staticClaims })),
  selfSignedAllowed: Type.Optional(Type.Boolean()),
  dpopBoundAccessTokens: Type.Optional(Type.Boolean({ description: DPOP_BOUND_DESCRIPTION })),
  tlsClientCertificateBoundAccessTokens: Type.Optional(Type.Boolean({ description: CERTIFICATE_BOUND_DESCRIPTION })),
  authMethods: Type.Optional(
    Type.Array(Type.Enum(CLIENT_AUTH_METHODS, { type: 'string' }), {
      minItems: 1,
      maxItems: CLIENT_AUTH_METHODS.length,
      uniqueItems: true,
      description: 'how the client may authenticate; also accepted as token_endpoint_auth_methods (RFC 7591)',
    }),
  ),
  jwksUri: Type.Optional(
    nullable(
      Type.String({ maxLength: JWKS_URI_MAX_LENGTH, description: 'where the client publishes its public keys' }),
    ),
  ),
  tlsSubject: Type.Optional(
    Type.Union([
      Type.Object(
        {
          field: Type.Enum(TLS_SUBJECT_FIELDS, { type: 'string' }),
          value: Type.String({ minLength: 1, maxLength: 1024 }),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  ),
  oin: Type.Optional(nullable(Type.String({ pattern: '^[0-9]{20}$', description: 'OIN: 20 digits' }))),
  // RFC 7591 §2 and RFC 8705 §2.1.2 names of the same fields.
  token_endpoint_auth_method: Type.Optional(Type.Enum(CLIENT_AUTH_METHODS, { type: 'string' })),
  token_endpoint_auth_methods: Type.Optional(
    Type.Array(Type.Enum(CLIENT_AUTH_METHODS, { type: 'string' }), {
      minItems: 1,
      maxItems: CLIENT_AUTH_METHODS.length,
      uniqueItems: true,
    }),
  ),
  jwks_uri: Type.Optional(nullable(Type.String({ maxLength: JWKS_URI_MAX_LENGTH }))),
  ...(Object.fromEntries(
    TLS_SUBJECT_FIELDS.map((f) => [
      `tls_client_auth_${f}`,
      Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    ]),
  ) as Record<
    `tls_client_auth_${(typeof TLS_SUBJECT_FIELDS)[number]}`,
    ReturnType<typeof Type.Optional<ReturnType<typeof Type.String>>>
  >),
};

export const createClientBody = Type.Object(
  { clientId: Type.Optional(clientId), rsin, ...clientFields },
  { additionalProperties: false },
);
export const updateClientBody = Type.Object(
  { rsin: Type.Optional(rsin), ...clientFields },
  { additionalProperties: false, minProperties: 1 },
);

export const addSecretBody = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: CLIENT_LIMITS.secretLabel })),
    expiresAt: Type.Optional(epochMs({ minimum: 0, maximum: MAX_EPOCH_MS })),
    value: Type.Optional(
      Type.String({
        minLength: SECRET_MIN_LENGTH,
        maxLength: SECRET_MAX_LENGTH,
        description: 'import this secret instead of generating one',
      }),
    ),
    allowWeak: Type.Optional(
      Type.Boolean({
        description:
          'keep an imported value below the strength rule for a self-signing client (audited, shown as a risk on the client)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const clientKeySchema = Type.Object(
  {
    clientId: Type.String(),
    kid: Type.String(),
    thumbprint: Type.String({ description: 'RFC 7638 SHA-256 JWK thumbprint' }),
    kty: Type.String(),
    alg: nullable(Type.String()),
    publicJwk: anyObject({ description: 'the public JWK, with x5c when it came with a certificate' }),
    expiresAt: epochMs(),
    expiresSoon: Type.Boolean({
      description: "the key's certificate expires within ZGW_AUTH_EXPIRY_WARNING (and has not expired yet)",
    }),
    expired: Type.Boolean({ description: "the key's certificate has expired: the key is refused" }),
    createdAt: Type.Integer(),
    lastUsedAt: epochMs(),
  },
  { $id: 'ClientKey' },
);
export const expiringCredentialsQuery = Type.Object(
  {
    organisation: Type.Optional(
      Type.String({ pattern: RSIN_PATTERN.source, description: 'credentials of this organisation (RSIN) only' }),
    ),
  },
  { additionalProperties: false },
);
export const expiringQuery = Type.Object(
  {
    organisation: Type.Optional(
      Type.String({ pattern: RSIN_PATTERN.source, description: 'credentials of this organisation (RSIN) only' }),
    ),
    within_days: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_WITHIN_DAYS,
        description: `credentials expiring within this many days from now (1 to ${MAX_WITHIN_DAYS}); default ZGW_AUTH_EXPIRY_WARNING`,
      }),
    ),
  },
  { additionalProperties: false },
);
const expiringCredential = Type.Object({
  kind: Type.Enum(CREDENTIAL_KINDS, {
    type: 'string',
    description:
      'secret: a client secret with an expiry; key: a private_key_jwt key, expiring with its x5c certificate; certificate: a certificate registered for self_signed_tls_client_auth',
  }),
  clientId: Type.String(),
  organisation: Type.String({ description: "the client's organisation (RSIN)" }),
  id: Type.String({ description: "which of the client's credentials: a secret's id, a key's or certificate's kid" }),
  thumbprint: nullable(
    Type.String({ description: "RFC 7638 SHA-256 thumbprint of the key (or certificate's key); null for a secret" }),
  ),
  expiresAt: Type.Integer({ description: 'epoch milliseconds' }),
});
export const expiringCredentialList = Type.Object({
  items: Type.Array(expiringCredential, {
    description: 'credentials expiring within ZGW_AUTH_EXPIRY_WARNING, soonest first',
  }),
});
export const expiringList = Type.Object({
  withinDays: Type.Number({
    description: 'the window looked at, in days (ZGW_AUTH_EXPIRY_WARNING unless within_days)',
  }),
  until: Type.Integer({ description: 'epoch milliseconds: credentials expiring after now and at or before this' }),
  items: Type.Array(expiringCredential, { description: 'soonest first' }),
});
export const clientKeyRef = Type.Unsafe<Static<typeof clientKeySchema>>(Type.Ref('ClientKey#'));
export const clientKeyList = Type.Object({ items: Type.Array(clientKeyRef) });
export const addKeysBody = Type.Object(
  {
    jwk: Type.Optional(anyObject({ description: 'one public JWK' })),
    jwks: Type.Optional(anyObject({ description: 'a JWK Set: {"keys": [...]}' })),
    pem: Type.Optional(
      Type.String({
        maxLength: MAX_KEY_INPUT_BYTES,
        description: "PEM certificate(s): the client's first, its chain after",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);
export const keyParams = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: CLIENT_LIMITS.clientId }),
  kid: Type.String({ minLength: 1, maxLength: 200 }),
});

export const clientIdParams = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: CLIENT_LIMITS.clientId }),
});
// Secret ids are `sec_` and 12 characters; the bound only keeps nonsense short.
export const secretParams = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: CLIENT_LIMITS.clientId }),
  secretId: Type.String({ maxLength: 40 }),
});

/** Page size of the lists: the default, and the most one request may ask for. */
export const PAGE = { default: 100, max: 1000 } as const;

export const listQuery = Type.Object(
  {
    rsin: Type.Optional(rsin),
    enabled: Type.Optional(Type.Boolean()),
    selfSignedAllowed: Type.Optional(Type.Boolean()),
    authMethod: Type.Optional(
      Type.Enum(CLIENT_AUTH_METHODS, { type: 'string', description: 'clients that may use this method' }),
    ),
    q: Type.Optional(Type.String({ maxLength: 100, description: 'case-insensitive text in client id or name' })),
    sort: Type.Optional(
      Type.Enum(CLIENT_SORTS, {
        type: 'string',
        description:
          'clientId (default); lastToken: the latest token first, never-used clients last; expiry: the soonest expiry of a working credential (live secret, key certificate) first, clients without one last',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE.max, default: PAGE.default })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
  },
  { additionalProperties: false },
);

export const auditQuery = Type.Object(
  {
    action: Type.Optional(Type.String({ maxLength: 60 })),
    target: Type.Optional(Type.String({ maxLength: 100 })),
    actor: Type.Optional(Type.String({ maxLength: 100 })),
    reason: Type.Optional(
      Type.String({
        maxLength: 40,
        description: 'why a client authentication failed, e.g. wrong_secret, revoked_secret',
      }),
    ),
    organisation: Type.Optional(
      Type.String({ pattern: RSIN_PATTERN.source, description: 'events of this organisation (RSIN) only' }),
    ),
    since: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_EPOCH_MS })),
    before: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'events with a lower id: paging back from the newest',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE.max, default: PAGE.default })),
  },
  { additionalProperties: false },
);

export const rotateKeyBody = nullable(
  Type.Object(
    {
      alg: Type.Optional(Type.Enum(SIGNING_ALGS, { type: 'string' })),
      publishDelay: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: MAX_KEY_PUBLISH_DELAY,
          description: 'seconds the new key is published before it signs',
        }),
      ),
      now: Type.Optional(
        Type.Boolean({
          description:
            'Emergency: sign at once (publishDelay 0); verifiers caching the JWKS refuse new tokens until they refetch.',
        }),
      ),
    },
    { additionalProperties: false },
  ),
);

/**
 * A client's rights (PUT /admin/clients/{clientId}/applicatie): the Autorisaties API's fields an
 * administrator sets; each autorisatie is checked by the API's own rules (validate.ts).
 */
export const clientApplicatieBody = Type.Object(
  {
    heeftAlleAutorisaties: Type.Optional(Type.Boolean()),
    alleenIsGereedVoorPublicatie: Type.Optional(Type.Boolean()),
    autorisaties: Type.Optional(
      Type.Array(Type.Record(Type.String({ maxLength: 40 }), Type.Unknown()), { maxItems: 1000 }),
    ),
  },
  { additionalProperties: false },
);
