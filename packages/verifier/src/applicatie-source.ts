/**
 * Where a ZGW API's applicaties come from: a function the host passes (an API in the process of
 * its registry), or an Autorisaties API over HTTP, cached in memory for a short time and kept
 * fresh by the AC's notifications.
 */
import { type Applicatie, applicatieKey, consumerApplicatie, MalformedApplicatie } from './applicatie.js';
import { BoundedCache } from './bounded-cache.js';
import { basicCredentials } from './introspection.js';
import { hs256 } from './jose.js';

/** The applicatie of a client id; undefined: it has none. May answer synchronously, from memory. */
export type ApplicatieLookup = (clientId: string) => Applicatie | undefined | Promise<Applicatie | undefined>;

export interface ApplicatieSource {
  lookup: ApplicatieLookup;
}

/**
 * The applicaties cannot be read right now (the AC is away, slow, refuses this API's credentials or
 * answers something that is not an applicatie): nothing can be decided, so nothing is allowed.
 */
export class AutorisatiesUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AutorisatiesUnavailable';
  }
}

/** How this API proves itself to the AC, which answers only callers granted `autorisaties.lezen`. */
export type AcCredentials =
  /** A self-signed HS256 ZGW token of this API's client id and secret, made for each request. */
  | { selfSigned: { clientId: string; secret: string } }
  /** An access token from an OAuth2 token endpoint (zgw-auth's `/token`), kept until shortly before it expires. */
  | { clientCredentials: { tokenEndpoint: string; clientId: string; clientSecret: string; scope?: string } }
  /** The Authorization header value, made by the host. */
  | { authorization: () => string | Promise<string> };

export interface RemoteApplicatiesOptions {
  /** The Autorisaties API's base URL (`https://auth.example.nl/autorisaties/api/v1`). */
  url: string;
  credentials: AcCredentials;
  /** An answer is used for at most this long (default 60,000 ms); notifications end it sooner. */
  maxAgeMs?: number;
  /** Client ids remembered, answers "no applicatie" included (default 10,000). */
  maxEntries?: number;
  /** The remembered answers' size, counted as the bytes the AC sent (default 64 MiB). */
  maxCacheBytes?: number;
  /**
   * After a notification, answers are kept only until this long after it (default 1000 ms): an AC
   * of several processes may answer from a copy that is a moment older than the notification.
   */
  settleMs?: number;
  /** Per request to the AC (default 5000 ms). */
  timeoutMs?: number;
  /** A larger answer is refused (default 8 MiB: 1000 autorisaties of long URLs fit). */
  maxResponseBytes?: number;
  /** Every failure to read the AC, for the API's log (the decision refuses meanwhile). */
  onError?: (err: AutorisatiesUnavailable) => void;
  now?: () => number;
}

export interface RemoteApplicaties extends ApplicatieSource {
  /**
   * Call with every notification the API receives (the parsed body, or its text): one of kanaal
   * `autorisaties` drops the cached answers of the applicatie it names and every cached "no
   * applicatie" (a create or an update may add client ids); one that cannot be read drops all.
   * Other kanalen change nothing. Returns how many answers were dropped.
   */
  notified(notification: unknown): number;
  /** Drops every cached answer. */
  forget(): void;
}

interface CacheEntry {
  applicatie: Applicatie | undefined;
  /** The size of the AC's answer: what the entry holds in memory, near enough. */
  bytes: number;
  /** The applicatie's key (applicatieKey of its url); undefined for "no applicatie". */
  key: string | undefined;
  fetchedAt: number;
  expiresAt: number;
}

/** The standard allows 50 characters; anything far longer is no client id an AC holds. */
const MAX_CLIENT_ID = 200;
/** A token endpoint's answer is a few hundred bytes; more is refused unread. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

interface Answer {
  applicatie: Applicatie | undefined;
  bytes: number;
}

export function remoteApplicaties(options: RemoteApplicatiesOptions): RemoteApplicaties {
  const base = options.url.replace(/\/+$/, '');
  new URL(base); // a wrong URL fails here, at start, not at the first request
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const settleMs = options.settleMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;
  const cache = new BoundedCache<string, CacheEntry>(
    options.maxEntries ?? 10_000,
    options.maxCacheBytes ?? 64 * 1024 * 1024,
    (clientId, entry) => clientId.length + entry.bytes,
  );
  const inflight = new Map<string, Promise<Applicatie | undefined>>();
  const authorization = authorizationOf(options.credentials, now, timeoutMs);
  /** Counts the drops: an answer asked for before one is not kept after it. */
  let generation = 0;
  let lastDrop = -Infinity;

  const fail = (message: string, cause?: unknown): never => {
    const err = new AutorisatiesUnavailable(message, cause === undefined ? undefined : { cause });
    try {
      options.onError?.(err);
    } catch {
      // The host's logger; its failure must not change the decision.
    }
    throw err;
  };

  async function ask(clientId: string, retried = false): Promise<Answer> {
    let header: string;
    try {
      header = await authorization.get();
    } catch (err) {
      return fail(`no credentials for the Autorisaties API: ${(err as Error).message}`, err);
    }
    let res: Response;
    try {
      res = await fetch(`${base}/applicaties/consumer?clientId=${encodeURIComponent(clientId)}`, {
        headers: { authorization: header, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      return fail(`the Autorisaties API cannot be reached: ${(err as Error).message}`, err);
    }
    if ((res.status === 401 || res.status === 403) && !retried && authorization.renewable) {
      await res.body?.cancel().catch(() => {});
      authorization.drop();
      return ask(clientId, true);
    }
    let body: unknown;
    let bytes: number;
    try {
      const text = await readText(res, maxBytes);
      bytes = text.length;
      body = JSON.parse(text);
    } catch (err) {
      return fail(`the Autorisaties API answered ${res.status} without JSON: ${(err as Error).message}`, err);
    }
    // A 404 of the AC is a JSON `Fout`: "no applicatie". Another server's 404 page is not an answer.
    if (res.status === 404 && typeof body === 'object' && body !== null && !Array.isArray(body))
      return { applicatie: undefined, bytes };
    if (res.status !== 200) return fail(`the Autorisaties API answered ${res.status}`);
    try {
      return { applicatie: consumerApplicatie(body, clientId), bytes };
    } catch (err) {
      return fail(err instanceof MalformedApplicatie ? err.message : 'the answer cannot be read', err);
    }
  }

  function fetchShared(clientId: string): Promise<Applicatie | undefined> {
    const pending = inflight.get(clientId);
    if (pending) return pending;
    const startedIn = generation;
    const asked = ask(clientId).then(({ applicatie, bytes }) => {
      // A drop since the question: the answer may be from before the change, so it is not kept.
      if (startedIn === generation) {
        const t = now();
        // Shortly after a drop, kept only until the settling time is over.
        const settledAt = lastDrop + settleMs;
        cache.set(clientId, {
          applicatie,
          bytes,
          key: applicatieKey(applicatie?.url),
          fetchedAt: t,
          expiresAt: t < settledAt ? Math.min(settledAt, t + maxAgeMs) : t + maxAgeMs,
        });
      }
      return applicatie;
    });
    inflight.set(clientId, asked);
    const done = () => {
      if (inflight.get(clientId) === asked) inflight.delete(clientId);
    };
    asked.then(done, done);
    return asked;
  }

  function dropped(count: number): number {
    generation++;
    lastDrop = now();
    inflight.clear();
    return count;
  }

  return {
    lookup(clientId) {
      if (typeof clientId !== 'string' || clientId === '' || clientId.length > MAX_CLIENT_ID) return undefined;
      const hit = cache.get(clientId);
      if (hit) {
        const t = now();
        // A clock stepped back counts as expired, like one run past the end.
        if (t < hit.expiresAt && t >= hit.fetchedAt) return hit.applicatie;
      }
      return fetchShared(clientId);
    },
    notified(notification) {
      const n = readNotification(notification);
      if (n === 'other') return 0;
      if (n === 'unreadable') {
        const count = cache.deleteWhere(() => true);
        return dropped(count);
      }
      return dropped(cache.deleteWhere((e) => e.key === undefined || e.key === n.key));
    },
    forget() {
      cache.clear();
      dropped(0);
    },
  };
}

const ACTIES = new Set(['create', 'update', 'partial_update', 'destroy']);

/** A notification as sent to the API: parsed, never trusted. */
function readNotification(value: unknown): { key: string } | 'other' | 'unreadable' {
  let n = value;
  if (typeof n === 'string' || n instanceof Uint8Array) {
    try {
      n = JSON.parse(typeof n === 'string' ? n : Buffer.from(n).toString('utf8'));
    } catch {
      return 'unreadable';
    }
  }
  if (typeof n !== 'object' || n === null || Array.isArray(n)) return 'unreadable';
  const { kanaal, resourceUrl, hoofdObject, actie } = n as Record<string, unknown>;
  if (typeof kanaal === 'string' && kanaal !== 'autorisaties') return 'other';
  if (kanaal !== 'autorisaties' || typeof actie !== 'string' || !ACTIES.has(actie)) return 'unreadable';
  const key = applicatieKey(resourceUrl) ?? applicatieKey(hoofdObject);
  return key === undefined ? 'unreadable' : { key };
}

/** The answer's text, refused past `maxBytes` without reading on. */
async function readText(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`answer larger than ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`answer larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface Authorization {
  get(): Promise<string>;
  /** Whether a refused header can be replaced by a new one (a token from the token endpoint). */
  renewable: boolean;
  drop(): void;
}

function authorizationOf(credentials: AcCredentials, now: () => number, timeoutMs: number): Authorization {
  if ('selfSigned' in credentials) {
    const { clientId, secret } = credentials.selfSigned;
    return {
      renewable: false,
      drop() {},
      // As ZGW consumers make them: iss and client_id the client id, iat now, user fields empty.
      get: async () =>
        `Bearer ${hs256({ iss: clientId, client_id: clientId, iat: Math.floor(now() / 1000), user_id: '', user_representation: '' }, secret)}`,
    };
  }
  if ('authorization' in credentials) {
    const make = credentials.authorization;
    return { renewable: false, drop() {}, get: async () => make() };
  }
  const { tokenEndpoint, clientId, clientSecret, scope } = credentials.clientCredentials;
  let held: { header: string; until: number } | undefined;
  let pending: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope !== undefined) form.set('scope', scope);
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: basicCredentials(clientId, clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const body: unknown = await readText(res, MAX_TOKEN_ANSWER_BYTES).then(
      (text) => JSON.parse(text) as unknown,
      () => undefined,
    );
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const token = fields.access_token;
    if (res.status !== 200 || typeof token !== 'string' || token === '' || /[^\x21-\x7e]/.test(token))
      throw new Error(`the token endpoint answered ${res.status} without an access token`);
    const lifetime = typeof fields.expires_in === 'number' && fields.expires_in > 0 ? fields.expires_in : 60;
    // Renewed 30 seconds before it runs out (at half its life for a short one).
    held = { header: `Bearer ${token}`, until: now() + Math.max(lifetime / 2, lifetime - 30) * 1000 };
    return held.header;
  };
  return {
    renewable: true,
    drop() {
      held = undefined;
    },
    get() {
      const t = now();
      if (held && t < held.until) return Promise.resolve(held.header);
      pending ??= fetchToken().finally(() => (pending = undefined));
      return pending;
    },
  };
}
