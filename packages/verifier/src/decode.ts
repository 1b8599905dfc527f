import { TokenError } from './errors.js';

export const MAX_TOKEN_LENGTH = 8192;
const SEGMENT = /^[A-Za-z0-9_-]*$/;

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `header.payload` as sent: what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

/**
 * Splits and parses a compact JWS strictly: three base64url segments without padding, JSON objects
 * in header and payload. JWE (five segments), detached or unsigned tokens are refused here.
 */
export function decodeJwt(token: string): DecodedJwt {
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('token_too_large', `token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed', parts.length === 5 ? 'encrypted tokens (JWE) are not accepted' : 'a JWT has three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  if (!h || !p || !SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) throw new TokenError('malformed', 'JWT parts must be base64url without padding');
  return { header: parseObject(h, 'header'), payload: parseObject(p, 'payload'), signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

function parseObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed', `JWT ${what} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TokenError('malformed', `JWT ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Bearer token from an Authorization header value, or the token itself. */
export function extractToken(authorizationOrToken: string | undefined): string {
  if (!authorizationOrToken) throw new TokenError('missing_token', 'no bearer token: send Authorization: Bearer <token>');
  const m = /^Bearer +(\S+) *$/i.exec(authorizationOrToken);
  if (m) return m[1]!;
  if (/^\w+ /.test(authorizationOrToken)) throw new TokenError('missing_token', 'the Authorization header must use the Bearer scheme');
  return authorizationOrToken.trim();
}
