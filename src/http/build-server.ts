import crypto from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { App } from '../app.js';
import { isRejectedInput } from '../storage/input-errors.js';
import { isUnavailable } from '../storage/unavailable-errors.js';
import { addressGroup } from '../limits/address.js';
import { adminRoutes } from './admin/admin-routes.js';
import { failureFloor } from './failure-floor.js';
import { registerFormParsers } from './form-body.js';
import { OAuthError, sendOAuthError } from './oauth-errors.js';
import { discoveryRoutes } from './routes/discovery.js';
import { operationsRoutes } from './routes/operations.js';
import { introspectRoute } from './routes/introspect.js';
import { revokeRoute } from './routes/revoke.js';
import { tokenRoute } from './routes/token.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The HTTP server. Thin: routes parse, call the app's services and render; the OAuth endpoints
 * live in their own encapsulated scope with form parsers and an RFC 6749 error renderer.
 */
export async function buildServer(app: App): Promise<FastifyInstance> {
  const server = Fastify({
    loggerInstance: app.log as FastifyBaseLogger,
    trustProxy: trustedProxies(app.config.trustProxy),
    bodyLimit: 64 * 1024,
    // The caller's X-Request-Id is kept only when short and plain, as it goes into every log line.
    requestIdHeader: false,
    genReqId: (req) => {
      const sent = req.headers['x-request-id'];
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
    },
    return503OnClosing: true,
    // Node checks these every connectionsCheckingInterval (30 s by default): check every second.
    requestTimeout: app.config.requestTimeout * 1000,
    http: { headersTimeout: app.config.headersTimeout * 1000, connectionsCheckingInterval: 1000 },
    // Through logController: the top-level disableRequestLogging prints a deprecation warning on every start.
    logController: new LogController({ disableRequestLogging: !app.config.accessLog }),
    routerOptions: { maxParamLength: 200 },
    // Unknown fields are refused, not silently dropped: a typo must not look like success.
    ajv: { customOptions: { removeAdditional: false } },
  });

  if (typeof app.config.trustProxy === 'number') {
    app.log.warn({ hops: app.config.trustProxy }, 'ZGW_AUTH_TRUST_PROXY is a hop count: safe only when nothing but those proxies can reach zgw-auth; prefer their addresses');
  }

  // Callback form: no promise per request on the hot path.
  server.addHook('onResponse', (request, reply, done) => {
    app.metrics.requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode }, reply.elapsedTime / 1000);
    done();
  });

  await server.register(async (oauth) => {
    registerFormParsers(oauth);
    oauth.setErrorHandler(async (err: FastifyError | OAuthError, request, reply) => {
      if (err instanceof OAuthError && err.status === 401) await failureFloor(reply);
      const sent = renderOAuthError(err, reply, (e) => request.log.error({ err: e }, 'request failed'));
      if (request.routeOptions.url === '/token') app.metrics.tokensRefused.inc({ reason: err instanceof OAuthError ? err.error : reply.statusCode >= 500 ? 'server_error' : 'invalid_request' });
      return sent;
    });
    tokenRoute(oauth, app);
    // One per-address (IPv6: per /64) request budget shared by the endpoints that test tokens.
    await oauth.register(async (tokenChecks) => {
      await tokenChecks.register(rateLimit, {
        max: app.config.introspectionRateLimit,
        timeWindow: 1000,
        keyGenerator: (request) => addressGroup(request.ip),
        // Shared through Redis when configured; while Redis is away the limit is skipped, not the request.
        ...(app.redis ? { redis: app.redis, skipOnError: true, nameSpace: 'zgw-auth:rate:' } : {}),
        onExceeded: () => app.metrics.rateLimitHits.inc({ limit: 'per_address' }),
        errorResponseBuilder: (_request, ctx) =>
          new OAuthError('temporarily_unavailable', `too many requests from this address; retry after ${Math.ceil(ctx.ttl / 1000)} s`, 429, { 'retry-after': String(Math.ceil(ctx.ttl / 1000)) }),
      });
      introspectRoute(tokenChecks, app);
      revokeRoute(tokenChecks, app);
    });
  });

  discoveryRoutes(server, app);
  operationsRoutes(server, app);
  await server.register(adminRoutes, { prefix: '/admin', clients: app.clients, audit: app.audit, keys: app.keys, config: app.config, verifier: app.verifier, guard: app.guard, metrics: app.metrics });

  server.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', error_description: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}` }));
  return server;
}

/**
 * Fastify's trustProxy for the setting: addresses/CIDRs as given; a hop count as "the n nearest
 * hops are proxies" (Fastify itself no longer honours a number), safe only when nothing but those
 * proxies can reach zgw-auth.
 */
function trustedProxies(setting: false | number | string[]): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** Maps anything thrown in an OAuth endpoint to an RFC 6749 §5.2 answer; internals become server_error. */
export function renderOAuthError(err: FastifyError | OAuthError | Error, reply: FastifyReply, logUnexpected: (err: unknown) => void): FastifyReply {
  if (err instanceof OAuthError) return sendOAuthError(reply, err);
  const code = (err as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendOAuthError(reply, new OAuthError('invalid_request', 'unsupported content type: use application/x-www-form-urlencoded or multipart/form-data'));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendOAuthError(reply, new OAuthError('invalid_request', 'request body too large', 413));
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return sendOAuthError(reply, new OAuthError('invalid_request', 'malformed request body'));
  }
  if (isRejectedInput(err)) return sendOAuthError(reply, new OAuthError('invalid_request', 'a parameter holds a value that cannot be stored'));
  const status = (err as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return sendOAuthError(reply, new OAuthError('invalid_request', 'malformed request', status));
  if (isUnavailable(err)) return sendOAuthError(reply, new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable; retry shortly', 503, { 'retry-after': '1' }));
  logUnexpected(err);
  return sendOAuthError(reply, new OAuthError('server_error', 'internal error', 500));
}
