import crypto from 'node:crypto';
import type { AcActor, AutorisatiesService } from '../autorisaties/autorisaties-service.js';
import type { Applicatie, ApplicatieInput } from '../autorisaties/model.js';
import { checkAutorisatiesXor, parseApplicatie } from '../autorisaties/validate.js';
import { InvalidParamsError, ZgwAuthError } from '../errors.js';
import { type ApplicatiePlanEntry, cleanText, type ReportStatus } from './migration-plan.js';

export interface ApplicatieMigrationOptions {
  /** Check everything and report, change nothing. */
  dryRun: boolean;
  actor: AcActor;
  /**
   * Clients the client part of this run created (in a dry run: would have created), with their
   * organisation: in a dry run they are not in the registry yet, and the dry run must report what
   * the run will do.
   */
  plannedClients?: ReadonlyMap<string, string>;
  /**
   * The organisation (rsin) whose applicaties the source holds (Open Zaak's --rsin). A client id
   * that is, here, a client of another organisation is a namesake, not the source's client: an
   * applicatie naming it is not imported, or the source's rights would go to another party.
   */
  organisation?: string;
}

export interface ApplicatieReportEntry {
  /** Its uuid here: the source's, or the one it gets (none when it is not imported and had none). */
  uuid?: string;
  /** Where it is in the source. */
  source: string;
  label: string;
  clientIds: string[];
  /** imported: created as the source had it; skipped: nothing to do; attention: not imported, the operator must look. */
  status: ReportStatus;
  /** Created by this run (in a dry run: would be). */
  created: boolean;
  /** Its rights as the source gives them: `all`, or the number of autorisaties. */
  rights?: string;
  reasons: string[];
  notes: string[];
}

export interface ApplicatieMigrationReport {
  summary: { imported: number; skipped: number; attention: number; created: number };
  entries: ApplicatieReportEntry[];
}

/**
 * Carries out the applicaties of a migration plan through the Autorisaties API's own use case:
 * each applicatie is created whole, with its autorisaties, or not at all. The API's rules decide
 * (ac-001: a client id in one applicatie; its client ids clients of the registry, of one
 * organisation; ac-002: all rights or autorisaties, never both, never neither; ac-003 and the
 * standard's fields), and an applicatie that breaks one is reported with the reason and skipped.
 * It keeps the uuid it had in the source; one that is already here, or whose client ids are all in
 * one applicatie with the same content, is left as it is, so running again changes nothing. A dry
 * run makes the same checks (those of earlier entries of the run included) and writes nothing.
 */
export async function applyApplicatieMigration(
  autorisaties: AutorisatiesService,
  entries: readonly ApplicatiePlanEntry[],
  options: ApplicatieMigrationOptions,
): Promise<ApplicatieMigrationReport> {
  const run: RunState = { clients: new Map(), uuids: new Set() };
  const reported: ApplicatieReportEntry[] = [];
  for (const entry of entries) reported.push(await applyEntry(autorisaties, entry, options, run));
  const count = (status: ReportStatus) => reported.filter((r) => r.status === status).length;
  return {
    summary: {
      imported: count('imported'),
      skipped: count('skipped'),
      attention: count('attention'),
      created: reported.filter((r) => r.created).length,
    },
    entries: reported,
  };
}

/** What earlier entries of this run took (in a dry run too): a later entry is judged as if they were made. */
interface RunState {
  /** Client id → the uuid of the applicatie of this run that holds it. */
  clients: Map<string, string>;
  uuids: Set<string>;
}

/** Client ids in the report: as many as a table shows. */
const SHOWN_IDS = 20;

async function applyEntry(
  autorisaties: AutorisatiesService,
  entry: ApplicatiePlanEntry,
  options: ApplicatieMigrationOptions,
  run: RunState,
): Promise<ApplicatieReportEntry> {
  const rawIds = Array.isArray(entry.body.clientIds) ? entry.body.clientIds : [];
  const base = {
    ...(entry.uuid ? { uuid: entry.uuid } : {}),
    source: entry.source,
    label: typeof entry.body.label === 'string' ? cleanText(entry.body.label, 100) : '',
    clientIds: rawIds.slice(0, SHOWN_IDS).map((id) => cleanText(String(id), 60)),
    created: false,
    notes: entry.notes,
  };
  // Its rights, once the API's checks read them: shown with a refusal found after that.
  const read: { rights?: string } = {};
  const refused = (reason: string): ApplicatieReportEntry => ({
    ...base,
    ...read,
    status: 'attention',
    reasons: [`not imported: ${reason}`],
  });
  if (entry.refused) return refused(entry.refused);

  // The API's own checks, on the applicatie as the source has it.
  let input: ApplicatieInput;
  try {
    const fields = parseApplicatie(entry.body, true);
    input = {
      clientIds: fields.clientIds ?? [],
      label: fields.label ?? '',
      heeftAlleAutorisaties: fields.heeftAlleAutorisaties ?? false,
      autorisaties: fields.autorisaties ?? [],
      alleenIsGereedVoorPublicatie: fields.alleenIsGereedVoorPublicatie ?? false,
    };
    checkAutorisatiesXor(input);
  } catch (err) {
    if (err instanceof InvalidParamsError) return refused(describeRefusal(err, entry));
    throw err;
  }
  const rights = input.heeftAlleAutorisaties
    ? 'all'
    : `${input.autorisaties.length} autorisatie${input.autorisaties.length === 1 ? '' : 's'}`;
  read.rights = rights;
  const described = { ...base, rights };
  if (input.clientIds.length === 0)
    return { ...described, status: 'skipped', reasons: ['no client ids: no client to give these rights to'] };

  // Here already (a run before this one, or an earlier entry of this run with the same uuid).
  if (entry.uuid !== undefined) {
    if (run.uuids.has(entry.uuid))
      return refused(
        `its uuid ${entry.uuid} is that of an earlier applicatie in the source: only the first is imported`,
      );
    const existing = await autorisaties.find(entry.uuid);
    if (existing) {
      const differs = differences(existing, input);
      return differs.length
        ? {
            ...described,
            status: 'attention',
            reasons: [
              `exists here with other ${differs.join(', ')} than in the source: left as it is; change it through the Autorisaties API (or the CLI) if the source is right`,
            ],
          }
        : { ...described, status: 'skipped', reasons: ['exists: unchanged'] };
    }
  }

  // Its client ids: clients of the registry (or of this run), of one organisation, in no other applicatie.
  const known = new Map(await autorisaties.clientOrganisations(input.clientIds));
  for (const id of input.clientIds) {
    const planned = options.plannedClients?.get(id);
    if (!known.has(id) && planned !== undefined) known.set(id, planned);
  }
  const unknown = input.clientIds.filter((id) => !known.has(id));
  if (unknown.length)
    return refused(
      `client id${unknown.length === 1 ? '' : 's'} ${list(unknown)} ${unknown.length === 1 ? 'is not a client' : 'are not clients'} of the registry: migrate or register ${unknown.length === 1 ? 'it' : 'them'} first, or take ${unknown.length === 1 ? 'it' : 'them'} out of the applicatie in the source`,
    );
  const organisations = new Set(input.clientIds.map((id) => known.get(id)!));
  if (organisations.size > 1)
    return refused(
      `its clients are of more than one organisation here (${list([...organisations])}): the clients of an applicatie are of one organisation`,
    );
  if (options.organisation !== undefined) {
    const foreign = input.clientIds.filter((id) => known.get(id) !== options.organisation);
    if (foreign.length)
      return refused(
        `client id${foreign.length === 1 ? '' : 's'} ${list(foreign)} ${foreign.length === 1 ? 'is a client' : 'are clients'} of organisation ${list([...new Set(foreign.map((id) => known.get(id)!))])} here, not of ${cleanText(options.organisation, 20)}, whose applicaties these are: not given the source's rights`,
      );
  }
  const inRun = input.clientIds.filter((id) => run.clients.has(id));
  if (inRun.length)
    return refused(
      `client id${inRun.length === 1 ? '' : 's'} ${list(inRun)} ${inRun.length === 1 ? 'is' : 'are'} in an earlier applicatie of the source (${list([...new Set(inRun.map((id) => run.clients.get(id)!))])}): a client id is in one applicatie only`,
    );
  const holders = new Map<string, Applicatie>();
  for (const id of input.clientIds) {
    const holder = await autorisaties.ofClient(id);
    if (holder) holders.set(id, holder);
  }
  if (holders.size) {
    // Made before under another uuid (the source gave none): the same applicatie, nothing to do.
    const [first] = holders.values();
    const same =
      holders.size === input.clientIds.length &&
      [...holders.values()].every((h) => h.uuid === first!.uuid) &&
      first!.clientIds.length === input.clientIds.length &&
      differences(first!, input).length === 0;
    if (same)
      return { ...described, uuid: first!.uuid, status: 'skipped', reasons: [`exists as ${first!.uuid}: unchanged`] };
    const taken = [...holders].map(([id, h]) => `${cleanText(id, 60)} in ${h.uuid} ("${cleanText(h.label, 60)}")`);
    return refused(
      `client id${holders.size === 1 ? '' : 's'} already in another applicatie here: ${taken.slice(0, 10).join(', ')}${taken.length > 10 ? ', …' : ''}; a client id is in one applicatie only`,
    );
  }

  const uuid = entry.uuid ?? crypto.randomUUID();
  run.uuids.add(uuid);
  for (const id of input.clientIds) run.clients.set(id, uuid);
  const planned: ApplicatieReportEntry = { ...described, status: 'imported', created: true, reasons: [] };
  // A uuid made here is shown once it is the applicatie's: a dry run's would not be the run's.
  if (options.dryRun) return planned;
  try {
    await autorisaties.create(input, options.actor, uuid);
  } catch (err) {
    // Checked above; what is left is a change made meanwhile (a client deleted, an id taken).
    if (err instanceof InvalidParamsError) return refused(describeRefusal(err, entry));
    if (err instanceof ZgwAuthError) return refused(err.message);
    throw err;
  }
  return { ...planned, uuid };
}

/** Up to ten values, cleaned for the report. */
function list(values: readonly string[]): string {
  const shown = values.slice(0, 10).map((v) => cleanText(v, 60));
  return `${shown.join(', ')}${values.length > 10 ? `, … (${values.length} in all)` : ''}`;
}

/**
 * The API's refusal, field by field with the standard's code, each autorisatie named by where it
 * is in the source: `authorizations.autorisatie pk 3: zaaktype [required]: This field is required …`.
 */
function describeRefusal(err: InvalidParamsError, entry: ApplicatiePlanEntry): string {
  return err.invalidParams
    .slice(0, 10)
    .map((p) => {
      const m = /^autorisaties\.(\d+)(?:\.(.*))?$/.exec(p.name);
      const where = m ? entry.autorisatieSources[Number(m[1])] : undefined;
      const name = where ? `${where}${m![2] ? `: ${m![2]}` : ''}` : p.name;
      return `${cleanText(name, 120)} [${p.code}]: ${cleanText(p.reason, 200)}`;
    })
    .join('; ');
}

/** The fields in which a stored applicatie differs from the source's (client ids and autorisaties in any order). */
function differences(existing: Applicatie, input: ApplicatieInput): string[] {
  const found: string[] = [];
  const sorted = (values: readonly string[]) => JSON.stringify([...values].sort());
  if (sorted(existing.clientIds) !== sorted(input.clientIds)) found.push('client ids');
  if (existing.label !== input.label) found.push('label');
  if (existing.heeftAlleAutorisaties !== input.heeftAlleAutorisaties) found.push('heeftAlleAutorisaties');
  if (sorted(existing.autorisaties.map(canonical)) !== sorted(input.autorisaties.map(canonical)))
    found.push('autorisaties');
  if (existing.alleenIsGereedVoorPublicatie !== input.alleenIsGereedVoorPublicatie)
    found.push('alleenIsGereedVoorPublicatie');
  return found;
}

/** An autorisatie as JSON with its keys and scopes in a fixed order. */
function canonical(a: ApplicatieInput['autorisaties'][number]): string {
  const keys = Object.keys(a).sort() as (keyof typeof a)[];
  return JSON.stringify(keys.map((k) => [k, k === 'scopes' ? [...a.scopes].sort() : a[k]]));
}
