/**
 * The decision every ZGW API makes on each request, as the standard's reference implementations
 * make it (vng-api-common's `has_auth`, Open Zaak's list filters): pure functions of an applicatie
 * and a request, no I/O.
 *
 * - `heeftAlleAutorisaties` allows everything.
 * - Otherwise the autorisaties of the component count; for an object of zrc, drc or brc only those
 *   for its zaaktype / informatieobjecttype / besluittype, and for zrc and drc only those whose
 *   maxVertrouwelijkheidaanduiding is at least the object's level. The scopes of the autorisaties
 *   that count, together, must hold every required scope (as the reference joins them).
 * - An applicatie with `alleenIsGereedVoorPublicatie` reaches only documents (drc) whose
 *   isGereedVoorPublicatie is true, with all rights too.
 * - No applicatie: refused.
 */
import {
  type Applicatie,
  rankOf,
  type Vertrouwelijkheidaanduiding,
  VERTROUWELIJKHEIDAANDUIDINGEN,
} from './applicatie.js';

/** A required scope, or a list of scopes of which any one will do (the reference's `scope_a | scope_b`). */
export type ScopeRequirement = string | readonly string[];

/** What the API knows of the object an operation is on; which fields count depends on the component. */
export interface ObjectFacts {
  /** zrc: the zaak's zaaktype URL. */
  zaaktype?: string | undefined;
  /** drc: the document's informatieobjecttype URL. */
  informatieobjecttype?: string | undefined;
  /** brc: the besluit's besluittype URL. */
  besluittype?: string | undefined;
  /** zrc, drc: the object's level. */
  vertrouwelijkheidaanduiding?: string | undefined;
  /** drc: whether the document is ready for publication (standard 1.1). */
  isGereedVoorPublicatie?: boolean | undefined;
}

export interface AutorisatieRequest {
  component: string;
  /** Every one is needed (an inner list: any one of it). */
  scopes: readonly ScopeRequirement[];
  /**
   * The object the operation is on. `'any'`: some object of the component, not known yet (a
   * list, before its filter; a create before the body is read). Left out for zrc, drc or brc, the
   * request is refused (`object_missing`): an object operation decided without its object would
   * reach every zaaktype.
   */
  object?: ObjectFacts | 'any' | undefined;
}

/** Why a request was refused: for the API's log; the caller is told only "no permission". */
export type RefusalReason =
  | 'unknown_client'
  | 'insufficient_scope'
  | 'type_not_authorised'
  | 'too_confidential'
  | 'not_gereed_voor_publicatie'
  | 'object_missing'
  | 'object_incomplete'
  | 'no_principal'
  | 'unavailable';

export type Decision = { allowed: true } | { allowed: false; reason: RefusalReason };

/** The field that names an object's type, per component that has one. */
// Without a prototype: a component named `constructor` or `__proto__` (from an AC's answer) is no type's.
export const TYPE_FIELDS: Readonly<Record<string, 'zaaktype' | 'informatieobjecttype' | 'besluittype'>> = Object.assign(
  Object.create(null) as Record<string, 'zaaktype' | 'informatieobjecttype' | 'besluittype'>,
  {
    zrc: 'zaaktype',
    drc: 'informatieobjecttype',
    brc: 'besluittype',
  } as const,
);
/** The components whose autorisaties carry a maxVertrouwelijkheidaanduiding. */
const LEVELLED = new Set(['zrc', 'drc']);

interface Entry {
  scopes: readonly string[];
  type: string | undefined;
  /** -1: no (known) level, which reaches no object. */
  maxRank: number;
}

/** One component's autorisaties of an applicatie, arranged for deciding. */
interface ComponentRights {
  entries: Entry[];
  /**
   * Per type, per scope: the highest level (rank) at which some autorisatie of that type grants the
   * scope (7 for a component without levels). With the reference's joining of scopes, an object of
   * type T at rank L is allowed exactly when every required scope reaches L here.
   */
  byType: Map<string, Map<string, number>>;
}

/** An applicatie arranged for deciding: its autorisaties per component. */
interface Compiled {
  all: boolean;
  onlyGereed: boolean;
  byComponent: Map<string, ComponentRights>;
}

const compiled = new WeakMap<Applicatie, Compiled>();
const NONE: ComponentRights = { entries: [], byType: new Map() };
const TOP = VERTROUWELIJKHEIDAANDUIDINGEN.length - 1;

/**
 * A flag of a host's applicatie: true, or false when absent. Anything else ("true", 1) is a host's
 * mistake that must not be guessed at: read as false it would widen alleenIsGereedVoorPublicatie.
 */
function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new TypeError(`the applicatie's ${name} is not a boolean`);
  return value;
}

/** Arranged once per applicatie object: a source that hands out the same object pays it once. */
function compile(applicatie: Applicatie): Compiled {
  let c = compiled.get(applicatie);
  if (c) return c;
  const byComponent = new Map<string, ComponentRights>();
  for (const a of applicatie.autorisaties) {
    // A host's lookup is not parsed like an AC's answer: a scope string ("zaken.lezen zaken.bijwerken")
    // would be matched as a substring by `includes`, letter by letter by `for of`.
    if (typeof a.component !== 'string' || !Array.isArray(a.scopes) || !a.scopes.every((s) => typeof s === 'string'))
      throw new TypeError('an autorisatie of the applicatie has no component or no list of scopes');
    const field = TYPE_FIELDS[a.component];
    const entry: Entry = {
      scopes: a.scopes,
      type: field === undefined ? undefined : a[field],
      maxRank: rankOf(a.maxVertrouwelijkheidaanduiding) ?? -1,
    };
    let rights = byComponent.get(a.component);
    if (!rights) byComponent.set(a.component, (rights = { entries: [], byType: new Map() }));
    rights.entries.push(entry);
    if (entry.type === undefined) continue;
    const reach = LEVELLED.has(a.component) ? entry.maxRank : TOP;
    let scopes = rights.byType.get(entry.type);
    if (!scopes) rights.byType.set(entry.type, (scopes = new Map()));
    for (const scope of entry.scopes) scopes.set(scope, Math.max(scopes.get(scope) ?? -1, reach));
  }
  c = {
    all: flag(applicatie.heeftAlleAutorisaties, 'heeftAlleAutorisaties'),
    onlyGereed: flag(applicatie.alleenIsGereedVoorPublicatie, 'alleenIsGereedVoorPublicatie'),
    byComponent,
  };
  compiled.set(applicatie, c);
  return c;
}

/**
 * The highest rank an object of a type may have for these requirements, given that type's reach per
 * scope: the lowest over the requirements (an any-of list: its best scope); -1 when one is not met.
 */
function reachOf(scopes: ReadonlyMap<string, number> | undefined, required: readonly ScopeRequirement[]): number {
  if (!scopes || required.length === 0) return -1;
  let reach = TOP;
  for (const r of required) {
    let best = -1;
    if (typeof r === 'string') best = scopes.get(r) ?? -1;
    else for (const s of r) best = Math.max(best, scopes.get(s) ?? -1);
    if (best < reach) reach = best;
    if (reach < 0) return -1;
  }
  return reach;
}

/** Whether some entry grants `scope`. */
function grants(entries: readonly Entry[], scope: string): boolean {
  for (const e of entries) if (e.scopes.includes(scope)) return true;
  return false;
}

/** Whether the entries' scopes, together, hold every requirement. No requirement at all holds nothing. */
function satisfies(entries: readonly Entry[], required: readonly ScopeRequirement[]): boolean {
  if (required.length === 0 || entries.length === 0) return false;
  for (const r of required) {
    if (typeof r === 'string') {
      if (!grants(entries, r)) return false;
    } else if (!r.some((s) => grants(entries, s))) return false;
  }
  return true;
}

const ALLOWED: Decision = Object.freeze({ allowed: true });
const refusals = new Map<RefusalReason, Decision>();
/** A refusal for `reason` (one frozen object per reason). */
export function refused(reason: RefusalReason): Decision {
  let d = refusals.get(reason);
  if (!d) refusals.set(reason, (d = Object.freeze({ allowed: false, reason })));
  return d;
}

/** The decision for a client whose applicatie is `applicatie` (undefined: it has none). */
export function decide(applicatie: Applicatie | undefined, request: AutorisatieRequest): Decision {
  if (!applicatie) return refused('unknown_client');
  const app = compile(applicatie);
  const { component, scopes, object } = request;
  if (scopes.length === 0) return refused('insufficient_scope');
  const field = TYPE_FIELDS[component];
  const facts = typeof object === 'object' && object !== null ? object : undefined;
  // Only 'any' stands for "some object"; anything else that is not an object's facts (undefined,
  // null, '' from `params.uuid && load(...)`) is no object, and would otherwise reach every type.
  if (field !== undefined && object !== 'any' && facts === undefined) return refused('object_missing');
  if (app.onlyGereed && component === 'drc' && facts && facts.isGereedVoorPublicatie !== true)
    return refused('not_gereed_voor_publicatie');
  if (app.all) return ALLOWED;
  const rights = app.byComponent.get(component) ?? NONE;
  if (field === undefined || !facts) return satisfies(rights.entries, scopes) ? ALLOWED : refused('insufficient_scope');

  const type = facts[field];
  if (typeof type !== 'string' || type === '') return refused('object_incomplete');
  const rank = LEVELLED.has(component) ? rankOf(facts.vertrouwelijkheidaanduiding) : 0;
  if (rank === undefined) return refused('object_incomplete');
  if (rank <= reachOf(rights.byType.get(type), scopes)) return ALLOWED;
  // Refused: the precise reason, for the log.
  if (!satisfies(rights.entries, scopes)) return refused('insufficient_scope');
  return refused(reachOf(rights.byType.get(type), scopes) >= 0 ? 'too_confidential' : 'type_not_authorised');
}

/**
 * What a client may see of a component with these scopes, for a list's query: everything, or the
 * types listed (each with the most confidential level it reaches: the object's level must be at
 * most that; undefined for brc, which has no levels). `allows` is the same decision for one object.
 */
export interface Visible {
  all: boolean;
  types: ReadonlyMap<string, Vertrouwelijkheidaanduiding | undefined>;
  /** Documents (drc) only when isGereedVoorPublicatie is true (standard 1.1), also with `all`. */
  onlyGereedVoorPublicatie: boolean;
  /** Whether one object may be seen: `decide` for it, without a lookup. */
  allows: (object: ObjectFacts) => boolean;
}

const NOTHING = new Map<string, Vertrouwelijkheidaanduiding | undefined>();

export function visible(
  applicatie: Applicatie | undefined,
  request: Pick<AutorisatieRequest, 'component' | 'scopes'>,
): Visible {
  const allows = (object: ObjectFacts) => decide(applicatie, { ...request, object }).allowed;
  if (!applicatie || request.scopes.length === 0)
    return { all: false, types: NOTHING, onlyGereedVoorPublicatie: false, allows: () => false };
  const app = compile(applicatie);
  const onlyGereedVoorPublicatie = app.onlyGereed && request.component === 'drc';
  if (app.all) return { all: true, types: NOTHING, onlyGereedVoorPublicatie, allows };
  const rights = app.byComponent.get(request.component) ?? NONE;
  if (TYPE_FIELDS[request.component] === undefined)
    return { all: satisfies(rights.entries, request.scopes), types: NOTHING, onlyGereedVoorPublicatie, allows };
  const types = new Map<string, Vertrouwelijkheidaanduiding | undefined>();
  const levelled = LEVELLED.has(request.component);
  // Per type the highest level every required scope reaches: exactly the objects `decide` allows.
  for (const [type, scopes] of rights.byType) {
    const reach = reachOf(scopes, request.scopes);
    if (reach >= 0) types.set(type, levelled ? VERTROUWELIJKHEIDAANDUIDINGEN[reach] : undefined);
  }
  return { all: false, types, onlyGereedVoorPublicatie, allows };
}
