import type { ClientCounts, Organisation, OrganisationFilter, OrganisationWithCounts } from './model.js';
import type { OrganisationChanges, OrganisationStore } from './organisation-store.js';

/** Where the memory store learns the client counts: the caller's own client registry. */
export type ClientCountSource = (rsin: string) => ClientCounts;

const NO_CLIENTS: ClientCountSource = () => ({ clientCount: 0, enabledClientCount: 0 });

/** Lowercases A-Z only, as SQLite's lower() does, so searches match what the SQL stores find. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** OrganisationStore in memory, behaving like the SQL one: for unit tests and tools without a database. */
export class MemoryOrganisationStore implements OrganisationStore {
  private readonly organisations = new Map<string, Organisation>();

  constructor(private readonly counts: ClientCountSource = NO_CLIENTS) {}

  async insert(organisation: Organisation): Promise<boolean> {
    if (this.organisations.has(organisation.rsin)) return false;
    this.organisations.set(organisation.rsin, { ...organisation });
    return true;
  }

  async get(rsin: string): Promise<Organisation | undefined> {
    const found = this.organisations.get(rsin);
    return found && { ...found };
  }

  async clientCounts(rsin: string): Promise<ClientCounts> {
    return { ...this.counts(rsin) };
  }

  async list(filter: OrganisationFilter): Promise<{ items: OrganisationWithCounts[]; total: number }> {
    const q = filter.q ? asciiLower(filter.q) : undefined;
    const matching = [...this.organisations.values()]
      .filter((o) => filter.enabled === undefined || o.enabled === filter.enabled)
      .filter((o) => q === undefined || asciiLower(o.rsin).includes(q) || asciiLower(o.name).includes(q))
      .sort((a, b) => (a.rsin < b.rsin ? -1 : a.rsin > b.rsin ? 1 : 0));
    const items = matching
      .slice(filter.offset, filter.offset + filter.limit)
      .map((o) => ({ ...o, ...this.counts(o.rsin) }));
    return { items, total: matching.length };
  }

  async update(rsin: string, changes: OrganisationChanges): Promise<Organisation | undefined> {
    const found = this.organisations.get(rsin);
    if (!found) return undefined;
    if (changes.name !== undefined) found.name = changes.name;
    if (changes.enabled !== undefined) found.enabled = changes.enabled;
    found.updatedAt = changes.updatedAt;
    return { ...found };
  }
}
