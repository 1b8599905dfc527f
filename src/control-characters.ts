/** C0 control characters and DEL: never part of an identifier, parameter or claim. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** The same, but tab and line breaks, which free text (descriptions) may hold. */
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Deeper JSON than this is refused rather than walked: no input of zgw-auth nests that far. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether a JSON value holds a control character in any key or string, or nests deeper than
 * MAX_JSON_DEPTH (counted as holding one: refused alike). `text` allows tab and line breaks.
 */
export function holdsControlCharacters(value: unknown, options: { text?: boolean } = {}, depth = 0): boolean {
  const pattern = options.text ? CONTROL_IN_TEXT : CONTROL_CHARACTERS;
  if (typeof value === 'string') return pattern.test(value);
  if (value === null || typeof value !== 'object') return false;
  if (depth >= MAX_JSON_DEPTH) return true;
  for (const [k, v] of Object.entries(value)) if (pattern.test(k) || holdsControlCharacters(v, options, depth + 1)) return true;
  return false;
}
