import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Principal, refusal, TokenError } from '@zgw-auth/verifier';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Activity } from '../../audit/activity-report.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { AcActor, AutorisatiesService } from '../../autorisaties/autorisaties-service.js';
import { type Applicatie, applicatieBody } from '../../autorisaties/model.js';
import { parseApplicatie } from '../../autorisaties/validate.js';
import type { Actor } from '../../clients/client-service.js';
import {
  ADMIN_SCOPE,
  type ClientAuthMethod,
  type ClientPatch,
  ORG_ADMIN_SCOPE,
  TLS_SUBJECT_FIELDS,
  type TlsSubjectField,
} from '../../clients/model.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { holdsControlCharacters } from '../../control-characters.js';
import type { KeyRing } from '../../keys/key-ring.js';
import { type KeyRotationDependencies, rotateKey } from '../../keys/rotate-key.js';
import {
  type Administrator,
  administersPlatform,
  administratorOf,
  mayReadOrganisation,
} from '../../organisations/administration-policy.js';
import type { CredentialExpiry } from '../../clients/credential-expiry.js';
import { type AdministeredClients, ClientAdministration } from '../../organisations/client-administration.js';
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
    /** Who the caller administers as (administration-policy.ts); set for every route but the documentation. */
    administrator?: Administrator;
  }
}

const actorOf = (request: FastifyRequest): Actor => ({ id: request.admin?.clientId ?? 'unknown', address: request.ip });

const REALM = 'zgw-auth-admin';

type RegistrationNames = {
  token_endpoint_auth_method?: ClientAuthMethod;
  token_endpoint_auth_methods?: ClientAuthMethod[];
  jwks_uri?: string | null;
} & Partial<Record<`tls_client_auth_${TlsSubjectField}`, string>>;

/**
 * The client fields as the registry names them, from a body that may use RFC 7591's and RFC
 * 8705's names instead (token_endpoint_auth_method(s), jwks_uri, tls_client_auth_*): one name per field.
 */
function registrationFields<T extends ClientPatch & RegistrationNames>(body: T): Omit<T, keyof RegistrationNames> {
  const { token_endpoint_auth_method, token_endpoint_auth_methods, jwks_uri, ...rest } = body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (!k.startsWith('tls_client_auth_')) out[k] = v;
  const both = (field: string, given: unknown[]) => {
    if (given.filter((v) => v !== undefined).length > 1)
      throw new ValidationError(`${field} is given twice, under two names`, field);
  };
  both('authMethods', [rest.authMethods, token_endpoint_auth_method, token_endpoint_auth_methods]);
  both('jwksUri', [rest.jwksUri, jwks_uri]);
  const methods = token_endpoint_auth_methods ?? (token_endpoint_auth_method && [token_endpoint_auth_method]);
  if (methods) out.authMethods = methods;
  if (jwks_uri !== undefined) out.jwksUri = jwks_uri;
  const subjects = TLS_SUBJECT_FIELDS.flatMap((field) => {
    const value = (body as Record<string, unknown>)[`tls_client_auth_${field}`];
    return typeof value === 'string' ? [{ field, value }] : [];
  });
  both('tlsSubject', [rest.tlsSubject, ...subjects]);
  if (subjects[0]) out.tlsSubject = subjects[0];
  return out as Omit<T, keyof RegistrationNames>;
}

/** The documentation of the API is public; everything else needs an administrator. */
const isPublic = (request: FastifyRequest) =>
  request.url.startsWith('/admin/docs') || request.url === '/admin/openapi.json';

/** The caller as an administrator: set by the onRequest hook before any route runs. */
function administratorOfRequest(request: FastifyRequest): Administrator {
  if (!request.administrator) throw new ForbiddenError('this request was not authorized as an administrator');
  return request.administrator;
}

/** An RFC 6750 refusal as a problem document; `scopes` name what the route needs. */
function sendRefusal(reply: FastifyReply, err: TokenError, scopes: string[]): FastifyReply {
  const r = refusal(err, { problemJson: true, scopes, realm: REALM });
  return reply.code(r.status).headers(r.headers).send(r.body);
}

/** What the admin API works with: the registry, the organisations, the audit trail, the keys, and what checks its callers. */
export interface AdminRouteOptions extends AdminAuthorization {
  clients: AdministeredClients;
  organisations: OrganisationService;
  audit: Pick<AuditLog, 'list' | 'record'>;
  keys: Pick<KeyRing, 'list' | 'rotate'>;
  /** The defaults of a key rotation. */
  config: KeyRotationDependencies['config'];
  activity: Pick<Activity, 'report'>;
  /** The Autorisaties API's use cases: a client's applicatie, as its administrator manages it. */
  autorisaties: Pick<AutorisatiesService, 'ofClient' | 'saveForClient'>;
  /** Registered credentials expiring soon (ZGW_AUTH_EXPIRY_WARNING). */
  expiry: Pick<CredentialExpiry, 'expiring' | 'windowSeconds'>;
  now: () => number;
}

/**
 * The admin API under /admin: clients, secrets, organisations, audit and keys. Callers present an access token
 * from our own /token whose client holds the admin scope, or the organisation administrator scope for the
 * clients of its own organisation (administration-policy.ts); errors are RFC 9457 problem documents.
 * Each route parses (the schemas in schemas.ts), calls one registry or use-case method, and renders.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRouteOptions> = async (admin, options) => {
  const { organisations, audit, keys, config } = options;
  const clients = new ClientAdministration(options.clients, audit, options.expiry);
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
  for (const schema of [s.clientSchema, s.secretInfoSchema, s.clientKeySchema, s.problemSchema])
    admin.addSchema(schema);
  admin.setSchemaErrorFormatter(schemaError);

  admin.addHook('onRequest', async (request, reply) => {
    if (isPublic(request)) return;
    try {
      // Guessing back-off for HS256 tokens (self-signed-backoff.ts): too_many_attempts (429) while backed off.
      const principal = await authorizeWithBackoff(options, request, []);
      // Global or organisation administrator, from the registry's scopes and RSIN of the caller's client.
      const administrator = administratorOf(principal);
      if (!administrator)
        throw new TokenError('insufficient_scope', `the admin API needs ${ADMIN_SCOPE} or ${ORG_ADMIN_SCOPE}`, {
          authenticated: true,
        });
      if (principal.kind !== 'oauth2')
        throw new TokenError('alg_not_allowed', 'the admin API needs a token from the token endpoint', {
          authenticated: true,
        });
      request.admin = principal;
      request.administrator = administrator;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      // The precise reason is for the operator; the caller sees it only once its token proved authentic.
      request.log.info({ refused: err.code, reason: err.message }, 'admin API: token refused');
      if (!err.authenticated) await failureFloor(reply);
      return sendRefusal(reply, err, [ADMIN_SCOPE]);
    }
  });

  // No admin field holds NUL or other control characters (tab and line breaks aside): refused
  // here alike on SQLite and PostgreSQL, which could not store NUL.
  admin.addHook('preValidation', async (request) => {
    const text = { text: true };
    for (const part of [request.params, request.query, request.body]) {
      if (!holdsControlCharacters(part, text)) continue;
      // The field that holds it, when a top-level one does: the refusal names it as other field errors do.
      const field =
        part && typeof part === 'object'
          ? Object.entries(part).find(
              ([k, v]) => holdsControlCharacters(k, text) || holdsControlCharacters(v, text),
            )?.[0]
          : undefined;
      throw new ValidationError(
        'control characters (such as NUL) are not accepted in paths, queries or fields',
        field !== undefined && /^[A-Za-z]{1,40}$/.test(field) ? field : undefined,
      );
    }
  });

  admin.setErrorHandler((error: Error, request, reply) =>
    renderProblem(error, reply, (err) => request.log.error({ err }, 'admin request failed')),
  );

  admin.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      404,
      'not_found',
      'Not found',
      `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
    ),
  );

  admin.get('/openapi.json', { schema: { hide: true } }, async () => admin.swagger());

  // The platform's: organisations and signing keys, for global administrators only.
  await admin.register(async (platform) => {
    platform.addHook('onRequest', async (request, reply) => {
      const admin = administratorOfRequest(request);
      // An organisation administrator reads its own organisation (the console shows its name), nothing else here.
      const readsOwn =
        request.method === 'GET' &&
        request.routeOptions.url === '/admin/organisations/:rsin' &&
        mayReadOrganisation(admin, (request.params as { rsin?: string }).rsin ?? '');
      if (!administersPlatform(admin) && !readsOwn) {
        return sendRefusal(
          reply,
          new TokenError('insufficient_scope', `${ORG_ADMIN_SCOPE} administers clients only`, { authenticated: true }),
          [ADMIN_SCOPE],
        );
      }
    });
    await platform.register(organisationRoutes, { organisations, actorOf });

    platform.get('/keys', { schema: { response: { 200: s.keyList } } }, async () => ({ items: await keys.list() }));

    platform.post(
      '/keys/rotate',
      { schema: { body: s.rotateKeyBody, response: { 200: s.keyRotationSchema } } },
      async (request) => rotateKey({ keys, audit, config }, request.body ?? {}, actorOf(request)),
    );
  });
  await admin.register(activityRoutes, { activity: options.activity });
  await admin.register(tokenInspectionRoutes, {
    verifier: options.verifier,
    guessing: options,
    clients: options.clients,
    now: options.now,
  });

  admin.get('/clients', { schema: { querystring: s.listQuery, response: { 200: s.clientPage } } }, async (request) => {
    // The schema's defaults are applied before this runs; these only satisfy the type.
    const { limit = s.PAGE.default, offset = 0, ...filter } = request.query;
    return clients.list(administratorOfRequest(request), { ...filter, limit, offset });
  });

  admin.post(
    '/clients',
    { schema: { body: s.createClientBody, response: { 201: s.createdClientSchema } } },
    async (request, reply) => {
      const created = await clients.create(
        administratorOfRequest(request),
        registrationFields(request.body),
        actorOf(request),
      );
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  admin.get(
    '/clients/:clientId',
    { schema: { params: s.clientIdParams, response: { 200: s.clientRef } } },
    async (request) => clients.get(administratorOfRequest(request), request.params.clientId),
  );

  admin.patch(
    '/clients/:clientId',
    { schema: { params: s.clientIdParams, body: s.updateClientBody, response: { 200: s.clientWithWarnings } } },
    async (request) =>
      clients.update(
        administratorOfRequest(request),
        request.params.clientId,
        registrationFields(request.body),
        actorOf(request),
      ),
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    admin.post(
      `/clients/:clientId/${verb}`,
      { schema: { params: s.clientIdParams, response: { 200: s.clientRef } } },
      async (request) => {
        const { client } = await clients.update(
          administratorOfRequest(request),
          request.params.clientId,
          { enabled },
          actorOf(request),
        );
        return client;
      },
    );
  }

  admin.delete('/clients/:clientId', { schema: { params: s.clientIdParams } }, async (request, reply) => {
    await clients.delete(administratorOfRequest(request), request.params.clientId, actorOf(request));
    return reply.code(204).send();
  });

  // A client's rights in the ZGW APIs (its applicatie of the Autorisaties API), for the console.
  const applicatieOf = (a: Applicatie) => ({ uuid: a.uuid, ...applicatieBody(a), organisation: a.organisation });
  admin.get('/clients/:clientId/applicatie', { schema: { params: s.clientIdParams } }, async (request) => {
    const client = await clients.get(administratorOfRequest(request), request.params.clientId);
    const found = await options.autorisaties.ofClient(client.clientId);
    if (!found) throw new NotFoundError('this client is in no applicatie');
    return applicatieOf(found);
  });

  admin.put(
    '/clients/:clientId/applicatie',
    { schema: { params: s.clientIdParams, body: s.clientApplicatieBody } },
    async (request) => {
      const administrator = administratorOfRequest(request);
      const client = await clients.get(administrator, request.params.clientId);
      const acActor: AcActor = {
        ...actorOf(request),
        rsin: administrator.kind === 'organisation' ? administrator.rsin : client.rsin,
        everyOrganisation: administrator.kind === 'global',
      };
      const fields = parseApplicatie(request.body, false);
      const saved = await options.autorisaties.saveForClient(
        client.clientId,
        (client.name || client.clientId).slice(0, 100),
        fields,
        acActor,
      );
      return applicatieOf(saved);
    },
  );

  admin.get(
    '/clients/:clientId/secrets',
    { schema: { params: s.clientIdParams, response: { 200: s.secretInfoList } } },
    async (request) => clients.listSecrets(administratorOfRequest(request), request.params.clientId),
  );

  admin.post(
    '/clients/:clientId/secrets',
    { schema: { params: s.clientIdParams, body: s.addSecretBody, response: { 201: s.createdSecretSchema } } },
    async (request, reply) => {
      const created = await clients.addSecret(
        administratorOfRequest(request),
        request.params.clientId,
        request.body,
        actorOf(request),
      );
      // An imported value is the caller's own; it is not echoed back.
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...created, value: request.body.value === undefined ? created.value : undefined });
    },
  );

  admin.delete(
    '/clients/:clientId/secrets/:secretId',
    { schema: { params: s.secretParams, response: { 200: s.secretInfoRef } } },
    async (request) =>
      clients.revokeSecret(
        administratorOfRequest(request),
        request.params.clientId,
        request.params.secretId,
        actorOf(request),
      ),
  );

  admin.get(
    '/clients/:clientId/keys',
    { schema: { params: s.clientIdParams, response: { 200: s.clientKeyList } } },
    async (request) => ({ items: await clients.listKeys(administratorOfRequest(request), request.params.clientId) }),
  );

  admin.post(
    '/clients/:clientId/keys',
    { schema: { params: s.clientIdParams, body: s.addKeysBody, response: { 201: s.clientKeyList } } },
    async (request, reply) => {
      const { jwk, jwks, pem } = request.body;
      const text = pem ?? JSON.stringify(jwk ?? jwks);
      const added = await clients.addKeys(
        administratorOfRequest(request),
        request.params.clientId,
        text,
        actorOf(request),
      );
      return reply.code(201).send({ items: added });
    },
  );

  admin.delete(
    '/clients/:clientId/keys/:kid',
    { schema: { params: s.keyParams, response: { 200: s.clientKeyRef } } },
    async (request) =>
      clients.removeKey(administratorOfRequest(request), request.params.clientId, request.params.kid, actorOf(request)),
  );

  admin.get(
    '/credentials/expiring',
    { schema: { querystring: s.expiringCredentialsQuery, response: { 200: s.expiringCredentialList } } },
    async (request) => ({
      items: await clients.expiringCredentials(administratorOfRequest(request), request.query.organisation),
    }),
  );

  // For scripts: what expires within the configured window, or within_days of now.
  admin.get(
    '/expiring',
    { schema: { querystring: s.expiringQuery, response: { 200: s.expiringList } } },
    async (request) => {
      const windowSeconds =
        request.query.within_days === undefined ? options.expiry.windowSeconds : request.query.within_days * 86_400;
      const items = await clients.expiringCredentials(
        administratorOfRequest(request),
        request.query.organisation,
        windowSeconds,
      );
      return { withinDays: windowSeconds / 86_400, until: options.now() + windowSeconds * 1000, items };
    },
  );

  admin.get('/audit', { schema: { querystring: s.auditQuery, response: { 200: s.auditPage } } }, async (request) => ({
    items: await clients.auditEvents(administratorOfRequest(request), request.query),
  }));
};
