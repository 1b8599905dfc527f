import { ZgwAuthError } from '../errors.js';
import { decodeJwt, extractToken, type Principal, TokenError, type TokenErrorCode } from '@zgw-auth/verifier';
import type { GuessingGuard, GuessReason } from '../limits/guessing-guard.js';
import type { RateLimitCounts } from '../counts.js';

/** What counting self-signed tokens as guesses needs. */
export interface SelfSignedGuessing {
  guard: Pick<GuessingGuard, 'check' | 'recordFailure' | 'recordSuccess'>;
  metrics: RateLimitCounts;
}

/** Refusals before an HS256 signature is accepted: each may be a guess at the client's secret. */
const GUESS_REFUSALS: Partial<Record<TokenErrorCode, GuessReason>> = {
  bad_signature: 'bad_signature',
  unknown_client: 'unknown_client',
  client_disabled: 'disabled_client',
  self_signed_not_allowed: 'self_signed_not_allowed',
};

/** The token was verified (or refused with a TokenError, thrown), or the caller must wait first. */
export type GuardedVerification = { principal: Principal } | { retryAfter: number };

/**
 * Runs `verify` under the guessing back-off when the token is self-signed (HS256): its signature
 * is derived from the client's secret, so every refused one counts as a failed guess for the client
 * id it names, from the caller's address, in the same back-off as /token. While backed off the
 * token is not verified at all, so a guess that would have been right is not told apart.
 * Other tokens are verified as they are: their signatures are not derived from anything guessable.
 */
export async function verifyCountingGuesses(
  deps: SelfSignedGuessing,
  token: string | undefined,
  address: string,
  endpoint: 'admin' | 'introspect' | 'autorisaties',
  verify: () => Promise<Principal>,
): Promise<GuardedVerification> {
  const clientId = selfSignedClientId(token);
  if (clientId === undefined) return { principal: await verify() };
  const admitted = await deps.guard.check(clientId, address);
  if (admitted.wait > 0) {
    deps.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    return { retryAfter: admitted.wait };
  }
  try {
    const principal = await verify();
    await deps.guard.recordSuccess(clientId, address, admitted);
    return { principal };
  } catch (err) {
    const reason = err instanceof TokenError ? GUESS_REFUSALS[err.code] : undefined;
    if (reason) await deps.guard.recordFailure(clientId, address, reason, { endpoint });
    // The right secret with too few rights is not a guess.
    else if (err instanceof TokenError && err.code === 'insufficient_scope')
      await deps.guard.recordSuccess(clientId, address, admitted);
    throw err;
  } finally {
    admitted.release();
  }
}

/** Header segments seen, and whether each names HS256; bounded, emptied when full. */
const hs256Headers = new Map<string, boolean>();
const HS256_HEADERS_MAX = 256;
/** Longer header segments are read each time, not kept: the map stays small whatever is sent. */
const HS256_HEADER_KEPT_LENGTH = 512;

/**
 * Whether a token's first segment is a JSON header naming alg HS256 (anything unreadable: no),
 * read as decodeJwt reads it: a token it would count as self-signed is never missed here.
 */
function namesHs256(segment: string): boolean {
  let hs256 = hs256Headers.get(segment);
  if (hs256 === undefined) {
    try {
      const header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as { alg?: unknown } | null;
      hs256 = header?.alg === 'HS256';
    } catch {
      hs256 = false;
    }
    if (segment.length > HS256_HEADER_KEPT_LENGTH) return hs256;
    if (hs256Headers.size >= HS256_HEADERS_MAX) hs256Headers.clear();
    hs256Headers.set(segment, hs256);
  }
  return hs256;
}

/**
 * The client id an HS256 token names, or undefined for anything else (refused later, as before).
 * The header is looked at first: a token of zgw-auth's own (or any other algorithm) is not decoded
 * here at all, which is most of the tokens the API's callers send.
 */
function selfSignedClientId(tokenOrAuthorization: string | undefined): string | undefined {
  try {
    const token = extractToken(tokenOrAuthorization);
    const dot = token.indexOf('.');
    if (dot < 1 || !namesHs256(token.slice(0, dot))) return undefined;
    const { header, payload } = decodeJwt(token);
    return header.alg === 'HS256' && typeof payload.client_id === 'string' && payload.client_id
      ? payload.client_id
      : undefined;
  } catch {
    return undefined;
  }
}

/** The answer to a caller backed off for guessing a self-signing secret. */
export function tooManyAttempts(retryAfter: number): ZgwAuthError {
  return new ZgwAuthError('too_many_attempts', `too many failed authentication attempts; retry after ${retryAfter} s`, {
    headers: { 'retry-after': String(retryAfter), 'cache-control': 'no-store' },
  });
}
