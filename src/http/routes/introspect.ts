import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import { attempt } from '../../errors.js';
import type { IntrospectToken } from '../../tokens/introspect-token.js';
import type { CertificateReader } from '../client-certificate.js';
import { clientCredentials } from '../client-credentials.js';
import { FormBody } from '../form-body.js';

export interface IntrospectRouteOptions {
  introspectToken: IntrospectToken;
  /** Where it answers; `/introspect` unless given. */
  paths?: readonly string[];
  /** Of those, Keycloak's: its tolerances apply there (see CredentialOptions). */
  keycloakPaths?: readonly string[];
  /** The request's client certificate, for mutual TLS client authentication. */
  certificateOf?: CertificateReader;
}

/** POST /introspect (RFC 7662) for both token kinds. */
export const introspectRoute: FastifyPluginAsync<IntrospectRouteOptions> = async (
  server,
  { introspectToken, paths = ['/introspect'], keycloakPaths = [], certificateOf },
) => {
  const keycloak = new Set(keycloakPaths);
  const handler: RouteHandlerMethod = async (request, reply) => {
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    return introspectToken({
      presentsCredentials: attempt(
        () =>
          Boolean(request.headers.authorization) ||
          body.get('client_secret') !== undefined ||
          body.get('client_assertion') !== undefined ||
          (body.get('client_id') !== undefined && certificateOf?.(request) !== undefined),
      ),
      credentials: attempt(() =>
        clientCredentials(request.headers.authorization, body, {
          identicalTwice: keycloak.has(request.routeOptions.url ?? ''),
          certificate: certificateOf && (() => certificateOf(request)),
        }),
      ),
      token: attempt(() => body.get('token')),
      address: request.ip,
    });
  };
  for (const path of paths) server.post(path, handler);
};
