import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { CONSOLE_STYLES } from './console-styles.js';

/** The NL Design System components the console's pages use; only their rules are served. */
const COMPONENTS = [
  'alert',
  'button',
  'button-group',
  'checkbox',
  'code',
  'data-list',
  'document',
  'form-field',
  'form-field-description',
  'form-field-error-message',
  'form-fieldset',
  'form-label',
  'heading-1',
  'heading-2',
  'heading-3',
  'link',
  'page-body',
  'page-content',
  'page-footer',
  'page-header',
  'paragraph',
  'select',
  'skip-link',
  'status-badge',
  'table',
  'textarea',
  'textbox',
];

const COMPONENT_CLASS = new RegExp(`\\.utrecht-(?:${COMPONENTS.join('|')})(?:(?:__|--)[\\w-]*)?(?![\\w-])`);

interface Block {
  /** Text before `{` (a selector list or an at-rule's prelude); for a statement, the whole of it. */
  prelude: string;
  /** Between the braces; undefined for a statement such as @charset. */
  body: string | undefined;
}

/** Splits CSS into its top-level rules and at-rules, skipping comments. */
function blocks(css: string): Block[] {
  const out: Block[] = [];
  let i = 0;
  let start = 0;
  let prelude = '';
  const flushStatement = (end: number) => {
    const text = (prelude + css.slice(start, end)).trim();
    if (text) out.push({ prelude: text, body: undefined });
    prelude = '';
  };
  while (i < css.length) {
    const c = css[i]!;
    if (c === '/' && css[i + 1] === '*') {
      prelude += css.slice(start, i);
      i = css.indexOf('*/', i + 2);
      i = i < 0 ? css.length : i + 2;
      start = i;
    } else if (c === '"' || c === "'") {
      i = skipString(css, i);
    } else if (c === ';') {
      flushStatement(i);
      start = ++i;
    } else if (c === '{') {
      const head = (prelude + css.slice(start, i)).trim();
      const end = matchingBrace(css, i);
      out.push({ prelude: head, body: css.slice(i + 1, end) });
      prelude = '';
      start = i = end + 1;
    } else i++;
  }
  return out;
}

function skipString(css: string, i: number): number {
  const quote = css[i];
  for (i++; i < css.length; i++) {
    if (css[i] === '\\') i++;
    else if (css[i] === quote) return i + 1;
  }
  return i;
}

function matchingBrace(css: string, open: number): number {
  let depth = 0;
  for (let i = open; i < css.length; i++) {
    const c = css[i];
    if (c === '"' || c === "'") i = skipString(css, i) - 1;
    else if (c === '/' && css[i + 1] === '*') i = css.indexOf('*/', i + 2) + 1 || css.length;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return css.length;
}

/** A selector list split at its top-level commas (not those inside :is(…) and the like). */
function selectorList(prelude: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < prelude.length; i++) {
    const c = prelude[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(prelude.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(prelude.slice(start).trim());
  return out.filter(Boolean);
}

/** Whether a selector also needs a component that is not chosen (e.g. rich text styling a button inside it). */
function otherComponent(selector: string): boolean {
  for (const m of selector.matchAll(/\.utrecht-[\w-]+/g)) if (!COMPONENT_CLASS.test(m[0])) return true;
  return false;
}

/** The rules of the chosen components, at-rules that hold some of them kept around those. */
function pickComponents(css: string): string {
  const kept: string[] = [];
  for (const b of blocks(css)) {
    if (b.body === undefined) continue;
    if (/^@(media|supports|layer|container)\b/.test(b.prelude)) {
      const inner = pickComponents(b.body);
      if (inner) kept.push(`${b.prelude} {\n${inner}}\n`);
    } else if (!b.prelude.startsWith('@')) {
      const selectors = selectorList(b.prelude).filter((sel) => COMPONENT_CLASS.test(sel) && !otherComponent(sel));
      if (selectors.length) kept.push(`${selectors.join(',\n')} {${b.body}}\n`);
    }
  }
  return kept.join('');
}

/** The theme's custom properties that `used` refers to, directly or through other properties. */
function pickTokens(themeCss: string, used: string): string {
  const declared = new Map<string, string>();
  for (const m of themeCss.matchAll(/(--[\w-]+)\s*:\s*([^;]*);/g)) declared.set(m[1]!, m[2]!);
  const needed = new Set<string>();
  const queue = [...used.matchAll(/var\(\s*(--[\w-]+)/g)].map((m) => m[1]!);
  while (queue.length) {
    const name = queue.pop()!;
    if (needed.has(name) || !declared.has(name)) continue;
    needed.add(name);
    for (const m of declared.get(name)!.matchAll(/var\(\s*(--[\w-]+)/g)) queue.push(m[1]!);
  }
  const lines = [...declared].filter(([name]) => needed.has(name)).map(([name, value]) => `  ${name}: ${value};`);
  return `.utrecht-theme {\n${lines.join('\n')}\n}\n`;
}

export interface Stylesheet {
  css: string;
  /** The same, gzip-compressed once: what nearly every browser is sent. */
  gzipped: Buffer;
  /** For the URL, so that a new version is fetched at once while an unchanged one stays cached. */
  hash: string;
}

/**
 * The console's one stylesheet, built once (when first needed) from the NL Design System packages in
 * node_modules (no CDN): the rules of the components in COMPONENTS, the design tokens those and the
 * console's own styles use, and the console's own styles. The packages' bundles are 400 kB and
 * 90 kB; this is a small part of them.
 */
export function buildStylesheet(): Stylesheet {
  const require = createRequire(import.meta.url);
  const components = fs.readFileSync(require.resolve('@utrecht/component-library-css/dist/index.css'), 'utf8');
  const theme = fs.readFileSync(require.resolve('@utrecht/design-tokens/dist/theme.css'), 'utf8');
  const picked = pickComponents(components);
  const licence =
    '/* NL Design System components and design tokens: @utrecht/component-library-css, @utrecht/design-tokens (EUPL-1.2, Gemeente Utrecht, Frameless B.V.) */\n';
  const css = licence + pickTokens(theme, picked + CONSOLE_STYLES) + picked + CONSOLE_STYLES;
  return {
    css,
    gzipped: zlib.gzipSync(css, { level: 9 }),
    hash: crypto.createHash('sha256').update(css).digest('base64url').slice(0, 12),
  };
}
