import crypto from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';
import { decodeJwt, type DecodedJwt, extractToken } from './decode.js';
import { humanDuration, TokenError, type TokenErrorCode } from './errors.js';
import { ASYMMETRIC_ALGS, hs256MatchesAny, isAsymmetricAlg, verifyJwsSignature } from './jose.js';
import { type KeySource, RemoteJwks, type VerificationKey } from './keys.js';
import { type Confirmation, confirmationOf, type PresentedRequest, readAuthorization, SenderCheck } from './sender.js';
import type { DpopOptions } from './dpop.js';

/** Who called: what a ZGW API needs to authorise a request. */
export interface Principal {
  clientId: string;
  /** Organisation of the client: from the registry when a resolver is configured, else the token's claim. */
  rsin: string | undefined;
  userId: string | undefined;
  userRepresentation: string | undefined;
  /**
   * What the caller may do. Self-signed tokens: the client's registered scopes, never the token's.
   * IdP tokens: the token's scopes, narrowed to the client's current scopes when the resolver names them.
   */
  scopes: string[];
  kind: 'oauth2' | 'self-signed';
  /**
   * Claims as information. IdP tokens: all claims (the issuer signed them). Self-signed tokens: only
   * SELF_SIGNED_CLAIMS, with `exp` capped; `scope`, `scp`, `sub`, `iss`, `aud`, roles and anything
   * unknown are dropped, because the consumer chose them.
   */
  claims: Record<string, unknown>;
  /** Epoch seconds after which the token is no longer accepted. */
  expiresAt: number;
  /**
   * What the token is bound to (its `cnf`, RFC 7800): a DPoP key (`jkt`, RFC 9449) or a client
   * certificate (`x5t#S256`, RFC 8705). `verifyRequest` has checked that the caller holds it.
   */
  confirmation?: Confirmation;
}

/** A client as the verifier needs it; `secrets` only for clients that may self-sign. */
export interface ClientRecord {
  clientId: string;
  rsin: string;
  enabled: boolean;
  selfSignedAllowed: boolean;
  secrets: Array<string | Buffer>;
  /** Scopes the registry grants the client: all a self-signed token gets, and a cap on an IdP token's. */
  scopes?: string[];
  /**
   * Identifies this registration of the client id. When given, an IdP token must carry the same
   * value in its `client_registration` claim: a deleted client's tokens never come back when the
   * same id is registered again.
   */
  registration?: string;
}

/** May answer synchronously: a resolver that has the client in memory saves a promise per verification. */
export type ClientResolver = (clientId: string) => Promise<ClientRecord | undefined> | ClientRecord | undefined;

export interface VerifierOptions {
  /** Issuer of IdP tokens; keys found through its discovery document unless `jwksUri` or `keys` is given. */
  issuer?: string;
  jwksUri?: string;
  keys?: KeySource;
  /** Expected `aud` of IdP tokens (any of). Default: not checked. */
  audience?: string | string[];
  /** Allowed algorithms for IdP tokens. Default RS256, PS256, ES256, EdDSA. */
  algorithms?: string[];
  /** Require `typ: at+jwt` (RFC 9068) on IdP tokens. Default true. */
  requireTyp?: boolean;
  /** Seconds of leeway for exp and nbf. Default 30. */
  clockSkew?: number;
  /** Looks clients up by `client_id`: needed for self-signed tokens; also refuses IdP tokens of disabled clients. */
  clients?: ClientResolver;
  /** Self-signed HS256 ZGW tokens: accepted unless false. */
  selfSigned?: false | { maxAge?: number; iatLeeway?: number };
  /** Revocation check by `jti` (e.g. via zgw-auth /introspect). */
  isRevoked?: (jti: string, clientId: string) => Promise<boolean> | boolean;
  /**
   * Repeated verification of the same token is served from memory for at most `revalidateAfterMs`
   * (default 2000): a disabled client or revoked token is refused within that bound, and a cached
   * token is never accepted past its expiry. Only fully accepted tokens are remembered, at most
   * `maxEntries` (default 10,000) and `maxBytes` of token text (default 4 MiB).
   */
  cache?: false | { maxEntries?: number; maxBytes?: number; revalidateAfterMs?: number };
  /**
   * Sender-constrained tokens: how DPoP proofs are checked (allowed algorithms, iat window, the
   * replay cache of `jti`s, server nonces). Certificate-bound tokens need no setting: the request's
   * client certificate is compared with the token's `cnf["x5t#S256"]`.
   */
  dpop?: Omit<DpopOptions, 'now'>;
  now?: () => number;
}

export interface VerifyOptions {
  /**
   * Accept a sender-constrained token without checking its binding: only for a service that
   * passes the token's `cnf` on to whoever checks it (an introspection endpoint). Default false:
   * `verify` refuses a bound token, which only `verifyRequest` can check.
   */
  acceptBoundTokens?: boolean;
}

export interface Verifier {
  /**
   * Verifies a request's token and, for a sender-constrained one, that the caller holds its key
   * (a DPoP proof for this method, URL and token) or its certificate (the request's TLS client
   * certificate); when `scopes` are given, that the token carries them all (else `insufficient_scope`).
   */
  verifyRequest(request: PresentedRequest, scopes?: readonly string[]): Promise<Principal>;
  /**
   * Verifies a bearer token alone and, when `scopes` are given, that it carries them all. A
   * sender-constrained token is refused (`bound_token_as_bearer`) unless `acceptBoundTokens`:
   * without the request there is nothing to check its binding against.
   */
  verify(
    authorizationOrToken: string | undefined,
    scopes?: readonly string[],
    options?: VerifyOptions,
  ): Promise<Principal>;
  /** The DPoP proof checks this verifier applies (also for the `algs` of a DPoP challenge). */
  readonly sender: SenderCheck;
  /** Drops remembered results: call it when a client, secret or revocation changed. */
  forget(): void;
}

interface CacheEntry {
  principal: Principal;
  checkedAt: number;
  /** The key object whose signature check this token passed (IdP tokens). */
  key?: VerificationKey | undefined;
}

const STRING_CLAIMS = [
  'iss',
  'sub',
  'client_id',
  'jti',
  'rsin',
  'user_id',
  'user_representation',
  'client_registration',
] as const;
const TIME_CLAIMS = ['exp', 'iat', 'nbf'] as const;
/** What a self-signed token may say as information; everything else it says is dropped. */
export const SELF_SIGNED_CLAIMS = ['user_id', 'user_representation', 'jti', 'iat', 'nbf'] as const;
const TYP_AT_JWT = /^(application\/)?at\+jwt$/i;
const MAX_CLIENT_ID_LENGTH = 50;
/** Spent on a client that is unknown or may not self-sign, so that it costs what a wrong signature costs. */
const DUMMY_SECRETS = [crypto.randomBytes(32)];

export function createVerifier(options: VerifierOptions): Verifier {
  const now = options.now ?? Date.now;
  const skew = options.clockSkew ?? 30;
  const algorithms = new Set(options.algorithms ?? ASYMMETRIC_ALGS);
  for (const alg of algorithms)
    if (!isAsymmetricAlg(alg)) throw new Error(`algorithm ${alg} is not allowed for IdP tokens`);
  const audiences = options.audience === undefined ? undefined : ([] as string[]).concat(options.audience);
  const selfSigned =
    options.selfSigned === false
      ? undefined
      : { maxAge: options.selfSigned?.maxAge ?? 3600, iatLeeway: options.selfSigned?.iatLeeway ?? 300 };
  const keys =
    options.keys ??
    (options.jwksUri
      ? new RemoteJwks({ jwksUri: options.jwksUri }, { now })
      : options.issuer
        ? new RemoteJwks({ issuer: options.issuer }, { now })
        : undefined);
  const cacheOptions = options.cache || undefined;
  // A token's text stands for its weight: the parsed claims are of the same order.
  const cache =
    options.cache === false
      ? undefined
      : new BoundedCache<string, CacheEntry>(
          cacheOptions?.maxEntries ?? 10_000,
          cacheOptions?.maxBytes ?? 4 * 1024 * 1024,
          (token) => token.length,
        );
  const revalidateAfterMs = cacheOptions?.revalidateAfterMs ?? 2000;
  const sender = new SenderCheck({ ...options.dpop, now }, { dpopConfigured: options.dpop !== undefined });

  /** A refusal after the signature verified: the caller holds the key, so the reason may be shown. */
  const refused = (code: TokenErrorCode, message: string) => new TokenError(code, message, { authenticated: true });

  // Every step answers synchronously when its inputs are at hand (a known key, a resolver that
  // answers from memory) and chains on a promise only when they are not: a verification then costs
  // one promise, not one per step.
  /**
   * Which key object verified an accepted IdP token's signature: when its remembered result is
   * checked again, the same token (the same bytes) under the same key object cannot verify
   * differently, so only that check is not repeated; every other one is.
   */
  const verifiedBy = new WeakMap<Principal, VerificationKey>();

  function verifyUncached(token: string, verifiedKey?: VerificationKey): Principal | Promise<Principal> {
    const jwt = decodeJwt(token);
    const { header, payload } = jwt;
    if (header.crit !== undefined)
      throw new TokenError('crit_unsupported', 'token header has "crit" extensions this verifier does not understand');
    for (const c of STRING_CLAIMS)
      if (payload[c] !== undefined && typeof payload[c] !== 'string')
        throw new TokenError('invalid_claim', `claim "${c}" must be a string`);
    for (const c of TIME_CLAIMS)
      if (payload[c] !== undefined && (typeof payload[c] !== 'number' || !Number.isFinite(payload[c])))
        throw new TokenError('invalid_claim', `claim "${c}" must be a number (seconds since 1970)`);
    if (header.alg === 'HS256') return verifySelfSigned(jwt);
    if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) {
      throw new TokenError(
        'alg_not_allowed',
        `algorithm "${String(header.alg).slice(0, 20)}" is not accepted; IdP tokens use ${[...algorithms].join(', ')} and self-signed tokens HS256`,
      );
    }
    return verifyIdpToken(jwt, header.alg, verifiedKey);
  }

  function verifyIdpToken(
    jwt: DecodedJwt,
    alg: string,
    verifiedKey: VerificationKey | undefined,
  ): Principal | Promise<Principal> {
    const { header } = jwt;
    if (!keys)
      throw new TokenError('unknown_key', 'this verifier accepts no IdP tokens (no issuer or keys configured)');
    if (options.requireTyp !== false && !TYP_AT_JWT.test(String(header.typ))) {
      throw new TokenError(
        'wrong_typ',
        `token type "${String(header.typ).slice(0, 30)}" is not an access token (typ at+jwt)`,
      );
    }
    const kid =
      header.kid === undefined
        ? undefined
        : typeof header.kid === 'string' && header.kid.length <= 200
          ? header.kid
          : '\u0000invalid';
    return then(keys.get(kid), (key) => checkIdpToken(jwt, alg, kid, key, verifiedKey));
  }

  function checkIdpToken(
    jwt: DecodedJwt,
    alg: string,
    kid: string | undefined,
    key: VerificationKey | undefined,
    verifiedKey: VerificationKey | undefined,
  ): Principal | Promise<Principal> {
    const { payload } = jwt;
    if (!key)
      throw new TokenError('unknown_key', 'token is signed with a key the issuer does not publish (unknown kid)');
    if (key.alg !== alg) throw new TokenError('alg_not_allowed', `key ${String(kid)} verifies ${key.alg}, not ${alg}`);
    if (key !== verifiedKey && !verifyJwsSignature(alg, key.key, jwt.signingInput, jwt.signature))
      throw new TokenError('bad_signature', "signature does not verify with the issuer's key");
    if (options.issuer !== undefined && payload.iss !== options.issuer)
      throw refused(
        'issuer_mismatch',
        `issuer "${String(payload.iss).slice(0, 100)}" is not the expected "${options.issuer}"`,
      );
    if (audiences) {
      const aud = ([] as unknown[]).concat(payload.aud ?? []);
      if (!aud.some((a) => typeof a === 'string' && audiences.includes(a)))
        throw refused(
          'audience_mismatch',
          `token is not meant for this API (aud must include ${audiences.join(' or ')})`,
        );
    }
    if (typeof payload.exp !== 'number') throw refused('no_expiry', 'access token has no exp claim');
    const t = now() / 1000;
    checkNotBefore(payload, t);
    checkExpiry(payload.exp, t);
    const clientId = (payload.client_id ?? payload.sub) as string | undefined;
    if (!clientId) throw refused('invalid_claim', 'access token names no client (client_id or sub)');
    const exp = payload.exp;
    const tokenScopes = scopesOf(payload);
    const confirmation = confirmationOf(payload.cnf);
    const withClient = (rsin: unknown, scopes: string[]): Principal | Promise<Principal> => {
      const accepted = () => {
        const p = principal('oauth2', clientId, rsin as string | undefined, scopes, payload, exp);
        if (confirmation) p.confirmation = confirmation;
        verifiedBy.set(p, key);
        return p;
      };
      if (!options.isRevoked || typeof payload.jti !== 'string') return accepted();
      return then(options.isRevoked(payload.jti, clientId), (revoked) => {
        if (revoked) throw refused('revoked', 'token has been revoked');
        return accepted();
      });
    };
    if (!options.clients) return withClient(payload.rsin, tokenScopes);
    return then(clientId.length <= MAX_CLIENT_ID_LENGTH ? options.clients(clientId) : undefined, (client) => {
      if (!client) throw refused('unknown_client', `client "${clientId.slice(0, 60)}" is not registered`);
      if (client.registration !== undefined && payload.client_registration !== client.registration) {
        throw refused(
          'client_replaced',
          `token was issued to an earlier registration of client "${clientId.slice(0, 60)}", which was deleted`,
        );
      }
      if (!client.enabled) throw refused('client_disabled', `client "${clientId.slice(0, 60)}" is disabled`);
      // A token never grants more than its client may do now: a scope removed from the client is gone from its tokens.
      return withClient(
        client.rsin,
        client.scopes ? tokenScopes.filter((s) => client.scopes!.includes(s)) : tokenScopes,
      );
    });
  }

  function verifySelfSigned(jwt: DecodedJwt): Principal | Promise<Principal> {
    const { payload } = jwt;
    if (!selfSigned || !options.clients)
      throw new TokenError('alg_not_allowed', 'self-signed HS256 tokens are not accepted here');
    const clientId = payload.client_id;
    if (typeof clientId !== 'string' || !clientId)
      throw new TokenError(
        'invalid_claim',
        'self-signed token has no client_id claim (the secret is looked up by client_id, not iss)',
      );
    return then(clientId.length <= MAX_CLIENT_ID_LENGTH ? options.clients(clientId) : undefined, (client) =>
      checkSelfSigned(jwt, clientId, client, selfSigned),
    );
  }

  function checkSelfSigned(
    jwt: DecodedJwt,
    clientId: string,
    client: ClientRecord | undefined,
    policy: { maxAge: number; iatLeeway: number },
  ): Principal {
    const { payload } = jwt;
    // Until the signature verifies, the caller is anonymous: each of these refusals is shown to it
    // as the same one, after the same work (an HMAC per secret, or one with a dummy key).
    const usable = client?.selfSignedAllowed ? client.secrets : [];
    const signed =
      hs256MatchesAny(usable.length ? usable : DUMMY_SECRETS, jwt.signingInput, jwt.signature) && usable.length > 0;
    if (!client) throw new TokenError('unknown_client', `client "${clientId.slice(0, 60)}" is not registered`);
    if (!client.selfSignedAllowed)
      throw new TokenError(
        'self_signed_not_allowed',
        `client "${clientId}" may not sign its own tokens; get one from the token endpoint`,
      );
    if (!signed)
      throw new TokenError(
        'bad_signature',
        `signature does not match: the token was signed with a different secret than client "${clientId}" has`,
      );

    if (!client.enabled) throw refused('client_disabled', `client "${clientId}" is disabled`);
    const t = now() / 1000;
    const iat = payload.iat as number | undefined;
    const exp = payload.exp as number | undefined;
    // Without iat the token would live until its exp, however far away (Open Zaak refuses it too).
    if (iat === undefined)
      throw refused(
        exp === undefined ? 'no_expiry' : 'missing_iat',
        'self-signed token has no iat claim: it must say when it was made (seconds since 1970)',
      );
    if (iat > t + policy.iatLeeway) {
      throw refused(
        'iat_in_future',
        `iat is ${humanDuration(iat - t)} in the future: check the clock (at most ${policy.iatLeeway} s allowed)`,
      );
    }
    // `nbp` (the seed's typo) is deliberately ignored, not read as nbf.
    checkNotBefore(payload, t);
    const expiresAt = Math.min(exp ?? Infinity, iat + policy.maxAge);
    checkExpiry(
      expiresAt,
      t,
      exp !== undefined && expiresAt < exp ? ` (self-signed tokens live at most ${policy.maxAge} s after iat)` : '',
    );
    if (payload.rsin !== undefined && payload.rsin !== client.rsin) {
      throw refused(
        'rsin_mismatch',
        `token claims organisation ${String(payload.rsin).slice(0, 20)} but client "${clientId}" belongs to ${client.rsin}`,
      );
    }
    const claims: Record<string, unknown> = {};
    for (const c of SELF_SIGNED_CLAIMS) if (payload[c] !== undefined) claims[c] = payload[c];
    claims.exp = expiresAt;
    return principal('self-signed', clientId, client.rsin, client.scopes ?? [], claims, expiresAt);
  }

  function checkNotBefore(payload: Record<string, unknown>, t: number): void {
    if (typeof payload.nbf === 'number' && payload.nbf > t + skew)
      throw refused(
        'not_yet_valid',
        `token is not valid for another ${humanDuration(payload.nbf - t)} (nbf): check the clock`,
      );
  }

  function checkExpiry(expiresAt: number, t: number, why = ''): void {
    if (t > expiresAt + skew) throw refused('expired', `token expired ${humanDuration(t - expiresAt)} ago${why}`);
  }

  function checkScopes(p: Principal, scopes: readonly string[] | undefined): Principal {
    if (!scopes?.length) return p;
    const missing = scopes.filter((s) => !p.scopes.includes(s));
    if (missing.length) throw refused('insufficient_scope', `token lacks scope ${missing.join(' ')}`);
    return p;
  }

  /** Synchronous when every step is (a cache hit, a known key, a client in memory): no promise of its own. */
  function verifyToken(token: string, scopes: readonly string[] | undefined): Principal | Promise<Principal> {
    if (!cache) return then(verifyUncached(token), (p) => checkScopes(p, scopes));
    const t = now();
    const hit = cache.get(token);
    if (hit && t - hit.checkedAt < revalidateAfterMs && t / 1000 <= hit.principal.expiresAt + skew)
      return checkScopes(hit.principal, scopes);
    // A remembered token checked again: everything but a signature its key object already verified.
    return then(verifyUncached(token, hit?.key), (p) => {
      const verified = checkScopes(p, scopes);
      // Remembered only when fully accepted: refused tokens, however many, take no memory.
      cache.set(token, { principal: verified, checkedAt: t, key: verifiedBy.get(verified) });
      return verified;
    });
  }

  function bearerOnly(verified: Principal, verifyOptions: VerifyOptions | undefined): Principal {
    if (verified.confirmation && !verifyOptions?.acceptBoundTokens) {
      throw refused(
        'bound_token_as_bearer',
        'the token is sender-constrained (cnf): verify it with the request (verifyRequest), which checks the proof of possession',
      );
    }
    return verified;
  }

  return {
    sender,
    // Not an async function: one promise per call, settled at once when the steps were synchronous.
    // Every refusal, thrown or not, still reaches the caller as a rejection.
    verify(authorizationOrToken, scopes, verifyOptions) {
      try {
        const verified = verifyToken(extractToken(authorizationOrToken), scopes);
        return verified instanceof Promise
          ? verified.then((p) => bearerOnly(p, verifyOptions))
          : Promise.resolve(bearerOnly(verified, verifyOptions));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
    async verifyRequest(request, scopes) {
      const presented = readAuthorization(request.authorization);
      const result = verifyToken(presented.token, scopes);
      const verified = result instanceof Promise ? await result : result;
      // Every request proves possession again: the cache holds the token's verification, never this.
      // The token's cnf was checked for shape when the token was: its binding is checked here, not its shape again.
      const confirmed = sender.confirmChecked(verified.confirmation, presented, request);
      if (confirmed instanceof Promise) await confirmed;
      return verified;
    },
    forget() {
      cache?.clear();
    },
  };
}

/** `f(value)` now when the value is at hand, after it resolves when it is a promise. */
function then<T, U>(value: T | Promise<T>, f: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

function scopesOf(claims: Record<string, unknown>): string[] {
  const scope = claims.scope;
  return typeof scope === 'string'
    ? scope.split(' ').filter(Boolean)
    : Array.isArray(claims.scp)
      ? claims.scp.filter((s): s is string => typeof s === 'string')
      : [];
}

function principal(
  kind: Principal['kind'],
  clientId: string,
  rsin: string | undefined,
  scopes: string[],
  claims: Record<string, unknown>,
  expiresAt: number,
): Principal {
  return {
    clientId,
    rsin,
    userId: claims.user_id as string | undefined,
    userRepresentation: claims.user_representation as string | undefined,
    scopes,
    kind,
    claims,
    expiresAt,
  };
}
