import type { Principal } from '@zgw-auth/verifier';
import { ADMIN_SCOPE } from '../../clients/model.js';

/**
 * The one organisation an admin caller may see, or undefined for a global administrator
 * (zgw-auth:admin). Anyone else (an organisation administrator) sees only the organisation it is
 * registered with: Principal.rsin comes from the registry, never from a token claim.
 */
export function visibleOrganisation(principal: Principal | undefined): string | undefined {
  if (principal?.scopes.includes(ADMIN_SCOPE)) return undefined;
  // No registered organisation: nothing matches this.
  return principal?.rsin ?? '\u0000none';
}
