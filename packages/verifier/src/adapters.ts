import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError, type TokenErrorCode } from './errors.js';
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
}

export interface Refusal {
  status: 401 | 403 | 503;
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
};

const SAFE_REALM = /^[A-Za-z0-9._:-]{1,64}$/;

/** RFC 6750 §3 answer for a failed verification, from fixed vocabulary only. */
export function refusal(err: unknown, options: GuardOptions = {}): Refusal {
  const realm = options.realm !== undefined && SAFE_REALM.test(options.realm) ? options.realm : 'zgw';
  const te =
    err instanceof TokenError
      ? err
      : new TokenError('keys_unavailable', 'token could not be verified right now', { authenticated: true });
  const code =
    te.code === 'missing_token' || te.code === 'keys_unavailable' || te.authenticated ? te.code : 'invalid_token';
  const status = code === 'insufficient_scope' ? 403 : code === 'keys_unavailable' ? 503 : 401;
  const oauthError = status === 403 ? 'insufficient_scope' : 'invalid_token';
  const description =
    code === 'missing_token'
      ? 'no bearer token: send Authorization: Bearer <token>'
      : code === 'keys_unavailable'
        ? 'the token cannot be verified right now; retry shortly'
        : (DESCRIPTIONS[code as TokenErrorCode] ?? NOT_AUTHENTIC);
  const scopes =
    status === 403 && options.scopes?.every((s) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
      ? `, scope="${options.scopes.join(' ')}"`
      : '';
  const challenge =
    code === 'missing_token'
      ? `Bearer realm="${realm}"`
      : `Bearer realm="${realm}", error="${oauthError}", error_description="${description}"${scopes}`;
  const headers: Record<string, string> = { 'www-authenticate': challenge, 'cache-control': 'no-store' };
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

/** Verifies and checks scopes; throws TokenError('insufficient_scope') when a scope is missing. */
export function authorize(
  verifier: Verifier,
  authorization: string | undefined,
  scopes: string[] = [],
): Promise<Principal> {
  return verifier.verify(authorization, scopes);
}

function report(options: GuardOptions, err: unknown, request: IncomingMessage): void {
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
  return (req: IncomingMessage & { principal?: Principal }, res: ServerResponse, next: Next): void => {
    let verifying: Promise<Principal>;
    try {
      verifying = authorize(verifier, req.headers.authorization, options.scopes);
    } catch (err) {
      verifying = Promise.reject(err);
    }
    verifying.then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (err: unknown) => {
        report(options, err, req);
        const r = refusal(err, options);
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
  fastify.decorateRequest('principal', null);
  fastify.addHook(
    'onRequest',
    async (
      request: { headers: IncomingMessage['headers']; raw: IncomingMessage; principal?: Principal },
      reply: { code(n: number): { headers(h: Record<string, string>): { send(b: string): unknown } } },
    ) => {
      try {
        request.principal = await authorize(options.verifier, request.headers.authorization, options.scopes);
      } catch (err) {
        report(options, err, request.raw);
        const r = refusal(err, options);
        return reply.code(r.status).headers(r.headers).send(r.body);
      }
      return undefined;
    },
  );
}

// Like fastify-plugin: the hook applies to the scope the plugin is registered in, not a child scope.
(zgwAuthFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
