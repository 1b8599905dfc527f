import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import { SCOPE_PATTERN } from '../../clients/validate.js';
import { FormBody } from '../form-body.js';
import { invalidRequest, OAuthError } from '../oauth-errors.js';
import { authenticateClient } from '../authenticate-client.js';

/** POST /token — OAuth 2.0 client credentials grant (RFC 6749 §4.4). */
export function tokenRoute(server: FastifyInstance, app: App): void {
  server.post('/token', async (request, reply) => {
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    const grantType = body.get('grant_type');
    if (grantType === undefined) throw invalidRequest('grant_type is missing');
    if (grantType !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', `grant_type "${grantType.slice(0, 50)}" is not supported; use client_credentials`);
    }
    const client = await authenticateClient(app, request, body, 'token');
    if (!client.grantTypes.includes('client_credentials')) {
      throw new OAuthError('unauthorized_client', 'this client may not use the client_credentials grant');
    }

    const scopes = requestedScopes(body.get('scope'), client.allowedScopes, client.defaultScopes);
    const token = await app.issuer.issue(client, scopes);
    const scope = scopes.join(' ');
    app.metrics.tokensIssued.inc({ alg: token.alg });
    app.audit.recordLater({ actor: client.clientId, action: 'token.issued', target: client.clientId, address: request.ip, details: { jti: token.jti, scope, expiresIn: token.expiresIn } });
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    return { access_token: token.accessToken, token_type: 'Bearer', expires_in: token.expiresIn, ...(scope ? { scope } : {}) };
  });
}

function requestedScopes(raw: string | undefined, allowed: string[], defaults: string[]): string[] {
  if (raw === undefined) return defaults;
  const scopes = [...new Set(raw.split(' ').filter(Boolean))];
  if (!scopes.length) return defaults;
  for (const s of scopes) {
    if (!SCOPE_PATTERN.test(s)) throw new OAuthError('invalid_scope', 'scope is malformed');
    if (!allowed.includes(s)) throw new OAuthError('invalid_scope', `scope "${s.slice(0, 100)}" is not allowed for this client`);
  }
  return scopes;
}
