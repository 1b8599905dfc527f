import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The mutation inventory finds each check by the function it lives in and its text with
 * whitespace ignored, so that reformatting never makes an entry stale and an identical line in
 * another function is never mutated instead.
 */
type Edit = [string, string];
type Located = { error?: string; places?: Array<[number, number, string]> };
const script = pathToFileURL(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/mutation-anchor.mjs'),
).href;
const { locate, applyEdits } = (await import(script)) as {
  locate: (text: string, file: string, fn: string | undefined, edits: Edit[]) => Located;
  applyEdits: (text: string, places: Array<[number, number, string]>) => string;
};

const SOURCE = `
export class Limiter {
  check(n: number) {
    if (n > 10) throw new Error('too many');
  }
  other(n: number) {
    if (n > 10) throw new Error('too many');
  }
}
function decipher() { decipher.setAAD(x); }
function cipherFn() { cipher.setAAD(x); }
`;

describe('mutation anchors', () => {
  it('finds a check inside the named method only, though the same line is elsewhere', () => {
    const found = locate(SOURCE, 'a.ts', 'Limiter.check', [
      ["if (n > 10) throw new Error('too many');", 'if (Math.random() < 0) throw 1;'],
    ]);
    assert.equal(found.error, undefined);
    const mutated = applyEdits(SOURCE, found.places!);
    assert.match(mutated, /check\(n: number\) \{\n {4}if \(Math\.random\(\) < 0\) throw 1;/);
    assert.match(mutated, /other\(n: number\) \{\n {4}if \(n > 10\)/);
    assert.match(
      locate(SOURCE, 'a.ts', undefined, [["if (n > 10) throw new Error('too many');", '']]).error ?? '',
      /found 2 times/,
    );
  });

  it('ignores line wrapping and trailing commas a formatter adds', () => {
    const wrapped = `function f() {\n  return Math.min(\n    a.lifetime,\n    b.max,\n  );\n}\n`;
    const found = locate(wrapped, 'b.ts', 'f', [['return Math.min(a.lifetime, b.max);', 'return a.lifetime;']]);
    assert.equal(found.error, undefined);
    assert.equal(applyEdits(wrapped, found.places!), 'function f() {\n  return a.lifetime;\n}\n');
  });

  it('matches whole names only and says when a check is gone', () => {
    assert.equal(locate(SOURCE, 'c.ts', undefined, [['cipher.setAAD(x);', '']]).places?.length, 1);
    assert.match(locate(SOURCE, 'c.ts', 'Limiter.check', [['n > 11', '']]).error ?? '', /not found in Limiter\.check/);
  });
});
