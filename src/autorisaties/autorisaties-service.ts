import crypto from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import { crashPoint } from '../crash-point.js';
import { ForbiddenError, InvalidParamsError, NotFoundError } from '../errors.js';
import { type ApplicatieStore, ClientIdsTaken, ClientIdsUnknown } from './applicatie-store.js';
import { type Applicatie, type ApplicatieInput, grantsAcScope } from './model.js';
import { type Actie, notificatie, type PendingNotification } from './notifications.js';
import { type ApplicatieFields, checkAutorisatiesXor } from './validate.js';

/** Where notifications of changes go, when a Notificaties API is configured. */
export interface NotificationPlan {
  /** The applicatie's URL in the Autorisaties API, at the moment of the change. */
  resourceUrl: (uuid: string) => string;
  /** A notification was committed: the delivery loop may look now. */
  written: () => void;
}

/** Who makes a change, for the audit trail. */
export interface AcActor {
  /** The caller's client id. */
  id: string;
  address?: string | undefined;
  /** The caller's organisation (RSIN): an applicatie without client ids belongs to it. */
  rsin: string;
  /**
   * Whether the caller writes applicaties of every organisation (a global administrator of the
   * registry); otherwise only those of its own organisation.
   */
  everyOrganisation: boolean;
}

/**
 * Writing is kept within the caller's organisation: an applicatie with all rights (the standard's
 * `heeftAlleAutorisaties`) grants `autorisaties.bijwerken` too, and one organisation's consumer
 * must not change another organisation's rights. Reading stays registry-wide: the ZGW APIs ask
 * about every client.
 */
function checkOwnOrganisation(actor: AcActor, organisation: string): void {
  if (!actor.everyOrganisation && organisation !== actor.rsin)
    throw new ForbiddenError('Deze applicatie hoort bij een andere organisatie dan de uwe.');
}

/** Results per page of GET /applicaties (the reference implementation's page size). */
export const PAGE_SIZE = 100;

/** The registry_state mark of the first administrator's applicatie (bootstrap). */
export const BOOTSTRAP_MARK = 'autorisaties-bootstrap';

/** Client ids whose applicatie (or its absence) is kept in memory; beyond, the cache starts over. */
const CACHED_CLIENT_IDS = 10_000;

/** The Autorisaties API's use cases on the registry's applicaties. */
export class AutorisatiesService {
  /**
   * The applicatie of each client id asked about (null: none), for the two questions asked on
   * every request: the caller's rights and GET /applicaties/consumer. Emptied by every change to
   * the applicaties, of this process or (through the change feed) of another sharing the database.
   */
  private readonly byClient = new Map<string, Applicatie | null>();
  /** Counts the emptyings: a read that began before one does not fill the cache after it. */
  private generation = 0;

  constructor(
    private readonly store: ApplicatieStore,
    private readonly audit: Pick<AuditLog, 'record'>,
    private readonly now: () => number = Date.now,
    private readonly changes?: Pick<ChangeFeed, 'publish' | 'onChange'>,
    private readonly notifications?: NotificationPlan,
  ) {
    changes?.onChange((change) => {
      if (change.kind === 'autorisaties' || change.kind === 'all') this.forget();
    });
  }

  /** The notification of a change, when notifications are configured; none is kept otherwise. */
  private notification(uuid: string, actie: Actie, at: number): PendingNotification | undefined {
    if (!this.notifications) return undefined;
    return { applicatie: uuid, message: notificatie(this.notifications.resourceUrl(uuid), actie, at), at };
  }

  private forget(): void {
    this.generation++;
    this.byClient.clear();
  }

  /** Tells this process and the others: their cached applicaties are stale. */
  private async changed(): Promise<void> {
    this.forget();
    await this.changes?.publish({ kind: 'autorisaties' });
  }

  private async byClientId(clientId: string): Promise<Applicatie | undefined> {
    const cached = this.byClient.get(clientId);
    if (cached !== undefined) return cached ?? undefined;
    const generation = this.generation;
    const found = await this.store.byClientId(clientId);
    if (generation === this.generation) {
      if (this.byClient.size >= CACHED_CLIENT_IDS) this.byClient.clear();
      this.byClient.set(clientId, found ?? null);
    }
    return found;
  }

  /** One page (from 1) of the applicaties, newest first; undefined for a page past the last. */
  async list(
    filter: { clientIds?: readonly string[] },
    page: number,
  ): Promise<{ items: Applicatie[]; total: number } | undefined> {
    const result = await this.store.list({ ...filter, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
    // Page 1 always exists, empty or not; a later page only when it holds results.
    if (page > 1 && result.items.length === 0) return undefined;
    return result;
  }

  async get(uuid: string): Promise<Applicatie> {
    const found = await this.store.get(uuid);
    if (!found) throw new NotFoundError('Niet gevonden.');
    return found;
  }

  /** The applicatie of a client id (GET /applicaties/consumer). */
  async consumer(clientId: string): Promise<Applicatie> {
    const found = await this.byClientId(clientId);
    if (!found) throw new NotFoundError('Niet gevonden.');
    return found;
  }

  /**
   * The applicatie of a client id, or undefined: what GET /applicaties/consumer answers, from the
   * same cache (emptied by every change, of this process or another), for a ZGW API in this process.
   */
  async forClient(clientId: string): Promise<Applicatie | undefined> {
    return this.byClientId(clientId);
  }

  /** Whether the client may use the AC's own `scope`, by the AC's own data. */
  async grants(clientId: string, scope: string): Promise<boolean> {
    const applicatie = await this.byClientId(clientId);
    return applicatie !== undefined && grantsAcScope(applicatie, scope);
  }

  /** The applicatie with this uuid, read from the store; undefined: none. */
  async find(uuid: string): Promise<Applicatie | undefined> {
    return this.store.get(uuid);
  }

  /** The organisation (RSIN) of each of these client ids the registry holds. */
  async clientOrganisations(clientIds: readonly string[]): Promise<Map<string, string>> {
    return this.store.clientOrganisations(clientIds);
  }

  /**
   * POST /applicaties, and a migration (`uuid`: the one the applicatie had where it comes from, so
   * that running the migration again finds it). Every rule applies either way.
   */
  async create(fields: ApplicatieFields, actor: AcActor, uuid: string = crypto.randomUUID()): Promise<Applicatie> {
    const input: ApplicatieInput = {
      clientIds: fields.clientIds ?? [],
      label: fields.label ?? '',
      heeftAlleAutorisaties: fields.heeftAlleAutorisaties ?? false,
      autorisaties: fields.autorisaties ?? [],
      alleenIsGereedVoorPublicatie: fields.alleenIsGereedVoorPublicatie ?? false,
    };
    checkAutorisatiesXor(input);
    const organisation = await this.organisationOf(input.clientIds, actor.rsin);
    checkOwnOrganisation(actor, organisation);
    const at = this.now();
    const applicatie: Applicatie = { ...input, uuid, organisation, createdAt: at, updatedAt: at };
    await this.write(() => this.store.insert(applicatie, this.notification(applicatie.uuid, 'create', at)));
    this.notifications?.written();
    await this.changed();
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'applicatie.created',
      target: applicatie.uuid,
      organisation,
      details: { after: auditView(applicatie) },
    });
    return applicatie;
  }

  /**
   * PUT and PATCH: the fields given replace the stored ones, fields left out keep their stored
   * value (for PUT the standard's optional fields: heeftAlleAutorisaties, autorisaties and 1.1's
   * alleenIsGereedVoorPublicatie, so that a 1.0 client's PUT does not reset the latter).
   */
  async update(
    uuid: string,
    fields: ApplicatieFields,
    actor: AcActor,
    actie: 'update' | 'partial_update' = 'update',
  ): Promise<Applicatie> {
    const before = await this.get(uuid);
    checkOwnOrganisation(actor, before.organisation);
    const merged: ApplicatieInput = {
      clientIds: fields.clientIds ?? before.clientIds,
      label: fields.label ?? before.label,
      heeftAlleAutorisaties: fields.heeftAlleAutorisaties ?? before.heeftAlleAutorisaties,
      autorisaties: fields.autorisaties ?? before.autorisaties,
      alleenIsGereedVoorPublicatie: fields.alleenIsGereedVoorPublicatie ?? before.alleenIsGereedVoorPublicatie,
    };
    checkAutorisatiesXor(merged);
    const organisation =
      fields.clientIds === undefined
        ? before.organisation
        : await this.organisationOf(merged.clientIds, before.organisation);
    checkOwnOrganisation(actor, organisation);
    const after: Applicatie = { ...before, ...merged, organisation, updatedAt: this.now() };
    let found = true;
    await this.write(async () => {
      found = await this.store.replace(after, this.notification(uuid, actie, after.updatedAt));
    });
    if (!found) throw new NotFoundError('Niet gevonden.');
    this.notifications?.written();
    await this.changed();
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'applicatie.updated',
      target: uuid,
      organisation,
      details: { before: auditView(before), after: auditView(after) },
    });
    return after;
  }

  async delete(uuid: string, actor: AcActor): Promise<void> {
    const before = await this.get(uuid);
    checkOwnOrganisation(actor, before.organisation);
    if (!(await this.store.delete(uuid, this.notification(uuid, 'destroy', this.now()))))
      throw new NotFoundError('Niet gevonden.');
    this.notifications?.written();
    await this.changed();
    await this.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'applicatie.deleted',
      target: uuid,
      organisation: before.organisation,
      details: { before: auditView(before) },
    });
  }

  /** The applicatie a client is in, read from the store (an administrator's page); undefined: in none. */
  async ofClient(clientId: string): Promise<Applicatie | undefined> {
    return this.store.byClientId(clientId);
  }

  /**
   * A client's rights as its administrator sets them (admin API, console): the applicatie it is in
   * changed, or a new one for it alone, through update and create, so with every rule of the API.
   * All rights (`heeftAlleAutorisaties`) are granted only by an administrator of the whole
   * registry: they reach every organisation's cases in every ZGW API.
   */
  async saveForClient(
    clientId: string,
    label: string,
    fields: Pick<ApplicatieFields, 'heeftAlleAutorisaties' | 'autorisaties' | 'alleenIsGereedVoorPublicatie'>,
    actor: AcActor,
  ): Promise<Applicatie> {
    const before = await this.store.byClientId(clientId);
    if (fields.heeftAlleAutorisaties === true && !actor.everyOrganisation && !before?.heeftAlleAutorisaties)
      throw new ForbiddenError('Alle rechten geeft alleen een beheerder van het hele register.');
    const { heeftAlleAutorisaties, autorisaties, alleenIsGereedVoorPublicatie } = fields;
    const given = { heeftAlleAutorisaties, autorisaties, alleenIsGereedVoorPublicatie };
    if (before) return this.update(before.uuid, given, actor);
    return this.create({ clientIds: [clientId], label, ...given }, actor);
  }

  /**
   * First start (and the first start of a version with the AC): the first administrator client,
   * when it exists and is in no applicatie, gets one with all rights, so that it can manage the
   * AC. Once per registry: an operator who later changes or removes that applicatie keeps it so.
   */
  async bootstrap(adminClientId: string): Promise<Applicatie | undefined> {
    let made: Applicatie | undefined;
    await this.store.once(BOOTSTRAP_MARK, async (store) => {
      const organisation = (await store.clientOrganisations([adminClientId])).get(adminClientId);
      if (organisation === undefined || (await store.byClientId(adminClientId))) return;
      const at = this.now();
      made = {
        uuid: crypto.randomUUID(),
        clientIds: [adminClientId],
        label: 'zgw-auth administrator',
        heeftAlleAutorisaties: true,
        autorisaties: [],
        alleenIsGereedVoorPublicatie: false,
        organisation,
        createdAt: at,
        updatedAt: at,
      };
      await store.insert(made, this.notification(made.uuid, 'create', at));
      // Written with the mark: a start killed after it commits leaves no unaudited applicatie.
      return {
        at,
        actor: 'system',
        action: 'applicatie.created',
        target: made.uuid,
        organisation: made.organisation,
        details: { after: auditView(made) },
      };
    });
    if (!made) return undefined;
    crashPoint('first-start:autorisaties-granted');
    this.notifications?.written();
    await this.changed();
    return made;
  }

  /**
   * One registry: every client id is a client of zgw-auth, all of one organisation, which the
   * applicatie then belongs to. Without client ids it belongs to `fallback`.
   */
  private async organisationOf(clientIds: readonly string[], fallback: string): Promise<string> {
    if (clientIds.length === 0) return fallback;
    const known = await this.store.clientOrganisations(clientIds);
    const unknown = clientIds.flatMap((id, i) => (known.has(id) ? [] : [i]));
    if (unknown.length)
      throw new InvalidParamsError(
        unknown.slice(0, 100).map((i) => ({
          name: `clientIds.${i}`,
          code: 'clientId-unknown',
          reason: 'Deze client id is geen client van het register: registreer de client eerst.',
        })),
      );
    const organisations = new Set(known.values());
    if (organisations.size > 1)
      throw new InvalidParamsError([
        {
          name: 'clientIds',
          code: 'clientIds-multiple-organisations',
          reason: 'De clients van een applicatie horen bij één organisatie.',
        },
      ]);
    return [...organisations][0]!;
  }

  /** Runs a store write, its refusals (ac-001, a client deleted meanwhile) as the standard's. */
  private async write(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (err instanceof ClientIdsTaken) {
        const ids = [...new Set(err.taken.map((t) => t.clientId))].join(', ');
        const apps = [...new Set(err.taken.map((t) => t.applicatie))].join(', ');
        throw new InvalidParamsError([
          {
            name: 'clientIds',
            code: 'clientId-exists',
            reason: `The clientID(s) ${ids} are already used in application(s) ${apps}`,
          },
        ]);
      }
      if (err instanceof ClientIdsUnknown)
        throw new InvalidParamsError([
          { name: 'clientIds', code: 'clientId-unknown', reason: 'Een client id is geen client van het register.' },
        ]);
      throw err;
    }
  }
}

/** An applicatie as the audit trail keeps it. */
function auditView(a: Applicatie) {
  return {
    clientIds: a.clientIds,
    label: a.label,
    heeftAlleAutorisaties: a.heeftAlleAutorisaties,
    autorisaties: a.autorisaties,
    alleenIsGereedVoorPublicatie: a.alleenIsGereedVoorPublicatie,
  };
}
