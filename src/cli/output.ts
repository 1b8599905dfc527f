/** A list of rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  // A loop, not Math.max(...): a report may have more rows than a call has room for arguments.
  const widths = headers.map((h) => h.length);
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A time in milliseconds as ISO 8601 to the second, or '-' for none. */
export function isoTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Characters that move the cursor, rewrite or hide what a terminal shows, or show nothing: C0 and
 * C1 controls (ESC, CSI, OSC, CR, LF, NUL …), DEL, bidi overrides and isolates, zero-width characters.
 */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escaped(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Text from outside (a file, the registry) as a terminal may show it: invisible characters written out, e.g. \x1b, \n, \u202e. */
export function displayText(text: string): string {
  return text.replace(INVISIBLE, escaped);
}

/** The invisible characters JSON.stringify leaves as they are: it escapes C0 controls in strings only. */
const INVISIBLE_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** JSON from JSON.stringify for a terminal or log: the invisible characters as \u escapes too (the same JSON value). */
export function terminalSafeJson(json: string): string {
  return json.replace(INVISIBLE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
