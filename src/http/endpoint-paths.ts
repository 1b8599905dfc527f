import type { AssertionAudiences } from '../clients/authenticate-client.js';
import { type Config, issuerPath } from '../config.js';

/** Where each endpoint answers. */
export interface EndpointPaths {
  token: string[];
  introspect: string[];
  revoke: string[];
  /** JWKS as RFC 7517 `application/jwk-set+json`. */
  jwks: string[];
  /** JWKS at Keycloak's certs URL, as `application/json` like Keycloak sends it. */
  keycloakCerts: string[];
  /** OpenID Connect Discovery and RFC 8414 metadata, one document. */
  metadata: string[];
  /** Of the paths above, Keycloak's (and its plugin's): there Keycloak's harmless tolerances apply. */
  keycloak: string[];
}

/** Keycloak's endpoints under /realms/<realm>, and the OneGround ZGW introspection plugin's. */
const KEYCLOAK = {
  token: '/protocol/openid-connect/token',
  introspect: '/protocol/openid-connect/token/introspect',
  pluginIntrospect: '/zgw-token-introspection/introspect',
  revoke: '/protocol/openid-connect/revoke',
  certs: '/protocol/openid-connect/certs',
};

/**
 * The root paths always answer, so that nothing configured before the issuer got a path breaks. An
 * issuer with a path adds every endpoint under it (the URLs discovery names) and the RFC 8414 §3
 * metadata URL with the path after the well-known part; Keycloak's paths come on top when asked.
 */
export function endpointPaths(config: Pick<Config, 'issuer' | 'keycloakPaths'>): EndpointPaths {
  const base = issuerPath(config.issuer);
  const under = (...paths: string[]) => (base ? paths.map((p) => base + p) : []);
  const keycloak = (...paths: string[]) => (base && config.keycloakPaths ? paths.map((p) => base + p) : []);
  const unique = (...paths: string[]) => [...new Set(paths)];
  return {
    token: unique('/token', ...under('/token'), ...keycloak(KEYCLOAK.token)),
    introspect: unique(
      '/introspect',
      ...under('/introspect'),
      ...keycloak(KEYCLOAK.introspect, KEYCLOAK.pluginIntrospect),
    ),
    revoke: unique('/revoke', ...under('/revoke'), ...keycloak(KEYCLOAK.revoke)),
    jwks: unique('/jwks', '/.well-known/jwks.json', ...under('/jwks')),
    keycloakCerts: keycloak(KEYCLOAK.certs),
    metadata: unique(
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
      ...under('/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'),
      ...(base ? [`/.well-known/oauth-authorization-server${base}`] : []),
    ),
    keycloak: keycloak(...Object.values(KEYCLOAK)),
  };
}

/**
 * What a client assertion's `aud` may name (RFC 7523 §3, OpenID Connect Core §9): the issuer or
 * the token endpoint's URL at /token; at /introspect and /revoke their own URLs as well. Every path
 * an endpoint answers at counts, with the issuer's origin.
 */
export function assertionAudiences(
  issuer: string,
  paths: Pick<EndpointPaths, 'token' | 'introspect' | 'revoke'>,
): AssertionAudiences {
  const origin = new URL(issuer).origin;
  const urls = (list: readonly string[]) => list.map((p) => origin + p);
  const issuers = [issuer, issuer + '/'];
  const token = new Set([...issuers, ...urls(paths.token)]);
  return {
    token,
    introspect: new Set([...token, ...urls(paths.introspect)]),
    revoke: new Set([...token, ...urls(paths.revoke)]),
  };
}
