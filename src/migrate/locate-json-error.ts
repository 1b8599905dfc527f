/** Where a text stops being JSON, and why, in words that never quote the text (it may hold secrets). */
export interface JsonErrorPlace {
  /** 1-based; columns count UTF-16 code units, as editors mostly do. */
  line: number;
  column: number;
  problem: string;
}

type Container = 'object' | 'array';
/** What may come next: a value, a value or `]`, a key or `}`, a key, or what follows a value. */
type Expect = 'value' | 'value-or-close' | 'key-or-close' | 'key' | 'after-value';

/**
 * Finds the first place where `text` breaks RFC 8259 JSON (what JSON.parse refuses), for a file
 * JSON.parse refused: its message quotes the text around the place. Iterative, so nesting depth
 * costs memory, not stack. Undefined when no break is found.
 */
export function locateJsonError(text: string): JsonErrorPlace | undefined {
  const stack: Container[] = [];
  let expect: Expect = 'value';
  let i = 0;
  const fail = (at: number, problem: string): JsonErrorPlace => place(text, at, problem);
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= text.length)
      return expect === 'after-value' && !stack.length ? undefined : fail(i, 'unexpected end of the file');
    const c = text[i]!;
    if (expect === 'after-value') {
      const top = stack.at(-1);
      if (top === undefined) return fail(i, 'unexpected character after the end of the JSON value');
      if (c === ',') {
        i++;
        expect = top === 'object' ? 'key' : 'value';
      } else if ((c === '}' && top === 'object') || (c === ']' && top === 'array')) {
        i++;
        stack.pop();
      } else return fail(i, top === 'object' ? "expected ',' or '}'" : "expected ',' or ']'");
      continue;
    }
    if (expect === 'key' || expect === 'key-or-close') {
      if (c === '}' && expect === 'key-or-close') {
        i++;
        stack.pop();
        expect = 'after-value';
        continue;
      }
      if (c !== '"')
        return fail(
          i,
          expect === 'key'
            ? `expected a property name in double quotes${afterComma(text, i)}`
            : "expected a property name in double quotes or '}'",
        );
      const end = stringEnd(text, i);
      if (typeof end !== 'number') return fail(end.at, end.problem);
      i = end;
      skipSpace();
      if (text[i] !== ':') return fail(i, "expected ':' after a property name");
      i++;
      expect = 'value';
      continue;
    }
    if (c === ']' && expect === 'value-or-close') {
      i++;
      stack.pop();
      expect = 'after-value';
      continue;
    }
    // A value.
    if (c === '{' || c === '[') {
      stack.push(c === '{' ? 'object' : 'array');
      i++;
      expect = c === '{' ? 'key-or-close' : 'value-or-close';
      continue;
    }
    if (c === '"') {
      const end = stringEnd(text, i);
      if (typeof end !== 'number') return fail(end.at, end.problem);
      i = end;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) return fail(i, 'not a valid number');
      i = NUMBER.lastIndex;
    } else {
      const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
      if (!literal) return fail(i, `expected a value${afterComma(text, i)}`);
      i += literal.length;
    }
    expect = 'after-value';
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = '"\\/bfnrt';

/** The index after the string starting at `start` (a `"`), or what is wrong with it. */
function stringEnd(text: string, start: number): number | { at: number; problem: string } {
  let i = start + 1;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return { at: i, problem: 'control character (such as a line break) inside a string' };
    if (code === 0x5c) {
      const next = text[i + 1];
      if (next === 'u') {
        if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) return { at: i, problem: 'bad \\u escape in a string' };
        i += 6;
        continue;
      }
      if (next === undefined || !ESCAPES.includes(next)) return { at: i, problem: 'bad escape in a string' };
      i += 2;
      continue;
    }
    i++;
  }
  return { at: start, problem: 'string not closed' };
}

/** A hint when the fault follows a comma: JSON allows none before `]` or `}`. */
function afterComma(text: string, at: number): string {
  let i = at - 1;
  while (i >= 0 && ' \t\n\r'.includes(text[i]!)) i--;
  return text[i] === ',' ? ' (a trailing comma?)' : '';
}

function place(text: string, at: number, problem: string): JsonErrorPlace {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1, problem };
}
