import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { BoundedCache } from '@zgw-auth/verifier/internal';
import { ValidationError } from '../errors.js';
import { CLIENT_ID_ATTRIBUTE, inSpan, type SpanOptions, type TraceSpan, type Tracing } from '../tracing.js';
import { jwksHoldsPrivateKeys, keysOfJwks, type VerificationKey } from './client-keys.js';

export const JWKS_URI_MAX_LENGTH = 2048;
export const JWKS_FETCH = {
  /** Bytes of a JWKS answer. */
  maxBytes: 65_536,
  /** Milliseconds for the whole fetch: connect, answer and body. */
  timeoutMs: 5000,
  /** Cache-Control max-age is honoured within these bounds (seconds); without one, the default. */
  minMaxAge: 300,
  maxMaxAge: 86_400,
  defaultMaxAge: 3600,
  /** Seconds between fetches of one client's jwks_uri outside its cache time (an unknown kid, a failure). */
  refetchInterval: 30,
};

/** Ranges a jwks_uri may not reach unless allowed: the server's own network, not the internet's. */
// Two lists: node's BlockList applies IPv6 rules for IPv4-mapped ranges to plain IPv4 addresses too,
// so `::ffff:0:0/96` in one list with the IPv4 rules would refuse every IPv4 address.
const NOT_PUBLIC_V4 = new net.BlockList();
const NOT_PUBLIC_V6 = new net.BlockList();
for (const [a, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC_V4.addSubnet(a, bits, 'ipv4');
/**
 * IPv6 forms that embed an IPv4 address, which may be loopback or private: IPv4-compatible (with ::
 * and ::1), IPv4-mapped and -translated, 6to4, Teredo, NAT64. None is taken for public.
 */
const EMBEDS_IPV4: readonly (readonly [string, number])[] = [
  ['::', 96],
  ['::ffff:0:0', 96],
  ['::ffff:0:0:0', 96],
  ['2002::', 16],
  ['2001::', 32],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
];
for (const [a, bits] of [
  ...EMBEDS_IPV4,
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC_V6.addSubnet(a, bits, 'ipv6');

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, also in hex) as the IPv4 address it is. */
function unmapped(address: string): string {
  const m = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!m) return address;
  if (m[1]) return m[1];
  const hi = parseInt(m[2]!, 16);
  const lo = parseInt(m[3]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** Which hosts and addresses a jwks_uri may reach (ZGW_AUTH_JWKS_URI_ALLOW on top of public addresses). */
export class JwksUriPolicy {
  private readonly allowedRanges = new net.BlockList();
  private readonly allowedHosts = new Set<string>();

  constructor(allow: readonly string[]) {
    for (const entry of allow) {
      const [ip, bits] = entry.split('/');
      const family = net.isIP(ip ?? '');
      if (family === 0) this.allowedHosts.add(entry.toLowerCase());
      else if (bits === undefined) this.allowedRanges.addAddress(ip!, family === 4 ? 'ipv4' : 'ipv6');
      else this.allowedRanges.addSubnet(ip!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** An allowed host or range: there plain http is allowed and any address it resolves to. */
  isAllowedHost(hostname: string): boolean {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.allowedHosts.has(host)) return true;
    return net.isIP(host) !== 0 && this.inAllowedRange(host);
  }

  /** Whether a resolved address may be connected to for `hostname`. */
  isAllowedAddress(address: string, hostname: string): boolean {
    if (this.allowedHosts.has(hostname.toLowerCase())) return true;
    if (this.inAllowedRange(address)) return true;
    const a = unmapped(address.replace(/%.*$/, ''));
    const family = net.isIP(a);
    if (family === 0) return false;
    // A mapped address (::ffff:a.b.c.d) was judged as the IPv4 address it is, by `unmapped`.
    if (family === 4) return !NOT_PUBLIC_V4.check(a, 'ipv4') && a !== '255.255.255.255';
    return !NOT_PUBLIC_V6.check(a, 'ipv6');
  }

  private inAllowedRange(address: string): boolean {
    const a = unmapped(address.replace(/%.*$/, ''));
    const family = net.isIP(a);
    return family !== 0 && this.allowedRanges.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** Checks a jwks_uri when it is registered: https (or an allowed host), no credentials, no fragment, bounded. */
  validate(uri: string): void {
    const fail = (why: string) => new ValidationError(`jwks_uri ${why}`, 'jwksUri');
    if (typeof uri !== 'string' || uri.length > JWKS_URI_MAX_LENGTH || /[\s\u0000-\u001f\u007f]/.test(uri))
      throw fail(`must be a URL of at most ${JWKS_URI_MAX_LENGTH} characters without spaces`);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw fail('must be an absolute URL');
    }
    if (url.username || url.password) throw fail('must not hold credentials');
    if (url.hash) throw fail('must not have a fragment');
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.isAllowedHost(url.hostname)))
      throw fail('must be https (http only for hosts allowed by ZGW_AUTH_JWKS_URI_ALLOW)');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) !== 0 && !this.isAllowedAddress(host, host))
      throw fail('points at an address that is not public (allow it with ZGW_AUTH_JWKS_URI_ALLOW)');
  }
}

/** A failed fetch: `message` is what the audit shows; `logDetail`, for the server log only. */
export class JwksFetchError extends Error {
  constructor(
    message: string,
    readonly logDetail?: string,
  ) {
    super(message);
  }
}

/** Why a jwks_uri document is refused although it is a JWKS. */
export const JWKS_WITH_PRIVATE_KEYS = 'the jwks_uri publishes private key material';

/**
 * GET a JWKS: bounded in bytes and time, no redirects, and connected only to addresses the policy
 * allows — checked on the address actually connected to (the lookup below), so a name that
 * resolves differently the second time cannot slip past the check. `timeoutMs` bounds the whole
 * fetch (JWKS_FETCH.timeoutMs unless given; tests pass a shorter one).
 */
export function fetchJwks(
  uri: string,
  policy: JwksUriPolicy,
  options: { timeoutMs?: number; span?: TraceSpan | undefined } = {},
): Promise<{ doc: unknown; maxAge: number | undefined }> {
  const timeoutMs = options.timeoutMs ?? JWKS_FETCH.timeoutMs;
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      policy.validate(uri);
      url = new URL(uri);
    } catch (err) {
      return reject(new JwksFetchError(err instanceof Error ? err.message : 'invalid jwks_uri'));
    }
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    // Node connects to an address literal without calling lookup: validate() checked it above.
    const lookup: net.LookupFunction = (host, options, callback) => {
      dns.lookup(host, { all: true, family: options.family ?? 0 }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const refused = addresses.find((a) => !policy.isAllowedAddress(a.address, hostname));
        if (refused || !addresses.length)
          // How internal names resolve is for the server log, not for the organisation's administrators.
          return callback(
            new JwksFetchError(
              'jwks_uri address not allowed',
              `${host} resolves to ${refused?.address ?? 'nothing'}, which is not allowed`,
            ),
            '',
            0,
          );
        if ((options as { all?: boolean }).all)
          return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'GET',
      lookup,
      agent: false,
      // With tracing on, the span's traceparent: the key server's spans join the request's trace.
      headers: { accept: 'application/jwk-set+json, application/json', ...options.span?.headers() },
    });
    const timer = setTimeout(
      () => request.destroy(new JwksFetchError(`no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err instanceof JwksFetchError ? err : new JwksFetchError(err.message));
    };
    request.on('error', fail);
    request.on('response', (response) => {
      if (response.statusCode) options.span?.setAttributes({ 'http.response.status_code': response.statusCode });
      if (response.statusCode !== 200) {
        response.resume();
        request.destroy();
        return fail(
          new JwksFetchError(
            response.statusCode && response.statusCode >= 300 && response.statusCode < 400
              ? 'redirects are not followed'
              : `answered ${response.statusCode}`,
          ),
        );
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > JWKS_FETCH.maxBytes)
          request.destroy(new JwksFetchError(`answer larger than ${JWKS_FETCH.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        try {
          resolve({
            doc: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
            maxAge: maxAgeOf(response.headers['cache-control']),
          });
        } catch {
          reject(new JwksFetchError('answer is not JSON'));
        }
      });
    });
    request.end();
  });
}

/** A jwks_uri fetch's span: the URL without its query (which could carry a key), and the client. */
function jwksSpanOptions(clientId: string, uri: string): SpanOptions {
  let url: URL | undefined;
  try {
    url = new URL(uri);
  } catch {
    // Refused by the fetch itself; the span says only whose it was.
  }
  return {
    kind: 'client',
    attributes: {
      'http.request.method': 'GET',
      [CLIENT_ID_ATTRIBUTE]: clientId,
      ...(url
        ? {
            'url.full': `${url.protocol}//${url.host}${url.pathname}`,
            'server.address': url.hostname,
            'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          }
        : {}),
    },
  };
}

function maxAgeOf(cacheControl: string | undefined): number | undefined {
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl ?? '');
  return m ? Number(m[1]) : undefined;
}

const answer = (e: CachedJwks) => ({ keys: e.keys, ...(e.error !== undefined ? { error: e.error } : {}) });

interface CachedJwks {
  uri: string;
  keys: VerificationKey[];
  /** Epoch ms until which the keys are served without asking again. */
  freshUntil: number;
  /** Epoch ms of the last fetch attempt: the next one outside freshness waits refetchInterval. */
  triedAt: number;
  /** Why the last fetch failed, when it did. */
  error?: string;
  inflight?: Promise<CachedJwks>;
}

/** Where a client's keys come from when it has a jwks_uri. */
export interface JwksKeys {
  /** The client's keys; with `unknownKid`, fetched anew when the last fetch is old enough. */
  keys(
    clientId: string,
    uri: string,
    options?: { unknownKid?: boolean },
  ): Promise<{ keys: VerificationKey[]; error?: string }>;
}

/**
 * Keys of jwks_uri clients, fetched and cached per client: fresh for the answer's max-age (within
 * bounds), fetched again early for an unknown kid at most once per refetchInterval, and one fetch
 * at a time per client. After a failure the keys fetched before stay in use.
 */
export class JwksUriKeys implements JwksKeys {
  private readonly cache = new BoundedCache<string, CachedJwks>(10_000);

  constructor(
    private readonly policy: JwksUriPolicy,
    private readonly now: () => number = Date.now,
    private readonly fetch: typeof fetchJwks = fetchJwks,
    private readonly onFetchFailed: (clientId: string, uri: string, detail: string) => void = () => {},
    /** With tracing on: a span per fetch, a child of the request that needed the keys. */
    private readonly tracing?: Tracing,
  ) {}

  async keys(clientId: string, uri: string, options: { unknownKid?: boolean } = {}) {
    const t = this.now();
    let entry = this.cache.get(clientId);
    if (entry?.uri !== uri) entry = undefined;
    if (entry?.inflight) return answer(await entry.inflight);
    if (entry) {
      const fresh = t < entry.freshUntil && entry.error === undefined && options.unknownKid !== true;
      // Expired after a good fetch: fetch now. Failed, or asked for a kid it lacks: not more than once per interval.
      const mayFetch =
        (t >= entry.freshUntil && entry.error === undefined) || t - entry.triedAt >= JWKS_FETCH.refetchInterval * 1000;
      if (fresh || !mayFetch) return answer(entry);
    }
    return answer(await this.refresh(clientId, uri, entry, t));
  }

  private refresh(clientId: string, uri: string, before: CachedJwks | undefined, t: number): Promise<CachedJwks> {
    const pending: CachedJwks = before ? { ...before, triedAt: t } : { uri, keys: [], freshUntil: 0, triedAt: t };
    const inflight = inSpan(this.tracing, 'GET jwks_uri', jwksSpanOptions(clientId, uri), (span) =>
      this.fetch(uri, this.policy, span ? { span } : {}),
    ).then(
      ({ doc, maxAge }) => {
        // Every key of a document that holds private ones is exposed: none is used, not even those fetched before.
        if (jwksHoldsPrivateKeys(doc))
          return { uri, keys: [], freshUntil: 0, triedAt: t, error: JWKS_WITH_PRIVATE_KEYS };
        const age = Math.min(Math.max(maxAge ?? JWKS_FETCH.defaultMaxAge, JWKS_FETCH.minMaxAge), JWKS_FETCH.maxMaxAge);
        return { uri, keys: keysOfJwks(doc), freshUntil: this.now() + age * 1000, triedAt: t };
      },
      (err: unknown) => {
        if (err instanceof JwksFetchError && err.logDetail !== undefined)
          this.onFetchFailed(clientId, uri, err.logDetail);
        return { ...pending, error: err instanceof Error ? err.message.slice(0, 200) : 'fetch failed' };
      },
    );
    pending.inflight = inflight;
    this.cache.set(clientId, pending);
    return inflight.then((done) => {
      this.cache.set(clientId, done);
      return done;
    });
  }
}
