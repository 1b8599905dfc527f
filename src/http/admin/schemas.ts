import { MAX_EPOCH_MS } from '../../clients/model.js';

/**
 * JSON schemas of the admin API. Response schemas list every field allowed out: Fastify serialises
 * only these, so a secret hash or ciphertext cannot leak by accident.
 */
const clientId = { type: 'string', minLength: 1, maxLength: 50 } as const;
const scopes = { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 100 } } as const;
const timestamp = { type: ['integer', 'null'], description: 'epoch milliseconds' } as const;

export const clientSchema = {
  $id: 'Client',
  type: 'object',
  properties: {
    clientId: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    rsin: { type: 'string' },
    enabled: { type: 'boolean' },
    grantTypes: { type: 'array', items: { type: 'string' } },
    allowedScopes: { type: 'array', items: { type: 'string' } },
    defaultScopes: { type: 'array', items: { type: 'string' } },
    tokenLifetime: { type: ['integer', 'null'] },
    staticClaims: { type: 'object', additionalProperties: true },
    selfSignedAllowed: { type: 'boolean' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    lastTokenAt: timestamp,
    risks: { type: 'array', items: { type: 'string', enum: ['weak_secret'] }, description: 'standing risks an operator accepted; weak_secret: a self-signing secret below the strength rule' },
  },
} as const;

export const secretInfoSchema = {
  $id: 'SecretInfo',
  type: 'object',
  properties: {
    secretId: { type: 'string' },
    clientId: { type: 'string' },
    label: { type: 'string' },
    usableForSelfSigned: { type: 'boolean' },
    createdAt: { type: 'integer' },
    expiresAt: timestamp,
    lastUsedAt: timestamp,
    revokedAt: timestamp,
    weak: { type: 'boolean', description: 'imported below the strength rule and allowed explicitly' },
  },
} as const;

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  properties: {
    type: { type: 'string' },
    code: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    invalidParams: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

const clientFields = {
  name: { type: 'string', maxLength: 200 },
  description: { type: 'string', maxLength: 2000 },
  rsin: { type: 'string', maxLength: 9 },
  enabled: { type: 'boolean' },
  grantTypes: { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 50 } },
  allowedScopes: scopes,
  defaultScopes: scopes,
  tokenLifetime: { type: ['integer', 'null'], minimum: 1, maximum: 31_536_000 },
  staticClaims: { type: 'object', additionalProperties: true, maxProperties: 50 },
  selfSignedAllowed: { type: 'boolean' },
} as const;

export const createClientBody = { type: 'object', additionalProperties: false, required: ['rsin'], properties: { clientId, ...clientFields } } as const;
export const updateClientBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: clientFields } as const;
export const addSecretBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    label: { type: 'string', maxLength: 200 },
    expiresAt: { type: ['integer', 'null'], minimum: 0, maximum: MAX_EPOCH_MS, description: 'epoch milliseconds' },
    value: { type: 'string', minLength: 1, maxLength: 512, description: 'import this secret instead of generating one' },
    allowWeak: { type: 'boolean', description: 'keep an imported value below the strength rule for a self-signing client (audited, shown as a risk on the client)' },
  },
} as const;

export const createdSecretSchema = {
  type: 'object',
  properties: {
    secret: { $ref: 'SecretInfo#' },
    value: { type: 'string', description: 'the generated secret: shown in this response only' },
    warnings: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const clientIdParams = { type: 'object', properties: { clientId }, required: ['clientId'] } as const;
export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rsin: { type: 'string', maxLength: 9 },
    enabled: { type: 'boolean' },
    q: { type: 'string', maxLength: 100 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
  },
} as const;
export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    action: { type: 'string', maxLength: 60 },
    target: { type: 'string', maxLength: 100 },
    actor: { type: 'string', maxLength: 100 },
    reason: { type: 'string', maxLength: 40, description: 'why a client authentication failed, e.g. wrong_secret, revoked_secret' },
    since: { type: 'integer', minimum: 0, maximum: MAX_EPOCH_MS },
    before: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;
