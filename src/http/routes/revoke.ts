import { decodeJwt } from '@zgw-auth/verifier';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import { authenticateClient } from '../authenticate-client.js';
import { FormBody } from '../form-body.js';
import { invalidRequest, OAuthError } from '../oauth-errors.js';

/**
 * POST /revoke (RFC 7009) for access tokens this server issued. An invalid or unknown token is
 * answered 200 like a revoked one (RFC 7009 §2.2); a token of another client is refused.
 */
export function revokeRoute(server: FastifyInstance, app: App): void {
  server.post('/revoke', async (request, reply) => {
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    const client = await authenticateClient(app, request, body, 'revoke');
    const token = body.get('token');
    if (token === undefined) throw invalidRequest('token is missing');
    let header: Record<string, unknown>;
    try {
      header = decodeJwt(token).header;
    } catch {
      return reply.code(200).send();
    }
    if (header.alg === 'HS256') throw new OAuthError('unsupported_token_type', 'self-signed tokens cannot be revoked; revoke the secret that signed them');
    let principal;
    try {
      principal = await app.verifier.verify(token);
    } catch {
      return reply.code(200).send();
    }
    if (principal.clientId !== client.clientId) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
    const jti = principal.claims.jti;
    if (typeof jti === 'string') {
      await app.revocations.revoke(jti, client.clientId, principal.expiresAt);
      await app.audit.record({ actor: client.clientId, action: 'token.revoked', target: client.clientId, address: request.ip, details: { jti } });
    }
    return reply.code(200).send();
  });
}
