import { invalidClient, OAuthError } from '../errors.js';
import type { Admission, GuessingGuard } from '../limits/guessing-guard.js';
import type { RateLimitCounts } from '../counts.js';
import type { Authentication, ClientAuthenticator } from './client-authenticator.js';
import type { Client } from './model.js';
import type { PresentedCertificate } from '../pki/presented-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';
import { CLIENT_ID_ATTRIBUTE, type Tracing } from '../tracing.js';

/** A client secret (RFC 6749 §2.3.1), however it was sent. */
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

/** A JWT client assertion (RFC 7523 §2.2); `clientId` is the subject it claims, unverified until checked. */
export interface AssertionCredentials {
  clientId: string;
  assertion: string;
  method: 'private_key_jwt';
}

/** What a client presented to authenticate itself, by method. */
export type ClientCredentials = SecretCredentials | AssertionCredentials | CertificateCredentials | RefusedCredentials;

/**
 * Credentials refused before any secret, key or certificate was checked (a wrong
 * client_assertion_type, a certificate header from an untrusted address, ...): still audited and
 * counted in the back-off like any other failure, under the client id the request claims ('' when none).
 */
export interface RefusedCredentials {
  clientId: string;
  refused: {
    reason: 'bad_assertion' | 'certificate_header_refused' | 'unknown_client';
    detail: string;
    method?: string;
  };
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

/** Audiences a client assertion may name at each endpoint: its URLs, the token endpoint's, the issuer. */
export type AssertionAudiences = Partial<Record<Caller['endpoint'], ReadonlySet<string>>>;

export interface ClientAuthentication {
  authenticator: Pick<ClientAuthenticator, 'authenticate' | 'authenticateAssertion' | 'authenticateCertificate'>;
  /** Back-off for every place a secret or key is checked. */
  guard: Pick<GuessingGuard, 'check' | 'recordFailure' | 'recordSuccess'>;
  metrics: RateLimitCounts;
  /** Read on every assertion: the issuer may be set once the port is known. */
  audiences?: () => AssertionAudiences;
  /** Trust anchors and CRLs for client certificates (ZGW_AUTH_TLS_CLIENT_CA); undefined when none are configured. */
  trust?: TrustStore;
  /** With tracing on: the authenticated client's id goes on the request's span. */
  tracing?: Pick<Tracing, 'annotateRequest'>;
}

const NO_AUDIENCES: ReadonlySet<string> = new Set();

/**
 * Client authentication shared by /token, /introspect and /revoke: the guessing back-off (see
 * GuessingGuard), one answer for every failure, the reason in the audit trail.
 */
export async function authenticateClient(
  deps: ClientAuthentication,
  credentials: ClientCredentials,
  caller: Caller,
): Promise<Client> {
  return (await authenticateCaller(deps, credentials, caller)).client;
}

/** authenticateClient, naming the secret that matched as well (null for a key). */
export async function authenticateCaller(
  deps: ClientAuthentication,
  credentials: ClientCredentials,
  caller: Caller,
): Promise<{ client: Client; secretId: string | null }> {
  const admitted = await deps.guard.check(credentials.clientId, caller.address);
  try {
    return await checkAdmitted(deps, credentials, caller, admitted);
  } finally {
    admitted.release();
  }
}

/** authenticateCaller once the back-off let the attempt through (or refused it: `wait`). */
async function checkAdmitted(
  deps: ClientAuthentication,
  credentials: ClientCredentials,
  caller: Caller,
  admitted: Admission,
): Promise<{ client: Client; secretId: string | null }> {
  const { wait } = admitted;
  if (wait > 0) {
    deps.metrics.rateLimitHits.inc({ limit: 'failed_auth' });
    throw new OAuthError('invalid_client', `too many failed authentication attempts; retry after ${wait} s`, {
      status: 429,
      headers: { 'retry-after': String(wait) },
    });
  }
  if ('refused' in credentials) {
    const { reason, detail, method } = credentials.refused;
    await deps.guard.recordFailure(credentials.clientId, caller.address, reason, {
      endpoint: caller.endpoint,
      ...(method !== undefined ? { method } : {}),
      detail,
    });
    // The caller's own mistakes are named; a refused certificate header gets the one answer.
    throw invalidClient(reason === 'certificate_header_refused' ? undefined : detail);
  }
  if ('certificate' in credentials)
    return authenticated(deps, {
      client: await authenticateCertificate(deps, credentials, caller, admitted),
      secretId: null,
    });
  const result =
    credentials.method === 'private_key_jwt'
      ? await deps.authenticator.authenticateAssertion(
          credentials.clientId,
          credentials.assertion,
          deps.audiences?.()[caller.endpoint] ?? NO_AUDIENCES,
        )
      : await checkSecret(deps, credentials, caller);
  if (!result.ok) {
    await deps.guard.recordFailure(credentials.clientId, caller.address, result.reason, {
      endpoint: caller.endpoint,
      method: credentials.method,
      ...('secretId' in result && result.secretId ? { secretId: result.secretId } : {}),
      ...('kid' in result && result.kid !== undefined ? { kid: result.kid.slice(0, 200) } : {}),
      ...(result.detail !== undefined ? { detail: result.detail } : {}),
      ...(result.rsin ? { organisation: result.rsin } : {}),
    });
    throw invalidClient();
  }
  await deps.guard.recordSuccess(credentials.clientId, caller.address, admitted);
  return authenticated(deps, { client: result.client, secretId: 'secretId' in result ? result.secretId : null });
}

/**
 * The caller proved who it is: with tracing on, its client id goes on the request's span. Only
 * then: a client id that failed may be a secret typed in the wrong field.
 */
function authenticated<T extends { client: Client }>(deps: ClientAuthentication, found: T): T {
  deps.tracing?.annotateRequest({ [CLIENT_ID_ATTRIBUTE]: found.client.clientId });
  return found;
}

async function checkSecret(
  deps: ClientAuthentication,
  credentials: SecretCredentials,
  caller: Caller,
): Promise<Authentication> {
  const method = caller.endpoint === 'console' ? 'console' : credentials.method;
  let result = await deps.authenticator.authenticate(credentials.clientId, credentials.secret, method);
  // The secret as sent raw (curl -u, Python requests): the same attempt read another way, counted once.
  // Unknown clients are read twice as well, so that the cost does not tell which ids exist.
  if (
    !result.ok &&
    (result.reason === 'wrong_secret' || result.reason === 'unknown_client') &&
    credentials.rawSecret !== undefined
  ) {
    result = await deps.authenticator.authenticate(credentials.clientId, credentials.rawSecret, method);
  }
  return result;
}

/** Certificate-based client authentication: same back-off, same one answer, the reason audited. */
async function authenticateCertificate(
  deps: ClientAuthentication,
  credentials: CertificateCredentials,
  caller: Caller,
  admitted: Admission,
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
  await deps.guard.recordSuccess(credentials.clientId, caller.address, admitted);
  return result.client;
}
