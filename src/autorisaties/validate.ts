import { CONTROL_CHARACTERS } from '../control-characters.js';
import { type InvalidParam, InvalidParamsError } from '../errors.js';
import {
  type ApplicatieInput,
  type Autorisatie,
  COMPONENT_FIELDS,
  COMPONENT_SCOPES,
  COMPONENTS,
  type Component,
  VERTROUWELIJKHEIDAANDUIDINGEN,
  type Vertrouwelijkheidaanduiding,
} from './model.js';

/** Bounds of an applicatie, beyond the standard's own field lengths: every list is bounded. */
export const AC_LIMITS = {
  /** The standard's maxLength of a client id. */
  clientId: 50,
  clientIds: 100,
  label: 100,
  autorisaties: 1000,
  scopes: 50,
  scope: 100,
  url: 1000,
} as const;

/** The fields a request body gave; absent fields are left out (PUT and PATCH keep what is stored). */
export type ApplicatieFields = Partial<ApplicatieInput>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects refusals field by field, named and coded as the standard's reference implementation does. */
class Refusals {
  readonly list: InvalidParam[] = [];
  add(name: string, code: string, reason: string) {
    // A hostile body could name thousands of faults: the first hundred tell enough.
    if (this.list.length < 100) this.list.push({ name, code, reason });
  }
}

/** A string field: `undefined` when refused (the refusal recorded). */
function text(
  r: Refusals,
  name: string,
  value: unknown,
  max: number,
  options: { blank?: boolean } = {},
): string | undefined {
  if (value === null) return void r.add(name, 'null', 'This field may not be null.');
  if (typeof value !== 'string') return void r.add(name, 'invalid', 'Not a valid string.');
  if (value.trim() === '' && !options.blank) return void r.add(name, 'blank', 'This field may not be blank.');
  if (value.length > max)
    return void r.add(name, 'max_length', `Ensure this field has no more than ${max} characters.`);
  if (CONTROL_CHARACTERS.test(value))
    return void r.add(name, 'invalid', 'Control and invisible characters are not allowed.');
  return value;
}

function bool(r: Refusals, name: string, value: unknown): boolean | undefined {
  if (value === null) return void r.add(name, 'null', 'This field may not be null.');
  if (typeof value !== 'boolean') return void r.add(name, 'invalid', 'Must be a valid boolean.');
  return value;
}

function list(r: Refusals, name: string, value: unknown, max: number): unknown[] | undefined {
  if (value === null) return void r.add(name, 'null', 'This field may not be null.');
  if (!Array.isArray(value))
    return void r.add(name, 'not_a_list', `Expected a list of items but got type "${typeof value}".`);
  if (value.length > max) return void r.add(name, 'max_length', `Ensure this field has no more than ${max} elements.`);
  return value;
}

/** An http(s) URL of at most 1000 characters; '' counts as absent, as the reference implementation stores it. */
function url(r: Refusals, name: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const s = text(r, name, value, AC_LIMITS.url);
  if (s === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(s);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || !parsed.hostname || /\s/.test(s))
    return void r.add(name, 'invalid', 'Enter a valid URL.');
  return s;
}

function autorisatie(r: Refusals, name: string, value: unknown): Autorisatie | undefined {
  if (!isRecord(value)) return void r.add(`${name}.nonFieldErrors`, 'invalid', 'Invalid data. Expected a dictionary.');
  const before = r.list.length;
  let component: Component | undefined;
  if (value.component === undefined) r.add(`${name}.component`, 'required', 'This field is required.');
  else if (value.component === null) r.add(`${name}.component`, 'null', 'This field may not be null.');
  else if (!COMPONENTS.includes(value.component as Component))
    r.add(`${name}.component`, 'invalid_choice', `Not a valid choice: one of ${COMPONENTS.join(', ')}.`);
  else component = value.component as Component;

  const scopes: string[] = [];
  if (value.scopes === undefined) r.add(`${name}.scopes`, 'required', 'This field is required.');
  else {
    const items = list(r, `${name}.scopes`, value.scopes, AC_LIMITS.scopes);
    items?.forEach((item, i) => {
      const scope = text(r, `${name}.scopes.${i}`, item, AC_LIMITS.scope);
      if (scope === undefined) return;
      // Unknown scopes are refused per component: a typo must not read as a granted right.
      if (component && !COMPONENT_SCOPES[component].includes(scope))
        r.add(`${name}.scopes.${i}`, 'invalid_choice', `Not a scope of component ${component}.`);
      else if (scopes.includes(scope)) r.add(`${name}.scopes.${i}`, 'unique', 'This scope is given twice.');
      else scopes.push(scope);
    });
  }

  // Only the fields of its own component are kept (the standard's polymorphic autorisatie).
  const fields = component ? COMPONENT_FIELDS[component] : [];
  const out: Autorisatie = { component: component ?? 'ac', scopes };
  for (const field of fields) {
    if (field === 'maxVertrouwelijkheidaanduiding') {
      const level = value[field];
      if (level === undefined || level === '') continue;
      if (!VERTROUWELIJKHEIDAANDUIDINGEN.includes(level as Vertrouwelijkheidaanduiding))
        r.add(
          `${name}.${field}`,
          'invalid_choice',
          `Not a valid choice: one of ${VERTROUWELIJKHEIDAANDUIDINGEN.join(', ')}.`,
        );
      else out[field] = level as Vertrouwelijkheidaanduiding;
    } else {
      const u = url(r, `${name}.${field}`, value[field]);
      if (u !== undefined) out[field] = u;
    }
  }
  if (r.list.length > before || !component) return undefined;
  requiredPerComponent(r, name, out);
  return out;
}

/** The main resource each component's required fields go with: only scopes on it need them. */
const MAIN_RESOURCE: Partial<Record<Component, string>> = { zrc: 'zaken', drc: 'documenten', brc: 'besluiten' };

/**
 * ac-003: an autorisatie of zrc, drc or brc with a scope on the component's main resource names the
 * type it holds for and, for zrc and drc, the maximum vertrouwelijkheidaanduiding.
 */
function requiredPerComponent(r: Refusals, name: string, a: Autorisatie): void {
  const prefix = MAIN_RESOURCE[a.component];
  if (!prefix || !a.scopes.some((s) => s.startsWith(`${prefix}.`))) return;
  for (const field of COMPONENT_FIELDS[a.component])
    if (a[field] === undefined)
      r.add(`${name}.${field}`, 'required', `This field is required if \`component\` is ${a.component}`);
}

/**
 * Reads an applicatie request body (untrusted JSON). `full` (POST, PUT) requires clientIds and
 * label; other fields absent are left out. Fields the standard does not define are ignored, as
 * the reference implementation does (a body read from a GET, with its `url`, can be sent back).
 * Throws InvalidParamsError with every refused field.
 */
export function parseApplicatie(body: unknown, full: boolean): ApplicatieFields {
  const r = new Refusals();
  if (!isRecord(body)) {
    r.add('nonFieldErrors', 'invalid', 'Invalid data. Expected a dictionary.');
    throw new InvalidParamsError(r.list);
  }
  const out: ApplicatieFields = {};
  if (body.clientIds === undefined) {
    if (full) r.add('clientIds', 'required', 'This field is required.');
  } else {
    const items = list(r, 'clientIds', body.clientIds, AC_LIMITS.clientIds);
    if (items) {
      const ids: string[] = [];
      items.forEach((item, i) => {
        const id = text(r, `clientIds.${i}`, item, AC_LIMITS.clientId);
        if (id === undefined) return;
        if (ids.includes(id)) r.add(`clientIds.${i}`, 'unique', 'This client id is given twice.');
        else ids.push(id);
      });
      out.clientIds = ids;
    }
  }
  if (body.label === undefined) {
    if (full) r.add('label', 'required', 'This field is required.');
  } else {
    const label = text(r, 'label', body.label, AC_LIMITS.label);
    if (label !== undefined) out.label = label;
  }
  for (const field of ['heeftAlleAutorisaties', 'alleenIsGereedVoorPublicatie'] as const) {
    if (body[field] === undefined) continue;
    const b = bool(r, field, body[field]);
    if (b !== undefined) out[field] = b;
  }
  if (body.autorisaties !== undefined) {
    const items = list(r, 'autorisaties', body.autorisaties, AC_LIMITS.autorisaties);
    if (items) {
      const autorisaties: Autorisatie[] = [];
      items.forEach((item, i) => {
        const a = autorisatie(r, `autorisaties.${i}`, item);
        if (a) autorisaties.push(a);
      });
      out.autorisaties = autorisaties;
    }
  }
  if (r.list.length) throw new InvalidParamsError(r.list);
  return out;
}

/**
 * ac-002, on the applicatie as it will be (the stored values for fields a PUT or PATCH left out,
 * as the reference implementation decides): all rights or a list of autorisaties, never both,
 * never neither.
 */
export function checkAutorisatiesXor(a: Pick<ApplicatieInput, 'heeftAlleAutorisaties' | 'autorisaties'>): void {
  if (a.autorisaties.length > 0 && a.heeftAlleAutorisaties)
    throw new InvalidParamsError([
      {
        name: 'nonFieldErrors',
        code: 'ambiguous-authorizations-specified',
        reason: 'Either autorisaties or heeftAlleAutorisaties can be specified',
      },
    ]);
  if (a.autorisaties.length === 0 && !a.heeftAlleAutorisaties)
    throw new InvalidParamsError([
      {
        name: 'nonFieldErrors',
        code: 'missing-authorizations',
        reason: 'Either autorisaties or heeftAlleAutorisaties should be specified',
      },
    ]);
}
