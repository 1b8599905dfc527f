import type { ClientRecord } from './verifier.js';

export interface IntrospectionOptions {
  /** zgw-auth's /introspect URL. */
  endpoint: string;
  clientId: string;
  clientSecret: string;
  timeoutMs?: number;
}

export interface IntrospectionResult {
  active: boolean;
  [claim: string]: unknown;
}

/** RFC 7662 client, authenticating with HTTP Basic (form-url-encoded credentials, RFC 6749 §2.3.1). */
/** HTTP Basic credentials with the form-url-encoding RFC 6749 §2.3.1 requires of id and secret. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64');
}

export async function introspect(token: string, options: IntrospectionOptions): Promise<IntrospectionResult> {
  const res = await fetch(options.endpoint, {
    method: 'POST',
    headers: {
      authorization: basicCredentials(options.clientId, options.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token }).toString(),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    redirect: 'error',
  });
  if (!res.ok) throw new Error(`introspection answered ${res.status}`);
  const body: unknown = await res.json();
  // RFC 7662 §2.2: a JSON object; anything else says nothing, so the token is not active.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { active: false };
  return { ...(body as Record<string, unknown>), active: (body as Record<string, unknown>).active === true };
}

/** Caches a resolver's answers for `ttlMs`, bounded in size: for hot paths that look up the same clients. */
export function cachedResolver(
  resolve: (clientId: string) => Promise<ClientRecord | undefined>,
  ttlMs = 2000,
  maxEntries = 10_000,
  now: () => number = Date.now,
) {
  const cache = new Map<string, { at: number; value: Promise<ClientRecord | undefined> }>();
  return (clientId: string): Promise<ClientRecord | undefined> => {
    const t = now();
    const hit = cache.get(clientId);
    if (hit && t - hit.at < ttlMs) return hit.value;
    const value = resolve(clientId);
    cache.delete(clientId);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(clientId, { at: t, value });
    value.catch(() => cache.delete(clientId));
    return value;
  };
}
