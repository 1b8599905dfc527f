import { authorize, decodeJwt, extractToken, type Principal, TokenError, type TokenErrorCode, type Verifier } from '@zgw-auth/verifier';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GuessingGuard, GuessReason } from '../../limits/guessing-guard.js';
import type { Metrics } from '../../ops/metrics.js';

/** What checking an admin caller's token needs. */
export interface AdminAuthorization {
  verifier: Verifier;
  guard: Pick<GuessingGuard, 'check' | 'recordFailure' | 'recordSuccess'>;
  metrics: Pick<Metrics, 'rateLimitHits'>;
}

/** Refusals before an HS256 signature is accepted: each may be a guess at the client's secret. */
const GUESS_REFUSALS: Partial<Record<TokenErrorCode, GuessReason>> = {
  bad_signature: 'bad_signature',
  unknown_client: 'unknown_client',
  client_disabled: 'disabled_client',
  self_signed_not_allowed: 'self_signed_not_allowed',
};

/**
 * `authorize`, with the guessing back-off for self-signed (HS256) tokens: their signature is
 * derived from the client's secret, so every refused one counts as a failed guess for the client
 * id it names, from the caller's address, in the same back-off as /token. Answers 429 itself and
 * returns undefined while the caller is backed off; throws TokenError like `authorize` otherwise.
 */
export async function authorizeWithBackoff(auth: AdminAuthorization, request: FastifyRequest, reply: FastifyReply, scopes: string[]): Promise<Principal | undefined> {
  const clientId = selfSignedClientId(request.headers.authorization);
  if (clientId === undefined) return authorize(auth.verifier, request.headers.authorization, scopes);
  const wait = await auth.guard.check(clientId, request.ip);
  if (wait > 0) {
    auth.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    const detail = `too many failed authentication attempts; retry after ${wait} s`;
    await reply
      .code(429)
      .headers({ 'retry-after': String(wait), 'content-type': 'application/problem+json', 'cache-control': 'no-store' })
      .send({ type: 'urn:zgw-auth:error:too_many_attempts', code: 'too_many_attempts', title: 'Too many attempts', status: 429, detail });
    return undefined;
  }
  try {
    const principal = await authorize(auth.verifier, request.headers.authorization, scopes);
    await auth.guard.recordSuccess(clientId, request.ip);
    return principal;
  } catch (err) {
    const reason = err instanceof TokenError ? GUESS_REFUSALS[err.code] : undefined;
    if (reason) await auth.guard.recordFailure(clientId, request.ip, reason, { endpoint: 'admin' });
    else if (err instanceof TokenError && err.code === 'insufficient_scope') await auth.guard.recordSuccess(clientId, request.ip);
    throw err;
  }
}

/** The client id an HS256 token names, or undefined for anything else (refused later, as before). */
function selfSignedClientId(authorization: string | undefined): string | undefined {
  try {
    const { header, payload } = decodeJwt(extractToken(authorization));
    return header.alg === 'HS256' && typeof payload.client_id === 'string' && payload.client_id ? payload.client_id : undefined;
  } catch {
    return undefined;
  }
}
