import type { FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import type { Client } from '../clients/model.js';
import { clientCredentials } from './client-credentials.js';
import type { FormBody } from './form-body.js';
import { invalidClient, OAuthError } from './oauth-errors.js';

/**
 * Client authentication shared by /token, /introspect and /revoke: the guessing back-off (see
 * GuessingGuard), one answer for every failure, the reason in the audit trail.
 */
export async function authenticateClient(app: App, request: FastifyRequest, body: FormBody, endpoint: string): Promise<Client> {
  const credentials = clientCredentials(request.headers.authorization, body);
  const wait = await app.guard.check(credentials.clientId, request.ip);
  if (wait > 0) {
    app.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    throw new OAuthError('invalid_client', `too many failed authentication attempts; retry after ${wait} s`, 429, { 'retry-after': String(wait) });
  }
  let result = await app.clients.authenticate(credentials.clientId, credentials.secret);
  // The secret as sent raw (curl -u, Python requests): the same attempt read another way, counted once.
  // Unknown clients are read twice as well, so that the cost does not tell which ids exist.
  if (!result.ok && (result.reason === 'wrong_secret' || result.reason === 'unknown_client') && credentials.rawSecret !== undefined) {
    result = await app.clients.authenticate(credentials.clientId, credentials.rawSecret);
  }
  if (!result.ok) {
    await app.guard.recordFailure(credentials.clientId, request.ip, result.reason, { endpoint, method: credentials.method, ...(result.secretId ? { secretId: result.secretId } : {}) });
    throw invalidClient();
  }
  await app.guard.recordSuccess(credentials.clientId, request.ip);
  return result.client;
}
