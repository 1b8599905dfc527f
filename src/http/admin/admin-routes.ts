import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { type Principal, refusal, TokenError } from '@zgw-auth/verifier';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app.js';
import type { Actor } from '../../clients/client-service.js';
import { ADMIN_SCOPE, type ClientInput, type ClientPatch, type SecretInput } from '../../clients/model.js';
import { SIGNING_ALGS, type SigningAlg } from '../../config.js';
import { ValidationError } from '../../errors.js';
import { failureFloor } from '../failure-floor.js';
import { organisationRoutes } from './organisation-routes.js';
import { renderProblem } from '../render/problem.js';
import * as s from './schemas.js';
import { authorizeWithBackoff } from './self-signed-backoff.js';

declare module 'fastify' {
  interface FastifyRequest {
    admin?: Principal;
  }
}

const PROBLEM = 'application/problem+json';

function problem(reply: FastifyReply, status: number, code: string, title: string, detail: string, extra: Record<string, unknown> = {}) {
  return reply
    .code(status)
    .type(PROBLEM)
    .send({ type: `urn:zgw-auth:error:${code}`, code, title, status, detail, ...extra });
}

const actorOf = (request: FastifyRequest): Actor => ({ id: request.admin?.clientId ?? 'unknown', address: request.ip });
type Params = { clientId: string; secretId?: string };

/**
 * The admin API under /admin: clients, secrets, audit and keys. Callers present an access token
 * from our own /token whose client holds the admin scope; errors are RFC 9457 problem documents.
 */
export async function adminRoutes(admin: FastifyInstance, app: App): Promise<void> {
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

  admin.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/admin/docs') || request.url === '/admin/openapi.json') return;
    try {
      // Guessing back-off for HS256 tokens (self-signed-backoff.ts); undefined: 429 already sent.
      const principal = await authorizeWithBackoff(app, request, reply, [ADMIN_SCOPE]);
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
    if (hasControlCharacters(request.params) || hasControlCharacters(request.query) || hasControlCharacters(request.body)) {
      throw new ValidationError('control characters (such as NUL) are not accepted in paths, queries or fields');
    }
  });

  admin.setErrorHandler((error: Error, request, reply) => renderProblem(error, reply, (err) => request.log.error({ err }, 'admin request failed')));

  admin.setNotFoundHandler((request, reply) => problem(reply, 404, 'not_found', 'Not found', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));

  admin.get('/openapi.json', { schema: { hide: true } }, async () => admin.swagger());
  await admin.register(organisationRoutes, { organisations: app.organisations, actorOf });

  admin.get(
    '/clients',
    { schema: { querystring: s.listQuery, response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'Client#' } }, total: { type: 'integer' } } } } } },
    async (request) => {
      const q = request.query as { rsin?: string; enabled?: boolean; q?: string; limit: number; offset: number };
      return app.clients.list(q);
    },
  );

  admin.post(
    '/clients',
    { schema: { body: s.createClientBody, response: { 201: { type: 'object', properties: { client: { $ref: 'Client#' }, secret: s.createdSecretSchema } } } } },
    async (request, reply) => {
      const created = await app.clients.create(request.body as ClientInput, actorOf(request));
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  admin.get('/clients/:clientId', { schema: { params: s.clientIdParams, response: { 200: { $ref: 'Client#' } } } }, async (request) => app.clients.get((request.params as Params).clientId));

  admin.patch(
    '/clients/:clientId',
    {
      schema: {
        params: s.clientIdParams,
        body: s.updateClientBody,
        response: { 200: { type: 'object', properties: { client: { $ref: 'Client#' }, warnings: { type: 'array', items: { type: 'string' } } } } },
      },
    },
    async (request) => app.clients.update((request.params as Params).clientId, request.body as ClientPatch, actorOf(request)),
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    admin.post(`/clients/:clientId/${verb}`, { schema: { params: s.clientIdParams, response: { 200: { $ref: 'Client#' } } } }, async (request) => {
      const { client } = await app.clients.update((request.params as Params).clientId, { enabled }, actorOf(request));
      return client;
    });
  }

  admin.delete('/clients/:clientId', { schema: { params: s.clientIdParams } }, async (request, reply) => {
    await app.clients.delete((request.params as Params).clientId, actorOf(request));
    return reply.code(204).send();
  });

  admin.get('/clients/:clientId/secrets', { schema: { params: s.clientIdParams, response: { 200: { type: 'array', items: { $ref: 'SecretInfo#' } } } } }, async (request) =>
    app.clients.listSecrets((request.params as Params).clientId),
  );

  admin.post('/clients/:clientId/secrets', { schema: { params: s.clientIdParams, body: s.addSecretBody, response: { 201: s.createdSecretSchema } } }, async (request, reply) => {
    const input = (request.body ?? {}) as SecretInput;
    const created = await app.clients.addSecret((request.params as Params).clientId, input, actorOf(request));
    // An imported value is the caller's own; it is not echoed back.
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ ...created, value: input.value === undefined ? created.value : undefined });
  });

  admin.delete(
    '/clients/:clientId/secrets/:secretId',
    { schema: { params: { type: 'object', properties: { clientId: { type: 'string', maxLength: 50 }, secretId: { type: 'string', maxLength: 40 } } }, response: { 200: { $ref: 'SecretInfo#' } } } },
    async (request) => {
      const { clientId, secretId } = request.params as Required<Params>;
      return app.clients.revokeSecret(clientId, secretId, actorOf(request));
    },
  );

  admin.get('/audit', { schema: { querystring: s.auditQuery } }, async (request) => ({ items: await app.audit.list(request.query as Record<string, never>) }));

  admin.get('/keys', async () => ({ items: await app.keys.list() }));

  admin.post(
    '/keys/rotate',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            alg: { type: 'string', enum: [...SIGNING_ALGS] },
            publishDelay: { type: 'integer', minimum: 0, maximum: 86_400 },
            now: { type: 'boolean', description: 'Emergency: sign at once (publishDelay 0); verifiers caching the JWKS refuse new tokens until they refetch.' },
          },
        },
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as { alg?: SigningAlg; publishDelay?: number; now?: boolean };
      if (body.now && body.publishDelay !== undefined) throw new ValidationError('give now or publishDelay, not both');
      const delay = body.now ? 0 : (body.publishDelay ?? app.config.keyPublishDelay);
      const result = await app.keys.rotate(body.alg ?? app.config.signingAlg, delay, app.config.maxTokenLifetime);
      await app.audit.record({ actor: actorOf(request).id, address: request.ip, action: 'key.rotated', target: result.kid, details: result });
      return result;
    },
  );
}

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function hasControlCharacters(value: unknown): boolean {
  if (typeof value === 'string') return CONTROL.test(value);
  if (value === null || typeof value !== 'object') return false;
  for (const [k, v] of Object.entries(value)) if (CONTROL.test(k) || hasControlCharacters(v)) return true;
  return false;
}
