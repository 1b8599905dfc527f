/**
 * An organisation of the registry, identified by its RSIN: the clients with that RSIN are its
 * applications. A disabled organisation is kept with its clients, so enabling it restores them.
 */
export interface Organisation {
  rsin: string;
  name: string;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** How many clients an organisation has, and how many of them are enabled. */
export interface ClientCounts {
  clientCount: number;
  enabledClientCount: number;
}

/** An organisation as shown and listed: with the counts of its clients. */
export type OrganisationWithCounts = Organisation & ClientCounts;

export interface OrganisationInput {
  rsin: string;
  name: string;
}

export interface OrganisationPatch {
  name?: string;
}

export interface OrganisationFilter {
  enabled?: boolean;
  /** Substring of the RSIN or the name, ignoring the case of A-Z (PostgreSQL folds other letters too). */
  q?: string;
  limit: number;
  offset: number;
}

export const ORGANISATION_NAME_MAX = 200;
export const ORGANISATION_SEARCH_MAX = 100;
export const ORGANISATION_PAGE_MAX = 1000;
export const ORGANISATION_OFFSET_MAX = 10_000_000;
