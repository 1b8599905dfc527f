import { authorize, type Principal, type Verifier } from '@zgw-auth/verifier';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type SelfSignedGuessing, verifyCountingGuesses } from '../../tokens/self-signed-guesses.js';

/** What checking an admin caller's token needs. */
export interface AdminAuthorization extends SelfSignedGuessing {
  verifier: Verifier;
}

/**
 * `authorize`, with the guessing back-off for self-signed (HS256) tokens (self-signed-guesses.ts).
 * Answers 429 itself and returns undefined while the caller is backed off; throws TokenError like
 * `authorize` otherwise.
 */
export async function authorizeWithBackoff(auth: AdminAuthorization, request: FastifyRequest, reply: FastifyReply, scopes: string[]): Promise<Principal | undefined> {
  const header = request.headers.authorization;
  const result = await verifyCountingGuesses(auth, header, request.ip, 'admin', () => authorize(auth.verifier, header, scopes));
  if ('principal' in result) return result.principal;
  const detail = `too many failed authentication attempts; retry after ${result.retryAfter} s`;
  await reply
    .code(429)
    .headers({ 'retry-after': String(result.retryAfter), 'content-type': 'application/problem+json', 'cache-control': 'no-store' })
    .send({ type: 'urn:zgw-auth:error:too_many_attempts', code: 'too_many_attempts', title: 'Too many attempts', status: 429, detail });
  return undefined;
}
