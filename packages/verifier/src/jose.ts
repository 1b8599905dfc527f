import crypto from 'node:crypto';
import { promisify } from 'node:util';

/**
 * The one place that signs and verifies JWS (RFC 7515, RFC 7518) in zgw-auth: the verifier, the
 * issuer, the CLI's self-signed tokens, the benchmarks and the tests all go through it. Only
 * node:crypto, so the package keeps no dependencies.
 */

/** Asymmetric algorithms: IdP tokens. HS256 is never verified with a published key. */
export const ASYMMETRIC_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];
/** Every algorithm signed or verified here: the asymmetric ones, and HS256 for self-signed ZGW tokens. */
export const JWS_ALGS = [...ASYMMETRIC_ALGS, 'HS256'] as const;
export type JwsAlg = (typeof JWS_ALGS)[number];

interface AlgParams {
  /** null: the algorithm hashes itself (Ed25519). */
  digest: 'sha256' | null;
  keyType: 'rsa' | 'ec' | 'ed25519';
  namedCurve?: string;
  /** RFC 7518 §3.3: RSA keys of at least 2048 bits. */
  minModulusLength?: number;
  padding?: number;
  /** RSASSA-PSS: the salt is as long as the digest (RFC 7518 §3.5), when signing and when verifying. */
  saltLength?: number;
  /** JWS wants r‖s (RFC 7518 §3.4), not node's default DER. */
  dsaEncoding?: 'ieee-p1363';
}

/** RFC 7518 §3.3 and §3.5: RSA keys of at least 2048 bits, for RS256 and PS256 alike. */
const RSA_KEY = { keyType: 'rsa', minModulusLength: 2048 } as const;

const PARAMS: Readonly<Record<AsymmetricAlg, Readonly<AlgParams>>> = {
  RS256: { ...RSA_KEY, digest: 'sha256', padding: crypto.constants.RSA_PKCS1_PADDING },
  // MGF1 uses the signature's digest (SHA-256), node's default; a salt of any other length is refused.
  PS256: { ...RSA_KEY, digest: 'sha256', padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  ES256: { digest: 'sha256', keyType: 'ec', namedCurve: 'prime256v1', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null, keyType: 'ed25519' },
};

export function isAsymmetricAlg(alg: unknown): alg is AsymmetricAlg {
  return alg === 'RS256' || alg === 'PS256' || alg === 'ES256' || alg === 'EdDSA';
}

/**
 * Whether `key` is of the kind `alg` is defined for (RSA of 2048 bits or more with a sound public
 * exponent, P-256, Ed25519): an EC key must never verify a token that says RS256, though node:crypto
 * would let it (RFC 8725 §3.1).
 */
export function keyFitsAlg(key: crypto.KeyObject, alg: string): boolean {
  if (!isAsymmetricAlg(alg) || key.type === 'secret') return false;
  const p = PARAMS[alg];
  if (key.asymmetricKeyType !== p.keyType) return false;
  // Both getters are cached by node: a few nanoseconds per verification.
  const details = key.asymmetricKeyDetails;
  if (p.namedCurve !== undefined && details?.namedCurve !== p.namedCurve) return false;
  if (p.minModulusLength === undefined) return true;
  return (details?.modulusLength ?? 0) >= p.minModulusLength && soundRsaExponent(details?.publicExponent);
}

/**
 * An RSA public exponent that makes a signature a secret: odd and at least 65537. With e = 1 the
 * signature is the padded digest itself, which anyone can write; small exponents invite other attacks.
 */
function soundRsaExponent(e: bigint | undefined): boolean {
  return e !== undefined && e >= 65537n && e % 2n === 1n;
}

function keyInput(p: Readonly<AlgParams>, key: crypto.KeyObject): crypto.KeyObject | crypto.SignKeyObjectInput {
  if (p.dsaEncoding) return { key, dsaEncoding: p.dsaEncoding };
  if (p.padding !== undefined) return { key, padding: p.padding, saltLength: p.saltLength };
  return key;
}

/** base64url (no padding) of the JSON of `value`: one JWS header or payload segment. */
export function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A JOSE header; `alg` says how `signJws` signs. (A string `encodedHeader` would mark an EncodedHeader.) */
export type JoseHeader = { readonly alg: string; readonly encodedHeader?: undefined } & {
  readonly [name: string]: unknown;
};

/** A header encoded once, for a signer that puts the same header on every token (the issuer, per key). */
export interface EncodedHeader {
  readonly alg: string;
  readonly encodedHeader: string;
}

/** Claims, or the payload as JSON text taken as is (for tests of odd payloads: arrays, duplicate names). */
export type JwsPayload = Readonly<Record<string, unknown>> | string;

/** What a JWS signature covers: `header.payload`, both base64url. */
export function jwsSigningInput(header: JoseHeader | EncodedHeader, payload: JwsPayload): string {
  return `${typeof header.encodedHeader === 'string' ? header.encodedHeader : base64urlJson(header)}.${encodePayload(payload)}`;
}

function encodePayload(payload: JwsPayload): string {
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64url');
}

/** A signing key: a private KeyObject for the asymmetric algorithms, the raw secret for HS256. */
export type SigningKeyInput = crypto.KeyObject | string | Buffer;

/**
 * Signs a compact JWS with the algorithm the header names, synchronously: for tools and tests. A
 * key of the wrong kind for that algorithm is refused, never used.
 */
export function signJws(header: JoseHeader | EncodedHeader, payload: JwsPayload, key: SigningKeyInput): string {
  const input = jwsSigningInput(header, payload);
  const alg = header.alg;
  if (alg === 'HS256') return `${input}.${hmac(secretOf(key), input).toString('base64url')}`;
  const p = asymmetricParams(alg, key);
  return `${input}.${crypto.sign(p.digest, Buffer.from(input), keyInput(p, key as crypto.KeyObject)).toString('base64url')}`;
}

// The callback form runs on libuv's thread pool: a server's RSA signing then uses a second core too.
const signOnThreadPool = promisify(crypto.sign);

/** `signJws` for servers: the signature is computed on the thread pool, off the event loop. */
export async function signJwsAsync(
  header: JoseHeader | EncodedHeader,
  payload: JwsPayload,
  key: SigningKeyInput,
): Promise<string> {
  const input = jwsSigningInput(header, payload);
  const alg = header.alg;
  if (alg === 'HS256') return `${input}.${hmac(secretOf(key), input).toString('base64url')}`;
  const p = asymmetricParams(alg, key);
  return `${input}.${(await signOnThreadPool(p.digest, Buffer.from(input), keyInput(p, key as crypto.KeyObject))).toString('base64url')}`;
}

/**
 * An HS256 token as ZGW consumers make them, the secret used as its raw UTF-8 bytes (not base64
 * decoded). The header is signed as given, whatever its `alg`: tests forge tokens with it.
 */
export function hs256(
  payload: JwsPayload,
  secret: string | Buffer,
  header: Readonly<Record<string, unknown>> = { alg: 'HS256', typ: 'JWT' },
): string {
  const input = `${base64urlJson(header)}.${encodePayload(payload)}`;
  return `${input}.${hmac(secret, input).toString('base64url')}`;
}

function asymmetricParams(alg: string, key: SigningKeyInput): Readonly<AlgParams> {
  if (!isAsymmetricAlg(alg))
    throw new TypeError(`algorithm "${String(alg).slice(0, 20)}" is not one this signs with (${JWS_ALGS.join(', ')})`);
  if (!(key instanceof crypto.KeyObject) || key.type !== 'private' || !keyFitsAlg(key, alg))
    throw new TypeError(`${alg} needs a private ${PARAMS[alg].keyType} key of the kind RFC 7518 defines for it`);
  return PARAMS[alg];
}

function secretOf(key: SigningKeyInput): string | Buffer {
  if (typeof key === 'string' || Buffer.isBuffer(key)) return key;
  throw new TypeError('HS256 signs with a secret (string or Buffer), not a key object');
}

function hmac(secret: string | Buffer, input: string): Buffer {
  return crypto.createHmac('sha256', secret).update(input).digest();
}

/**
 * Whether `signature` is `alg`'s signature of `signingInput` by `key`. False, never an exception,
 * for an unknown algorithm, a key of the wrong kind or a malformed signature.
 */
export function verifyJwsSignature(
  alg: string,
  key: crypto.KeyObject,
  signingInput: string,
  signature: Buffer,
): boolean {
  const p = isAsymmetricAlg(alg) ? PARAMS[alg] : undefined;
  if (p === undefined || !keyFitsAlg(key, alg)) return false;
  try {
    return crypto.verify(p.digest, Buffer.from(signingInput), keyInput(p, key), signature);
  } catch {
    return false;
  }
}

const verifyOnThreadPool = promisify(crypto.verify);

/**
 * A key checked once for an algorithm, with the arguments node:crypto verifies with: for a key that
 * verifies many signatures (a client's DPoP key), so that each one costs the signature alone.
 */
export interface PreparedVerification {
  readonly digest: 'sha256' | null;
  readonly key: crypto.KeyObject | crypto.SignKeyObjectInput;
}

/** The verification of `alg` with `key`; undefined when the key is not of the kind `alg` is defined for. */
export function prepareVerification(alg: string, key: crypto.KeyObject): PreparedVerification | undefined {
  const p = isAsymmetricAlg(alg) ? PARAMS[alg] : undefined;
  if (p === undefined || !keyFitsAlg(key, alg)) return undefined;
  return Object.freeze({ digest: p.digest, key: keyInput(p, key) });
}

/**
 * `verifyJwsSignature` with a prepared key: false, never an exception, for a malformed signature.
 * The signing input is ASCII (RFC 7515 §5.2; decodeJwt refuses anything but base64url and dots),
 * whose bytes latin1 writes one per character, without the pass UTF-8 makes first to count them.
 */
export function verifyPrepared(prepared: PreparedVerification, signingInput: string, signature: Buffer): boolean {
  try {
    return crypto.verify(prepared.digest, Buffer.from(signingInput, 'latin1'), prepared.key, signature);
  } catch {
    return false;
  }
}

/** `verifyPrepared` on the thread pool, off the event loop. */
export async function verifyPreparedAsync(
  prepared: PreparedVerification,
  signingInput: string,
  signature: Buffer,
): Promise<boolean> {
  try {
    return await verifyOnThreadPool(prepared.digest, Buffer.from(signingInput, 'latin1'), prepared.key, signature);
  } catch {
    return false;
  }
}

/** `verifyJwsSignature` for servers: computed on the thread pool, off the event loop (a second core). */
export async function verifyJwsSignatureAsync(
  alg: string,
  key: crypto.KeyObject,
  signingInput: string,
  signature: Buffer,
): Promise<boolean> {
  const p = isAsymmetricAlg(alg) ? PARAMS[alg] : undefined;
  if (p === undefined || !keyFitsAlg(key, alg)) return false;
  try {
    return await verifyOnThreadPool(p.digest, Buffer.from(signingInput), keyInput(p, key), signature);
  } catch {
    return false;
  }
}

/**
 * Whether `signature` is the HS256 signature of `signingInput` with any of `secrets` (raw UTF-8
 * strings, as every ZGW consumer signs with them). Every secret is tried and compared in constant
 * time: how long it takes says nothing about which one matched, or how much of it.
 */
export function hs256MatchesAny(
  secrets: ReadonlyArray<string | Buffer>,
  signingInput: string,
  signature: Buffer,
): boolean {
  let matched = false;
  const keys = hmacKeys(secrets);
  for (let i = 0; i < keys.length; i++) {
    const expected = crypto.createHmac('sha256', keys[i]!).update(signingInput).digest();
    if (expected.length === signature.length && crypto.timingSafeEqual(expected, signature)) matched = true;
  }
  return matched;
}

/** A list of secrets with its string secrets made into HMAC keys, and what they were made from. */
interface PreparedSecrets {
  sources: ReadonlyArray<string | Buffer>;
  keys: ReadonlyArray<crypto.KeyObject | Buffer>;
}

/**
 * Secrets as HMAC keys, per list (a client record's `secrets`): a string secret is encoded into a
 * KeyObject once, not once per token. Kept only while the list is (a WeakMap), and made again when
 * any entry is no longer the one it was made from, so a secret changed in place is never missed.
 * Buffers are used as they are: they could change in place, and cost no encoding.
 */
const prepared = new WeakMap<ReadonlyArray<string | Buffer>, PreparedSecrets>();

function hmacKeys(secrets: ReadonlyArray<string | Buffer>): ReadonlyArray<crypto.KeyObject | Buffer> {
  let p = prepared.get(secrets);
  if (p === undefined || !sameEntries(p.sources, secrets)) {
    p = {
      sources: [...secrets],
      keys: secrets.map((s) => (typeof s === 'string' ? crypto.createSecretKey(Buffer.from(s, 'utf8')) : s)),
    };
    prepared.set(secrets, p);
  }
  return p.keys;
}

function sameEntries(a: ReadonlyArray<string | Buffer>, b: ReadonlyArray<string | Buffer>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
