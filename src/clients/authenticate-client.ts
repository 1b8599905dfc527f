import { invalidClient, OAuthError } from '../errors.js';
import type { GuessingGuard } from '../limits/guessing-guard.js';
import type { RateLimitCounts } from '../counts.js';
import type { ClientAuthenticator } from './client-authenticator.js';
import type { Client } from './model.js';
import type { PresentedCertificate } from '../pki/presented-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';

/** What a client presented to authenticate itself, however it was sent. */
export type ClientCredentials = SecretCredentials | CertificateCredentials;

/** A client secret (RFC 6749 §2.3.1). */
export interface SecretCredentials {
  clientId: string;
  secret: string;
  /**
   * HTTP Basic only: the secret as sent, when it differs from the form-decoded `secret`. curl -u and
   * Python requests send secrets raw; a `+` or `%` in one then reads differently once decoded.
   */
  rawSecret?: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

/** A client certificate with the `client_id` it is for (RFC 8705 §2: client_id is required then). */
export interface CertificateCredentials {
  clientId: string;
  certificate: PresentedCertificate;
}

/** Who asks, for the back-off and the audit trail. */
export interface Caller {
  address: string;
  endpoint: 'token' | 'introspect' | 'revoke' | 'console';
}

export interface ClientAuthentication {
  authenticator: Pick<ClientAuthenticator, 'authenticate' | 'authenticateCertificate'>;
  /** Back-off for every place a secret is checked. */
  guard: Pick<GuessingGuard, 'check' | 'recordFailure' | 'recordSuccess'>;
  metrics: RateLimitCounts;
  /** Trust anchors and CRLs for client certificates (ZGW_AUTH_TLS_CLIENT_CA); undefined when none are configured. */
  trust?: TrustStore;
}

/**
 * Client authentication shared by /token, /introspect and /revoke: the guessing back-off (see
 * GuessingGuard), one answer for every failure, the reason in the audit trail.
 */
export async function authenticateClient(
  deps: ClientAuthentication,
  credentials: ClientCredentials,
  caller: Caller,
): Promise<Client> {
  return (await authenticateClientSecret(deps, credentials, caller)).client;
}

/** authenticateClient, naming the secret that matched as well. */
export async function authenticateClientSecret(
  deps: ClientAuthentication,
  credentials: ClientCredentials,
  caller: Caller,
): Promise<{ client: Client; secretId: string }> {
  const wait = await deps.guard.check(credentials.clientId, caller.address);
  if (wait > 0) {
    deps.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    throw new OAuthError('invalid_client', `too many failed authentication attempts; retry after ${wait} s`, {
      status: 429,
      headers: { 'retry-after': String(wait) },
    });
  }
  if ('certificate' in credentials)
    return { client: await authenticateCertificate(deps, credentials, caller), secretId: '' };
  let result = await deps.authenticator.authenticate(credentials.clientId, credentials.secret);
  // The secret as sent raw (curl -u, Python requests): the same attempt read another way, counted once.
  // Unknown clients are read twice as well, so that the cost does not tell which ids exist.
  if (
    !result.ok &&
    (result.reason === 'wrong_secret' || result.reason === 'unknown_client') &&
    credentials.rawSecret !== undefined
  ) {
    result = await deps.authenticator.authenticate(credentials.clientId, credentials.rawSecret);
  }
  if (!result.ok) {
    await deps.guard.recordFailure(credentials.clientId, caller.address, result.reason, {
      endpoint: caller.endpoint,
      method: credentials.method,
      ...(result.secretId ? { secretId: result.secretId } : {}),
      ...(result.rsin ? { organisation: result.rsin } : {}),
    });
    throw invalidClient();
  }
  await deps.guard.recordSuccess(credentials.clientId, caller.address);
  return { client: result.client, secretId: result.secretId };
}

/** Certificate-based client authentication: same back-off, same one answer, the reason audited. */
async function authenticateCertificate(
  deps: ClientAuthentication,
  credentials: CertificateCredentials,
  caller: Caller,
): Promise<Client> {
  const result = await deps.authenticator.authenticateCertificate(
    credentials.clientId,
    credentials.certificate,
    deps.trust,
  );
  if (!result.ok) {
    await deps.guard.recordFailure(credentials.clientId, caller.address, result.reason, {
      endpoint: caller.endpoint,
      method: result.method ?? 'tls_client_auth',
      ...(result.detail ? { detail: result.detail } : {}),
      ...(result.rsin ? { organisation: result.rsin } : {}),
    });
    throw invalidClient();
  }
  await deps.guard.recordSuccess(credentials.clientId, caller.address);
  return result.client;
}
