import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenError } from './errors.js';
import type { Principal, Verifier } from './verifier.js';

export interface GuardOptions {
  /** Scopes the token must all carry; otherwise 403 insufficient_scope. */
  scopes?: string[];
  /** Answer refusals as application/problem+json (RFC 9457), the way ZGW APIs do. */
  problemJson?: boolean;
  realm?: string;
}

export interface Refusal {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: string;
}

const quote = (s: string) => s.replace(/["\\]/g, "'").replace(/[\r\n]/g, ' ');

/** RFC 6750 §3 answer for a failed verification. */
export function refusal(err: unknown, options: GuardOptions = {}): Refusal {
  const realm = options.realm ?? 'zgw';
  const te = err instanceof TokenError ? err : new TokenError('keys_unavailable', 'token could not be verified right now');
  const status = te.code === 'insufficient_scope' ? 403 : te.code === 'keys_unavailable' ? 503 : 401;
  const oauthError = status === 403 ? 'insufficient_scope' : 'invalid_token';
  const challenge =
    te.code === 'missing_token'
      ? `Bearer realm="${realm}"`
      : `Bearer realm="${realm}", error="${oauthError}", error_description="${quote(te.message)}"` + (status === 403 && options.scopes ? `, scope="${options.scopes.join(' ')}"` : '');
  const headers: Record<string, string> = { 'www-authenticate': challenge, 'cache-control': 'no-store' };
  if (options.problemJson) {
    headers['content-type'] = 'application/problem+json';
    const title = status === 403 ? 'Insufficient scope' : status === 503 ? 'Service unavailable' : 'Not authenticated';
    return { status, headers, body: JSON.stringify({ type: `urn:zgw-auth:error:${te.code}`, code: te.code, title, status, detail: te.message }) };
  }
  headers['content-type'] = 'application/json';
  return { status, headers, body: JSON.stringify({ error: te.code === 'missing_token' ? 'invalid_request' : oauthError, error_description: te.message, code: te.code }) };
}

/** Verifies and checks scopes; throws TokenError('insufficient_scope') when a scope is missing. */
export async function authorize(verifier: Verifier, authorization: string | undefined, scopes: string[] = []): Promise<Principal> {
  const principal = await verifier.verify(authorization);
  const missing = scopes.filter((s) => !principal.scopes.includes(s));
  if (missing.length) throw new TokenError('insufficient_scope', `token lacks scope ${missing.join(' ')}`);
  return principal;
}

type Next = (err?: unknown) => void;

/**
 * Connect/Express middleware (also usable from a plain node:http handler): sets `req.principal`
 * on success, answers 401/403 per RFC 6750 otherwise.
 */
export function requireToken(verifier: Verifier, options: GuardOptions = {}) {
  return (req: IncomingMessage & { principal?: Principal }, res: ServerResponse, next: Next): void => {
    authorize(verifier, req.headers.authorization, options.scopes).then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (err: unknown) => {
        const r = refusal(err, options);
        res.writeHead(r.status, r.headers).end(r.body);
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
 * `request.principal` holds the caller. Register with `{ verifier, scopes?, problemJson? }`.
 */
export async function zgwAuthFastify(fastify: FastifyLike, options: GuardOptions & { verifier: Verifier }): Promise<void> {
  fastify.decorateRequest('principal', null);
  fastify.addHook('onRequest', async (request: { headers: IncomingMessage['headers']; principal?: Principal }, reply: { code(n: number): { headers(h: Record<string, string>): { send(b: string): unknown } } }) => {
    try {
      request.principal = await authorize(options.verifier, request.headers.authorization, options.scopes);
    } catch (err) {
      const r = refusal(err, options);
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
    return undefined;
  });
}

// Like fastify-plugin: the hook applies to the scope the plugin is registered in, not a child scope.
(zgwAuthFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
