import type { FastifyReply } from 'fastify';

/** RFC 6749 §5.2 error codes, plus RFC 6750 / RFC 7009 ones used by the resource-server side. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export const invalidRequest = (description: string) => new OAuthError('invalid_request', description);

/** One answer for unknown client, wrong secret and disabled client (RFC 6749 §5.2, 401 + challenge). */
export const invalidClient = (description = 'client authentication failed') => new OAuthError('invalid_client', description, 401, { 'www-authenticate': 'Basic realm="zgw-auth", charset="UTF-8"' });

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  return reply
    .code(err.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...err.headers })
    .type('application/json')
    .send({ error: err.error, error_description: err.description });
}
