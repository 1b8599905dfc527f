/**
 * Bounds of a registered client's fields. The admin API's schemas state them (and its OpenAPI
 * document shows them); the registry's own validation (validate.ts) enforces them for every way in,
 * the CLI and a registry import included. Lengths count characters.
 */
export const CLIENT_LIMITS = {
  clientId: 50,
  name: 200,
  description: 2000,
  grantTypes: 5,
  /** Allowed scopes, and default scopes. */
  scopes: 50,
  scope: 100,
  staticClaims: 50,
  staticClaimsBytes: 4096,
  /** A year, in seconds. */
  tokenLifetime: 31_536_000,
  secretLabel: 200,
} as const;
