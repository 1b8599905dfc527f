/** Stable codes of every refusal; callers switch on `code`, people read `message`. */
export type TokenErrorCode =
  | 'missing_token'
  | 'malformed'
  | 'token_too_large'
  | 'alg_not_allowed'
  | 'crit_unsupported'
  | 'wrong_typ'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'iat_in_future'
  | 'no_expiry'
  | 'invalid_claim'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'unknown_client'
  | 'client_disabled'
  | 'self_signed_not_allowed'
  | 'rsin_mismatch'
  | 'revoked'
  | 'insufficient_scope'
  | 'keys_unavailable';

export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** "4 minutes", "1 hour", "30 seconds": for messages that say what to fix. */
export function humanDuration(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 120) return `${s} second${s === 1 ? '' : 's'}`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  if (s < 172_800) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86_400)} days`;
}
