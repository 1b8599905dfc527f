import type { FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import type { Client } from '../clients/model.js';
import { clientCredentials } from './client-credentials.js';
import type { FormBody } from './form-body.js';
import { invalidClient, OAuthError } from './oauth-errors.js';

/**
 * Client authentication shared by /token, /introspect and /revoke: back-off per address and per
 * client id from that address, one answer for every failure, failures in the audit trail.
 */
export async function authenticateClient(app: App, request: FastifyRequest, body: FormBody, endpoint: string): Promise<Client> {
  const credentials = clientCredentials(request.headers.authorization, body);
  const id = credentials.clientId.slice(0, 60);
  const limitKeys = [`ip:${request.ip}`, `client:${id}|ip:${request.ip}`];
  const wait = await app.limiter.retryAfter(limitKeys);
  if (wait > 0) {
    app.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    throw new OAuthError('invalid_client', `too many failed authentication attempts; retry after ${wait} s`, 429, { 'retry-after': String(wait) });
  }
  const client = await app.clients.authenticate(credentials.clientId, credentials.secret);
  if (!client) {
    await app.limiter.recordFailure(limitKeys);
    app.audit.recordLater({ actor: id, action: 'client_auth.failed', target: id, address: request.ip, details: { endpoint, method: credentials.method } });
    throw invalidClient();
  }
  // Only the pair is reset: one valid client must not clear an address's record of guessing others.
  await app.limiter.reset(limitKeys.slice(1));
  return client;
}
