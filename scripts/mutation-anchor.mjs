// Finds where a mutation applies: inside the function, method or variable named by the entry's
// `fn` ("name" or "Class.method"), matching `from` with all whitespace ignored. Reformatting
// (line width, wrapping) and an identical line elsewhere in the file do not make an entry stale.
import ts from 'typescript';

/** Source ranges of the declarations `fn` names (several for "A / B" or overloads). */
function declarations(text, file, fn) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const wanted = fn.split(/\s*[/,]\s*/).map((n) => n.split('.'));
  const ranges = [];
  const visit = (node, owners) => {
    const name =
      node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) || ts.isPrivateIdentifier(node.name))
        ? node.name.text
        : undefined;
    const isDeclaration =
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      ts.isVariableDeclaration(node) ||
      ts.isPropertyDeclaration(node) ||
      ts.isPropertyAssignment(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isConstructorDeclaration(node);
    const own = ts.isConstructorDeclaration(node) ? 'constructor' : name;
    const path = isDeclaration && own ? [...owners, own] : owners;
    if (isDeclaration && own) {
      for (const parts of wanted) {
        const tail = path.slice(-parts.length);
        if (tail.length === parts.length && tail.every((p, i) => p === parts[i]))
          ranges.push([node.getStart(source), node.getEnd()]);
      }
    }
    ts.forEachChild(node, (child) => visit(child, path));
  };
  visit(source, []);
  return ranges;
}

/**
 * The text without whitespace and without trailing commas (a comma before a closing bracket),
 * which a formatter adds or removes when it wraps a line; with each kept character's offset.
 */
function strip(text, start, end) {
  const offsets = [];
  let stripped = '';
  for (let i = start; i < end; i++) {
    if (/\s/.test(text[i])) continue;
    if (text[i] === ',' && /^\s*[)\]}]/.test(text.slice(i + 1, i + 200))) continue;
    offsets.push(i);
    stripped += text[i];
  }
  return { stripped, offsets };
}

/** Occurrences of `from` in text[start, end) with whitespace ignored, as [start, end) offsets. */
function occurrences(text, start, end, from) {
  const needle = strip(from, 0, from.length).stripped;
  if (!needle) return [];
  const { stripped, offsets } = strip(text, start, end);
  // A needle that begins or ends with a name matches whole names only: `cipher.x` is not in `decipher.x`.
  const word = /\w/;
  const found = [];
  for (let at = stripped.indexOf(needle); at >= 0; at = stripped.indexOf(needle, at + 1)) {
    const s = offsets[at];
    const e = offsets[at + needle.length - 1] + 1;
    if (word.test(needle[0]) && word.test(text[s - 1] ?? '')) continue;
    if (word.test(needle.at(-1)) && word.test(text[e] ?? '')) continue;
    found.push([s, e]);
  }
  return found;
}

/**
 * The one place of each edit's `from`, or a reason why there is not exactly one. Within the named
 * declarations when `fn` names any in the file; else in the whole file.
 */
export function locate(text, file, fn, edits) {
  const scopes = fn ? declarations(text, file, fn) : [];
  const within = scopes.length ? scopes : [[0, text.length]];
  const places = [];
  for (const [from, to] of edits) {
    const found = new Map();
    for (const [s, e] of within) for (const hit of occurrences(text, s, e, from)) found.set(hit[0], hit);
    if (found.size !== 1)
      return {
        error: `${found.size === 0 ? 'not found' : `found ${found.size} times`}${scopes.length ? ` in ${fn}` : fn ? ` (no declaration named ${fn}; whole file)` : ''}: ${from}`,
      };
    places.push([...found.values()][0].concat([to]));
  }
  return { places };
}

/** The text with every located edit applied (from the end, so offsets stay valid). */
export function applyEdits(text, places) {
  return [...places].sort((a, b) => b[0] - a[0]).reduce((t, [s, e, to]) => t.slice(0, s) + to + t.slice(e), text);
}
