import { decodeJwt, type Principal, TokenError, type Verifier } from '@zgw-auth/verifier';
import {
  authenticateClient,
  type ClientAuthentication,
  type ClientCredentials,
} from '../clients/authenticate-client.js';
import { INTROSPECTION_SCOPE } from '../clients/model.js';
import type { Config } from '../config.js';
import { invalidRequest, OAuthError, orThrow, type Parsed } from '../errors.js';
import type { VerificationCounts } from '../counts.js';
import { verifyCountingGuesses } from './self-signed-guesses.js';
import { BOUND_TOKENS_TOO } from './server-verifier.js';

export interface IntrospectTokenDeps extends ClientAuthentication {
  /** Read on every request: whether callers without credentials may introspect. */
  config: Pick<Config, 'introspectionAnonymous'>;
  verifier: Pick<Verifier, 'verify'>;
  metrics: VerificationCounts;
}

/** An introspection request (RFC 7662 §2.1). */
export interface IntrospectionRequest {
  /** Whether the caller sent credentials at all (HTTP Basic or a client_secret). */
  presentsCredentials: Parsed<boolean>;
  credentials: Parsed<ClientCredentials>;
  token: Parsed<string | undefined>;
  address: string;
}

/** RFC 7662 §2.2: `{"active": false}` and nothing else, or the active token's claims. */
export type IntrospectionResponse = { active: false } | Record<string, unknown>;

export type IntrospectToken = (request: IntrospectionRequest) => Promise<IntrospectionResponse>;

const INACTIVE = { active: false } as const;

/**
 * Introspection for both token kinds. The answer has the shape OneGround's .NET APIs read from the
 * Keycloak ZGW introspection plugin. Anything invalid is inactive.
 */
export async function introspectToken(
  deps: IntrospectTokenDeps,
  request: IntrospectionRequest,
): Promise<IntrospectionResponse> {
  const anonymous = deps.config.introspectionAnonymous && !orThrow(request.presentsCredentials);
  if (!anonymous) {
    const caller = await authenticateClient(deps, orThrow(request.credentials), {
      address: request.address,
      endpoint: 'introspect',
    });
    if (!caller.allowedScopes.includes(INTROSPECTION_SCOPE)) {
      throw new OAuthError(
        'unauthorized_client',
        `introspection needs a client with the ${INTROSPECTION_SCOPE} scope`,
        { status: 403 },
      );
    }
  }
  const token = orThrow(request.token);
  if (token === undefined) throw invalidRequest('token is missing');
  let principal: Principal;
  try {
    // Self-signed tokens are guesses at their client's secret until one verifies: counted like /token's.
    // Bound tokens are active too: the answer's cnf tells the API what the caller must prove.
    const result = await verifyCountingGuesses(deps, token, request.address, 'introspect', () =>
      deps.verifier.verify(token, undefined, BOUND_TOKENS_TOO),
    );
    if (!('principal' in result)) {
      deps.metrics.verifications.inc({ kind: 'self-signed', outcome: 'backed_off' });
      return INACTIVE;
    }
    principal = result.principal;
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    deps.metrics.verifications.inc({ kind: tokenKind(token), outcome: err.code });
    return INACTIVE;
  }
  deps.metrics.verifications.inc({ kind: principal.kind, outcome: 'ok' });
  return introspectionResponse(principal);
}

/** For metrics only: which path a refused token took, from its header, without trusting it. */
function tokenKind(token: string): string {
  try {
    return decodeJwt(token).header.alg === 'HS256' ? 'self-signed' : 'oauth2';
  } catch {
    return 'malformed';
  }
}

/**
 * Who the caller is and what it may do come from the verifier's principal (the registry): client_id,
 * sub, rsin, scope. Other claims pass through as information: all of an IdP token's (this server
 * signed them), only the verifier's SELF_SIGNED_CLAIMS of a self-signed one.
 */
export function introspectionResponse(p: Principal): Record<string, unknown> {
  // Copied and assigned, not spread with overrides: that shape costs V8 seven times as much.
  const out: Record<string, unknown> = {};
  for (const k in p.claims) if (!NOT_PASSED_ON.has(k)) out[k] = p.claims[k];
  out.active = true;
  out.client_id = p.clientId;
  out.sub = p.kind === 'oauth2' ? (p.claims.sub ?? p.clientId) : p.clientId;
  out.rsin = p.rsin;
  out.scope = p.scopes.join(' ') || undefined;
  out.exp = p.expiresAt;
  // RFC 9449 §6.2: a DPoP-bound token is of type DPoP; a certificate-bound one stays Bearer (RFC 8705).
  out.token_type = p.confirmation?.jkt ? 'DPoP' : 'Bearer';
  out.zgw_token_kind = p.kind;
  return out;
}

/** Set from the principal instead, or internal to zgw-auth. */
const NOT_PASSED_ON = new Set(['__proto__', 'scope', 'scp', 'client_registration']);
