import type { FastifyReply } from 'fastify';
import { type ErrorCode, isOAuthErrorCode, type OAuthErrorCode, type ZgwAuthError } from '../../errors.js';
import { classifyError } from './classify-error.js';

/** An RFC 6749 §5.2 error response: the two fields of its JSON body, its status and extra headers. */
export interface OAuthErrorResponse {
  error: OAuthErrorCode;
  description: string;
  status: number;
  headers: Readonly<Record<string, string>>;
}

/** What the OAuth endpoints say for the codes that are not OAuth's own. */
const WORDING: Partial<Record<ErrorCode, (err: ZgwAuthError) => OAuthErrorResponse>> = {
  unsupported_media_type: () =>
    invalidRequestResponse('unsupported content type: use application/x-www-form-urlencoded or multipart/form-data'),
  body_too_large: () => invalidRequestResponse('request body too large', 413),
  malformed_body: () => invalidRequestResponse('malformed request body'),
  bad_request: (err) => invalidRequestResponse('malformed request', err.status),
  unstorable_value: () => invalidRequestResponse('a parameter holds a value that cannot be stored'),
  storage_unavailable: (err) => ({
    error: 'temporarily_unavailable',
    description: 'the service is temporarily unavailable; retry shortly',
    status: 503,
    headers: err.headers,
  }),
};

const invalidRequestResponse = (description: string, status = 400): OAuthErrorResponse => ({
  error: 'invalid_request',
  description,
  status,
  headers: {},
});

const INTERNAL: OAuthErrorResponse = { error: 'server_error', description: 'internal error', status: 500, headers: {} };

/**
 * The answer of /token, /introspect and /revoke to anything thrown: OAuth refusals as they are,
 * other refusals as invalid_request, internal errors (logged) as server_error.
 */
export function toOAuthErrorResponse(thrown: unknown, logUnexpected: (err: unknown) => void): OAuthErrorResponse {
  const err = classifyError(thrown);
  if (err && isOAuthErrorCode(err.code))
    return { error: err.code, description: err.message, status: err.status, headers: err.headers };
  const worded = err && WORDING[err.code];
  if (worded) return worded(err);
  if (err && err.status < 500) return invalidRequestResponse(err.message, err.status);
  logUnexpected(thrown);
  return INTERNAL;
}

const BASIC_CHALLENGE = 'Basic realm="zgw-auth", charset="UTF-8"';

/**
 * RFC 6749 §5.2: when the client tried the Authorization header, invalid_client MUST be a 401 with
 * a challenge for its scheme (Basic, the one the endpoints take). Otherwise the 401 is a MAY and
 * comes without one: client libraries read a challenge as "authenticate with HTTP" (openid-client
 * reports it instead of invalid_client).
 */
export function withClientChallenge(
  response: OAuthErrorResponse,
  authorization: string | undefined,
): OAuthErrorResponse {
  if (response.error !== 'invalid_client' || response.status !== 401 || !authorization) return response;
  return { ...response, headers: { ...response.headers, 'www-authenticate': BASIC_CHALLENGE } };
}

export function sendOAuthError(reply: FastifyReply, response: OAuthErrorResponse): FastifyReply {
  return reply
    .code(response.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...response.headers })
    .type('application/json')
    .send({ error: response.error, error_description: response.description });
}
