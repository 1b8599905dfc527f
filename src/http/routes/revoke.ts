import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import { attempt } from '../../errors.js';
import type { RevokeToken } from '../../tokens/revoke-token.js';
import type { CertificateReader } from '../client-certificate.js';
import { clientCredentials } from '../client-credentials.js';
import { FormBody } from '../form-body.js';

export interface RevokeRouteOptions {
  revokeToken: RevokeToken;
  /** Where it answers; `/revoke` unless given. */
  paths?: readonly string[];
  /** Of those, Keycloak's: its tolerances apply there (see CredentialOptions). */
  keycloakPaths?: readonly string[];
  /** The request's client certificate, for mutual TLS client authentication. */
  certificateOf?: CertificateReader;
}

/**
 * POST /revoke (RFC 7009): 200 whenever the token is (or counts as) revoked. RFC 7009 §2.2 leaves
 * the body open; `{}` as JSON, because client libraries parse the answer (simple-oauth2's revoke()
 * throws on an empty body).
 */
export const revokeRoute: FastifyPluginAsync<RevokeRouteOptions> = async (
  server,
  { revokeToken, paths = ['/revoke'], keycloakPaths = [], certificateOf },
) => {
  const keycloak = new Set(keycloakPaths);
  const handler: RouteHandlerMethod = async (request, reply) => {
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    await revokeToken({
      credentials: attempt(() =>
        clientCredentials(request.headers.authorization, body, {
          identicalTwice: keycloak.has(request.routeOptions.url ?? ''),
          certificate: certificateOf && (() => certificateOf(request)),
        }),
      ),
      token: attempt(() => body.get('token')),
      address: request.ip,
    });
    return reply.code(200).send({});
  };
  for (const path of paths) server.post(path, handler);
};
