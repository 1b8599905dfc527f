import type { Verifier } from '@zgw-auth/verifier';
import type { ClientService } from '../clients/client-service.js';
import { NotFoundError } from '../errors.js';
import { type Administrator, organisationSeenBy } from '../organisations/administration-policy.js';
import { type SelfSignedGuessing, tooManyAttempts, verifyCountingGuesses } from '../tokens/self-signed-guesses.js';
import { BOUND_TOKENS_TOO } from '../tokens/server-verifier.js';
import { explainToken, type TokenExplanation } from './explain-token.js';

export interface TokenInspectionDeps {
  verifier: Pick<Verifier, 'verify'>;
  /** Verifying a self-signed token tests a guess at its client's secret: the back-off of /token applies. */
  guessing: SelfSignedGuessing;
  clients: Pick<ClientService, 'get'>;
  now: () => number;
}

export interface TokenInspectionRequest {
  token: string;
  /** The inspecting caller's address: a refused self-signed token counts as its guess. */
  address: string;
  administrator: Administrator | undefined;
}

/**
 * A token's header, claims and times, and whether zgw-auth accepts it (the verifier of
 * /introspect: keys, registry, revocations), with the refusal's code and reason. An organisation
 * administrator inspects only tokens of its own organisation's clients; another's token reads as an
 * unknown client, without being verified. A refused self-signed token counts as a failed guess at
 * its client's secret, from the caller's address, as at /token; while backed off: too_many_attempts.
 */
export async function inspectToken(
  deps: TokenInspectionDeps,
  request: TokenInspectionRequest,
): Promise<TokenExplanation> {
  const own = organisationSeenBy(request.administrator);
  const decoded = await explainToken(request.token, undefined, deps.now() / 1000);
  const clientId = decoded.payload?.client_id;
  if (
    own !== undefined &&
    decoded.payload &&
    !(typeof clientId === 'string' && (await visibleTo(deps.clients, clientId, own)))
  ) {
    return {
      ...decoded,
      verdict: {
        verified: true,
        valid: false,
        code: 'unknown_client',
        message: 'the token names no client of your organisation',
      },
    };
  }
  if (!decoded.header) return decoded;
  const counted = {
    verify: async (token: string) => {
      const result = await verifyCountingGuesses(deps.guessing, token, request.address, 'admin', () =>
        deps.verifier.verify(token, undefined, BOUND_TOKENS_TOO),
      );
      if ('retryAfter' in result) throw tooManyAttempts(result.retryAfter);
      return result.principal;
    },
  };
  return explainToken(request.token, counted, deps.now() / 1000);
}

async function visibleTo(clients: Pick<ClientService, 'get'>, clientId: string, rsin: string): Promise<boolean> {
  try {
    return (await clients.get(clientId)).rsin === rsin;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}
