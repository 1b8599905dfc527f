import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locateJsonError } from './locate-json-error.js';

/** JSON.parse's verdict, for comparison: whether the text is JSON. */
function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('locating a JSON syntax error without quoting the text', () => {
  it('names the line, column and kind of the first fault', () => {
    const cases: [string, string, number, number][] = [
      ['{"clients": [', 'unexpected end of the file', 1, 14],
      ['[{"a":1},]', 'expected a value (a trailing comma?)', 1, 10],
      ['{"a":1,}', 'expected a property name in double quotes (a trailing comma?)', 1, 8],
      ['{\n  "a": 1\n  "b": 2\n}', "expected ',' or '}'", 3, 3],
      ['[1 2]', "expected ',' or ']'", 1, 4],
      ['{"a" 1}', "expected ':' after a property name", 1, 6],
      ['{a:1}', "expected a property name in double quotes or '}'", 1, 2],
      ['{"s":"line\nbreak"}', 'control character (such as a line break) inside a string', 1, 11],
      ['["\\x41"]', 'bad escape in a string', 1, 3],
      ['["\\u12G4"]', 'bad \\u escape in a string', 1, 3],
      ['["open', 'string not closed', 1, 2],
      ['[-]', 'not a valid number', 1, 2],
      ['[01]', "expected ',' or ']'", 1, 3],
      ['[tru]', 'expected a value', 1, 2],
      ['{} {}', 'unexpected character after the end of the JSON value', 1, 4],
      ['realm: OneGround', 'expected a value', 1, 1],
      ['', 'unexpected end of the file', 1, 1],
    ];
    for (const [text, problem, line, column] of cases) {
      assert.equal(parses(text), false, text);
      assert.deepEqual(locateJsonError(text), { problem, line, column }, text);
    }
  });

  it('agrees with JSON.parse on every one-character change of a document', () => {
    const doc = JSON.stringify(
      {
        realm: 'R',
        clients: [{ clientId: 'a-1', enabled: true, n: -1.5e3, x: null, s: 'é\\"\u0001', attributes: {} }, []],
      },
      null,
      1,
    );
    const alphabet = [
      '',
      ' ',
      '\n',
      '"',
      '\\',
      ',',
      ':',
      '[',
      ']',
      '{',
      '}',
      '0',
      '-',
      '.',
      'e',
      't',
      'n',
      'u',
      '\u0000',
      'x',
    ];
    let broken = 0;
    for (let i = 0; i <= doc.length; i++) {
      for (const c of alphabet) {
        for (const text of [doc.slice(0, i) + c + doc.slice(i + 1), doc.slice(0, i) + c + doc.slice(i)]) {
          const ok = parses(text);
          const found = locateJsonError(text);
          assert.equal(found === undefined, ok, JSON.stringify(text));
          if (found) broken++;
        }
      }
    }
    assert.ok(broken > 1000);
  });

  it('deep nesting costs no stack', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(999_999);
    assert.deepEqual(locateJsonError(text), { problem: 'unexpected end of the file', line: 1, column: 2_000_000 });
  });
});
