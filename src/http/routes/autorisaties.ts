import crypto from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '@zgw-auth/verifier';
import { type AcCallerDeps, authorizeAcCaller } from '../../autorisaties/authorize-caller.js';
import { type AcActor, type AutorisatiesService, PAGE_SIZE } from '../../autorisaties/autorisaties-service.js';
import {
  type Applicatie,
  applicatieBody,
  SCOPE_AUTORISATIES_BIJWERKEN,
  SCOPE_AUTORISATIES_LEZEN,
} from '../../autorisaties/model.js';
import { AC_LIMITS, parseApplicatie } from '../../autorisaties/validate.js';
import { type InvalidParam, InvalidParamsError, ValidationError, ZgwAuthError } from '../../errors.js';
import { isGlobalAdministrator } from '../../organisations/administration-policy.js';
import { classifyError } from '../render/classify-error.js';

/** The standard's version this API answers as (1.0.0 and the one field 1.1.0 adds). */
export const AC_API_VERSION = '1.1.0';

/** The organisation of the first administrator: of a caller whose token names none. */
const GLOBAL_RSIN = '000000000';

/** Request bodies up to this size: an applicatie with many autorisaties is larger than other zgw-auth input. */
const AC_BODY_LIMIT = 2 * 1024 * 1024;

export interface AutorisatiesRouteOptions {
  autorisaties: AutorisatiesService;
  caller: Omit<AcCallerDeps, 'autorisaties'>;
  /** Where the resources' `url`s point: read per request, as the issuer may be set once the port is known. */
  publicBase: () => string;
  /** The mount path (ZGW_AUTH_AC_BASE_PATH), as registered as this plugin's prefix. */
  basePath: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    acCaller?: Principal;
  }
  interface FastifyContextConfig {
    /** The AC scope an operation needs; absent: no operation (405 routes), no authorization. */
    acScope?: string;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The ZGW Autorisaties API (standard 1.0, with 1.1's field): GET/POST /applicaties,
 * GET /applicaties/consumer, GET/PUT/PATCH/DELETE /applicaties/{uuid}, nothing else. Thin: reads
 * the request, calls the use case and writes the standard's JSON and `Fout` / `ValidatieFout`.
 */
export const autorisatiesRoutes: FastifyPluginAsync<AutorisatiesRouteOptions> = async (server, options) => {
  const { autorisaties, basePath } = options;
  const resourceUrl = (uuid: string) => `${options.publicBase()}${basePath}/applicaties/${uuid}`;
  const present = (a: Applicatie) => applicatieJson(a, resourceUrl(a.uuid));

  const callerDeps: AcCallerDeps = { ...options.caller, autorisaties };
  server.addHook('onRequest', async (request, reply) => {
    reply.header('API-version', AC_API_VERSION);
    const scope = request.routeOptions.config.acScope;
    if (scope === undefined) return;
    request.acCaller = await authorizeAcCaller(callerDeps, request.headers.authorization, request.ip, scope);
  });

  server.setErrorHandler((err, request, reply) =>
    sendFout(reply, err, (e) => request.log.error({ err: e }, 'Autorisaties API request failed')),
  );
  server.setNotFoundHandler((_request, reply) => {
    reply.header('API-version', AC_API_VERSION);
    return sendFout(reply, new ZgwAuthError('not_found', 'Niet gevonden.'), () => {});
  });

  const actor = (request: FastifyRequest): AcActor => ({
    id: request.acCaller!.clientId,
    address: request.ip,
    // A caller without an organisation is of the global one.
    rsin: request.acCaller!.rsin ?? GLOBAL_RSIN,
    everyOrganisation: isGlobalAdministrator(request.acCaller!),
  });
  const read = { config: { acScope: SCOPE_AUTORISATIES_LEZEN } };
  const write = { config: { acScope: SCOPE_AUTORISATIES_BIJWERKEN }, bodyLimit: AC_BODY_LIMIT };
  const uuidOf = (request: FastifyRequest) => {
    const { uuid } = request.params as { uuid: string };
    if (!UUID.test(uuid)) throw new ZgwAuthError('not_found', 'Niet gevonden.');
    return uuid.toLowerCase();
  };

  server.get('/applicaties', read, async (request) => {
    const query = queryOf(request, ['clientIds', 'page']);
    const page = pageNumber(query.page);
    const clientIds = query.clientIds === undefined ? [] : query.clientIds.split(',').filter((id) => id !== '');
    if (clientIds.length > AC_LIMITS.clientIds)
      throw new InvalidParamsError([
        { name: 'clientIds', code: 'max_length', reason: `At most ${AC_LIMITS.clientIds} client ids.` },
      ]);
    const result = await autorisaties.list(clientIds.length ? { clientIds } : {}, page);
    if (!result) throw new ZgwAuthError('not_found', 'Ongeldige pagina.');
    const pageUrl = (n: number) => {
      const params = new URLSearchParams();
      if (query.clientIds !== undefined) params.set('clientIds', query.clientIds);
      if (n > 1) params.set('page', String(n));
      const qs = params.toString();
      return `${options.publicBase()}${basePath}/applicaties${qs ? `?${qs}` : ''}`;
    };
    return {
      count: result.total,
      next: page * PAGE_SIZE < result.total ? pageUrl(page + 1) : null,
      previous: page > 1 ? pageUrl(page - 1) : null,
      results: result.items.map(present),
    };
  });

  server.post('/applicaties', write, async (request, reply) => {
    const created = await autorisaties.create(parseApplicatie(request.body, true), actor(request));
    const body = present(created);
    return reply.code(201).header('location', body.url).send(body);
  });

  /**
   * The consumer answer as sent, per applicatie and base URL. Keyed by the object the service's
   * cache hands out: every change (of any process, through the change feed) empties that cache, so
   * the next request gets a new object and the answer is made again from the stored applicatie.
   */
  const consumerAnswers = new WeakMap<Applicatie, { base: string; body: string }>();
  // 1.0.x answers with a list holding the one applicatie; a client id in none is 404.
  server.get('/applicaties/consumer', read, async (request, reply) => {
    const { clientId } = queryOf(request, ['clientId']);
    if (clientId === undefined || clientId === '')
      throw new InvalidParamsError([{ name: 'clientId', code: 'required', reason: 'This field is required.' }]);
    if (clientId.length > AC_LIMITS.clientId) throw new ZgwAuthError('not_found', 'Niet gevonden.');
    const found = await autorisaties.consumer(clientId);
    const base = options.publicBase();
    let answer = consumerAnswers.get(found);
    if (answer?.base !== base) {
      answer = { base, body: JSON.stringify([present(found)]) };
      consumerAnswers.set(found, answer);
    }
    return reply.type('application/json; charset=utf-8').send(answer.body);
  });

  server.get('/applicaties/:uuid', read, async (request) => present(await autorisaties.get(uuidOf(request))));
  server.put('/applicaties/:uuid', write, async (request) => {
    const uuid = uuidOf(request);
    return present(await autorisaties.update(uuid, parseApplicatie(request.body, true), actor(request)));
  });
  server.patch('/applicaties/:uuid', write, async (request) => {
    const uuid = uuidOf(request);
    return present(
      await autorisaties.update(uuid, parseApplicatie(request.body, false), actor(request), 'partial_update'),
    );
  });
  server.delete('/applicaties/:uuid', { config: { acScope: SCOPE_AUTORISATIES_BIJWERKEN } }, async (request, reply) => {
    await autorisaties.delete(uuidOf(request), actor(request));
    return reply.code(204).send();
  });

  // No operation the standard does not define: 405 with the methods that are, before authorization.
  const ALL = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  const notAllowed = (path: string, allowed: readonly string[]) =>
    server.route({
      method: ALL.filter((m) => !allowed.includes(m)),
      url: path,
      handler: async (request, reply) => {
        reply.header('allow', allowed.join(', '));
        throw new ZgwAuthError('method_not_allowed', `Methode "${request.method}" niet toegestaan.`);
      },
    });
  notAllowed('/applicaties', ['GET', 'POST']);
  notAllowed('/applicaties/consumer', ['GET']);
  notAllowed('/applicaties/:uuid', ['GET', 'PUT', 'PATCH', 'DELETE']);
};

/** The query string's parameters, each once (the last, as Django reads them); others refused (400). */
function queryOf<K extends string>(request: FastifyRequest, known: readonly K[]): Partial<Record<K, string>> {
  const query = (request.query ?? {}) as Record<string, string | string[]>;
  const unknown = Object.keys(query).filter((k) => !(known as readonly string[]).includes(k));
  if (unknown.length)
    throw new InvalidParamsError([
      {
        name: 'nonFieldErrors',
        code: 'unknown-parameters',
        reason: `Onbekende query parameters: ${unknown
          // Echoed back: printable ASCII only, so a name cannot smuggle controls into a client's display.
          .map((k) => k.slice(0, 40).replace(/[^\x20-\x7e]/g, '?'))
          .join(', ')
          .slice(0, 300)}`,
      },
    ]);
  const out: Partial<Record<K, string>> = {};
  for (const k of known) {
    const v = query[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v[v.length - 1]! : v;
  }
  return out;
}

/** `page` as the reference implementation reads it: a positive whole number, else 404 ("Ongeldige pagina"). */
function pageNumber(raw: string | undefined): number {
  if (raw === undefined) return 1;
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1) throw new ZgwAuthError('not_found', 'Ongeldige pagina.');
  return Number(raw);
}

/** An applicatie as the standard's JSON: per autorisatie only its component's fields. */
function applicatieJson(a: Applicatie, url: string) {
  return { url, ...applicatieBody(a) };
}

/** The standard's `Fout` (and for 400, `ValidatieFout`) for what a route or Fastify threw. */
const FOUT: Partial<Record<string, [code: string, title: string]>> = {
  not_found: ['not_found', 'Niet gevonden.'],
  forbidden: ['permission_denied', 'Je hebt geen toestemming om deze actie uit te voeren.'],
  method_not_allowed: ['method_not_allowed', 'Methode niet toegestaan.'],
  unsupported_media_type: ['unsupported_media_type', 'Ongeldig mediatype.'],
  body_too_large: ['request_too_large', 'Request te groot.'],
  too_many_attempts: ['throttled', 'Te veel verzoeken.'],
  storage_unavailable: ['service_unavailable', 'Dienst niet beschikbaar.'],
};

function sendFout(reply: FastifyReply, thrown: unknown, logUnexpected: (err: unknown) => void): FastifyReply {
  const err = classifyError(thrown);
  const instance = `urn:uuid:${crypto.randomUUID()}`;
  const send = (status: number, code: string, title: string, detail: string, extra: Record<string, unknown> = {}) =>
    reply
      .code(status)
      .type('application/problem+json')
      .send({ type: `urn:zgw-auth:error:${code}`, code, title, status, detail: detail || title, instance, ...extra });
  if (!err || (err.status >= 500 && err.code !== 'storage_unavailable')) {
    logUnexpected(thrown);
    return send(500, 'error', 'Er is een serverfout opgetreden.', 'Er is een serverfout opgetreden.');
  }
  reply.headers(err.headers);
  if (err.status === 400) {
    const parseError = err.code === 'malformed_body' || err.code === 'bad_request';
    const params: readonly InvalidParam[] =
      err instanceof InvalidParamsError
        ? err.invalidParams
        : parseError
          ? [{ name: 'nonFieldErrors', code: 'parse_error', reason: 'De body is geen geldige JSON.' }]
          : [
              {
                name: (err instanceof ValidationError && err.field) || 'nonFieldErrors',
                code: 'invalid',
                reason: err.message.slice(0, 300) || 'Ongeldig.',
              },
            ];
    return send(
      400,
      parseError ? 'parse_error' : 'invalid',
      'Invalid input.',
      parseError ? 'De body is geen geldige JSON.' : 'De invoer is ongeldig.',
      {
        invalidParams: params,
      },
    );
  }
  const [code, title] = FOUT[err.code] ?? [err.code, 'Fout.'];
  return send(err.status, code, title, err.message.slice(0, 300));
}
