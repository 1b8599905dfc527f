import { authorize, type Principal, type Verifier } from '@zgw-auth/verifier';
import type { FastifyRequest } from 'fastify';
import { type SelfSignedGuessing, tooManyAttempts, verifyCountingGuesses } from '../../tokens/self-signed-guesses.js';

/** What checking an admin caller's token needs. */
export interface AdminAuthorization extends SelfSignedGuessing {
  verifier: Verifier;
}

/**
 * `authorize`, with the guessing back-off for self-signed (HS256) tokens (self-signed-guesses.ts):
 * throws `too_many_attempts` (429) while the caller is backed off, TokenError like `authorize`
 * otherwise.
 */
export async function authorizeWithBackoff(
  auth: AdminAuthorization,
  request: FastifyRequest,
  scopes: string[],
): Promise<Principal> {
  const header = request.headers.authorization;
  const result = await verifyCountingGuesses(auth, header, request.ip, 'admin', () =>
    authorize(auth.verifier, header, scopes),
  );
  if ('principal' in result) return result.principal;
  throw tooManyAttempts(result.retryAfter);
}
