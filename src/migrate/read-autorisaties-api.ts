import { ValidationError, ZgwAuthError } from '../errors.js';
import { createSelfSignedToken } from '../tokens/self-signed-token.js';
import { asArray, asObject } from './json-shape.js';
import { type ApplicatiePlanEntry, cleanText, type MigrationPlan, UUID } from './migration-plan.js';

export interface AutorisatiesApiSource {
  /** The source's base URL (where `/applicaties` is), e.g. https://openzaak.example.nl/autorisaties/api/v1. */
  url: string;
  /** A client id of the source's Autorisaties API with `autorisaties.lezen` there, and its secret. */
  clientId: string;
  secret: string;
  /** Pages read at most (100 applicaties each in the standard): a source that goes on is refused. */
  maxPages: number;
  /** Milliseconds one page may take. */
  timeoutMs: number;
  now: () => number;
}

/** Bytes of one page read at most: a page holds 100 applicaties, each at most a few hundred kilobytes. */
const MAX_PAGE_BYTES = 32 * 1024 * 1024;

/**
 * The source's URL as given: http(s) without credentials, query or fragment; http only to this
 * machine, as the token it carries could be read and used again on the way.
 */
export function autorisatiesApiUrl(raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw.replace(/\/+$/, ''));
  } catch {
    url = undefined;
  }
  const loopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (
    !url ||
    !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback(url.hostname))) ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  )
    throw new ValidationError(
      `--url must be the source's Autorisaties API base URL, https (or http to this machine), without credentials, query or fragment, e.g. https://openzaak.example.nl/autorisaties/api/v1; got "${cleanText(withoutUserinfo(raw), 100)}"`,
    );
  return url;
}

/** A refused URL is echoed to the terminal and logs: never with the password it may carry. */
function withoutUserinfo(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1…@');
}

/**
 * Every applicatie of another Autorisaties API (Open Zaak's, another zgw-auth's, any standard
 * one), read through `GET {url}/applicaties` page by page as a ZGW consumer reads it: with a
 * self-signed HS256 token of the given client id, following `next` while it stays on the source's
 * `/applicaties` (never elsewhere: the token goes to the source only), at most `maxPages` pages,
 * redirects not followed. The applicaties are passed on in the standard's shape, unchecked: the
 * migration holds them to the API's own rules (apply-applicatie-migration).
 */
export async function readAutorisatiesApi(source: AutorisatiesApiSource): Promise<MigrationPlan> {
  const base = autorisatiesApiUrl(source.url);
  const list = `${base.origin}${base.pathname}/applicaties`;
  const applicaties: ApplicatiePlanEntry[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  let count: number | undefined;
  let next: string | undefined = list;
  for (let page = 1; next !== undefined; page++) {
    if (page > source.maxPages)
      throw new ValidationError(
        `the source has more than ${source.maxPages} pages of applicaties: nothing was changed; give a larger --max-pages if that is right`,
      );
    if (seen.has(next))
      throw new ValidationError(`the source's next link leads back to ${cleanText(next, 200)}: a loop`);
    seen.add(next);
    const answer = await getPage(next, source);
    let results: unknown[];
    let following: unknown = null;
    if (Array.isArray(answer)) results = answer;
    else {
      const body = asObject(answer, `page ${page}`);
      results = asArray(body.results, `page ${page}.results`, 10_000);
      following = body.next;
      if (page === 1 && typeof body.count === 'number') count = body.count;
    }
    results.forEach((result, i) => applicaties.push(planEntry(result, `page ${page}, result ${i + 1}`)));
    next = nextPage(following, next, list);
  }
  if (count !== undefined && count !== applicaties.length)
    notes.push(
      `the source counted ${count} applicaties and ${applicaties.length} were read: it changed while it was read; run again to take the rest`,
    );
  return { source: 'autorisaties-api', entries: [], applicaties, notes };
}

/** `next` of a page: absent when null; refused when it leads anywhere but the source's /applicaties. */
function nextPage(value: unknown, current: string, list: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ValidationError('the source answered a page whose next is not a URL');
  let url: URL;
  try {
    url = new URL(value, current);
  } catch {
    throw new ValidationError(`the source's next link is not a URL: ${cleanText(value, 200)}`);
  }
  const expected = new URL(list);
  if (url.origin !== expected.origin || url.pathname !== expected.pathname || url.username || url.password)
    throw new ValidationError(
      `the source's next link ${cleanText(value, 200)} leads away from ${list}: not followed (the token is sent to the source only); nothing was changed`,
    );
  url.hash = '';
  return url.toString();
}

async function getPage(url: string, source: AutorisatiesApiSource): Promise<unknown> {
  const token = createSelfSignedToken({
    clientId: source.clientId,
    secret: source.secret,
    userId: 'zgw-auth-migrate',
    userRepresentation: 'zgw-auth migrate',
    lifetimeSeconds: 300,
    now: source.now(),
  });
  const where = cleanText(url, 200);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(source.timeoutMs),
    });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'no answer in time' : (e.cause?.code ?? e.name ?? 'failed');
    throw new ZgwAuthError('upstream_error', `GET ${where}: ${why}; nothing was changed`);
  }
  const text = await readBounded(res, where);
  if (res.status === 401 || res.status === 403)
    throw new ZgwAuthError(
      'upstream_error',
      `GET ${where}: ${res.status}: the source refused client id ${cleanText(source.clientId, 60)}; it needs autorisaties.lezen in the source's Autorisaties API, and the secret must be its secret there; nothing was changed`,
    );
  if (res.status !== 200)
    throw new ZgwAuthError(
      'upstream_error',
      `GET ${where}: ${res.status}${res.status >= 300 && res.status < 400 ? ' (a redirect, not followed: give the URL it leads to)' : ''}: ${printable(text)}; nothing was changed`,
    );
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ZgwAuthError('upstream_error', `GET ${where}: the answer is not JSON; nothing was changed`);
  }
}

async function readBounded(res: Response, where: string): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_PAGE_BYTES)
        throw new ZgwAuthError(
          'upstream_error',
          `GET ${where}: a page larger than ${MAX_PAGE_BYTES / 1024 / 1024} MiB; nothing was changed`,
        );
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short printable excerpt of an answer, for an error message. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** One applicatie of the source as the standard writes it; its uuid is the last segment of its `url`. */
function planEntry(value: unknown, where: string): ApplicatiePlanEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return {
      source: where,
      uuid: undefined,
      body: {},
      autorisatieSources: [],
      refused: 'not an applicatie (an object)',
      notes: [],
    };
  const a = value as Record<string, unknown>;
  const url = typeof a.url === 'string' ? a.url : undefined;
  const last = url?.replace(/\/+$/, '').split('/').pop();
  const uuid = last !== undefined && UUID.test(last) ? last.toLowerCase() : undefined;
  return {
    source: url ? cleanText(url, 200) : where,
    uuid,
    body: {
      clientIds: a.clientIds,
      label: a.label,
      heeftAlleAutorisaties: a.heeftAlleAutorisaties ?? false,
      autorisaties: a.autorisaties ?? [],
      // A source of standard version 1.0 does not have it.
      alleenIsGereedVoorPublicatie: a.alleenIsGereedVoorPublicatie ?? false,
    },
    autorisatieSources: [],
    notes: uuid ? [] : ['no uuid in its url: it gets a new one here'],
  };
}
