/**
 * The decision at the HTTP edge, after `requireToken` (or the Fastify plugin) set the principal:
 * Connect/Express middleware, a Fastify preHandler, and the ZGW `Fout` a refusal is answered with.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Refusal } from './adapters.js';
import { type Autorisaties, AutorisatieRefused } from './autorisaties.js';
import type { ObjectFacts, ScopeRequirement } from './decide.js';
import type { Principal } from './verifier.js';

/** What vng-api-common (the reference implementations, Open Zaak) answers a refused operation with. */
export const PERMISSION_DENIED_TITLE = 'Je hebt geen toestemming om deze actie uit te voeren.';
const UNAVAILABLE_TITLE = 'Dienst niet beschikbaar.';
const UNAVAILABLE_DETAIL = 'De autorisaties konden niet worden opgehaald; probeer het zo opnieuw.';

/**
 * The answer to a refusal as a ZGW `Fout` (application/problem+json): 403 `permission_denied`
 * for a client without the rights, 503 `service_unavailable` with Retry-After when the
 * autorisaties cannot be read; anything else that is not an AutorisatieRefused counts as the latter.
 * Fixed text only: the precise reason is `err.reason`, for the API's log.
 */
export function autorisatieRefusal(err: unknown): Refusal {
  const status = err instanceof AutorisatieRefused ? err.status : 503;
  const [code, title, detail] =
    status === 403
      ? ['permission_denied', PERMISSION_DENIED_TITLE, PERMISSION_DENIED_TITLE]
      : ['service_unavailable', UNAVAILABLE_TITLE, UNAVAILABLE_DETAIL];
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  };
  if (status === 503) headers['retry-after'] = '1';
  return {
    status,
    headers,
    body: JSON.stringify({
      type: `urn:zgw-auth:error:${code}`,
      code,
      title,
      status,
      detail,
      instance: `urn:uuid:${crypto.randomUUID()}`,
    }),
  };
}

export interface AutorisatieGuardOptions<R> {
  component: string;
  scopes: readonly ScopeRequirement[];
  /**
   * `'any'` for an operation on no particular object (a list: filter it with `visible`; a create
   * before its body is read), or the object's facts read from the request. A function that returns
   * undefined refuses (answer 404 before the guard when the object does not exist). For an object
   * your handler loads, call `autorisaties.check` there and answer `autorisatieRefusal(err)`.
   */
  object: 'any' | ((request: R) => ObjectFacts | undefined | Promise<ObjectFacts | undefined>);
  /** Called with every refusal (its `reason`) and the request, before the answer is sent. Whatever it throws is ignored. */
  onRefusal?: (err: AutorisatieRefused, request: R) => void;
}

function checkOptions<R>(options: AutorisatieGuardOptions<R>): void {
  if (typeof options.component !== 'string' || options.component === '')
    throw new TypeError('an autorisatie guard needs the component (zrc, drc, ztc, brc, nrc, ac, ...)');
  if (!Array.isArray(options.scopes) || options.scopes.length === 0)
    throw new TypeError('an autorisatie guard needs the scopes the operation requires');
  if (options.object !== 'any' && typeof options.object !== 'function')
    throw new TypeError("an autorisatie guard needs `object`: 'any' or a function that reads the object's facts");
}

/** The guard's decision for one request: resolves when allowed, rejects with AutorisatieRefused. */
async function guard<R>(
  autorisaties: Autorisaties,
  options: AutorisatieGuardOptions<R>,
  principal: Principal | null | undefined,
  request: R,
): Promise<void> {
  if (!principal || typeof principal.clientId !== 'string') throw new AutorisatieRefused('no_principal');
  const object = options.object === 'any' ? 'any' : await options.object(request);
  if (object === undefined || object === null) throw new AutorisatieRefused('object_missing');
  await autorisaties.check(principal, { component: options.component, scopes: options.scopes, object });
}

function report<R>(options: AutorisatieGuardOptions<R>, err: unknown, request: R): void {
  if (!options.onRefusal || !(err instanceof AutorisatieRefused)) return;
  try {
    options.onRefusal(err, request);
  } catch {
    // The hook is the API's; its failure must not change the answer.
  }
}

type Next = (err?: unknown) => void;
type GuardedRequest = IncomingMessage & { principal?: Principal };

/**
 * Connect/Express middleware (also for a plain node:http handler) after `requireToken`: calls
 * `next()` when `req.principal` may do the operation, answers the ZGW `Fout` (403, or 503 when the
 * autorisaties cannot be read) otherwise. An `object` function that throws goes to `next(err)`.
 */
export function requireAutorisatie(autorisaties: Autorisaties, options: AutorisatieGuardOptions<GuardedRequest>) {
  checkOptions(options);
  return (req: GuardedRequest, res: ServerResponse, next: Next): void => {
    guard(autorisaties, options, req.principal, req).then(
      () => next(),
      (err: unknown) => {
        if (!(err instanceof AutorisatieRefused)) return next(err);
        report(options, err, req);
        const r = autorisatieRefusal(err);
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

/**
 * A Fastify request: the hook reads `principal` (set by the plugin), the `object` function whatever
 * it needs (`params`, `body`). Loose, so that Fastify 4 and 5 fit without a dependency.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type FastifyRequestLike = any;
interface FastifyReplyLike {
  code(n: number): { headers(h: Record<string, string>): { send(b: string): unknown } };
}

/**
 * A Fastify `preHandler` (route option or hook) after the `zgwAuthFastify` plugin: passes when
 * `request.principal` may do the operation, answers the ZGW `Fout` otherwise. What an `object`
 * function throws goes to Fastify's error handling.
 */
export function autorisatieHook(autorisaties: Autorisaties, options: AutorisatieGuardOptions<FastifyRequestLike>) {
  checkOptions(options);
  return async (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<unknown> => {
    try {
      await guard(autorisaties, options, (request as { principal?: Principal | null }).principal, request);
    } catch (err) {
      if (!(err instanceof AutorisatieRefused)) throw err;
      report(options, err, request);
      const r = autorisatieRefusal(err);
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
    return undefined;
  };
}
