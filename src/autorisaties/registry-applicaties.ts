import type { ApplicatieLookup } from '@zgw-auth/verifier';
import type { AutorisatiesService } from './autorisaties-service.js';

/**
 * The registry's applicaties as `@zgw-auth/verifier` reads them: for a ZGW API that runs in
 * zgw-auth's process and decides with `createAutorisaties({ applicaties: registryApplicaties(app.autorisaties) })`,
 * without the HTTP round trip. The answers are those of GET /applicaties/consumer, from the same
 * cache, which every change empties (in this process at once, in others through the change feed):
 * no notification is needed.
 */
export function registryApplicaties(autorisaties: Pick<AutorisatiesService, 'forClient'>): ApplicatieLookup {
  return (clientId) => autorisaties.forClient(clientId);
}
