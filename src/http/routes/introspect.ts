import { decodeJwt, type Principal, TokenError } from '@zgw-auth/verifier';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import { INTROSPECTION_SCOPE } from '../../clients/model.js';
import { authenticateClient } from '../authenticate-client.js';
import { FormBody } from '../form-body.js';
import { invalidRequest, OAuthError } from '../oauth-errors.js';

const INACTIVE = { active: false } as const;

/**
 * POST /introspect (RFC 7662) for both token kinds. The answer has the shape OneGround's .NET APIs
 * read from the Keycloak ZGW introspection plugin. Anything invalid is `{"active": false}` and
 * nothing else.
 */
export function introspectRoute(server: FastifyInstance, app: App): void {
  server.post('/introspect', async (request, reply) => {
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    const anonymous = app.config.introspectionAnonymous && !request.headers.authorization && body.get('client_secret') === undefined;
    if (!anonymous) {
      const caller = await authenticateClient(app, request, body, 'introspect');
      if (!caller.allowedScopes.includes(INTROSPECTION_SCOPE)) {
        throw new OAuthError('unauthorized_client', `introspection needs a client with the ${INTROSPECTION_SCOPE} scope`, 403);
      }
    }
    const token = body.get('token');
    if (token === undefined) throw invalidRequest('token is missing');
    let principal: Principal;
    try {
      principal = await app.verifier.verify(token);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      app.metrics.verifications.inc({ kind: tokenKind(token), outcome: err.code });
      return INACTIVE;
    }
    app.metrics.verifications.inc({ kind: principal.kind, outcome: 'ok' });
    return introspectionResponse(principal);
  });
}

/** For metrics only: which path a refused token took, from its header, without trusting it. */
function tokenKind(token: string): string {
  try {
    return decodeJwt(token).header.alg === 'HS256' ? 'self-signed' : 'oauth2';
  } catch {
    return 'malformed';
  }
}

/**
 * Who the caller is and what it may do come from the verifier's principal (the registry): client_id,
 * sub, rsin, scope. Other claims pass through as information: all of an IdP token's (this server
 * signed them), only the verifier's SELF_SIGNED_CLAIMS of a self-signed one.
 */
export function introspectionResponse(p: Principal): Record<string, unknown> {
  // Copied and assigned, not spread with overrides: that shape costs V8 seven times as much.
  const out: Record<string, unknown> = {};
  for (const k in p.claims) if (!NOT_PASSED_ON.has(k)) out[k] = p.claims[k];
  out.active = true;
  out.client_id = p.clientId;
  out.sub = p.kind === 'oauth2' ? (p.claims.sub ?? p.clientId) : p.clientId;
  out.rsin = p.rsin;
  out.scope = p.scopes.join(' ') || undefined;
  out.exp = p.expiresAt;
  out.token_type = 'Bearer';
  out.zgw_token_kind = p.kind;
  return out;
}

/** Set from the principal instead, or internal to zgw-auth. */
const NOT_PASSED_ON = new Set(['__proto__', 'scope', 'scp', 'client_registration']);
