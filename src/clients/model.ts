/** A registered ClientID: an application of one organisation (RSIN) that calls ZGW APIs. */
export interface Client {
  clientId: string;
  name: string;
  description: string;
  rsin: string;
  enabled: boolean;
  grantTypes: string[];
  allowedScopes: string[];
  defaultScopes: string[];
  /** Seconds; null means the server default. */
  tokenLifetime: number | null;
  /** Added to every token issued to this client (like Keycloak hardcoded-claim mappers). */
  staticClaims: Record<string, unknown>;
  /** May sign its own HS256 ZGW tokens with its secret; its secrets are then stored encrypted. */
  selfSignedAllowed: boolean;
  createdAt: number;
  updatedAt: number;
  lastTokenAt: number | null;
  /** Standing risks an operator accepted, shown until resolved: `weak_secret` (see secrets.ts). */
  risks: ClientRisk[];
  /** How the client may authenticate (RFC 7591 `token_endpoint_auth_method`, one or more). */
  authMethods: ClientAuthMethod[];
  /** Where the client publishes its public keys (private_key_jwt); never together with registered keys. */
  jwksUri: string | null;
  /** The one certificate subject identifier of tls_client_auth (RFC 8705 §2.1.2). */
  tlsSubject: TlsSubject | null;
  /** Dutch government organisation identification number (20 digits): a certificate must carry it in its subject serialNumber. */
  oin: string | null;
  /**
   * RFC 9449 §5.2 `dpop_bound_access_tokens`: the client gets DPoP-bound tokens only; a token
   * request without a DPoP proof is refused instead of answered with a bearer token.
   */
  dpopBoundAccessTokens: boolean;
  /**
   * RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: the client authenticates with its
   * certificate and gets tokens bound to it (`cnf["x5t#S256"]`) only.
   */
  tlsClientCertificateBoundAccessTokens: boolean;
}

/** Client authentication methods (RFC 7591 §2, RFC 7523, RFC 8705). */
export const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
export const SECRET_AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post'];
/** What clients registered before there was a choice use, and what a new client gets without one. */
export const DEFAULT_AUTH_METHODS: readonly ClientAuthMethod[] = SECRET_AUTH_METHODS;
/** Whether the client may authenticate with a client secret at all: without such a method it has no secrets. */
export function usesSecrets(client: Pick<Client, 'authMethods'>): boolean {
  return client.authMethods.some((m) => SECRET_AUTH_METHODS.includes(m));
}
/** Methods that use the client's registered keys or jwks_uri. */
export const KEY_AUTH_METHODS: readonly ClientAuthMethod[] = ['private_key_jwt', 'self_signed_tls_client_auth'];

export const TLS_SUBJECT_FIELDS = ['subject_dn', 'san_dns', 'san_uri', 'san_ip', 'san_email'] as const;
export type TlsSubjectField = (typeof TLS_SUBJECT_FIELDS)[number];
export interface TlsSubject {
  field: TlsSubjectField;
  value: string;
}

/** A public key registered for a client (private_key_jwt, self_signed_tls_client_auth): never private material. */
export interface ClientKey {
  clientId: string;
  /** The JWK's `kid`, or its RFC 7638 SHA-256 thumbprint when it has none; unique per client. */
  kid: string;
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  thumbprint: string;
  kty: string;
  /** The JWK's `alg`, when it names one. */
  alg: string | null;
  /** The public JWK as registered (with `x5c` when it came with a certificate). */
  publicJwk: PublicJwk;
  /** The certificate's notAfter, epoch ms; null without a certificate. */
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A public JSON Web Key (RFC 7517): only public members are ever stored. */
export type PublicJwk = { kty: string; kid?: string; alg?: string; use?: string; x5c?: string[] } & Record<
  string,
  unknown
>;

export type ClientRisk = 'weak_secret';

/** What is known of a secret after creation: never its value, hash or ciphertext. */
export interface SecretInfo {
  secretId: string;
  clientId: string;
  label: string;
  /** Whether the server can recompute HMACs with it (self-signed tokens). */
  usableForSelfSigned: boolean;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** Imported below the strength rule (secrets.ts) and allowed explicitly. */
  weak: boolean;
}

export interface ClientInput {
  clientId?: string;
  name?: string;
  description?: string;
  rsin: string;
  enabled?: boolean;
  grantTypes?: string[];
  allowedScopes?: string[];
  defaultScopes?: string[];
  tokenLifetime?: number | null;
  staticClaims?: Record<string, unknown>;
  selfSignedAllowed?: boolean;
  authMethods?: ClientAuthMethod[];
  jwksUri?: string | null;
  tlsSubject?: TlsSubject | null;
  oin?: string | null;
  dpopBoundAccessTokens?: boolean;
  tlsClientCertificateBoundAccessTokens?: boolean;
}

export type ClientPatch = Partial<Omit<ClientInput, 'clientId'>>;

export interface SecretInput {
  label?: string;
  /** Epoch ms. */
  expiresAt?: number | null;
  /** Import this value instead of generating one. */
  value?: string;
  /** Keep an imported value below the strength rule for a self-signing client (audited, shown as a risk). */
  allowWeak?: boolean;
}

/** Year 9999 in epoch milliseconds: a later time is a mistake, and PostgreSQL's bigint ends not far beyond it. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

export const GRANT_TYPES = ['client_credentials'] as const;
export const ADMIN_SCOPE = 'zgw-auth:admin';
/** Administers the clients of its own organisation (its registered RSIN) only. */
export const ORG_ADMIN_SCOPE = 'zgw-auth:org-admin';
export const INTROSPECTION_SCOPE = 'zgw-auth:introspect';
/** zgw-auth's own scopes start with this; every other scope is an API's. */
export const OWN_SCOPE_PREFIX = 'zgw-auth:';
/**
 * Static claims are information about the client, never rights: an allow-list, because the names
 * that zgw-auth, the verifier or some resource server interprets (scope, scp, roles, groups, azp,
 * act, cnf, sub, …) cannot all be listed. Allowed: the ZGW user claims, and collision-resistant
 * names (RFC 7519 §4.2) such as `https://gemeente.example/claims/afdeling` or `urn:example:team`.
 */
export const STATIC_CLAIM_NAMES: readonly string[] = ['user_id', 'user_representation'];
const PUBLIC_CLAIM_NAME = /^(https:\/\/[\x21-\x7e]{1,200}|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[\x21-\x7e]{1,200})$/;

export function isAllowedStaticClaim(name: string): boolean {
  return STATIC_CLAIM_NAMES.includes(name) || PUBLIC_CLAIM_NAME.test(name);
}

/** The administrator client the first start creates: never created or given a secret from a file. */
export const FIRST_ADMIN_CLIENT_ID = 'zgw-auth-admin';
