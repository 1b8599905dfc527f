import type { ClientCounts, Organisation, OrganisationFilter, OrganisationWithCounts } from './model.js';

/** The changes an update can make; `updatedAt` always. */
export type OrganisationChanges = Partial<Pick<Organisation, 'name' | 'enabled'>> & Pick<Organisation, 'updatedAt'>;

/** Persistence of organisations, in domain types. Lists are ordered by RSIN. */
export interface OrganisationStore {
  /** Adds it unless an organisation with its RSIN exists; then nothing changes and the answer is false. */
  insert(organisation: Organisation): Promise<boolean>;
  get(rsin: string): Promise<Organisation | undefined>;
  /** The clients registered with this RSIN, whether or not the organisation exists. */
  clientCounts(rsin: string): Promise<ClientCounts>;
  list(filter: OrganisationFilter): Promise<{ items: OrganisationWithCounts[]; total: number }>;
  /** The organisation as stored after the change; undefined when there is none with this RSIN. */
  update(rsin: string, changes: OrganisationChanges): Promise<Organisation | undefined>;
}
