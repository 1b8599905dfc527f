/**
 * Never part of an identifier, parameter or claim: C0 and C1 control characters and DEL (a C1
 * CSI drives a terminal as an ESC does), bidirectional controls (an override makes an audit line
 * read backwards: "…nimda-htua-wgz" shown as "zgw-auth-admin…") and invisible characters
 * (zero-width spaces and joiners, word joiner, byte order mark).
 */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;

/**
 * In free text (names, descriptions): the same but tab and line breaks, and the left-to-right and
 * right-to-left marks, which mixed-direction text may need; overrides and isolates stay refused.
 */
const CONTROL_IN_TEXT =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;

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
  for (const [k, v] of Object.entries(value))
    if (pattern.test(k) || holdsControlCharacters(v, options, depth + 1)) return true;
  return false;
}
