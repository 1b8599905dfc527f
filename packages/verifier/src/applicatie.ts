/**
 * The ZGW Autorisaties API's applicatie as a ZGW API needs it to decide (standard 1.0, with the
 * field 1.1 adds), and the parsing of an AC's answer: untrusted JSON, checked field by field.
 */

/** The eight levels of vertrouwelijkheidaanduiding, from open to most secret. */
export const VERTROUWELIJKHEIDAANDUIDINGEN = [
  'openbaar',
  'beperkt_openbaar',
  'intern',
  'zaakvertrouwelijk',
  'vertrouwelijk',
  'confidentieel',
  'geheim',
  'zeer_geheim',
] as const;
export type Vertrouwelijkheidaanduiding = (typeof VERTROUWELIJKHEIDAANDUIDINGEN)[number];

const RANKS = new Map<unknown, number>(VERTROUWELIJKHEIDAANDUIDINGEN.map((level, i) => [level, i]));

/** The level's place in the order (0 for openbaar, 7 for zeer_geheim); undefined for anything else. */
export function rankOf(level: unknown): number | undefined {
  return RANKS.get(level);
}

/** Every level up to and including `level`, from openbaar on: for a query's `IN (...)`. */
export function levelsUpTo(level: Vertrouwelijkheidaanduiding): Vertrouwelijkheidaanduiding[] {
  const rank = rankOf(level);
  return rank === undefined ? [] : VERTROUWELIJKHEIDAANDUIDINGEN.slice(0, rank + 1);
}

/** One autorisatie: a component, its scopes and the fields that component uses. */
export interface Autorisatie {
  /** `zrc`, `drc`, `ztc`, `brc`, `nrc`, `ac` (the standard's enum), or a newer component's name. */
  component: string;
  scopes: readonly string[];
  /** zrc: the zaaktype URL the scopes hold for. */
  zaaktype?: string | undefined;
  /** drc: the informatieobjecttype URL. */
  informatieobjecttype?: string | undefined;
  /** brc: the besluittype URL. */
  besluittype?: string | undefined;
  /** zrc, drc: the most confidential level the scopes reach (inclusive). */
  maxVertrouwelijkheidaanduiding?: Vertrouwelijkheidaanduiding | undefined;
}

/** What one applicatie (its client ids) may do in the ZGW components. */
export interface Applicatie {
  /** Its URL in the Autorisaties API, when it came from one. */
  url?: string | undefined;
  clientIds: readonly string[];
  /** All rights in every component. */
  heeftAlleAutorisaties: boolean;
  autorisaties: readonly Autorisatie[];
  /** Standard 1.1: only documents whose isGereedVoorPublicatie is true. Absent (1.0): false. */
  alleenIsGereedVoorPublicatie?: boolean | undefined;
}

/** An answer that is not an applicatie: the AC cannot be understood, so nothing may be decided on it. */
export class MalformedApplicatie extends Error {
  constructor(what: string) {
    super(`the Autorisaties API's answer is not an applicatie: ${what}`);
    this.name = 'MalformedApplicatie';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string field, or absent: null and "" (as some implementations send for a field not in use) count as absent. */
function optionalText(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new MalformedApplicatie(`${name} is not a string`);
  return v;
}

function optionalBoolean(o: Record<string, unknown>, name: string): boolean {
  const v = o[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new MalformedApplicatie(`${name} is not a boolean`);
  return v;
}

function strings(o: Record<string, unknown>, name: string): string[] {
  const v = o[name];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new MalformedApplicatie(`${name} is not a list of strings`);
  return v as string[];
}

function autorisatie(value: unknown): Autorisatie {
  if (!isObject(value)) throw new MalformedApplicatie('an autorisatie is not an object');
  const component = value.component;
  if (typeof component !== 'string' || component === '')
    throw new MalformedApplicatie('an autorisatie has no component');
  const out: Autorisatie = { component, scopes: strings(value, 'scopes') };
  const zaaktype = optionalText(value, 'zaaktype');
  const informatieobjecttype = optionalText(value, 'informatieobjecttype');
  const besluittype = optionalText(value, 'besluittype');
  const level = optionalText(value, 'maxVertrouwelijkheidaanduiding');
  if (zaaktype !== undefined) out.zaaktype = zaaktype;
  if (informatieobjecttype !== undefined) out.informatieobjecttype = informatieobjecttype;
  if (besluittype !== undefined) out.besluittype = besluittype;
  // A level outside the eight is kept out: the autorisatie then reaches no object at any level.
  if (level !== undefined && rankOf(level) !== undefined)
    out.maxVertrouwelijkheidaanduiding = level as Vertrouwelijkheidaanduiding;
  return out;
}

/** An applicatie from untrusted JSON; throws MalformedApplicatie for anything else. */
export function parseApplicatie(value: unknown): Applicatie {
  if (!isObject(value)) throw new MalformedApplicatie('not an object');
  const autorisaties = value.autorisaties ?? [];
  if (!Array.isArray(autorisaties)) throw new MalformedApplicatie('autorisaties is not a list');
  const out: Applicatie = {
    clientIds: strings(value, 'clientIds'),
    heeftAlleAutorisaties: optionalBoolean(value, 'heeftAlleAutorisaties'),
    autorisaties: autorisaties.map(autorisatie),
    alleenIsGereedVoorPublicatie: optionalBoolean(value, 'alleenIsGereedVoorPublicatie'),
  };
  const url = optionalText(value, 'url');
  if (url !== undefined) out.url = url;
  return out;
}

/**
 * The applicatie of `clientId` in an answer of `GET /applicaties/consumer?clientId=`: 1.0.x
 * answers a list, others the applicatie itself. Only applicaties that name the client id count;
 * none is "no applicatie", more than one breaks the standard (a client id is in one applicatie)
 * and is refused as malformed rather than guessed at.
 */
export function consumerApplicatie(body: unknown, clientId: string): Applicatie | undefined {
  const found = (Array.isArray(body) ? body : [body])
    .map(parseApplicatie)
    .filter((a) => a.clientIds.includes(clientId));
  if (found.length > 1) throw new MalformedApplicatie('more than one applicatie holds the client id');
  return found[0];
}

/**
 * What identifies an applicatie across the AC's addresses: the uuid its URL ends in (lower case),
 * as a notification names it with the address of the process that made the change, and an answer
 * with the address it was asked at; a URL without one stands for itself. Undefined for no URL.
 */
export function applicatieKey(url: unknown): string | undefined {
  if (typeof url !== 'string' || url === '') return undefined;
  const m = /\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\/?$/.exec(
    url.split(/[?#]/)[0]!,
  );
  return m ? m[1]!.toLowerCase() : url;
}
