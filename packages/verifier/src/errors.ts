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
  | 'missing_iat'
  | 'invalid_claim'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'unknown_client'
  | 'client_disabled'
  | 'client_replaced'
  | 'self_signed_not_allowed'
  | 'rsin_mismatch'
  | 'revoked'
  | 'insufficient_scope'
  | 'keys_unavailable'
  // Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 certificate-bound)
  | 'dpop_proof_missing'
  | 'invalid_dpop_proof'
  | 'dpop_wrong_request'
  | 'dpop_stale'
  | 'dpop_replayed'
  | 'dpop_wrong_token'
  | 'dpop_wrong_key'
  | 'use_dpop_nonce'
  | 'bound_token_as_bearer'
  | 'token_not_bound'
  | 'dpop_origin_unknown'
  | 'certificate_missing'
  | 'certificate_mismatch'
  | 'replay_cache_full';

/**
 * A refused token. `code` and `message` are precise, for logs and for the API's own code; the
 * adapters show them to the caller only when `authenticated` is true, i.e. after the signature
 * proved that the caller holds the key. Before that every refusal looks the same, so that an
 * anonymous caller learns nothing about which clients exist or how they are configured.
 */
export class TokenError extends Error {
  readonly authenticated: boolean;
  /** With `use_dpop_nonce`: the nonce the caller must put in its next proof (the `DPoP-Nonce` header). */
  readonly dpopNonce: string | undefined;

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options: { authenticated?: boolean; dpopNonce?: string } = {},
  ) {
    super(message);
    this.name = 'TokenError';
    this.authenticated = options.authenticated ?? false;
    this.dpopNonce = options.dpopNonce;
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
