import type { FastifyPluginAsync } from 'fastify';
import { type Config, SIGNING_ALGS } from '../../config.js';
import type { KeyRing } from '../../keys/key-ring.js';
import { ASSERTION_ALGS } from '../../clients/client-keys.js';
import type { ClientAuthMethod } from '../../clients/model.js';
import type { EndpointPaths } from '../endpoint-paths.js';

/** The client authentication methods this server implements, of those the setting accepts. */
const IMPLEMENTED_AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
];

/**
 * Certificate methods, where a client certificate can reach this server (its own TLS listener asks
 * for one, or a proxy passes it); tls_client_auth only with trust anchors to chain to.
 */
function certificateMethods(
  config: Pick<Config, 'tlsClientCert' | 'clientCertHeader' | 'tlsClientCa'>,
): readonly ClientAuthMethod[] {
  if (config.tlsClientCert === 'off' && !config.clientCertHeader) return [];
  return config.tlsClientCa ? ['tls_client_auth', 'self_signed_tls_client_auth'] : ['self_signed_tls_client_auth'];
}

export interface DiscoveryRoutesOptions {
  /** Read on every request: the issuer may be set once the port is known. */
  config: Pick<
    Config,
    'issuer' | 'clientAuthMethods' | 'mtlsEndpoint' | 'tlsClientCert' | 'clientCertHeader' | 'tlsClientCa'
  >;
  keys: Pick<KeyRing, 'jwksDocument'>;
  /** Where the documents answer; the root paths unless given. */
  paths?: Pick<EndpointPaths, 'metadata' | 'jwks' | 'keycloakCerts'>;
}

const ROOT_PATHS: NonNullable<DiscoveryRoutesOptions['paths']> = {
  metadata: ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'],
  jwks: ['/jwks', '/.well-known/jwks.json'],
  keycloakCerts: [],
};

/**
 * RFC 8414 / OpenID Connect Discovery metadata and the RFC 7517 JWKS. One metadata document,
 * wherever it is asked for: it names the endpoints under the issuer, which answer whether or not
 * Keycloak's paths are served too, so a cached document stays right when those are switched off.
 */
export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (
  server,
  { config, keys, paths = ROOT_PATHS },
) => {
  const metadata = () => {
    const iss = config.issuer;
    const methods = config.clientAuthMethods.filter(
      (m) => IMPLEMENTED_AUTH_METHODS.includes(m) || certificateMethods(config).includes(m),
    );
    const algs = methods.includes('private_key_jwt') ? [...ASSERTION_ALGS] : undefined;
    return {
      issuer: iss,
      token_endpoint: `${iss}/token`,
      jwks_uri: `${iss}/jwks`,
      introspection_endpoint: `${iss}/introspect`,
      revocation_endpoint: `${iss}/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['token'],
      token_endpoint_auth_methods_supported: methods,
      introspection_endpoint_auth_methods_supported: methods,
      revocation_endpoint_auth_methods_supported: methods,
      ...(algs
        ? {
            token_endpoint_auth_signing_alg_values_supported: algs,
            introspection_endpoint_auth_signing_alg_values_supported: algs,
            revocation_endpoint_auth_signing_alg_values_supported: algs,
          }
        : {}),
      access_token_signing_alg_values_supported: [...SIGNING_ALGS],
      // RFC 8705 §5: where clients with a certificate reach the same endpoints, when that is elsewhere.
      ...(config.mtlsEndpoint
        ? {
            mtls_endpoint_aliases: {
              token_endpoint: `${config.mtlsEndpoint}/token`,
              introspection_endpoint: `${config.mtlsEndpoint}/introspect`,
              revocation_endpoint: `${config.mtlsEndpoint}/revoke`,
            },
          }
        : {}),
      subject_types_supported: ['public'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'exp',
        'nbf',
        'iat',
        'jti',
        'client_id',
        'rsin',
        'scope',
        'client_registration',
      ],
    };
  };
  const cacheable = { 'cache-control': 'public, max-age=300' };
  for (const path of paths.metadata) server.get(path, async (_req, reply) => reply.headers(cacheable).send(metadata()));
  // Short cache: verifiers refetch on an unknown kid anyway, and rotation publishes keys ahead.
  const keySet = { 'cache-control': 'public, max-age=60' };
  for (const path of paths.jwks)
    server.get(path, async (_req, reply) =>
      reply.headers(keySet).type('application/jwk-set+json').send(keys.jwksDocument()),
    );
  for (const path of paths.keycloakCerts)
    server.get(path, async (_req, reply) => reply.headers(keySet).type('application/json').send(keys.jwksDocument()));
};
