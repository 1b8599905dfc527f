import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../../clients/client-service.js';
import {
  ORGANISATION_NAME_MAX,
  ORGANISATION_OFFSET_MAX,
  ORGANISATION_PAGE_MAX,
  ORGANISATION_SEARCH_MAX,
  type OrganisationFilter,
  type OrganisationInput,
  type OrganisationPatch,
} from '../../organisations/model.js';
import type { OrganisationService } from '../../organisations/organisation-service.js';

export interface OrganisationRoutesOptions {
  organisations: OrganisationService;
  /** Who is asking, for the audit trail: the authorized admin client. */
  actorOf(request: FastifyRequest): Actor;
}

/**
 * JSON schemas of the organisation routes, inline so that they stay within this plugin. Response
 * schemas list every field allowed out; the RSIN's 11-test and the name's characters are checked by
 * the service, which answers 400 with the field named.
 */
const rsin = { type: 'string', minLength: 1, maxLength: 9, description: 'RSIN: 9 digits passing the 11-test' } as const;
const name = { type: 'string', minLength: 1, maxLength: ORGANISATION_NAME_MAX } as const;
const organisationProperties = {
  rsin: { type: 'string' },
  name: { type: 'string' },
  enabled: { type: 'boolean' },
  createdAt: { type: 'integer', description: 'epoch milliseconds' },
  updatedAt: { type: 'integer', description: 'epoch milliseconds' },
} as const;
const organisation = { type: 'object', properties: organisationProperties } as const;
const organisationWithCounts = {
  type: 'object',
  properties: {
    ...organisationProperties,
    clientCount: { type: 'integer', description: 'clients registered with this RSIN' },
    enabledClientCount: { type: 'integer', description: 'of which enabled' },
  },
} as const;
const rsinParams = { type: 'object', required: ['rsin'], properties: { rsin } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    q: { type: 'string', maxLength: ORGANISATION_SEARCH_MAX, description: 'text in the RSIN or the name' },
    limit: { type: 'integer', minimum: 1, maximum: ORGANISATION_PAGE_MAX, default: 100 },
    offset: { type: 'integer', minimum: 0, maximum: ORGANISATION_OFFSET_MAX, default: 0 },
  },
} as const;
type RsinParams = { Params: { rsin: string } };

/** /admin/organisations: the organisations of the registry (RSIN, name, enabled) and the counts of their clients. */
export async function organisationRoutes(admin: FastifyInstance, options: OrganisationRoutesOptions): Promise<void> {
  const { organisations, actorOf } = options;

  admin.get<{ Querystring: OrganisationFilter }>(
    '/organisations',
    {
      schema: {
        querystring: listQuery,
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: organisationWithCounts }, total: { type: 'integer' } },
          },
        },
      },
    },
    async (request) => organisations.list(request.query),
  );

  admin.post<{ Body: OrganisationInput }>(
    '/organisations',
    {
      schema: {
        body: { type: 'object', additionalProperties: false, required: ['rsin', 'name'], properties: { rsin, name } },
        response: { 201: organisation },
      },
    },
    async (request, reply) => reply.code(201).send(await organisations.create(request.body, actorOf(request))),
  );

  admin.get<RsinParams>(
    '/organisations/:rsin',
    { schema: { params: rsinParams, response: { 200: organisationWithCounts } } },
    async (request) => organisations.get(request.params.rsin),
  );

  admin.patch<RsinParams & { Body: OrganisationPatch }>(
    '/organisations/:rsin',
    {
      schema: {
        params: rsinParams,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name } },
        response: { 200: organisation },
      },
    },
    async (request) => organisations.update(request.params.rsin, request.body, actorOf(request)),
  );

  admin.post<RsinParams>(
    '/organisations/:rsin/disable',
    { schema: { params: rsinParams, response: { 200: organisation } } },
    async (request) => organisations.disable(request.params.rsin, actorOf(request)),
  );

  admin.post<RsinParams>(
    '/organisations/:rsin/enable',
    { schema: { params: rsinParams, response: { 200: organisation } } },
    async (request) => organisations.enable(request.params.rsin, actorOf(request)),
  );
}
