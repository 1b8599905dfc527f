import { decodeJwt, TokenError, type TokenErrorCode, type Verifier } from '@zgw-auth/verifier';
import { BOUND_TOKENS_TOO } from '../tokens/server-verifier.js';

/** A time claim of a token, and how far it is from now (negative: in the past). */
export interface TokenTime {
  claim: 'iat' | 'nbf' | 'exp';
  /** Epoch seconds, as in the token. */
  at: number;
  secondsFromNow: number;
}

export type TokenVerdict =
  /** Nothing to verify with: decoding alone proves nothing. */
  | { verified: false }
  | {
      verified: true;
      valid: true;
      kind: 'oauth2' | 'self-signed';
      clientId: string;
      expiresAt: number;
      scopes: string[];
    }
  | { verified: true; valid: false; code: TokenErrorCode; message: string };

export interface TokenExplanation {
  /** Undefined when the token cannot be decoded (the verdict says why). */
  header: Record<string, unknown> | undefined;
  payload: Record<string, unknown> | undefined;
  times: TokenTime[];
  verdict: TokenVerdict;
}

/**
 * What a token says and whether it is accepted, for people: the decoded header and claims, the time
 * claims relative to now, and the verifier's verdict with its code (what the CLI's `token inspect`
 * and the admin API's token inspector both show, each in its own words).
 */
export async function explainToken(
  jwt: string,
  verifier: Pick<Verifier, 'verify'> | undefined,
  nowSeconds: number,
): Promise<TokenExplanation> {
  const token = jwt.trim();
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    ({ header, payload } = decodeJwt(token));
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    return {
      header: undefined,
      payload: undefined,
      times: [],
      verdict: { verified: true, valid: false, code: err.code, message: err.message },
    };
  }
  const times = tokenTimes(payload, nowSeconds);
  if (!verifier) return { header, payload, times, verdict: { verified: false } };
  try {
    const p = await verifier.verify(token, undefined, BOUND_TOKENS_TOO);
    return {
      header,
      payload,
      times,
      verdict: {
        verified: true,
        valid: true,
        kind: p.kind,
        clientId: p.clientId,
        expiresAt: p.expiresAt,
        scopes: p.scopes,
      },
    };
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    return { header, payload, times, verdict: { verified: true, valid: false, code: err.code, message: err.message } };
  }
}

export function tokenTimes(payload: Record<string, unknown>, nowSeconds: number): TokenTime[] {
  return (['iat', 'nbf', 'exp'] as const).flatMap((claim) => {
    const at = payload[claim];
    return typeof at === 'number' && Number.isFinite(at)
      ? [{ claim, at, secondsFromNow: Math.round(at - nowSeconds) }]
      : [];
  });
}
