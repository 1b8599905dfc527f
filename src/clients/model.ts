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
}

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

export const GRANT_TYPES = ['client_credentials'] as const;
export const ADMIN_SCOPE = 'zgw-auth:admin';
export const INTROSPECTION_SCOPE = 'zgw-auth:introspect';
/** Claims the server sets itself; static claims may not override them. */
export const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'rsin', 'scope', 'typ', 'cnf', 'act']);
