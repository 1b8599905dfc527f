import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import { attempt } from '../../errors.js';
import type { IssueToken } from '../../tokens/issue-token.js';
import type { CertificateReader } from '../client-certificate.js';
import { clientCredentials } from '../client-credentials.js';
import { FormBody } from '../form-body.js';

export interface TokenRouteOptions {
  issueToken: IssueToken;
  /** Where it answers; `/token` unless given. */
  paths?: readonly string[];
  /** Of those, Keycloak's: its tolerances apply there (see CredentialOptions). */
  keycloakPaths?: readonly string[];
  /** The absolute URLs of this endpoint, which a DPoP proof may name as `htu`. */
  tokenUrls?: () => readonly string[];
  /** The request's client certificate, for mutual TLS client authentication. */
  certificateOf?: CertificateReader;
}

const NO_PROOF: readonly string[] = [];

/** POST /token — OAuth 2.0 client credentials grant (RFC 6749 §4.4). */
export const tokenRoute: FastifyPluginAsync<TokenRouteOptions> = async (
  server,
  { issueToken, paths = ['/token'], keycloakPaths = [], tokenUrls = () => [], certificateOf },
) => {
  const keycloak = new Set(keycloakPaths);
  const handler: RouteHandlerMethod = async (request, reply) => {
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    // As Node keeps it: a DPoP header sent twice arrives joined with ", ", which the proof checker
    // refuses (a JWT holds no comma). Node's headersDistinct would copy every header of every
    // request into arrays of its own (about 2 µs) only to read this one.
    const dpop = request.headers.dpop;
    const atKeycloak = keycloak.has(request.routeOptions.url ?? '');
    const token = await issueToken({
      grantType: attempt(() => body.get('grant_type')),
      credentials: attempt(() =>
        clientCredentials(request.headers.authorization, body, {
          identicalTwice: atKeycloak,
          certificate: certificateOf && (() => certificateOf(request)),
        }),
      ),
      scope: attempt(() => body.get('scope')),
      address: request.ip,
      keycloakPath: atKeycloak,
      dpop: { values: dpop === undefined ? NO_PROOF : typeof dpop === 'string' ? [dpop] : dpop, urls: tokenUrls() },
    });
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    // RFC 9449 §8.2: the nonce for the client's next proof (openid-client keeps the latest it saw).
    if (token.dpopNonce) reply.header('dpop-nonce', token.dpopNonce);
    return {
      access_token: token.accessToken,
      token_type: token.tokenType,
      expires_in: token.expiresIn,
      ...(token.scope ? { scope: token.scope } : {}),
    };
  };
  for (const path of paths) server.post(path, handler);
};
