import https from 'node:https';
import { type HttpResult, readResult } from '../helpers.js';

export interface TlsIdentity {
  /** PEM: the client certificate, optionally followed by its chain. */
  cert?: string;
  key?: string;
  /** PEM of the CA the server certificate chains to. */
  ca: string;
  /** Source address (e.g. 127.0.0.2): the back-off counts per address. */
  localAddress?: string;
}

/**
 * A request through node:https with a client certificate: a new connection each time (agent: false),
 * so that each request presents its own certificate.
 */
export function httpsRequest(
  url: string,
  identity: TlsIdentity,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers =
      init.body === undefined
        ? init.headers
        : { 'content-length': String(Buffer.byteLength(init.body)), ...init.headers };
    const req = https.request(
      url,
      {
        method: init.method ?? 'GET',
        headers,
        agent: false,
        cert: identity.cert,
        key: identity.key,
        ca: identity.ca,
        localAddress: identity.localAddress,
      },
      (res) => readResult(res, resolve),
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

export function httpsPostForm(url: string, identity: TlsIdentity, params: Record<string, string>): Promise<HttpResult> {
  return httpsRequest(url, identity, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

/** A Fetch-shaped function over node:https with a client certificate, for openid-client's customFetch. */
export function fetchWithCertificate(identity: TlsIdentity) {
  return async (
    url: string,
    options: { method: string; headers: Record<string, string>; body?: unknown },
  ): Promise<Response> => {
    const body =
      options.body === undefined || options.body === null
        ? undefined
        : options.body instanceof URLSearchParams
          ? options.body.toString()
          : String(options.body);
    const res = await httpsRequest(url, identity, {
      method: options.method,
      headers: options.headers,
      ...(body !== undefined ? { body } : {}),
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
    return new Response(res.text, { status: res.status, headers });
  };
}
