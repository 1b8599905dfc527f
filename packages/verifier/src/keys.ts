import crypto from 'node:crypto';
import { TokenError } from './errors.js';
import { isAsymmetricAlg, keyFitsAlg } from './jose.js';

export interface VerificationKey {
  key: crypto.KeyObject;
  /** The one algorithm this key may verify (RFC 8725 §3.1: a key is bound to an algorithm). */
  alg: string;
}

/** Where IdP public keys come from: a remote JWKS, or the server's own key ring in-process. */
export interface KeySource {
  /** May answer synchronously when the key is at hand: verification then needs no promise for it. */
  get(kid: string | undefined): VerificationKey | undefined | Promise<VerificationKey | undefined>;
}

/** Builds key objects from JWKs, dropping keys without a usable alg/kty combination (an `alg` the key cannot serve included). */
export function importJwks(jwks: unknown): Map<string, VerificationKey> {
  const out = new Map<string, VerificationKey>();
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) return out;
  for (const entry of keys as unknown[]) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
    const jwk = entry as Record<string, unknown>;
    if (typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    const alg = typeof jwk.alg === 'string' ? jwk.alg : defaultAlg(jwk);
    if (!isAsymmetricAlg(alg)) continue;
    try {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
      const key = crypto.createPublicKey({ key: pub as crypto.JsonWebKey, format: 'jwk' });
      if (keyFitsAlg(key, alg)) out.set(jwk.kid, { key, alg });
    } catch {
      // An unusable key is skipped, never fatal: the others still verify.
    }
  }
  return out;
}

function defaultAlg(jwk: Record<string, unknown>): string | undefined {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

export interface RemoteJwksOptions {
  /**
   * Re-fetch at most this often when a token names an unknown kid (default 1000): a key the issuer
   * publishes is accepted within this time, and a flood of made-up kids costs one fetch per period.
   */
  cooldownMs?: number;
  /** Keys are refreshed after this age even without an unknown kid. */
  maxAgeMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * JWKS fetched from a URL (or found via the issuer's discovery document), cached, re-fetched on an
 * unknown kid at most once per cooldown. URLs come from configuration only: `jku`/`x5u` in a token
 * header are never followed.
 */
export class RemoteJwks implements KeySource {
  private keys = new Map<string, VerificationKey>();
  private fetchedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private jwksUri: string | undefined;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly location: { jwksUri: string } | { issuer: string },
    options: RemoteJwksOptions = {},
  ) {
    this.jwksUri = 'jwksUri' in location ? location.jwksUri : undefined;
    // Like PyJWT and get-jwks (0.1 s) in spirit: an emergency key rotation must not lock tokens out
    // for long, while the issuer is still asked at most once a second.
    this.cooldownMs = options.cooldownMs ?? 1000;
    this.maxAgeMs = options.maxAgeMs ?? 600_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  get(kid: string | undefined): VerificationKey | undefined | Promise<VerificationKey | undefined> {
    // A clock stepped back (NTP) makes the age negative: counted as old, or no key would be fetched until the clock caught up.
    const t = this.now();
    const age = t < this.fetchedAt ? Infinity : t - this.fetchedAt;
    const known = this.lookup(kid);
    if (known && age < this.maxAgeMs) return known;
    if (age < this.cooldownMs) return known;
    return this.refresh().then(() => this.lookup(kid));
  }

  private lookup(kid: string | undefined): VerificationKey | undefined {
    return kid !== undefined ? this.keys.get(kid) : this.keys.size === 1 ? this.keys.values().next().value : undefined;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.fetchedAt = this.now();
    try {
      if (!this.jwksUri) {
        const issuer = (this.location as { issuer: string }).issuer.replace(/\/+$/, '');
        const meta = await this.fetchJson(`${issuer}/.well-known/openid-configuration`);
        const { issuer: named, jwks_uri: jwksUri } =
          typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : {};
        if (named !== issuer || typeof jwksUri !== 'string')
          throw new Error('discovery document does not match the issuer');
        this.jwksUri = jwksUri;
      }
      this.keys = importJwks(await this.fetchJson(this.jwksUri));
    } catch (err) {
      if (this.keys.size === 0)
        throw new TokenError('keys_unavailable', `cannot load the issuer's signing keys: ${(err as Error).message}`);
      // Keep serving the keys we have; the next unknown kid after the cooldown tries again.
    }
  }

  private async fetchJson(url: string): Promise<unknown> {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    return res.json();
  }
}
