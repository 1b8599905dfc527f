import { decodeJwt, type Principal, type Verifier } from '@zgw-auth/verifier';
import type { AuditLog } from '../audit/audit-log.js';
import {
  authenticateClient,
  type ClientAuthentication,
  type ClientCredentials,
} from '../clients/authenticate-client.js';
import { invalidRequest, OAuthError, orThrow, type Parsed } from '../errors.js';
import type { Revocations } from './revocations.js';
import { BOUND_TOKENS_TOO } from './server-verifier.js';

export interface RevokeTokenDeps extends ClientAuthentication {
  verifier: Pick<Verifier, 'verify'>;
  revocations: Pick<Revocations, 'revoke'>;
  audit: Pick<AuditLog, 'record'>;
}

/** A revocation request (RFC 7009 §2.1). */
export interface RevocationRequest {
  credentials: Parsed<ClientCredentials>;
  token: Parsed<string | undefined>;
  address: string;
}

export type RevokeToken = (request: RevocationRequest) => Promise<void>;

/**
 * Revocation of access tokens this server issued. An invalid or unknown token is treated like a
 * revoked one (RFC 7009 §2.2: the caller hears 200 either way); a token of another client is refused.
 */
export async function revokeToken(deps: RevokeTokenDeps, request: RevocationRequest): Promise<void> {
  const client = await authenticateClient(deps, orThrow(request.credentials), {
    address: request.address,
    endpoint: 'revoke',
  });
  const token = orThrow(request.token);
  if (token === undefined) throw invalidRequest('token is missing');
  let header: Record<string, unknown>;
  try {
    header = decodeJwt(token).header;
  } catch {
    return;
  }
  if (header.alg === 'HS256')
    throw new OAuthError(
      'unsupported_token_type',
      'self-signed tokens cannot be revoked; revoke the secret that signed them',
    );
  let principal: Principal;
  try {
    // A sender-constrained token is revoked by its client like any other: no proof is asked.
    principal = await deps.verifier.verify(token, undefined, BOUND_TOKENS_TOO);
  } catch {
    return;
  }
  if (principal.clientId !== client.clientId)
    throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
  const jti = principal.claims.jti;
  if (typeof jti === 'string') {
    await deps.revocations.revoke(jti, client.clientId, principal.expiresAt);
    await deps.audit.record({
      actor: client.clientId,
      action: 'token.revoked',
      target: client.clientId,
      address: request.address,
      organisation: client.rsin,
      details: { jti },
    });
  }
}
