import type { AuditLog } from '../audit/audit-log.js';
import type { Actor } from '../clients/client-service.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import type {
  Organisation,
  OrganisationFilter,
  OrganisationInput,
  OrganisationPatch,
  OrganisationWithCounts,
} from './model.js';
import type { OrganisationChanges, OrganisationStore } from './organisation-store.js';
import { validateOrganisationFilter, validateOrganisationName, validateOrganisationRsin } from './validate.js';

/** What the service writes its audit events with. */
export type AuditRecorder = Pick<AuditLog, 'record'>;

/**
 * The organisations of the registry: validation, the audit trail and the change feed in one
 * place. Every change is audited (organisation.created, .updated, .disabled, .enabled) and
 * announced, so that processes holding organisation state learn of it at once.
 */
export class OrganisationService {
  constructor(
    private readonly store: OrganisationStore,
    private readonly audit: AuditRecorder,
    private readonly changes: ChangeFeed,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: OrganisationInput, actor: Actor): Promise<Organisation> {
    validateOrganisationRsin(input.rsin);
    validateOrganisationName(input.name);
    const organisation = await this.insert(input.rsin, input.name);
    if (!organisation) throw new ConflictError(await this.existsMessage(input.rsin));
    await this.announce(organisation.rsin);
    await this.record(actor, 'organisation.created', organisation.rsin, { after: organisation });
    return organisation;
  }

  /**
   * Registering a client registers its organisation, named after the RSIN: an operator following
   * up with `create` is told so, and how to give it its name instead.
   */
  private async existsMessage(rsin: string): Promise<string> {
    const existing = await this.store.get(rsin);
    if (existing?.name !== rsin) return `organisation "${rsin}" already exists`;
    return `organisation "${rsin}" already exists: it was registered automatically with its first client, named after its RSIN; give it its name with "organisations update ${rsin} --name …" (admin API: PATCH /admin/organisations/${rsin})`;
  }

  /**
   * The organisation of an RSIN, created (named after the RSIN, enabled) when there is none: for
   * registering a client of an organisation not set up yet, and for imports.
   */
  async ensure(rsin: string, actor: Actor): Promise<{ organisation: Organisation; created: boolean }> {
    validateOrganisationRsin(rsin);
    const existing = await this.store.get(rsin);
    if (existing) return { organisation: existing, created: false };
    const organisation = await this.insert(rsin, rsin);
    // Another request created it in the meantime: theirs stands.
    if (!organisation) return { organisation: await this.find(rsin), created: false };
    await this.announce(rsin);
    await this.record(actor, 'organisation.created', rsin, { after: organisation, ensured: true });
    return { organisation, created: true };
  }

  /** The organisation with the counts of its clients. */
  async get(rsin: string): Promise<OrganisationWithCounts> {
    validateOrganisationRsin(rsin);
    const [organisation, counts] = await Promise.all([this.find(rsin), this.store.clientCounts(rsin)]);
    return { ...organisation, ...counts };
  }

  async list(filter: OrganisationFilter): Promise<{ items: OrganisationWithCounts[]; total: number }> {
    validateOrganisationFilter(filter);
    return this.store.list(filter);
  }

  async update(rsin: string, patch: OrganisationPatch, actor: Actor): Promise<Organisation> {
    if (patch.name !== undefined) validateOrganisationName(patch.name);
    return this.change(rsin, { name: patch.name }, 'organisation.updated', actor);
  }

  /** Its clients and their secrets stay as they are, so enabling it again restores them. */
  disable(rsin: string, actor: Actor): Promise<Organisation> {
    return this.change(rsin, { enabled: false }, 'organisation.disabled', actor);
  }

  enable(rsin: string, actor: Actor): Promise<Organisation> {
    return this.change(rsin, { enabled: true }, 'organisation.enabled', actor);
  }

  /** Applies the changes that differ from what is stored; an organisation already so is returned as it is, unaudited. */
  private async change(
    rsin: string,
    wanted: Omit<OrganisationChanges, 'updatedAt'>,
    action: string,
    actor: Actor,
  ): Promise<Organisation> {
    validateOrganisationRsin(rsin);
    const before = await this.find(rsin);
    const changes: OrganisationChanges = { updatedAt: this.now() };
    if (wanted.name !== undefined && wanted.name !== before.name) changes.name = wanted.name;
    if (wanted.enabled !== undefined && wanted.enabled !== before.enabled) changes.enabled = wanted.enabled;
    if (changes.name === undefined && changes.enabled === undefined) return before;
    const after = await this.store.update(rsin, changes);
    if (!after) throw notFound(rsin);
    await this.announce(rsin);
    await this.record(actor, action, rsin, { before, after });
    return after;
  }

  private async insert(rsin: string, name: string): Promise<Organisation | undefined> {
    const t = this.now();
    const organisation: Organisation = { rsin, name, enabled: true, createdAt: t, updatedAt: t };
    return (await this.store.insert(organisation)) ? organisation : undefined;
  }

  private async find(rsin: string): Promise<Organisation> {
    const organisation = await this.store.get(rsin);
    if (!organisation) throw notFound(rsin);
    return organisation;
  }

  private announce(rsin: string): Promise<void> {
    return this.changes.publish({ kind: 'organisation', rsin });
  }

  private record(actor: Actor, action: string, rsin: string, details: Record<string, unknown>): Promise<void> {
    return this.audit.record({
      actor: actor.id,
      address: actor.address,
      action,
      target: rsin,
      organisation: rsin,
      details,
    });
  }
}

function notFound(rsin: string): NotFoundError {
  return new NotFoundError(`organisation "${rsin}" does not exist`);
}
