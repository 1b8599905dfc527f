import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { addressMatcher, certificateFromHeader, type CertificateHeaderFormat } from './certificate.js';
import { TokenError, type TokenErrorCode } from './errors.js';
import type { PresentedRequest } from './sender.js';
import type { Principal, Verifier } from './verifier.js';

export interface GuardOptions {
  /** Scopes the token must all carry; otherwise 403 insufficient_scope. */
  scopes?: string[];
  /** Answer refusals as application/problem+json (RFC 9457), the way ZGW APIs do. */
  problemJson?: boolean;
  /** `realm` of the WWW-Authenticate challenge: letters, digits and `._:-` only (else `zgw`). */
  realm?: string;
  /**
   * Called with every refusal and the request, before the answer is sent: the precise reason
   * (`err.code`, `err.message`) for your log, and a failed signature (`bad_signature`) for the
   * limiter that stops secret guessing. Whatever it throws is ignored.
   */
  onRefusal?: (err: TokenError, request: IncomingMessage) => void;
  /**
   * The origin clients call this API at (`https://zaken.example.nl`), or each of them: a DPoP
   * proof's `htu` must name one. Required to accept DPoP-bound tokens: without it they are refused
   * (`dpop_origin_unknown`), and a guard over a verifier with `dpop` options is not made at all.
   * Never read from the Host header, which the caller writes: a proof made for another API that
   * accepts the same tokens would fit.
   */
  publicOrigin?: string | readonly string[];
  /**
   * The client certificate header of a TLS-terminating proxy (`client-cert` as RFC 9440, or nginx's
   * `$ssl_client_escaped_cert`), believed only from the proxy's addresses; from anyone else it is
   * ignored. Without it only the TLS connection's own client certificate counts.
   */
  certificateHeader?: { name: string; format: CertificateHeaderFormat; trustedProxies: readonly string[] };
}

export interface Refusal {
  status: 400 | 401 | 403 | 503;
  headers: Record<string, string>;
  body: string;
}

/** What an anonymous caller is told about any token that did not prove who sent it. */
const NOT_AUTHENTIC = 'the token is not valid';

/**
 * What the caller is told after the signature verified, by code: fixed text, never token content,
 * so that a header can always be sent and reveals nothing the caller did not choose.
 */
const DESCRIPTIONS: Partial<Record<TokenErrorCode, string>> = {
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet (nbf): check the clock',
  iat_in_future: 'the token was issued in the future (iat): check the clock',
  no_expiry: 'the token has no expiry',
  missing_iat: 'a self-signed token must carry iat',
  invalid_claim: 'the token lacks a required claim',
  issuer_mismatch: 'the token is from another issuer',
  audience_mismatch: 'the token is not meant for this API (aud)',
  unknown_client: 'the client of this token is not registered',
  client_disabled: 'the client of this token is disabled',
  client_replaced: 'the client of this token was deleted',
  rsin_mismatch: "the token's rsin differs from the client's organisation",
  revoked: 'the token has been revoked',
  insufficient_scope: 'the token lacks a required scope',
  dpop_proof_missing: 'a DPoP proof is required: send a DPoP header',
  invalid_dpop_proof: 'the DPoP proof is not valid',
  dpop_wrong_request: 'the DPoP proof is for another method or URL (htm, htu)',
  dpop_stale: 'the DPoP proof is too old or from the future (iat): make a new one, check the clock',
  dpop_replayed: 'the DPoP proof was used before: make a new proof for every request',
  dpop_wrong_token: 'the DPoP proof is not for this access token (ath)',
  dpop_wrong_key: 'the DPoP proof is signed with another key than the token is bound to',
  use_dpop_nonce: 'put the nonce of the DPoP-Nonce header in the DPoP proof',
  bound_token_as_bearer: 'the token is DPoP-bound: send Authorization: DPoP <token> with a DPoP proof',
  dpop_origin_unknown: 'this API does not accept DPoP-bound tokens',
  token_not_bound: 'the DPoP scheme is for DPoP-bound tokens: send this token as Bearer',
  certificate_missing: 'the token is bound to a client certificate: present it over mutual TLS',
  certificate_mismatch: 'the token is bound to another client certificate',
};

/** Refusals of a DPoP-bound token's proof: answered with a DPoP challenge (RFC 9449 §7.1). */
const DPOP_ERRORS: Partial<Record<TokenErrorCode, string>> = {
  dpop_proof_missing: 'invalid_dpop_proof',
  invalid_dpop_proof: 'invalid_dpop_proof',
  dpop_wrong_request: 'invalid_dpop_proof',
  dpop_stale: 'invalid_dpop_proof',
  dpop_replayed: 'invalid_dpop_proof',
  dpop_wrong_token: 'invalid_dpop_proof',
  dpop_wrong_key: 'invalid_dpop_proof',
  use_dpop_nonce: 'use_dpop_nonce',
  bound_token_as_bearer: 'invalid_token',
  dpop_origin_unknown: 'invalid_token',
};

const SAFE_REALM = /^[A-Za-z0-9._:-]{1,64}$/;

/** RFC 6750 §3 answer for a failed verification, from fixed vocabulary only. */
export function refusal(err: unknown, options: GuardOptions & { dpopAlgs?: readonly string[] } = {}): Refusal {
  const realm = options.realm !== undefined && SAFE_REALM.test(options.realm) ? options.realm : 'zgw';
  const te =
    err instanceof TokenError
      ? err
      : new TokenError('keys_unavailable', 'token could not be verified right now', { authenticated: true });
  const code =
    te.code === 'missing_token' || te.code === 'keys_unavailable' || te.authenticated ? te.code : 'invalid_token';
  const unavailable = code === 'keys_unavailable' || code === 'replay_cache_full';
  const status = code === 'insufficient_scope' ? 403 : unavailable ? 503 : 401;
  const dpopError = DPOP_ERRORS[code as TokenErrorCode];
  const oauthError = dpopError ?? (status === 403 ? 'insufficient_scope' : 'invalid_token');
  const description =
    code === 'missing_token'
      ? 'no bearer token: send Authorization: Bearer <token>'
      : unavailable
        ? 'the token cannot be verified right now; retry shortly'
        : (DESCRIPTIONS[code as TokenErrorCode] ?? NOT_AUTHENTIC);
  const scopes =
    status === 403 && options.scopes?.every((s) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
      ? `, scope="${options.scopes.join(' ')}"`
      : '';
  const algs = (options.dpopAlgs ?? []).filter((a) => /^[A-Za-z0-9]+$/.test(a)).join(' ');
  const challenge =
    code === 'missing_token'
      ? `Bearer realm="${realm}"`
      : dpopError
        ? `DPoP realm="${realm}", error="${oauthError}", error_description="${description}"${algs ? `, algs="${algs}"` : ''}`
        : `Bearer realm="${realm}", error="${oauthError}", error_description="${description}"${scopes}`;
  const headers: Record<string, string> = { 'www-authenticate': challenge, 'cache-control': 'no-store' };
  // RFC 9449 §8: the nonce to put in the next proof. Ours is base64url and a dot; anything else is not sent.
  if (code === 'use_dpop_nonce' && te.dpopNonce !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(te.dpopNonce))
    headers['dpop-nonce'] = te.dpopNonce;
  if (status === 503) headers['retry-after'] = '1';
  if (options.problemJson) {
    headers['content-type'] = 'application/problem+json';
    const title = status === 403 ? 'Insufficient scope' : status === 503 ? 'Service unavailable' : 'Not authenticated';
    return {
      status,
      headers,
      body: JSON.stringify({ type: `urn:zgw-auth:error:${code}`, code, title, status, detail: description }),
    };
  }
  headers['content-type'] = 'application/json';
  return {
    status,
    headers,
    body: JSON.stringify({
      error: code === 'missing_token' ? 'invalid_request' : oauthError,
      error_description: description,
      code,
    }),
  };
}

/**
 * Verifies and checks scopes; throws TokenError('insufficient_scope') when a scope is missing. With
 * an Authorization header alone a sender-constrained token is refused: pass the request (or call
 * `verifier.verifyRequest`) to have its proof of possession checked.
 */
export function authorize(
  verifier: Verifier,
  authorization: string | undefined | PresentedRequest,
  scopes: string[] = [],
): Promise<Principal> {
  return typeof authorization === 'object'
    ? verifier.verifyRequest(authorization, scopes)
    : verifier.verify(authorization, scopes);
}

/**
 * What a node:http request presents: its Authorization and DPoP headers, method, the URLs the
 * client may have called (each `publicOrigin` with the path; none without it, never from the Host
 * header) and its client certificate (the TLS connection's, or a trusted proxy's header).
 */
export function presentedRequest(
  req: IncomingMessage & { originalUrl?: string },
  options: Pick<GuardOptions, 'publicOrigin' | 'certificateHeader'> = {},
): PresentedRequest {
  const path = req.originalUrl ?? req.url ?? '/';
  const at = (origin: string) => `${origin.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
  const origins = options.publicOrigin;
  return {
    authorization: req.headers.authorization,
    dpop: req.headersDistinct?.dpop ?? req.headers.dpop,
    method: req.method ?? 'GET',
    url: origins === undefined ? undefined : typeof origins === 'string' ? at(origins) : origins.map(at),
    certificate: clientCertificate(req, options.certificateHeader),
  };
}

/**
 * A guard's options, checked once when it is made: every `publicOrigin` an http(s) origin (a path
 * prefix allowed, no query, fragment or credentials), and one at all where the verifier was given
 * `dpop` options: such an API means to take DPoP-bound tokens and could check none of them.
 */
function checkGuardOptions(verifier: Pick<Verifier, 'sender'>, options: GuardOptions): void {
  const origins =
    options.publicOrigin === undefined
      ? []
      : typeof options.publicOrigin === 'string'
        ? [options.publicOrigin]
        : options.publicOrigin;
  for (const origin of origins) {
    let u: URL | undefined;
    try {
      u = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash || u.username || u.password)
      throw new TypeError(
        `publicOrigin "${String(origin).slice(0, 100)}" is not an http(s) origin such as https://zaken.example.nl`,
      );
  }
  if (origins.length === 0 && verifier.sender.dpopConfigured)
    throw new TypeError(
      "publicOrigin is required to accept DPoP-bound tokens: give the origin clients call this API at (https://zaken.example.nl), which a DPoP proof's htu must name; it is never read from the Host header",
    );
}

/** Whether the process was warned that a guard without publicOrigin refused a DPoP-bound token. */
let warnedNoOrigin = false;

const trustedProxyChecks = new WeakMap<readonly string[], (address: string | undefined) => boolean>();

function clientCertificate(req: IncomingMessage, header: GuardOptions['certificateHeader']): Buffer | undefined {
  if (header) {
    let trusted = trustedProxyChecks.get(header.trustedProxies);
    if (!trusted) trustedProxyChecks.set(header.trustedProxies, (trusted = addressMatcher(header.trustedProxies)));
    // From anyone but the proxy the header is the caller's own writing: ignored.
    if (trusted(req.socket?.remoteAddress)) {
      const value = req.headers[header.name.toLowerCase()];
      return certificateFromHeader(typeof value === 'string' ? value : undefined, header.format);
    }
  }
  const socket = req.socket as Partial<TLSSocket> | undefined;
  if (!socket?.encrypted || typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  return raw && raw.length > 0 ? raw : undefined;
}

/**
 * RFC 9449 §9: a request that proved a DPoP key, at an API that asks for server nonces, is answered
 * with the nonce for the caller's next proof (`DPoP-Nonce`), as a refusal for want of one is.
 */
export function nextDpopNonce(verifier: Pick<Verifier, 'sender'>, principal: Principal): string | undefined {
  return principal.confirmation?.jkt === undefined ? undefined : verifier.sender.dpop.currentNonce();
}

function report(options: GuardOptions, err: unknown, request: IncomingMessage): void {
  if (err instanceof TokenError && err.code === 'dpop_origin_unknown' && !warnedNoOrigin) {
    warnedNoOrigin = true;
    process.emitWarning(
      'a DPoP-bound token was refused: this API is not configured with publicOrigin, the origin clients call it at, without which no DPoP proof can be checked',
      { code: 'ZGW_AUTH_NO_PUBLIC_ORIGIN' },
    );
  }
  if (!options.onRefusal || !(err instanceof TokenError)) return;
  try {
    options.onRefusal(err, request);
  } catch {
    // The hook is the API's; its failure must not change the answer.
  }
}

type Next = (err?: unknown) => void;

/**
 * Connect/Express middleware (also usable from a plain node:http handler): sets `req.principal`
 * on success, answers 401/403 per RFC 6750 otherwise. Never throws, whatever the request holds.
 */
export function requireToken(verifier: Verifier, options: GuardOptions = {}) {
  checkGuardOptions(verifier, options);
  return (req: IncomingMessage & { principal?: Principal }, res: ServerResponse, next: Next): void => {
    let verifying: Promise<Principal>;
    try {
      verifying = verifier.verifyRequest(presentedRequest(req, options), options.scopes);
    } catch (err) {
      verifying = Promise.reject(err);
    }
    verifying.then(
      (principal) => {
        req.principal = principal;
        const nonce = nextDpopNonce(verifier, principal);
        if (nonce !== undefined && !res.headersSent) res.setHeader('dpop-nonce', nonce);
        next();
      },
      (err: unknown) => {
        report(options, err, req);
        const r = refusal(err, { ...options, dpopAlgs: verifier.sender.dpop.algorithms });
        try {
          if (!res.headersSent) res.writeHead(r.status, r.headers);
          res.end(r.body);
        } catch {
          res.destroy();
        }
      },
    );
  };
}

/** The part of a Fastify instance the plugin uses; loose so any Fastify 4/5 instance fits without a dependency. */
interface FastifyLike {
  decorateRequest(name: string, value: unknown): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addHook(name: 'onRequest', hook: (request: any, reply: any) => Promise<unknown>): unknown;
}

/**
 * Fastify plugin: every route in the scope it is registered in requires a valid token;
 * `request.principal` holds the caller. Register with `{ verifier, scopes?, problemJson?, onRefusal? }`.
 */
export async function zgwAuthFastify(
  fastify: FastifyLike,
  options: GuardOptions & { verifier: Verifier },
): Promise<void> {
  checkGuardOptions(options.verifier, options);
  fastify.decorateRequest('principal', null);
  fastify.addHook(
    'onRequest',
    async (
      request: { headers: IncomingMessage['headers']; raw: IncomingMessage; principal?: Principal },
      reply: {
        code(n: number): { headers(h: Record<string, string>): { send(b: string): unknown } };
        header(name: string, value: string): unknown;
      },
    ) => {
      try {
        request.principal = await options.verifier.verifyRequest(
          presentedRequest(request.raw, options),
          options.scopes,
        );
        const nonce = nextDpopNonce(options.verifier, request.principal);
        if (nonce !== undefined) reply.header('dpop-nonce', nonce);
      } catch (err) {
        report(options, err, request.raw);
        const r = refusal(err, { ...options, dpopAlgs: options.verifier.sender.dpop.algorithms });
        return reply.code(r.status).headers(r.headers).send(r.body);
      }
      return undefined;
    },
  );
}

// Like fastify-plugin: the hook applies to the scope the plugin is registered in, not a child scope.
(zgwAuthFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
