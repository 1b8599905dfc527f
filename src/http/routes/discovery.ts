import crypto from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
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
  /** Algorithms /token accepts in DPoP proofs (RFC 9449 §5.1); not announced when not given. */
  dpopAlgorithms?: readonly string[];
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
  { config, keys, paths = ROOT_PATHS, dpopAlgorithms },
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
      // REQUIRED by RFC 8414 §2 and OpenID Connect Discovery (strict parsers refuse a document without
      // it) though no authorization endpoint is announced; §3.2 forbids an empty list. Kept as it was.
      // No scopes_supported: the scopes are the registered clients' and are not told to anyone asking.
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
      ...(dpopAlgorithms ? { dpop_signing_alg_values_supported: [...dpopAlgorithms] } : {}),
      // RFC 8705 §3.3: omitted means false. True wherever a client certificate can reach /token.
      ...(certificateMethods(config).length > 0 ? { tls_client_certificate_bound_access_tokens: true } : {}),
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
        'azp',
        'rsin',
        'scope',
        'client_registration',
        'cnf',
      ],
    };
  };
  // Cacheable, with an ETag so that a cache asking again gets a 304 until the document changes.
  const sendMetadata = cacheable({ 'cache-control': 'public, max-age=300', 'content-type': JSON_TYPE });
  for (const path of paths.metadata)
    server.get(path, async (req, reply) => sendMetadata(req, reply, JSON.stringify(metadata())));
  // Short cache: verifiers refetch on an unknown kid anyway, and rotation publishes keys ahead.
  const sendJwks = cacheable({ 'cache-control': 'public, max-age=60', 'content-type': 'application/jwk-set+json' });
  const sendCerts = cacheable({ 'cache-control': 'public, max-age=60', 'content-type': JSON_TYPE });
  for (const path of paths.jwks) server.get(path, async (req, reply) => sendJwks(req, reply, keys.jwksDocument()));
  for (const path of paths.keycloakCerts)
    server.get(path, async (req, reply) => sendCerts(req, reply, keys.jwksDocument()));
};

const JSON_TYPE = 'application/json; charset=utf-8';

/** `compute` of the last input, kept while the same input (an equal string) comes: these documents change rarely. */
function lastOf<T>(compute: (input: T) => string): (input: T) => string {
  let last: { input: T; output: string } | undefined;
  return (input) => {
    if (last?.input !== input) last = { input, output: compute(input) };
    return last.output;
  };
}

/**
 * Sends a document with `headers` and a strong ETag of its body; a 304 without the body when the
 * caller's If-None-Match names that ETag or `*` (RFC 9110 §13.1.2, weak comparison).
 */
function cacheable(headers: Readonly<Record<string, string>>) {
  const etagOf = lastOf((body: string) => `"${crypto.createHash('sha256').update(body).digest('base64url')}"`);
  return (req: FastifyRequest, reply: FastifyReply, body: string): FastifyReply => {
    const etag = etagOf(body);
    reply.headers({ ...headers, etag });
    const asked = req.headers['if-none-match'];
    const matches = (tag: string) => tag === '*' || tag.replace(/^W\//, '') === etag;
    if (asked !== undefined && asked.split(',').some((tag) => matches(tag.trim()))) return reply.code(304).send();
    return reply.send(body);
  };
}
