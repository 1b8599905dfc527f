/**
 * RSIN (and BSN) numbers are 9 digits passing the "11-proef": 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a
 * multiple of 11. `000000000` passes it and is what ZGW test set-ups use.
 */
export function isValidRsin(value: string): boolean {
  if (!/^\d{9}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * Number(value[i]);
  sum -= Number(value[8]);
  return sum % 11 === 0;
}
