import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Principal, refusal, TokenError } from '@zgw-auth/verifier';
import type { FastifyRequest } from 'fastify';
import type { Activity } from '../../audit/activity-report.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Actor, ClientService } from '../../clients/client-service.js';
import { ADMIN_SCOPE } from '../../clients/model.js';
import { holdsControlCharacters } from '../../control-characters.js';
import { ValidationError } from '../../errors.js';
import type { KeyRing } from '../../keys/key-ring.js';
import { type KeyRotationDependencies, rotateKey } from '../../keys/rotate-key.js';
import type { OrganisationService } from '../../organisations/organisation-service.js';
import { failureFloor } from '../failure-floor.js';
import { renderProblem, sendProblem } from '../render/problem.js';
import { activityRoutes } from './activity-routes.js';
import { organisationRoutes } from './organisation-routes.js';
import { schemaError } from './schema-error.js';
import * as s from './schemas.js';
import { type AdminAuthorization, authorizeWithBackoff } from './self-signed-backoff.js';
import { tokenInspectionRoutes } from './token-inspection-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    admin?: Principal;
  }
}

const actorOf = (request: FastifyRequest): Actor => ({ id: request.admin?.clientId ?? 'unknown', address: request.ip });

/** What the admin API works with: the registry, the organisations, the audit trail, the keys, and what checks its callers. */
export interface AdminRouteOptions extends AdminAuthorization {
  clients: Pick<ClientService, 'list' | 'create' | 'get' | 'update' | 'delete' | 'listSecrets' | 'addSecret' | 'revokeSecret'>;
  organisations: OrganisationService;
  audit: Pick<AuditLog, 'list' | 'record'>;
  keys: Pick<KeyRing, 'list' | 'rotate'>;
  /** The defaults of a key rotation. */
  config: KeyRotationDependencies['config'];
  activity: Pick<Activity, 'report'>;
  now: () => number;
}

/**
 * The admin API under /admin: clients, secrets, organisations, audit and keys. Callers present an access token
 * from our own /token whose client holds the admin scope; errors are RFC 9457 problem documents.
 * Each route parses (the schemas in schemas.ts), calls one registry or use-case method, and renders.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRouteOptions> = async (admin, options) => {
  const { clients, organisations, audit, keys, config } = options;
  await admin.register(swagger, {
    openapi: {
      info: { title: 'zgw-auth admin API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  // indexPrefix: the page at /admin/docs (no slash) links its assets absolutely, and without this
  // prefix those links miss /admin (a blank page).
  await admin.register(swaggerUi, { routePrefix: '/docs', indexPrefix: '/admin' });
  for (const schema of [s.clientSchema, s.secretInfoSchema, s.problemSchema]) admin.addSchema(schema);
  admin.setSchemaErrorFormatter(schemaError);

  admin.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/admin/docs') || request.url === '/admin/openapi.json') return;
    try {
      // Guessing back-off for HS256 tokens (self-signed-backoff.ts); undefined: 429 already sent.
      const principal = await authorizeWithBackoff(options, request, reply, [ADMIN_SCOPE]);
      if (!principal) return reply;
      if (principal.kind !== 'oauth2') throw new TokenError('alg_not_allowed', 'the admin API needs a token from the token endpoint', { authenticated: true });
      request.admin = principal;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      // The precise reason is for the operator; the caller sees it only once its token proved authentic.
      request.log.info({ refused: err.code, reason: err.message }, 'admin API: token refused');
      if (!err.authenticated) await failureFloor(reply);
      const r = refusal(err, { problemJson: true, scopes: [ADMIN_SCOPE], realm: 'zgw-auth-admin' });
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
  });

  // No admin field holds NUL or other control characters (tab and line breaks aside): refused
  // here alike on SQLite and PostgreSQL, which could not store NUL.
  admin.addHook('preValidation', async (request) => {
    const text = { text: true };
    if (holdsControlCharacters(request.params, text) || holdsControlCharacters(request.query, text) || holdsControlCharacters(request.body, text)) {
      throw new ValidationError('control characters (such as NUL) are not accepted in paths, queries or fields');
    }
  });

  admin.setErrorHandler((error: Error, request, reply) => renderProblem(error, reply, (err) => request.log.error({ err }, 'admin request failed')));

  admin.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not_found', 'Not found', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));

  admin.get('/openapi.json', { schema: { hide: true } }, async () => admin.swagger());
  await admin.register(organisationRoutes, { organisations, actorOf });
  await admin.register(activityRoutes, { activity: options.activity });
  await admin.register(tokenInspectionRoutes, { verifier: options.verifier, guessing: options, clients, now: options.now });

  admin.get('/clients', { schema: { querystring: s.listQuery, response: { 200: s.clientPage } } }, async (request) => {
    // The schema's defaults are applied before this runs; these only satisfy the type.
    const { limit = s.PAGE.default, offset = 0, ...filter } = request.query;
    return clients.list({ ...filter, limit, offset });
  });

  admin.post('/clients', { schema: { body: s.createClientBody, response: { 201: s.createdClientSchema } } }, async (request, reply) => {
    const created = await clients.create(request.body, actorOf(request));
    return reply.code(201).header('cache-control', 'no-store').send(created);
  });

  admin.get('/clients/:clientId', { schema: { params: s.clientIdParams, response: { 200: s.clientRef } } }, async (request) => clients.get(request.params.clientId));

  admin.patch('/clients/:clientId', { schema: { params: s.clientIdParams, body: s.updateClientBody, response: { 200: s.clientWithWarnings } } }, async (request) =>
    clients.update(request.params.clientId, request.body, actorOf(request)),
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    admin.post(`/clients/:clientId/${verb}`, { schema: { params: s.clientIdParams, response: { 200: s.clientRef } } }, async (request) => {
      const { client } = await clients.update(request.params.clientId, { enabled }, actorOf(request));
      return client;
    });
  }

  admin.delete('/clients/:clientId', { schema: { params: s.clientIdParams } }, async (request, reply) => {
    await clients.delete(request.params.clientId, actorOf(request));
    return reply.code(204).send();
  });

  admin.get('/clients/:clientId/secrets', { schema: { params: s.clientIdParams, response: { 200: s.secretInfoList } } }, async (request) => clients.listSecrets(request.params.clientId));

  admin.post('/clients/:clientId/secrets', { schema: { params: s.clientIdParams, body: s.addSecretBody, response: { 201: s.createdSecretSchema } } }, async (request, reply) => {
    const created = await clients.addSecret(request.params.clientId, request.body, actorOf(request));
    // An imported value is the caller's own; it is not echoed back.
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ ...created, value: request.body.value === undefined ? created.value : undefined });
  });

  admin.delete('/clients/:clientId/secrets/:secretId', { schema: { params: s.secretParams, response: { 200: s.secretInfoRef } } }, async (request) =>
    clients.revokeSecret(request.params.clientId, request.params.secretId, actorOf(request)),
  );

  admin.get('/audit', { schema: { querystring: s.auditQuery, response: { 200: s.auditPage } } }, async (request) => ({ items: await audit.list(request.query) }));

  admin.get('/keys', { schema: { response: { 200: s.keyList } } }, async () => ({ items: await keys.list() }));

  admin.post('/keys/rotate', { schema: { body: s.rotateKeyBody, response: { 200: s.keyRotationSchema } } }, async (request) =>
    rotateKey({ keys, audit, config }, request.body ?? {}, actorOf(request)),
  );
};
