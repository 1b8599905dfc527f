import { validateRsin } from '../clients/rsin.js';
import { ValidationError } from '../errors.js';
import {
  ORGANISATION_NAME_MAX,
  ORGANISATION_OFFSET_MAX,
  ORGANISATION_PAGE_MAX,
  ORGANISATION_SEARCH_MAX,
  type OrganisationFilter,
} from './model.js';

/**
 * Characters a name never needs and that make it read as something else in tables, logs and
 * terminals: control characters (C0, DEL, C1), line and paragraph separators, bidirectional
 * overrides and isolates, and lone surrogates (which the databases would store as U+FFFD).
 */
const UNSAFE_IN_NAME = /[\p{Cc}\p{Cs}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** The registry's one RSIN rule (clients/rsin.ts). */
export function validateOrganisationRsin(rsin: string): void {
  validateRsin(rsin);
}

export function validateOrganisationName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length > ORGANISATION_NAME_MAX ||
    !/\S/.test(name) ||
    UNSAFE_IN_NAME.test(name)
  ) {
    throw new ValidationError(`name: 1-${ORGANISATION_NAME_MAX} characters, not blank, no control characters`, 'name');
  }
}

export function validateOrganisationFilter(filter: OrganisationFilter): void {
  if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > ORGANISATION_PAGE_MAX)
    throw new ValidationError(`limit: a whole number from 1 to ${ORGANISATION_PAGE_MAX}`, 'limit');
  if (!Number.isInteger(filter.offset) || filter.offset < 0 || filter.offset > ORGANISATION_OFFSET_MAX)
    throw new ValidationError(`offset: a whole number from 0 to ${ORGANISATION_OFFSET_MAX}`, 'offset');
  if (
    filter.q !== undefined &&
    (typeof filter.q !== 'string' || filter.q.length > ORGANISATION_SEARCH_MAX || UNSAFE_IN_NAME.test(filter.q))
  ) {
    throw new ValidationError(`search: at most ${ORGANISATION_SEARCH_MAX} characters, no control characters`, 'q');
  }
}
