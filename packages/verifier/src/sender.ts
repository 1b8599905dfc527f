import { certificateThumbprint } from './certificate.js';
import { extractToken } from './decode.js';
import { sameText } from './digest.js';
import { DpopProofChecker, type DpopOptions } from './dpop.js';
import { TokenError } from './errors.js';

/** A token's `cnf` as this library enforces it: a DPoP key thumbprint, a certificate thumbprint, or both. */
export interface Confirmation {
  /** RFC 9449 §6: SHA-256 thumbprint (RFC 7638) of the DPoP key. */
  jkt?: string;
  /** RFC 8705 §3.1: SHA-256 thumbprint of the client certificate's DER. */
  'x5t#S256'?: string;
}

/** What a request presents besides its token, as `verifyRequest` and `SenderCheck.confirm` need it. */
export interface PresentedRequest {
  /** The Authorization header: `Bearer <token>` or `DPoP <token>`. */
  authorization: string | undefined;
  /** The DPoP header: its value, or every value when sent more than once (then refused). */
  dpop?: string | readonly string[];
  /** The request method, as sent (`GET`). */
  method: string;
  /**
   * The absolute URL the client called: the API's public origin and the path; query and fragment do
   * not count. Several when the API answers at several origins (a proof may name any of them).
   * Without it (or with none) the API does not know where it is called and refuses DPoP-bound
   * tokens (`dpop_origin_unknown`): never derive it from the Host header, which the caller writes.
   */
  url?: string | readonly string[];
  /** DER of the client certificate the TLS connection (or a trusted proxy) presented. */
  certificate?: Buffer;
}

/** How the token came: `DPoP <token>` or `Bearer <token>` (a bare token counts as Bearer). */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

export function readAuthorization(authorization: string | undefined): PresentedToken {
  const dpop = authorization === undefined ? undefined : dpopToken(authorization);
  if (dpop !== undefined) return { scheme: 'DPoP', token: dpop };
  return { scheme: 'Bearer', token: extractToken(authorization) };
}

/**
 * The token of `DPoP <token>` (the scheme in any case, spaces before and after the token), or
 * undefined for any other header. Not a regular expression: one that also checked the token for
 * whitespace read its 400 to 1,000 characters once more than the decoder, which reads them anyway
 * and refuses a token with whitespace as no JWT.
 */
function dpopToken(authorization: string): string | undefined {
  if (
    authorization.length < 6 ||
    (authorization.charCodeAt(0) | 0x20) !== 0x64 || // d, D
    (authorization.charCodeAt(1) | 0x20) !== 0x70 || // p, P
    (authorization.charCodeAt(2) | 0x20) !== 0x6f || // o, O
    (authorization.charCodeAt(3) | 0x20) !== 0x70 ||
    authorization.charCodeAt(4) !== 0x20
  )
    return undefined;
  let start = 5;
  while (authorization.charCodeAt(start) === 0x20) start++;
  let end = authorization.length;
  while (end > start && authorization.charCodeAt(end - 1) === 0x20) end--;
  return start === end ? undefined : authorization.slice(start, end);
}

const refused = (code: ConstructorParameters<typeof TokenError>[0], message: string) =>
  new TokenError(code, message, { authenticated: true });

/**
 * A token's `cnf` claim, checked for shape: undefined when the token is not bound. A `cnf` this
 * library cannot enforce (another confirmation method only) is refused rather than ignored.
 */
export function confirmationOf(cnf: unknown): Confirmation | undefined {
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
    throw refused('invalid_claim', 'the token\'s "cnf" claim must be an object');
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  if ((jkt !== undefined && !thumbprintText(jkt)) || (x5t !== undefined && !thumbprintText(x5t)))
    throw refused('invalid_claim', 'the token\'s "cnf" thumbprints must be base64url SHA-256 values');
  if (jkt === undefined && x5t === undefined)
    throw refused('invalid_claim', 'the token is bound by a confirmation method this verifier does not enforce');
  const out: Confirmation = {};
  if (jkt !== undefined) out.jkt = jkt as string;
  if (x5t !== undefined) out['x5t#S256'] = x5t as string;
  return out;
}

function thumbprintText(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}

/**
 * The proof-of-possession checks for a bound token: the DPoP proof against `cnf.jkt`, the client
 * certificate against `cnf["x5t#S256"]`. Used by `verifyRequest`; an API that verifies tokens
 * through zgw-auth's /introspect calls `confirm` with the `cnf` that answer carries.
 */
export class SenderCheck {
  readonly dpop: DpopProofChecker;
  /** The verifier was given `dpop` options: its API means to take DPoP-bound tokens (guards then need `publicOrigin`). */
  readonly dpopConfigured: boolean;

  constructor(options: DpopOptions = {}, settings: { dpopConfigured?: boolean } = {}) {
    this.dpop = new DpopProofChecker(options);
    this.dpopConfigured = settings.dpopConfigured ?? false;
  }

  /**
   * Resolves when the request proves possession of what `cnf` names; throws (or rejects with) a
   * TokenError otherwise. `cnf` may be the raw claim (e.g. from an introspection answer).
   */
  confirm(cnf: unknown, presented: PresentedToken, request: PresentedRequest): void | Promise<void> {
    return this.confirmChecked(confirmationOf(cnf), presented, request);
  }

  /**
   * `confirm` for a `cnf` that `confirmationOf` made already (a verified token's `confirmation`):
   * its shape is not checked again on every request.
   */
  confirmChecked(
    confirmation: Confirmation | undefined,
    presented: PresentedToken,
    request: PresentedRequest,
  ): void | Promise<void> {
    if (confirmation === undefined || confirmation.jkt === undefined) {
      if (presented.scheme === 'DPoP')
        throw refused('token_not_bound', 'the DPoP scheme is for DPoP-bound tokens; this token is a bearer token');
    }
    if (confirmation === undefined) return;
    const x5t = confirmation['x5t#S256'];
    if (x5t !== undefined) {
      if (!request.certificate)
        throw refused('certificate_missing', 'the token is bound to a client certificate and none was presented');
      if (!sameText(certificateThumbprint(request.certificate), x5t))
        throw refused('certificate_mismatch', 'the token is bound to another client certificate');
    }
    if (confirmation.jkt === undefined) return;
    if (presented.scheme !== 'DPoP')
      throw refused('bound_token_as_bearer', 'the token is DPoP-bound: send it as Authorization: DPoP, with a proof');
    const urls = typeof request.url === 'string' ? [request.url] : (request.url ?? []);
    if (urls.length === 0)
      throw refused(
        'dpop_origin_unknown',
        "this API accepts no DPoP-bound tokens: it does not know the origin it is called at, which a proof's htu must name; configure it (publicOrigin)",
      );
    const checked = this.dpop.check({
      proof: request.dpop,
      method: request.method,
      urls,
      accessToken: presented.token,
      jkt: confirmation.jkt,
    });
    if (checked instanceof Promise) return checked.then(() => undefined);
  }
}
