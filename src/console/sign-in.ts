import type { AuditLog } from '../audit/audit-log.js';
import { authenticateClient, type ClientAuthentication } from '../clients/authenticate-client.js';
import { ADMIN_SCOPE, ORG_ADMIN_SCOPE, type Client } from '../clients/model.js';
import { ZgwAuthError } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import type { TokenIssuer } from '../tokens/token-issuer.js';

/** Organisation administrators: this scope administers the clients of the holder's own organisation. */

export interface SignInDeps extends ClientAuthentication {
  issuer: Pick<TokenIssuer, 'issue'>;
  audit: Pick<AuditLog, 'recordLater'>;
  metrics: Pick<Metrics, 'rateLimitHits' | 'tokensIssued'>;
}

export interface SignedIn {
  client: Client;
  scope: string;
  accessToken: string;
  jti: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Refused after the secret proved right: the client holds no administrator scope. */
export class NotAnAdministratorError extends ZgwAuthError {
  constructor() {
    super('unauthorized_client', 'this client holds neither zgw-auth:admin nor zgw-auth:org-admin');
  }
}

/**
 * Console sign-in with an administrator client's id and secret: the same client authentication and
 * guessing back-off as /token (a failed sign-in counts, from the caller's address), then an access
 * token for the admin API holding the one administrator scope the client has, for `lifetime`
 * seconds (the issuer caps it), audited as any issued token. The token stays on the server.
 */
export async function signIn(deps: SignInDeps, credentials: { clientId: string; secret: string }, address: string, lifetime: number, nowSeconds: number): Promise<SignedIn> {
  const client = await authenticateClient(deps, { ...credentials, method: 'client_secret_post' }, { address, endpoint: 'console' });
  const scope = client.allowedScopes.includes(ADMIN_SCOPE) ? ADMIN_SCOPE : client.allowedScopes.includes(ORG_ADMIN_SCOPE) ? ORG_ADMIN_SCOPE : undefined;
  if (!scope) throw new NotAnAdministratorError();
  const token = await deps.issuer.issue({ ...client, tokenLifetime: lifetime }, [scope]);
  deps.metrics.tokensIssued.inc({ alg: token.alg });
  deps.audit.recordLater({ actor: client.clientId, action: 'token.issued', target: client.clientId, address, details: { jti: token.jti, scope, expiresIn: token.expiresIn, via: 'console' } });
  return { client, scope, accessToken: token.accessToken, jti: token.jti, expiresAt: nowSeconds + token.expiresIn };
}
