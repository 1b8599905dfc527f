import { ValidationError } from '../errors.js';

/** The form of an RSIN; the admin API's schemas check it, isValidRsin adds the 11-test. */
export const RSIN_PATTERN = /^[0-9]{9}$/;
export const RSIN_RULE = '9 digits passing the 11-test';

/**
 * RSIN (and BSN) numbers are 9 digits passing the "11-proef": 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a
 * multiple of 11. `000000000` passes it and is what ZGW test set-ups use.
 */
export function isValidRsin(value: string): boolean {
  if (typeof value !== 'string' || !RSIN_PATTERN.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * Number(value[i]);
  sum -= Number(value[8]);
  return sum % 11 === 0;
}

export function validateRsin(rsin: string, field = 'rsin'): void {
  if (!isValidRsin(rsin))
    throw new ValidationError(`"${String(rsin).slice(0, 20)}" is not a valid RSIN (${RSIN_RULE})`, field);
}
