import { authorize, type Principal, TokenError, type Verifier } from '@zgw-auth/verifier';
import { ForbiddenError } from '../errors.js';
import { type SelfSignedGuessing, tooManyAttempts, verifyCountingGuesses } from '../tokens/self-signed-guesses.js';
import type { AutorisatiesService } from './autorisaties-service.js';

/** What deciding about a caller of the Autorisaties API needs. */
export interface AcCallerDeps extends SelfSignedGuessing {
  /** The token acceptance of /introspect and the admin API: zgw-auth's own tokens and self-signed ZGW tokens. */
  verifier: Verifier;
  autorisaties: Pick<AutorisatiesService, 'grants'>;
}

/**
 * The caller of an AC operation, as the ZGW APIs decide it: a token zgw-auth accepts (its own, or
 * a registered client's self-signed HS256 ZGW token, counted as a guess at that client's secret
 * like everywhere), and the AC's own scope for the operation granted by the AC's own data: the
 * caller's applicatie has all rights, or an `ac` autorisatie with that scope. A refused token and
 * a missing right are both 403, as the standard's reference implementation answers them; while the
 * caller is backed off for guessing, 429.
 */
export async function authorizeAcCaller(
  deps: AcCallerDeps,
  authorization: string | undefined,
  address: string,
  scope: string,
): Promise<Principal> {
  let principal: Principal;
  try {
    const result = await verifyCountingGuesses(deps, authorization, address, 'autorisaties', () =>
      authorize(deps.verifier, authorization, []),
    );
    if (!('principal' in result)) throw tooManyAttempts(result.retryAfter);
    principal = result.principal;
  } catch (err) {
    if (err instanceof TokenError)
      throw new ForbiddenError(
        err.code === 'missing_token' ? 'Authenticatiegegevens zijn niet opgegeven.' : 'Het token is niet geldig.',
      );
    throw err;
  }
  if (!(await deps.autorisaties.grants(principal.clientId, scope)))
    throw new ForbiddenError(`Dit token geeft geen recht op ${scope}.`);
  return principal;
}
