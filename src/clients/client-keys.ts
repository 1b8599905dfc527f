import crypto from 'node:crypto';
import { ValidationError } from '../errors.js';
import type { ClientKey, PublicJwk } from './model.js';

/** Algorithms a client may sign its assertions with (RFC 7523; the NL GOV profile's RS256 among them). */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type AssertionAlg = (typeof ASSERTION_ALGS)[number];
/** Keys one client may register inline. */
export const MAX_CLIENT_KEYS = 20;
/** Bytes of a pasted JWK, JWKS or PEM certificate. */
export const MAX_KEY_INPUT_BYTES = 65_536;
const MIN_RSA_BITS = 2048;
const KID_PATTERN = /^[\x21-\x7e]{1,200}$/;
/** Members of a private or symmetric key: never accepted, so never stored. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** What is kept of a registered JWK: its public members, nothing a caller might smuggle in. */
const KEPT_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y', 'x5c', 'x5t', 'x5t#S256'];

/** A public key ready to verify: parsed once, cached with its client. */
export interface VerificationKey {
  kid: string;
  thumbprint: string;
  /** The JWK's `alg`, when it names one: then only that algorithm may use it. */
  alg: string | null;
  key: crypto.KeyObject;
  jwk: PublicJwk;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public RSA, EC or OKP key. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/**
 * Whether a key of this kind may verify `alg`: RSA ≥ 2048 bits with a sound public exponent for
 * RS256/PS256, P-256 for ES256, Ed25519 for EdDSA.
 */
export function keyFitsAssertionAlg(key: crypto.KeyObject, alg: string): boolean {
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return (
        key.asymmetricKeyType === 'rsa' &&
        (details?.modulusLength ?? 0) >= MIN_RSA_BITS &&
        soundRsaExponent(details?.publicExponent)
      );
    case 'ES256':
      return key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1';
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519';
    default:
      return false;
  }
}

/**
 * An RSA public exponent that makes a signature a secret: odd and at least 65537. With e = 1 the
 * signature is the padded digest itself, which anyone can write; small exponents invite other attacks.
 */
function soundRsaExponent(e: bigint | undefined): boolean {
  return e !== undefined && e >= 65537n && e % 2n === 1n;
}

/**
 * A registrable public JWK, or why not: RSA of 2048 bits or more (public exponent odd, ≥ 65537), EC P-256 or Ed25519, no private
 * members, `use` sig when given, `alg` one of ASSERTION_ALGS fitting the key when given.
 */
export function checkPublicJwk(raw: unknown): { jwk: PublicJwk; key: crypto.KeyObject; thumbprint: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw keyError('a JWK must be a JSON object');
  const input = raw as Record<string, unknown>;
  for (const m of PRIVATE_MEMBERS)
    if (m in input)
      throw keyError(`the JWK holds private or symmetric key material ("${m}"): register the public key only`);
  if (input.kty !== 'RSA' && input.kty !== 'EC' && input.kty !== 'OKP') throw keyError('kty must be RSA, EC or OKP');
  if (input.kty === 'EC' && input.crv !== 'P-256') throw keyError('an EC key must be on curve P-256 (ES256)');
  if (input.kty === 'OKP' && input.crv !== 'Ed25519') throw keyError('an OKP key must be Ed25519 (EdDSA)');
  if (input.use !== undefined && input.use !== 'sig') throw keyError('use must be "sig"');
  if (input.kid !== undefined && (typeof input.kid !== 'string' || !KID_PATTERN.test(input.kid)))
    throw keyError('kid: 1-200 printable ASCII characters');
  if (
    input.x5c !== undefined &&
    (!Array.isArray(input.x5c) || !input.x5c.every((c) => typeof c === 'string') || input.x5c.length > 10)
  )
    throw keyError('x5c must be a list of at most 10 base64 certificates');
  const jwk: Record<string, unknown> = {};
  for (const m of KEPT_MEMBERS) if (input[m] !== undefined) jwk[m] = input[m];
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
  } catch {
    throw keyError('the JWK is not a valid public key');
  }
  const fits = ASSERTION_ALGS.filter((alg) => keyFitsAssertionAlg(key, alg));
  if (!fits.length)
    throw keyError(
      `an RSA key needs at least ${MIN_RSA_BITS} bits and a public exponent that is odd and at least 65537`,
    );
  if (input.alg !== undefined && !(fits as readonly unknown[]).includes(input.alg))
    throw keyError(`alg must be one of ${fits.join(', ')} for this key`);
  return { jwk: jwk as PublicJwk, key, thumbprint: jwkThumbprint(jwk as PublicJwk) };
}

/** A key as the verifier uses it; undefined for one it cannot use (as found at a jwks_uri, which may hold others). */
export function verificationKey(jwk: unknown): VerificationKey | undefined {
  try {
    const checked = checkPublicJwk(jwk);
    return {
      kid: checked.jwk.kid ?? checked.thumbprint,
      thumbprint: checked.thumbprint,
      alg: checked.jwk.alg ?? null,
      key: checked.key,
      jwk: checked.jwk,
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether a JWKS document publishes private or symmetric key material: then every key in it must be
 * taken as exposed, and the whole document is refused rather than its public keys used.
 */
export function jwksHoldsPrivateKeys(doc: unknown): boolean {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return false;
  return keys.some(
    (k) => k !== null && typeof k === 'object' && PRIVATE_MEMBERS.some((m) => m in (k as Record<string, unknown>)),
  );
}

/** The usable signing keys of a JWKS document (RFC 7517 §5), at most `max`. */
export function keysOfJwks(doc: unknown, max = 50): VerificationKey[] {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return [];
  return keys
    .slice(0, max)
    .map(verificationKey)
    .filter((k): k is VerificationKey => k !== undefined);
}

/**
 * Registered keys from what an administrator pasted: a JWK, a JWKS, or PEM certificates (the first
 * the client's own, any further ones its chain, kept as `x5c`). Each key's kid is its own or its
 * thumbprint; a certificate's notAfter becomes the key's expiry.
 */
export function parseKeyInput(text: string, clientId: string, now: number): ClientKey[] {
  if (Buffer.byteLength(text) > MAX_KEY_INPUT_BYTES) throw keyError(`at most ${MAX_KEY_INPUT_BYTES} bytes`);
  // A private key pasted along with a certificate has left its owner: refused, never silently dropped.
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text))
    throw keyError(
      'the input holds a private key (a PRIVATE KEY block): take that key as exposed and replace it; paste only the certificate or the public key',
    );
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN CERTIFICATE-----')) return [certificateKey(trimmed, clientId, now)];
  if (trimmed.startsWith('-----BEGIN'))
    throw keyError('only PEM certificates (BEGIN CERTIFICATE), JWK or JWKS are accepted');
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw keyError('neither JSON (a JWK or JWKS) nor a PEM certificate');
  }
  const list =
    parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as { keys?: unknown }).keys)
      ? (parsed as { keys: unknown[] }).keys
      : [parsed];
  if (!list.length) throw keyError('the JWKS holds no key');
  if (list.length > MAX_CLIENT_KEYS) throw keyError(`at most ${MAX_CLIENT_KEYS} keys`);
  return list.map((raw) => {
    const { jwk, thumbprint } = checkPublicJwk(raw);
    const expiresAt = jwk.x5c?.[0] !== undefined ? certificateNotAfter(jwk.x5c[0], jwk) : null;
    return clientKey(clientId, jwk, thumbprint, expiresAt, now);
  });
}

function certificateKey(pem: string, clientId: string, now: number): ClientKey {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length || blocks.length > 10) throw keyError('1 to 10 PEM certificates');
  let certs: crypto.X509Certificate[];
  try {
    certs = blocks.map((b) => new crypto.X509Certificate(b));
  } catch {
    throw keyError('a PEM certificate could not be read');
  }
  const leaf = certs[0]!;
  const exported = leaf.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const x5c = certs.map((c) => c.raw.toString('base64'));
  const { jwk, thumbprint } = checkPublicJwk({ ...exported, x5c });
  return clientKey(clientId, jwk, thumbprint, Date.parse(leaf.validTo), now);
}

/** The x5c leaf must hold the JWK's own key: a certificate of another key would vouch for nothing. */
function certificateNotAfter(der: string, jwk: PublicJwk): number {
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(Buffer.from(der, 'base64'));
  } catch {
    throw keyError('x5c[0] is not a certificate');
  }
  const certJwk = cert.publicKey.export({ format: 'jwk' }) as PublicJwk;
  if (jwkThumbprint(certJwk) !== jwkThumbprint(jwk)) throw keyError("x5c[0] certifies another key than the JWK's");
  return Date.parse(cert.validTo);
}

function clientKey(
  clientId: string,
  jwk: PublicJwk,
  thumbprint: string,
  expiresAt: number | null,
  now: number,
): ClientKey {
  return {
    clientId,
    kid: jwk.kid ?? thumbprint,
    thumbprint,
    kty: jwk.kty,
    alg: jwk.alg ?? null,
    publicJwk: jwk,
    expiresAt,
    createdAt: now,
    lastUsedAt: null,
  };
}

function keyError(message: string): ValidationError {
  return new ValidationError(message, 'keys');
}
