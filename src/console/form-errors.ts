import { CLIENT_LIMITS } from '../clients/client-limits.js';
import { isAllowedStaticClaim, STATIC_CLAIM_NAMES } from '../clients/model.js';
import { isValidRsin } from '../clients/rsin.js';
import { CLIENT_ID_PATTERN, SCOPE_PATTERN, validateStaticClaims } from '../clients/validate.js';
import { isPlatformScope } from '../organisations/administration-policy.js';
import { ORGANISATION_NAME_MAX } from '../organisations/model.js';
import type { AdminApiProblem } from './admin-api.js';
import type { FormFields } from './console-tools.js';
import { html, type SafeHtml } from './html.js';
import { fill, type Messages } from './messages.js';

/**
 * What is wrong with a form, field by field, in the page's language: the console checks every field
 * itself before it calls the admin API (which names only the first refusal, in English), and maps
 * what the API still refuses to the field it names.
 */
export type FieldErrors = Record<string, string>;

const CONTROL = /[\u0000-\u001f\u007f]/;
const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean);

/** The refusal of a field in words, for a field the admin API names without the console having caught it. */
function fieldRule(m: Messages, field: string): string {
  switch (field) {
    case 'clientId':
      return m.errClientId;
    case 'rsin':
      return m.errRsin;
    case 'name':
      return fill(m.errName, { max: CLIENT_LIMITS.name });
    case 'description':
      return fill(m.errDescription, { max: CLIENT_LIMITS.description });
    case 'tokenLifetime':
      return fill(m.errTokenLifetime, { max: CLIENT_LIMITS.tokenLifetime });
    case 'staticClaims':
      return fill(m.errStaticClaimsOther, { max: CLIENT_LIMITS.staticClaims });
    case 'label':
      return fill(m.errLabel, { max: CLIENT_LIMITS.secretLabel });
    case 'publishDelay':
      return m.errPublishDelay;
    case 'authMethods':
      return m.errAuthMethods;
    case 'jwksUri':
      return m.errJwksUri;
    case 'tlsSubject':
      return m.errTlsSubject;
    case 'oin':
      return m.errOin;
    default:
      return m.errRejected;
  }
}

function checkScopes(m: Messages, scopes: string[], platformRefused: boolean): string | undefined {
  if (scopes.length > CLIENT_LIMITS.scopes) return fill(m.errScopesTooMany, { max: CLIENT_LIMITS.scopes });
  const invalid = scopes.filter((s) => !SCOPE_PATTERN.test(s));
  if (invalid.length) return fill(m.errScopesInvalid, { scopes: invalid.map((s) => s.slice(0, 100)).join(' ') });
  const platform = platformRefused ? [...new Set(scopes.filter(isPlatformScope))] : [];
  if (platform.length) return fill(m.errScopesPlatform, { scopes: platform.join(' ') });
  return undefined;
}

function checkStaticClaims(m: Messages, raw: string | undefined): { value?: Record<string, unknown>; error?: string } {
  if (!raw?.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw) as unknown;
  } catch {
    return { error: m.staticClaimsInvalid };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: m.staticClaimsInvalid };
  const claims = value as Record<string, unknown>;
  const refused = Object.keys(claims).find((name) => !isAllowedStaticClaim(name));
  if (refused !== undefined)
    return {
      error: fill(m.errStaticClaimsName, { name: refused.slice(0, 60), allowed: STATIC_CLAIM_NAMES.join(', ') }),
    };
  const notText = STATIC_CLAIM_NAMES.find((name) => name in claims && typeof claims[name] !== 'string');
  if (notText !== undefined) return { error: fill(m.errStaticClaimsString, { name: notText }) };
  try {
    validateStaticClaims(claims);
  } catch {
    return { error: fieldRule(m, 'staticClaims') };
  }
  if (Buffer.byteLength(JSON.stringify(claims)) > CLIENT_LIMITS.staticClaimsBytes)
    return { error: fieldRule(m, 'staticClaims') };
  return { value: claims };
}

export interface ClientFormRules {
  creating: boolean;
  /** The form has an RSIN field (creating, or a global administrator editing). */
  rsinField: boolean;
  /** An organisation administrator's own RSIN: the only one it registers clients for, and no platform scopes. */
  ownRsin: string | undefined;
}

/** The client fields of a form as the admin API takes them, and every field's refusal. */
export function checkClientForm(
  m: Messages,
  f: FormFields,
  rules: ClientFormRules,
): { body: Record<string, unknown>; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const { creating } = rules;
  const body: Record<string, unknown> = {
    name: f.name ?? '',
    description: f.description ?? '',
    selfSignedAllowed: f.selfSignedAllowed === 'true',
  };
  if (creating && f.clientId && !CLIENT_ID_PATTERN.test(f.clientId)) errors.clientId = m.errClientId;
  // Editing, an empty RSIN leaves the organisation as it is.
  if (rules.rsinField && (creating || f.rsin)) {
    const rsin = f.rsin ?? '';
    if (!isValidRsin(rsin)) errors.rsin = m.errRsin;
    else if (rules.ownRsin !== undefined && rsin !== rules.ownRsin)
      errors.rsin = fill(m.errRsinOwn, { rsin: rules.ownRsin });
  }
  const name = f.name ?? '';
  if (name.length > CLIENT_LIMITS.name || CONTROL.test(name)) errors.name = fieldRule(m, 'name');
  if ((f.description ?? '').length > CLIENT_LIMITS.description) errors.description = fieldRule(m, 'description');
  const allowed = words(f.allowedScopes);
  const defaults = words(f.defaultScopes);
  body.allowedScopes = allowed;
  const platformRefused = rules.ownRsin !== undefined;
  const allowedError = checkScopes(m, allowed, platformRefused);
  if (allowedError) errors.allowedScopes = allowedError;
  const defaultError = checkScopes(m, defaults, platformRefused);
  const notAllowed = defaults.filter((s) => !allowed.includes(s));
  if (defaultError) errors.defaultScopes = defaultError;
  else if (notAllowed.length) errors.defaultScopes = fill(m.errDefaultNotAllowed, { scopes: notAllowed.join(' ') });
  if (!creating || f.defaultScopes) body.defaultScopes = defaults;
  if (creating && !body.name) delete body.name;
  if (f.tokenLifetime) {
    const n = Number(f.tokenLifetime);
    if (!/^\d{1,9}$/.test(f.tokenLifetime.trim()) || n < 1 || n > CLIENT_LIMITS.tokenLifetime)
      errors.tokenLifetime = fieldRule(m, 'tokenLifetime');
    body.tokenLifetime = n;
  } else if (!creating) body.tokenLifetime = null;
  const claims = checkStaticClaims(m, f.staticClaims);
  if (claims.error) errors.staticClaims = claims.error;
  if (claims.value) body.staticClaims = claims.value;
  else if (!creating) body.staticClaims = {};
  return { body, errors };
}

/** A secret's label and the like: bounded, no control characters. */
export function checkLabel(m: Messages, label: string): string | undefined {
  return label.length > CLIENT_LIMITS.secretLabel || CONTROL.test(label) ? fieldRule(m, 'label') : undefined;
}

export function checkOrganisationForm(m: Messages, f: FormFields, withRsin: boolean): FieldErrors {
  const errors: FieldErrors = {};
  if (withRsin && !isValidRsin(f.rsin ?? '')) errors.rsin = m.errRsin;
  const name = f.name ?? '';
  if (!/\S/.test(name) || name.length > ORGANISATION_NAME_MAX || CONTROL.test(name))
    errors.name = fill(m.errOrgName, { max: ORGANISATION_NAME_MAX });
  return errors;
}

/**
 * What the admin API refused, in the page's language, next to the field it names when the form has
 * that field; otherwise for the whole form (key ''). The API's English detail is never shown.
 */
export function apiFieldErrors(
  m: Messages,
  err: AdminApiProblem,
  fields: readonly string[],
  conflictField = 'clientId',
): FieldErrors {
  if (err.status === 409) return { [conflictField]: conflictField === 'rsin' ? m.errOrgExists : m.errClientIdTaken };
  if (err.status === 403) return { '': m.errForbidden };
  if (err.field && fields.includes(err.field)) return { [err.field]: fieldRule(m, err.field) };
  return { '': m.errRejected };
}

/**
 * The list of what is wrong, above the form, each linking to its field (the fields show their own
 * refusal too). `ids` maps a field to its element id where they differ.
 */
export function errorSummary(m: Messages, errors: FieldErrors, ids: Record<string, string> = {}): SafeHtml | '' {
  const entries = Object.entries(errors);
  if (!entries.length) return '';
  const general = entries.filter(([field]) => field === '').map(([, text]) => text);
  const named = entries.filter(([field]) => field !== '');
  const intro = named.length === 1 ? m.formErrorsOne : fill(m.formErrorsMany, { n: named.length });
  return html`<div class="utrecht-alert utrecht-alert--error" role="alert">
    <div class="utrecht-alert__message">
      ${general.length ? html`<p class="utrecht-paragraph">${general.join(' ')}</p>` : ''}
      ${
        named.length
          ? html`<p class="utrecht-paragraph">${intro}</p>
              <ul class="console-error-list">
                ${named.map(([field, text]) => html`<li><a class="utrecht-link" href="#${ids[field] ?? field}">${text}</a></li>`)}
              </ul>`
          : ''
      }
    </div>
  </div>`;
}
