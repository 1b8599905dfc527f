import crypto from 'node:crypto';
import { ASSERTION_ALGS, keyFitsAssertionAlg, type VerificationKey } from './client-keys.js';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Bytes of a client assertion: keys, claims and signature fit well within. */
export const MAX_ASSERTION_BYTES = 8192;
export const MAX_JTI_LENGTH = 256;
/** Keys tried for an assertion without `kid`. */
const MAX_KEYS_TRIED = 10;
const MAX_AUDIENCES = 10;
/** Header members that point at another key than the registered ones: never followed, so refused. */
const KEY_POINTERS = ['jku', 'jwk', 'x5u'];

/** Why an assertion was refused: the audit trail's reason (`detail` says more). */
export type AssertionFailure = { reason: 'bad_assertion' | 'unknown_key'; detail: string };

/** An assertion whose form was checked, not yet its signature nor its claims' times. */
export interface ParsedAssertion {
  alg: string;
  kid: string | undefined;
  claims: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export interface AssertionPolicy {
  /** Audiences accepted at the endpoint asked: its URLs, the token endpoint's, the issuer. */
  audiences: ReadonlySet<string>;
  /** Seconds an assertion may live (exp - iat, or exp - now). */
  maxLifetime: number;
  /** Seconds of clock difference tolerated on exp, iat and nbf. */
  leeway: number;
}

/** What a valid assertion establishes: its single-use identifier and until when it must be remembered. */
export interface AssertionClaims {
  jti: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * The subject (client id) an assertion claims, read before anything is verified: it only selects
 * the client whose keys then verify it. Undefined for anything that is no JWS of a JSON object.
 */
export function assertionSubject(assertion: string): string | undefined {
  const parsed = parseAssertion(assertion);
  if ('reason' in parsed) return undefined;
  return typeof parsed.claims.sub === 'string' ? parsed.claims.sub : undefined;
}

/** The compact JWS's form (RFC 7515 §7.1) and header (RFC 8725 §3.1): no `none`, HS*, crit, or key pointers. */
export function parseAssertion(assertion: string): ParsedAssertion | AssertionFailure {
  if (assertion.length > MAX_ASSERTION_BYTES) return bad(`longer than ${MAX_ASSERTION_BYTES} bytes`);
  const parts = assertion.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p))) return bad('not a compact JWS');
  const header = jsonObject(parts[0]!);
  const claims = jsonObject(parts[1]!);
  if (!header || !claims) return bad('header or claims are no JSON object');
  if (typeof header.alg !== 'string' || !(ASSERTION_ALGS as readonly string[]).includes(header.alg))
    return bad(`alg ${JSON.stringify(String(header.alg).slice(0, 20))} is not one of ${ASSERTION_ALGS.join(', ')}`);
  if (header.crit !== undefined) return bad('crit is not supported');
  for (const p of KEY_POINTERS) if (header[p] !== undefined) return bad(`header member ${p} is refused`);
  if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > 200))
    return bad('kid is malformed');
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (!signature.length) return bad('no signature');
  return {
    alg: header.alg,
    kid: header.kid as string | undefined,
    claims,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature,
  };
}

/**
 * RFC 7523 §3 and OpenID Connect Core §9: iss = sub = the client, aud names this server, exp
 * required and short, iat and nbf not in the future, jti present. Times in seconds, `now` in ms.
 */
export function checkAssertionClaims(
  claims: Record<string, unknown>,
  clientId: string,
  policy: AssertionPolicy,
  now: number,
): AssertionClaims | AssertionFailure {
  const t = now / 1000;
  if (claims.iss !== clientId || claims.sub !== clientId) return bad('iss and sub must both be the client id');
  const aud = claims.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.slice(0, MAX_AUDIENCES + 1) : [];
  if (audiences.length > MAX_AUDIENCES || !audiences.some((a) => typeof a === 'string' && policy.audiences.has(a)))
    return bad('aud does not name this token endpoint or issuer');
  const { exp, iat, nbf, jti } = claims;
  if (!isTime(exp)) return bad('exp is missing');
  if (exp + policy.leeway <= t) return bad('expired');
  if (iat !== undefined && (!isTime(iat) || iat > t + policy.leeway)) return bad('iat is in the future');
  if (nbf !== undefined && (!isTime(nbf) || nbf > t + policy.leeway)) return bad('nbf is in the future');
  const from = isTime(iat) ? Math.min(iat, t) : t;
  if (exp - from > policy.maxLifetime) return bad(`lives longer than ${policy.maxLifetime} s`);
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    return bad(`jti is missing or longer than ${MAX_JTI_LENGTH} characters`);
  return { jti, expiresAt: Math.ceil((exp + policy.leeway) * 1000) };
}

/**
 * The key among `keys` that signed the assertion: the one of its `kid`, or without one each key
 * that fits the algorithm (at most MAX_KEYS_TRIED). A key whose `alg` differs, or whose type does
 * not fit (an EC key for RS256, a small RSA key), never verifies.
 */
export function verifyAssertionSignature(
  parsed: ParsedAssertion,
  keys: readonly VerificationKey[],
): VerificationKey | AssertionFailure {
  const candidates = (parsed.kid !== undefined ? keys.filter((k) => k.kid === parsed.kid) : keys)
    .filter((k) => (k.alg === null || k.alg === parsed.alg) && keyFitsAssertionAlg(k.key, parsed.alg))
    .slice(0, MAX_KEYS_TRIED);
  if (!candidates.length)
    return {
      reason: 'unknown_key',
      detail: parsed.kid !== undefined ? `no ${parsed.alg} key with this kid` : `no ${parsed.alg} key registered`,
    };
  for (const k of candidates) if (verifies(parsed, k.key)) return k;
  return bad('signature does not verify');
}

function verifies(parsed: ParsedAssertion, key: crypto.KeyObject): boolean {
  const input = Buffer.from(parsed.signingInput);
  try {
    switch (parsed.alg) {
      case 'RS256':
        return crypto.verify('sha256', input, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, parsed.signature);
      case 'PS256':
        return crypto.verify(
          'sha256',
          input,
          { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          parsed.signature,
        );
      case 'ES256':
        return (
          parsed.signature.length === 64 &&
          crypto.verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, parsed.signature)
        );
      case 'EdDSA':
        return crypto.verify(null, input, key, parsed.signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isTime = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 253_402_300_800;

function bad(detail: string): AssertionFailure {
  return { reason: 'bad_assertion', detail };
}
