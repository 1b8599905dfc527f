import { TokenError } from './errors.js';

export const MAX_TOKEN_LENGTH = 8192;
/** Three base64url segments without padding; the signature may be empty (refused later, not here). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** COMPACT_JWS after a header segment that passed it before: from `lastIndex`, the payload and signature. */
const AFTER_HEADER = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/y;
const HEADER_CACHE_MAX = 256;
/**
 * A client signs every token with the same header: parsed once, shared, frozen. A segment is kept
 * only once it passed COMPACT_JWS and the canonical check, so a token whose header segment is
 * found here needs those checks on the rest of it only (a DPoP proof's header, which holds the
 * client's key, is half of the proof).
 */
const headers = new Map<string, Readonly<Record<string, unknown>>>();

export interface DecodedJwt {
  /** Read-only: headers are shared between tokens that carry the same one. */
  header: Readonly<Record<string, unknown>>;
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
  if (token.length > MAX_TOKEN_LENGTH)
    throw new TokenError('token_too_large', `token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const first = token.indexOf('.');
  const h = token.slice(0, Math.max(first, 0));
  const known = headers.get(h);
  if (known === undefined ? !COMPACT_JWS.test(token) : !afterHeader(token, first)) throw shapeError(token);
  const second = token.indexOf('.', first + 1);
  // Buffer ignores the unused low bits of a last character: a token with other bits there would
  // decode to the same bytes, i.e. the same signature verifies for several strings.
  if (
    (known === undefined && !canonical(token, 0, first)) ||
    !canonical(token, first + 1, second) ||
    !canonical(token, second + 1, token.length)
  )
    throw new TokenError('malformed', 'JWT parts must be canonical base64url');
  return {
    header: known ?? cacheHeader(h),
    payload: parseObject(token.slice(first + 1, second), 'payload'),
    signingInput: token.slice(0, second),
    signature: Buffer.from(token.slice(second + 1), 'base64url'),
  };
}

function shapeError(token: string): TokenError {
  const parts = token.split('.');
  if (parts.length !== 3)
    return new TokenError(
      'malformed',
      parts.length === 5 ? 'encrypted tokens (JWE) are not accepted' : 'a JWT has three dot-separated parts',
    );
  return new TokenError('malformed', 'JWT parts must be base64url without padding');
}

/** Whether the token from after its first dot is a payload segment, a dot and a signature segment. */
function afterHeader(token: string, first: number): boolean {
  AFTER_HEADER.lastIndex = first + 1;
  return AFTER_HEADER.test(token);
}

/** Parses a header segment that passed COMPACT_JWS and the canonical check, and keeps it. */
function cacheHeader(segment: string): Readonly<Record<string, unknown>> {
  const header = Object.freeze(parseObject(segment, 'header'));
  if (headers.size >= HEADER_CACHE_MAX) headers.clear();
  headers.set(segment, header);
  return header;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether the base64url segment from `start` to `end` (exclusive) leaves no stray bits in its last
 * character. The bounds are the dots already found: a `lastIndexOf` to find them again is a call
 * into V8's runtime, which costs more than the rest of the check.
 */
function canonical(token: string, start: number, end: number): boolean {
  const rest = (end - start) % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const value = BASE64URL.indexOf(token[end - 1]!);
  return (value & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * Where a segment is decoded before JSON.parse reads it: every segment fits (a token is at most
 * MAX_TOKEN_LENGTH characters, its bytes three quarters of that), and nothing keeps it between two
 * decodes, so no buffer is made per token.
 */
const scratch = Buffer.allocUnsafe(MAX_TOKEN_LENGTH);

function parseObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(scratch.toString('utf8', 0, scratch.write(segment, 'base64url')));
  } catch {
    throw new TokenError('malformed', `JWT ${what} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TokenError('malformed', `JWT ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Bearer token from an Authorization header value, or the token itself. */
export function extractToken(authorizationOrToken: string | undefined): string {
  if (!authorizationOrToken)
    throw new TokenError('missing_token', 'no bearer token: send Authorization: Bearer <token>');
  // A bare token (no space, no scheme) is by far the common case: no regular expressions for it.
  if (!authorizationOrToken.includes(' ')) return authorizationOrToken.trim();
  const m = /^Bearer +(\S+) *$/i.exec(authorizationOrToken);
  if (m) return m[1]!;
  if (/^\w+ /.test(authorizationOrToken))
    throw new TokenError('missing_token', 'the Authorization header must use the Bearer scheme');
  return authorizationOrToken.trim();
}
