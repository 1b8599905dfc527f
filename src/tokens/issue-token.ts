import { certificateThumbprint, type Confirmation, type DpopProofChecker, TokenError } from '@zgw-auth/verifier';
import type { AuditLog } from '../audit/audit-log.js';
import {
  authenticateCaller,
  type ClientAuthentication,
  type ClientCredentials,
} from '../clients/authenticate-client.js';
import type { Client } from '../clients/model.js';
import { SCOPE_PATTERN } from '../clients/validate.js';
import { invalidRequest, OAuthError, orThrow, type Parsed } from '../errors.js';
import type { TokenCounts } from '../counts.js';
import { administratorScopeOf, NotAnAdministratorError } from '../organisations/administration-policy.js';
import type { TokenIssuer } from './token-issuer.js';

export interface IssueTokenDeps extends ClientAuthentication {
  issuer: Pick<TokenIssuer, 'issue'>;
  audit: Pick<AuditLog, 'recordLater'>;
  metrics: TokenCounts;
  /** Checks the DPoP proofs of token requests (RFC 9449 §4.3), with the replay cache and nonces. */
  dpop: Pick<DpopProofChecker, 'check'>;
}

/** A token request's DPoP header as sent, and the URLs of this endpoint a proof may name. */
export interface PresentedProof {
  /** The DPoP header's values (one sent twice may come joined with ", ": refused); empty when none was sent. */
  values: readonly string[];
  /** The token endpoint's URLs under the issuer (its aliases: the realm path, Keycloak's path). */
  urls: readonly string[];
}

/** A token request (RFC 6749 §4.4.2), checked in this order: grant type, client, scope. */
export interface TokenRequest {
  grantType: Parsed<string | undefined>;
  credentials: Parsed<ClientCredentials>;
  scope: Parsed<string | undefined>;
  /** The caller's address, for the back-off and the audit trail. */
  address: string;
  /** The DPoP proof (RFC 9449): with one the token is bound to its key. */
  dpop?: PresentedProof;
  /** Asked at Keycloak's token URL: Keycloak's tolerances that weaken nothing apply (see OPENID_SCOPE). */
  keycloakPath?: boolean;
  /**
   * The web console's sign-in, which takes its admin API token here as /token does: counted in the
   * back-off and audited as the console, holding the one administrator scope the client has
   * (refused without one; `scope` is not read) for `lifetime` seconds (the issuer caps it).
   */
  console?: { lifetime: number };
}

/**
 * Keycloak's clients (keycloak-connect's client credentials login) ask for `openid`; Keycloak issues
 * no ID token for this grant and accepts it. At Keycloak's token URL it is ignored: neither granted
 * nor echoed, unless the client is allowed a scope of that name.
 */
const OPENID_SCOPE = 'openid';
const IGNORE_OPENID: readonly string[] = [OPENID_SCOPE];
const IGNORE_NOTHING: readonly string[] = [];

/** An issued access token (RFC 6749 §5.1); `scope` only when the token holds any. */
export interface TokenResponse {
  accessToken: string;
  /** `DPoP` for a token bound to a DPoP key (RFC 9449 §5), else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
  expiresIn: number;
  scope?: string;
  /** For the caller's own records (the console's session); /token sends neither. */
  jti: string;
  client: Client;
  /** The secret the client authenticated with (null for a key): the console's session ends with it. */
  secretId: string | null;
  /** With DPoP server nonces on and a proof sent: the nonce for the next proof, sent as `DPoP-Nonce`. */
  dpopNonce?: string;
}

export type IssueToken = (request: TokenRequest) => Promise<TokenResponse>;

/** The client credentials grant (RFC 6749 §4.4): authenticate, check grant and scope, sign, audit. */
export async function issueToken(deps: IssueTokenDeps, request: TokenRequest): Promise<TokenResponse> {
  const grantType = orThrow(request.grantType);
  if (grantType === undefined) throw invalidRequest('grant_type is missing');
  if (grantType !== 'client_credentials') {
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type "${grantType.slice(0, 50)}" is not supported; use client_credentials`,
    );
  }
  const credentials = orThrow(request.credentials);
  const { client, secretId } = await authenticateCaller(deps, credentials, {
    address: request.address,
    endpoint: request.console ? 'console' : 'token',
  });
  if (!client.grantTypes.includes('client_credentials')) {
    throw new OAuthError('unauthorized_client', 'this client may not use the client_credentials grant');
  }

  const possession = await proofOfPossession(deps, client, request.dpop);
  const dpopBinding = possession?.confirmation;
  const certificateBinding = certificateOf(client, credentials);
  const binding = dpopBinding || certificateBinding ? { ...dpopBinding, ...certificateBinding } : undefined;
  const ignored = request.keycloakPath && !client.allowedScopes.includes(OPENID_SCOPE) ? IGNORE_OPENID : IGNORE_NOTHING;
  const scopes = request.console
    ? administratorScopes(client)
    : requestedScopes(orThrow(request.scope), client.allowedScopes, client.defaultScopes, ignored);
  const token = await deps.issuer.issue(
    request.console ? { ...client, tokenLifetime: request.console.lifetime } : client,
    scopes,
    binding,
  );
  const scope = scopes.join(' ');
  deps.metrics.tokensIssued.inc({ alg: token.alg });
  deps.audit.recordLater({
    actor: client.clientId,
    action: 'token.issued',
    target: client.clientId,
    address: request.address,
    organisation: client.rsin,
    details: {
      jti: token.jti,
      scope,
      expiresIn: token.expiresIn,
      ...(binding ? { cnf: binding } : {}),
      ...(request.console ? { via: 'console' } : {}),
    },
  });
  return {
    accessToken: token.accessToken,
    tokenType: binding?.jkt ? 'DPoP' : 'Bearer',
    expiresIn: token.expiresIn,
    ...(scope ? { scope } : {}),
    jti: token.jti,
    client,
    secretId,
    ...(possession?.nonce ? { dpopNonce: possession.nonce } : {}),
  };
}

/**
 * RFC 8705 §3: the certificate a token is bound to, for a client registered for certificate-bound
 * tokens, which must then have authenticated with it (mutual TLS); other clients' tokens stay unbound.
 */
function certificateOf(client: Client, credentials: ClientCredentials): Confirmation | undefined {
  if (!client.tlsClientCertificateBoundAccessTokens) return undefined;
  if (!('certificate' in credentials) || !credentials.certificate.ok)
    throw invalidRequest(
      'this client is registered for certificate-bound tokens (tls_client_certificate_bound_access_tokens): authenticate with its client certificate (mutual TLS)',
    );
  return { 'x5t#S256': certificateThumbprint(credentials.certificate.leaf.der) };
}

/**
 * The key a token is bound to: the DPoP proof's (RFC 9449 §5), checked only once the client is
 * authenticated, so that nobody else's proofs fill the replay cache. A client registered for
 * DPoP-bound tokens (§5.2) gets no token without a proof. With server nonces on, also the nonce
 * the client is to use next (§8.2): every answer to a proof carries one, as oidc-provider does.
 */
async function proofOfPossession(
  deps: Pick<IssueTokenDeps, 'dpop'>,
  client: Client,
  presented: PresentedProof | undefined,
): Promise<{ confirmation: Confirmation; nonce?: string } | undefined> {
  if (!presented?.values.length) {
    if (client.dpopBoundAccessTokens)
      throw invalidRequest(
        'this client is registered for DPoP-bound tokens only (dpop_bound_access_tokens): send a DPoP proof',
      );
    return undefined;
  }
  try {
    const checked = await deps.dpop.check({ proof: presented.values, method: 'POST', urls: presented.urls });
    return { confirmation: { jkt: checked.jkt }, ...(checked.nonce ? { nonce: checked.nonce } : {}) };
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    if (err.code === 'use_dpop_nonce')
      throw new OAuthError('use_dpop_nonce', err.message, { headers: { 'dpop-nonce': err.dpopNonce ?? '' } });
    if (err.code === 'replay_cache_full' || err.code === 'keys_unavailable')
      throw new OAuthError('temporarily_unavailable', 'DPoP proofs cannot be checked right now; retry shortly', {
        status: 503,
        headers: { 'retry-after': '1' },
      });
    // RFC 9449 §5: every other fault of the proof, with what is wrong with it.
    throw new OAuthError(
      'invalid_dpop_proof',
      err.code === 'dpop_proof_missing' ? 'the DPoP header is empty' : err.message,
    );
  }
}

function administratorScopes(client: Client): string[] {
  const scope = administratorScopeOf(client.allowedScopes);
  if (!scope) throw new NotAnAdministratorError();
  return [scope];
}

/**
 * The scopes a token gets (RFC 6749 §3.3): the client's default scopes when it asks for none,
 * otherwise what it asks for, each of which it must be allowed; duplicates count once, `ignored` ones not at all.
 */
export function requestedScopes(
  raw: string | undefined,
  allowed: string[],
  defaults: string[],
  ignored: readonly string[] = [],
): string[] {
  if (raw === undefined) return defaults;
  const scopes = [...new Set(raw.split(' ').filter((s) => s && !ignored.includes(s)))];
  if (!scopes.length) return defaults;
  for (const s of scopes) {
    if (!SCOPE_PATTERN.test(s)) throw new OAuthError('invalid_scope', 'scope is malformed');
    if (!allowed.includes(s))
      throw new OAuthError('invalid_scope', `scope "${s.slice(0, 100)}" is not allowed for this client`);
  }
  return scopes;
}
