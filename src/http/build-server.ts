import crypto from 'node:crypto';
import fs from 'node:fs';
import type https from 'node:https';
import rateLimit from '#fastify-rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from '#fastify';
import type { App } from '../app.js';
import { OAuthError, ValidationError } from '../errors.js';
import { addressGroup } from '../limits/address.js';
import { introspectToken, type IntrospectTokenDeps } from '../tokens/introspect-token.js';
import { issueToken, type IssueTokenDeps } from '../tokens/issue-token.js';
import { revokeToken, type RevokeTokenDeps } from '../tokens/revoke-token.js';
import { consoleRoutes } from '../console/console-routes.js';
import { adminRoutes } from './admin/admin-routes.js';
import { autorisatiesRoutes } from './routes/autorisaties.js';
import { certificateReader } from './client-certificate.js';
import type { AssertionAudiences } from '../clients/authenticate-client.js';
import { assertionAudiences, endpointPaths } from './endpoint-paths.js';
import { type DeferredSchemas, deferredSchemas } from './deferred-schemas.js';
import { failureFloor } from './failure-floor.js';
import { nonFiniteNumberAt } from './finite-numbers.js';
import { registerFormParsers } from './form-body.js';
import { sendOAuthError, toOAuthErrorResponse, withClientChallenge } from './render/oauth-error.js';
import { discoveryRoutes } from './routes/discovery.js';
import { introspectRoute } from './routes/introspect.js';
import { operationsRoutes } from './routes/operations.js';
import { revokeRoute } from './routes/revoke.js';
import { tokenRoute } from './routes/token.js';
import { traceRequests } from './trace-requests.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

declare module 'fastify' {
  interface FastifyInstance {
    /** The schemas this server compiles on their first request (see deferred-schemas.ts): tests compile them all. */
    deferredSchemas: DeferredSchemas;
  }
}

/**
 * The HTTP server, wired from the app. Thin: each route is a plugin given only what it needs; the
 * OAuth routes parse the form, call one use case and render. The OAuth endpoints live in their own
 * encapsulated scope with form parsers and the RFC 6749 error renderer.
 */
export async function buildServer(app: App): Promise<FastifyInstance> {
  const timeouts = { headersTimeout: app.config.headersTimeout * 1000, connectionsCheckingInterval: 1000 };
  const tls = httpsOptions(app.config);
  const schemas = deferredSchemas();
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
    ...(tls ? { https: { ...tls, ...timeouts } } : { http: timeouts }),
    // Through logController: the top-level disableRequestLogging prints a deprecation warning on every start.
    logController: new LogController({ disableRequestLogging: !app.config.accessLog }),
    routerOptions: { maxParamLength: 200 },
    // Unknown fields are refused, not silently dropped: a typo must not look like success.
    ajv: { customOptions: { removeAdditional: false } },
    // Each route's schemas compiled on its first request, not all of them at every start.
    schemaController: { compilersFactory: schemas.compilersFactory },
  });
  server.decorate('deferredSchemas', schemas);

  // Tracing on (OTEL_TRACES_EXPORTER=otlp): a span per request; first, so that its hooks reach every route.
  if (app.tracing) traceRequests(server as unknown as FastifyInstance, app.tracing);

  // After validation, before every handler: a numeral that overflowed to Infinity passed the schema's bounds.
  // Callback form, like onResponse below: no promise per request.
  server.addHook('preHandler', (request, _reply, done) => {
    for (const part of [request.params, request.query, request.body]) {
      const at = nonFiniteNumberAt(part);
      if (at !== undefined)
        return done(
          new ValidationError(`${at.slice(0, 100) || 'the value'} must be a finite number`, at.slice(0, 100)),
        );
    }
    done();
  });

  if (typeof app.config.trustProxy === 'number') {
    app.log.warn(
      { hops: app.config.trustProxy },
      'ZGW_AUTH_TRUST_PROXY is a hop count: safe only when nothing but those proxies can reach zgw-auth; prefer their addresses',
    );
  }

  // Callback form: no promise per request on the hot path.
  server.addHook('onResponse', (request, reply, done) => {
    app.metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    done();
  });

  // Fixed at start: the issuer's path (and Keycloak's paths under it) cannot change while serving.
  const paths = endpointPaths(app.config);
  // The use cases, each given only the parts of the app it works with.
  // The issuer may be set once the port is known (as discovery reads it): the audiences follow it.
  let audiences = { issuer: '', sets: {} as AssertionAudiences };
  const authentication = {
    authenticator: app.authenticator,
    guard: app.guard,
    metrics: app.metrics,
    audiences: () => {
      if (audiences.issuer !== app.config.issuer)
        audiences = { issuer: app.config.issuer, sets: assertionAudiences(app.config.issuer, paths) };
      return audiences.sets;
    },
    ...(app.trust ? { trust: app.trust } : {}),
    ...(app.tracing ? { tracing: app.tracing } : {}),
  };
  // Client certificates: of this server's own TLS connections, or from a trusted proxy's header.
  const certificateOf = tls || app.config.clientCertHeader ? certificateReader(app.config) : undefined;
  const issuing: IssueTokenDeps = { ...authentication, issuer: app.issuer, audit: app.audit, dpop: app.dpop };
  const introspection: IntrospectTokenDeps = { ...authentication, config: app.config, verifier: app.verifier };
  const revocation: RevokeTokenDeps = {
    ...authentication,
    verifier: app.verifier,
    revocations: app.revocations,
    audit: app.audit,
  };
  const tokenPaths = new Set(paths.token);
  // Read per request: the issuer may be set once the port is known.
  let tokenUrlsOf: { issuer: string; urls: string[] } | undefined;
  const tokenUrls = () => {
    const issuer = app.config.issuer;
    if (tokenUrlsOf?.issuer !== issuer)
      tokenUrlsOf = { issuer, urls: paths.token.map((path) => new URL(issuer).origin + path) };
    return tokenUrlsOf.urls;
  };

  await server.register(async (oauth) => {
    registerFormParsers(oauth);
    oauth.setErrorHandler(async (err, request, reply) => {
      const response = withClientChallenge(
        toOAuthErrorResponse(err, (e) => request.log.error({ err: e }, 'request failed')),
        request.headers.authorization,
      );
      if (response.status === 401) await failureFloor(reply);
      if (tokenPaths.has(request.routeOptions.url ?? '')) app.metrics.tokensRefused.inc({ reason: response.error });
      return sendOAuthError(reply, response);
    });
    await oauth.register(tokenRoute, {
      issueToken: (request) => issueToken(issuing, request),
      paths: paths.token,
      keycloakPaths: paths.keycloak,
      tokenUrls,
      certificateOf,
    });
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
          new OAuthError(
            'temporarily_unavailable',
            `too many requests from this address; retry after ${Math.ceil(ctx.ttl / 1000)} s`,
            {
              status: 429,
              headers: { 'retry-after': String(Math.ceil(ctx.ttl / 1000)) },
            },
          ),
      });
      await tokenChecks.register(introspectRoute, {
        introspectToken: (request) => introspectToken(introspection, request),
        paths: paths.introspect,
        keycloakPaths: paths.keycloak,
        certificateOf,
      });
      await tokenChecks.register(revokeRoute, {
        revokeToken: (request) => revokeToken(revocation, request),
        paths: paths.revoke,
        keycloakPaths: paths.keycloak,
        certificateOf,
      });
    });
  });

  await server.register(discoveryRoutes, {
    config: app.config,
    keys: app.keys,
    paths,
    dpopAlgorithms: app.dpop.algorithms,
  });
  await server.register(operationsRoutes, { readiness: app.readiness, metrics: app.metrics });
  await server.register(adminRoutes, {
    prefix: '/admin',
    clients: app.clients,
    organisations: app.organisations,
    audit: app.audit,
    keys: app.keys,
    config: app.config,
    verifier: app.verifier,
    guard: app.guard,
    metrics: app.metrics,
    activity: app.activity,
    expiry: app.expiry,
    autorisaties: app.autorisaties,
    now: app.now,
  });

  // The ZGW Autorisaties API, its callers authorised by its own applicaties.
  let acBase = { issuer: '', origin: '' };
  if (app.config.acEnabled) {
    await server.register(autorisatiesRoutes, {
      prefix: app.config.acBasePath,
      basePath: app.config.acBasePath,
      autorisaties: app.autorisaties,
      caller: { verifier: app.verifier, guard: app.guard, metrics: app.metrics },
      publicBase: () => {
        // Parsed once per issuer, not per request.
        if (acBase.issuer !== app.config.issuer)
          acBase = { issuer: app.config.issuer, origin: new URL(app.config.issuer).origin };
        return acBase.origin;
      },
    });
  }

  // The web console: pages that call the admin API above in this process, with the session's token.
  if (app.config.console) {
    await server.register(consoleRoutes, {
      prefix: '/console',
      config: app.config,
      signIn: { ...authentication, issuer: app.issuer, audit: app.audit, dpop: app.dpop },
      revocations: app.revocations,
      audit: app.audit,
      sessions: app.consoleSessions,
      now: app.now,
      adminApi: server,
    });
  }

  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'not_found',
      error_description: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
    }),
  );
  return server as unknown as FastifyInstance;
}

/**
 * node:https options of the HTTPS listener, read from the files of the settings; undefined for
 * plain HTTP. `optional` asks for a certificate and lets any handshake through (this server then
 * judges the certificate per client and answers OAuth's invalid_client); `required` lets OpenSSL
 * refuse the handshake without a certificate chaining to the client CAs; either way this server
 * checks the chain again, with the CRLs, for each client that authenticates with it.
 */
function httpsOptions(config: App['config']): https.ServerOptions | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ValidationError(`${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const options: https.ServerOptions = {
    cert: read(config.tlsCert, 'ZGW_AUTH_TLS_CERT'),
    key: read(config.tlsKey, 'ZGW_AUTH_TLS_KEY'),
    minVersion: 'TLSv1.2',
  };
  if (config.tlsClientCert === 'off' || !config.tlsClientCa) return options;
  return {
    ...options,
    ca: read(config.tlsClientCa, 'ZGW_AUTH_TLS_CLIENT_CA'),
    requestCert: true,
    // CRLs are checked by zgw-auth along each chain, not by OpenSSL: node's `crl` option makes
    // OpenSSL demand a CRL of every CA in the chain, root's children included.
    rejectUnauthorized: config.tlsClientCert === 'required',
  };
}

/**
 * Fastify's trustProxy for the setting: addresses/CIDRs as given; a hop count as "the n nearest
 * hops are proxies" (Fastify itself no longer honours a number), safe only when nothing but those
 * proxies can reach zgw-auth.
 */
function trustedProxies(
  setting: false | number | string[],
): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}
