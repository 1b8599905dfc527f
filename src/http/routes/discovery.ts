import type { FastifyPluginAsync } from 'fastify';
import { type Config, SIGNING_ALGS } from '../../config.js';
import type { KeyRing } from '../../keys/key-ring.js';

export interface DiscoveryRoutesOptions {
  /** Read on every request: the issuer may be set once the port is known. */
  config: Pick<Config, 'issuer'>;
  keys: Pick<KeyRing, 'jwksDocument'>;
}

/** RFC 8414 / OpenID Connect Discovery metadata and the RFC 7517 JWKS. */
export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (server, { config, keys }) => {
  const metadata = () => {
    const iss = config.issuer;
    return {
      issuer: iss,
      token_endpoint: `${iss}/token`,
      jwks_uri: `${iss}/jwks`,
      introspection_endpoint: `${iss}/introspect`,
      revocation_endpoint: `${iss}/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      access_token_signing_alg_values_supported: [...SIGNING_ALGS],
      subject_types_supported: ['public'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'rsin', 'scope', 'client_registration'],
    };
  };
  const cacheable = { 'cache-control': 'public, max-age=300' };
  server.get('/.well-known/openid-configuration', async (_req, reply) => reply.headers(cacheable).send(metadata()));
  server.get('/.well-known/oauth-authorization-server', async (_req, reply) => reply.headers(cacheable).send(metadata()));
  for (const path of ['/jwks', '/.well-known/jwks.json']) {
    // Short cache: verifiers refetch on an unknown kid anyway, and rotation publishes keys ahead.
    server.get(path, async (_req, reply) => reply.headers({ 'cache-control': 'public, max-age=60' }).type('application/jwk-set+json').send(keys.jwksDocument()));
  }
};
