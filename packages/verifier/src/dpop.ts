import crypto from 'node:crypto';
import { decodeJwt, MAX_TOKEN_LENGTH } from './decode.js';
import { TokenError, type TokenErrorCode } from './errors.js';
import { type DecodedJwt } from './decode.js';
import { sameText, sha256Base64url } from './digest.js';
import { BoundedCache } from './bounded-cache.js';
import {
  ASYMMETRIC_ALGS,
  isAsymmetricAlg,
  type PreparedVerification,
  prepareVerification,
  verifyPrepared,
  verifyPreparedAsync,
} from './jose.js';
import { MemoryReplayCache, type ReplayCache, ReplayCacheFull } from './replay-cache.js';

/**
 * DPoP proofs (RFC 9449 §4.3), checked the same way by zgw-auth's /token and by the APIs that use
 * this library: one `DPoP` header holding a JWT with `typ: dpop+jwt`, an asymmetric algorithm
 * from an allow-list, a public `jwk` that fits it and verifies the signature, `htm` and `htu` of
 * the request, a fresh `iat`, a `jti` never seen before and, where asked, `ath` and `nonce`.
 */

/** Longer proofs are refused unread: an RSA-4096 key and signature fit in a quarter of this. */
export const MAX_PROOF_LENGTH = 8192;
export const MAX_JTI_LENGTH = 256;
const MAX_HTU_LENGTH = 2048;
const MAX_KEY_MEMBER_LENGTH = 1400;
/** JWK members that only a private or symmetric key has (RFC 7518 §6): such a jwk is refused. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** RFC 7638 §3.2: the members a thumbprint covers, in lexicographic order, per key type. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const TYP_DPOP = /^(application\/)?dpop\+jwt$/i;
const ED25519 = 'Ed25519';
const BAD_SIGNATURE = "the DPoP proof's signature does not verify with its jwk";

export interface DpopOptions {
  /** Algorithms a proof may use: asymmetric only. Default RS256, PS256, ES256, EdDSA. */
  algorithms?: readonly string[];
  /** Seconds a proof's `iat` may lie before or after now. Default 60. */
  window?: number;
  /** Seconds of clock leeway on top of `window`. Default 5. */
  leeway?: number;
  /**
   * Where `jti`s are remembered until the proof is too old anyway. Default: this process's memory
   * (100,000 proofs). Several processes share one through `redisReplayCache(redis)`.
   */
  replay?: ReplayCache;
  /** Server nonces (RFC 9449 §8): when given, a proof must carry a current one. */
  nonces?: DpopNonces;
  /**
   * Verify signatures on libuv's thread pool instead of the event loop: for a server on several
   * cores, where the proof's signature is most of a request's work. Default false.
   */
  threadPool?: boolean;
  now?: () => number;
}

/** A request as the proof must describe it. */
export interface ProofInput {
  /** The `DPoP` header: its value, or every value when it was sent more than once (refused). */
  proof: string | readonly string[] | undefined;
  method: string;
  /** The URLs the proof may name as `htu` (one, or the aliases of one endpoint). */
  urls: readonly string[];
  /** At an API: the access token the proof must hash in `ath`. */
  accessToken?: string;
  /** At an API: the token's `cnf.jkt`, the key the proof must be signed with. */
  jkt?: string;
}

export interface CheckedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` binds a token to. */
  jkt: string;
  jti: string;
  iat: number;
  alg: string;
  /**
   * With server nonces on: the nonce for the client's next proof, to send as `DPoP-Nonce` with the
   * answer (RFC 9449 §8.2, §9), so that a client that keeps calling never meets a stale one.
   */
  nonce?: string;
}

interface ImportedKey {
  key: crypto.KeyObject;
  jkt: string;
}

/** What a proof header decides, once: its key, checked for the header's `alg` and ready to verify. */
interface ProofKey extends ImportedKey {
  verification: PreparedVerification;
  /** The key as this process's replay records name it: see `replayId`. */
  replayBinding: string;
}

/**
 * Base64url characters of the thumbprint that name a key in this process's replay records: 132
 * bits. A record is the first 128 bits of SHA-256("dpop", NUL, binding, jti), so the binding is
 * no weaker than the record itself: to make a proof's record meet another key's, a client would
 * need a key whose thumbprint starts with the same 132 bits (a second preimage, about 2^132
 * SHA-256 computations), or a second preimage of the record (2^128); two keys of its own that
 * share a binding (2^66) only make its own proofs refuse each other. Of fixed length, so no
 * separator is needed before the jti, and short enough that a jti of up to 28 characters (16
 * random bytes in base64url are 22) leaves the record's input within one SHA-256 block of 55 bytes,
 * where the whole 43-character thumbprint and a separator took two.
 */
const REPLAY_BINDING_LENGTH = 22;

/**
 * Imported public keys by their RFC 7638 members (the thumbprint's input, which names the whole
 * key): a client signs every proof with the same key, so its import and thumbprint are made once,
 * whatever else its headers carry. Bounded in entries and in bytes of members (an RSA-4096 key has
 * about 700): a flood of distinct keys pushes older ones out and never grows it. A member set that
 * is no valid key is kept with its refusal.
 */
const importedKeys = new BoundedCache<string, ImportedKey | string>(1024, 1024 * 1024, (members) => members.length);

/** Public keys the proof checkers hold imported: for tests of the cache's bound. */
export function importedKeyCount(): number {
  return importedKeys.size;
}

export class DpopProofChecker {
  readonly algorithms: readonly string[];
  private readonly algSet: ReadonlySet<string>;
  private readonly window: number;
  private readonly leeway: number;
  private readonly replay: ReplayCache;
  private readonly nonces: DpopNonces | undefined;
  private readonly threadPool: boolean;
  private readonly now: () => number;
  /**
   * The key of each proof header seen, or why the header is refused: a client signs every proof
   * with the same header, which the decoder parses once and shares (frozen). Per checker, since the
   * algorithms it accepts are its own; weak, so it holds only headers the decoder still keeps.
   */
  private readonly headerKeys = new WeakMap<object, ProofKey | string>();

  constructor(options: DpopOptions = {}) {
    const algorithms = options.algorithms ?? ASYMMETRIC_ALGS;
    for (const alg of algorithms)
      if (!isAsymmetricAlg(alg) && alg !== ED25519) throw new Error(`algorithm ${alg} is not allowed for DPoP proofs`);
    // RFC 9864's fully-specified name for EdDSA with Ed25519, which newer clients (panva's) send.
    this.algorithms =
      algorithms.includes('EdDSA') && !algorithms.includes(ED25519) ? [...algorithms, ED25519] : algorithms;
    this.algSet = new Set(this.algorithms);
    this.window = seconds('window', options.window ?? 60);
    this.leeway = seconds('leeway', options.leeway ?? 5);
    this.now = options.now ?? Date.now;
    this.replay = options.replay ?? new MemoryReplayCache(100_000, this.now);
    this.nonces = options.nonces;
    this.threadPool = options.threadPool ?? false;
  }

  /** The nonce a client should send now, when nonces are on. */
  currentNonce(): string | undefined {
    return this.nonces?.current();
  }

  /** Checks the proof; throws TokenError (`invalid_dpop_proof`, `dpop_replayed`, ...) when it does not hold. */
  check(input: ProofInput): CheckedProof | Promise<CheckedProof> {
    const proof = this.singleProof(input.proof);
    let jwt;
    try {
      jwt = decodeJwt(proof);
    } catch (err) {
      throw invalid(`the DPoP proof is not a JWT: ${(err as Error).message}`);
    }
    let key = this.headerKeys.get(jwt.header);
    if (key === undefined) {
      try {
        key = this.keyOfHeader(jwt.header);
      } catch (err) {
        key = (err as Error).message;
      }
      this.headerKeys.set(jwt.header, key);
    }
    if (typeof key === 'string') throw invalid(key);
    const alg = jwt.header.alg as string;
    if (this.threadPool) {
      const imported = key;
      return verifyPreparedAsync(key.verification, jwt.signingInput, jwt.signature).then((signed) => {
        if (!signed) throw invalid(BAD_SIGNATURE);
        return this.checkClaims(jwt, imported, alg, input);
      });
    }
    if (!verifyPrepared(key.verification, jwt.signingInput, jwt.signature)) throw invalid(BAD_SIGNATURE);
    return this.checkClaims(jwt, key, alg, input);
  }

  /**
   * The header's checks (typ, alg, crit, a public jwk that fits alg), made once per header: the
   * key to verify with, or an Error whose message says what is wrong with the header.
   */
  private keyOfHeader(header: Readonly<Record<string, unknown>>): ProofKey {
    if (typeof header.typ !== 'string' || !TYP_DPOP.test(header.typ))
      throw new Error('the DPoP proof must have typ "dpop+jwt"');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.algSet.has(alg))
      throw new Error(
        `the DPoP proof's algorithm "${String(alg).slice(0, 20)}" is not accepted; use ${this.algorithms.join(', ')}`,
      );
    if (header.crit !== undefined) throw new Error('the DPoP proof has "crit" extensions this server does not know');
    const imported = importPublicJwk(header.jwk);
    const jwsAlg = alg === ED25519 ? 'EdDSA' : alg;
    // Undefined for a key of another kind than alg is defined for (RSA of 2048 bits or more, P-256, Ed25519).
    const verification = prepareVerification(jwsAlg, imported.key);
    if (!verification) throw new Error(`the DPoP proof's jwk is not a key for ${alg}`);
    return {
      key: imported.key,
      jkt: imported.jkt,
      verification,
      replayBinding: imported.jkt.slice(0, REPLAY_BINDING_LENGTH),
    };
  }

  /** The claims of a proof whose signature verified, then its jti in the replay cache. */
  private checkClaims(
    jwt: DecodedJwt,
    imported: ProofKey,
    alg: string,
    input: ProofInput,
  ): CheckedProof | Promise<CheckedProof> {
    const { payload } = jwt;
    const { jti, htm, htu, iat } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
      throw invalid(`the DPoP proof needs a jti of 1 to ${MAX_JTI_LENGTH} characters`);
    if (typeof htm !== 'string' || typeof htu !== 'string')
      throw invalid('the DPoP proof needs htm and htu claims (strings)');
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      throw invalid('the DPoP proof needs an iat claim (seconds since 1970)');
    if (htm !== input.method)
      throw refusal('dpop_wrong_request', `the DPoP proof is for method ${htm.slice(0, 10)}, not ${input.method}`);
    if (!namesUrl(htu, input.urls)) throw refusal('dpop_wrong_request', 'the DPoP proof is for another URL (htu)');
    const t = this.now() / 1000;
    const slack = this.window + this.leeway;
    if (Math.abs(t - iat) > slack)
      throw refusal(
        'dpop_stale',
        `the DPoP proof was made ${Math.round(Math.abs(t - iat))} s ${iat < t ? 'ago' : 'ahead'}; at most ${this.window} s is accepted: make a new proof, check the clock`,
      );
    if (input.accessToken !== undefined) {
      if (typeof payload.ath !== 'string' || !sameText(payload.ath, accessTokenHash(input.accessToken)))
        throw refusal('dpop_wrong_token', 'the DPoP proof is not for this access token (ath)');
    }
    if (input.jkt !== undefined && !sameText(imported.jkt, input.jkt))
      throw refusal('dpop_wrong_key', 'the DPoP proof is signed with another key than the token is bound to');
    if (this.nonces && !this.nonces.accepts(payload.nonce)) {
      throw new TokenError('use_dpop_nonce', 'the DPoP proof must carry the nonce this server gave (DPoP-Nonce)', {
        authenticated: true,
        dpopNonce: this.nonces.current(),
      });
    }
    const checked: CheckedProof = { jkt: imported.jkt, jti, iat, alg };
    if (this.nonces) checked.nonce = this.nonces.current();
    // Remembered until no clock could accept the proof any more: iat + window + leeway.
    let fresh;
    try {
      fresh = this.replay.useOnce('dpop', this.replayId(imported, jti), (iat + slack) * 1000 + 1, imported.jkt);
    } catch (err) {
      throw cacheFailure(err);
    }
    if (fresh instanceof Promise)
      return fresh.then(
        (unseen) => firstUse(unseen, checked),
        (err: unknown) => Promise.reject(cacheFailure(err)),
      );
    return firstUse(fresh, checked);
  }

  /**
   * What a proof's jti is remembered by: single use per key. This process's memory names the key
   * by its short binding (REPLAY_BINDING_LENGTH); a store that processes share (Redis, zgw-auth's
   * database) by the whole thumbprint and a dot, as earlier versions wrote it, so that during a
   * rolling update each version still finds the proofs the other has seen.
   */
  private replayId(key: ProofKey, jti: string): string {
    return this.replay instanceof MemoryReplayCache ? key.replayBinding + jti : `${key.jkt}.${jti}`;
  }

  private singleProof(proof: ProofInput['proof']): string {
    const count = typeof proof === 'string' ? 1 : (proof?.length ?? 0);
    const value = typeof proof === 'string' ? proof : proof?.[0];
    if (count === 0 || value === '' || value === undefined)
      throw refusal('dpop_proof_missing', 'a DPoP proof is required');
    // Node joins a header sent twice with ", ": a JWT holds no comma.
    if (count > 1 || value.includes(',')) throw invalid('send one DPoP header, not several');
    if (value.length > MAX_PROOF_LENGTH) throw invalid(`the DPoP proof is longer than ${MAX_PROOF_LENGTH} characters`);
    return value.trim();
  }
}

/** A window or leeway: NaN (`Number` of an unset variable) would accept a proof of any age and remember none. */
function seconds(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new Error(`DPoP ${name} must be a finite number of seconds, 0 or more, not ${String(value)}`);
  return value;
}

/** The checked proof when the replay cache saw its jti for the first time; a refusal when it saw it before. */
function firstUse(unseen: boolean, checked: CheckedProof): CheckedProof {
  if (!unseen) throw refusal('dpop_replayed', 'this DPoP proof was used before: make a new proof per request');
  return checked;
}

function invalid(message: string): TokenError {
  return refusal('invalid_dpop_proof', message);
}

/** The caller chose the proof: telling it what is wrong with it reveals nothing. */
function refusal(code: TokenErrorCode, message: string): TokenError {
  return new TokenError(code, message, { authenticated: true });
}

function cacheFailure(err: unknown): unknown {
  return err instanceof ReplayCacheFull
    ? new TokenError('replay_cache_full', err.message, { authenticated: true })
    : err instanceof TokenError
      ? err
      : new TokenError('keys_unavailable', `the replay cache failed: ${(err as Error)?.message ?? String(err)}`, {
          authenticated: true,
        });
}

/**
 * A public JWK as a key object with its RFC 7638 thumbprint. Refused: anything but an RSA, EC or
 * OKP public key, and a jwk carrying private members (a client that sends its private key has
 * lost it; RFC 9449 §4.3 point 7).
 */
export function importPublicJwk(jwk: unknown): ImportedKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    throw new Error('the DPoP proof needs a jwk header: the public key it is signed with');
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => members[m] !== undefined))
    throw new Error("the DPoP proof's jwk holds private key material: send the public key only (and make a new key)");
  const required = typeof members.kty === 'string' ? THUMBPRINT_MEMBERS[members.kty] : undefined;
  if (!required || !Object.hasOwn(THUMBPRINT_MEMBERS, members.kty as string))
    throw new Error("the DPoP proof's jwk must be an RSA, EC or OKP public key");
  const publicJwk: Record<string, string> = {};
  for (const m of required) {
    const v = members[m];
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_KEY_MEMBER_LENGTH)
      throw new Error(`the DPoP proof's jwk lacks "${m}"`);
    if (m !== 'kty' && m !== 'crv' && !BASE64URL.test(v))
      throw new Error(`the DPoP proof's jwk "${m}" is not base64url`);
    publicJwk[m] = v;
  }
  // The thumbprint's input names the key whole (every member it is made from): the cache's key.
  const canonical = thumbprintInput(publicJwk, required);
  let imported = importedKeys.get(canonical);
  if (imported === undefined) {
    try {
      imported = {
        key: crypto.createPublicKey({ key: publicJwk as crypto.JsonWebKey, format: 'jwk' }),
        jkt: sha256Base64url(canonical),
      };
    } catch {
      imported = "the DPoP proof's jwk is not a valid public key";
    }
    importedKeys.set(canonical, imported);
  }
  if (typeof imported === 'string') throw new Error(imported);
  return imported;
}

/** RFC 7638 §3: the required members in lexicographic order, no whitespace; JSON.stringify escapes as §3.3 asks. */
function thumbprintInput(jwk: Readonly<Record<string, string>>, members: readonly string[]): string {
  return `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
}

/** RFC 7638 SHA-256 thumbprint of a public JWK: the `cnf.jkt` of tokens bound to it. */
export function jwkThumbprint(jwk: unknown): string {
  return importPublicJwk(jwk).jkt;
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII. */
export function accessTokenHash(accessToken: string): string {
  // One byte per character, as Node's 'ascii' and 'latin1' encodings both write it: a token's
  // ASCII where it is ASCII (every token that verified is), without a pass to find that out first.
  if (accessToken.length > tokenBytes.length)
    return crypto.createHash('sha256').update(accessToken, 'latin1').digest('base64url');
  return sha256Base64url(tokenBytes.subarray(0, tokenBytes.write(accessToken, 0, 'latin1')));
}

/** Where an access token's bytes are written to be hashed: nothing keeps them between two calls. */
const tokenBytes = Buffer.allocUnsafe(MAX_TOKEN_LENGTH);

/**
 * `htu` as compared (RFC 9449 §4.3 point 9): without query and fragment, scheme and host in lower
 * case, the default port dropped, dot segments resolved, percent-encoding normalised (unreserved
 * characters decoded, other hex digits in upper case; RFC 3986 §6.2.2, §6.2.3). Undefined for
 * anything but an absolute http(s) URL.
 */
export function normaliseHtu(url: string): string | undefined {
  if (url.length > MAX_HTU_LENGTH) return undefined;
  // A client names the same htu in every proof, and a server checks against the same few URLs:
  // each is parsed once (a URL parse costs more than the rest of the claim checks together).
  const known = normalisedUrls.get(url);
  if (known !== undefined) return known || undefined;
  const normalised = parseHtu(url);
  if (url.length <= CACHED_URL_LENGTH) {
    if (normalisedUrls.size >= CACHED_URLS) normalisedUrls.clear();
    normalisedUrls.set(url, normalised ?? '');
  }
  return normalised;
}

/** Normalised `htu`s by URL as given, '' for one that is not an http(s) URL: at most 256 of 512 characters. */
const normalisedUrls = new Map<string, string>();
const CACHED_URLS = 256;
const CACHED_URL_LENGTH = 512;

function parseHtu(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  return `${u.protocol}//${u.host}${normalisePercentEncoding(u.pathname)}`;
}

/** Whether `htu` names one of `urls`, both normalised (RFC 9449 §4.3 point 9). */
function namesUrl(htu: string, urls: readonly string[]): boolean {
  // The common case: the URL exactly as the request's, whose normal form is known already.
  for (let i = 0; i < urls.length; i++) if (htu === urls[i]) return normaliseHtu(urls[i]!) !== undefined;
  const target = normaliseHtu(htu);
  if (target === undefined) return false;
  for (let i = 0; i < urls.length; i++) if (normaliseHtu(urls[i]!) === target) return true;
  return false;
}

/** A MAC compared in constant time by node:crypto. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** RFC 3986 §2.3 unreserved characters: the same whether percent-encoded or not. */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/**
 * RFC 3986 §6.2.2.1 and §6.2.2.2 on a path: `%XX` of an unreserved character decoded (`%7E` is
 * `~`), every other `%xx` in upper-case hex (`%2f` is `%2F`). A reserved character stays encoded:
 * `/a%2Fb` names another resource than `/a/b`.
 */
export function normalisePercentEncoding(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/**
 * Server nonces (RFC 9449 §8) without shared state: a nonce is a time slot and its HMAC under
 * `secret`, so every process with the same secret accepts every other's. A nonce is accepted in
 * its own slot and the next one: for `lifetime` to twice that many seconds.
 */
export class DpopNonces {
  private readonly lifetimeMs: number;
  private readonly now: () => number;
  private last: { slot: number; nonce: string } | undefined;

  constructor(
    private readonly secret: string | Buffer,
    options: { lifetime?: number; now?: () => number } = {},
  ) {
    if (Buffer.byteLength(secret) < 16) throw new Error('a DPoP nonce secret needs at least 16 bytes');
    this.lifetimeMs = (options.lifetime ?? 300) * 1000;
    this.now = options.now ?? Date.now;
  }

  current(): string {
    const slot = Math.floor(this.now() / this.lifetimeMs);
    if (this.last?.slot !== slot) this.last = { slot, nonce: this.nonceOf(slot) };
    return this.last.nonce;
  }

  accepts(nonce: unknown): boolean {
    if (typeof nonce !== 'string' || nonce.length > 64) return false;
    const m = /^([0-9a-z]{1,12})\.[A-Za-z0-9_-]{22}$/.exec(nonce);
    if (!m) return false;
    const slot = parseInt(m[1]!, 36);
    const currentSlot = Math.floor(this.now() / this.lifetimeMs);
    return (slot === currentSlot || slot === currentSlot - 1) && sameSecret(nonce, this.nonceOf(slot));
  }

  private nonceOf(slot: number): string {
    const mac = crypto.createHmac('sha256', this.secret).update(`dpop-nonce:${slot}`).digest();
    return `${slot.toString(36)}.${mac.subarray(0, 16).toString('base64url')}`;
  }
}
