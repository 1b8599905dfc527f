import type { FastifyInstance } from 'fastify';
import { ZgwAuthError } from '../errors.js';
import type { SessionEnd } from '../sessions/console-sessions.js';

/** A refusal of the admin API, as its problem document told it; `problemCode` is the API's code. */
export class AdminApiProblem extends ZgwAuthError {
  constructor(
    status: number,
    readonly problemCode: string,
    readonly detail: string,
    /** The request field the refusal names, when it names one. */
    readonly field: string | undefined,
    /** The code the refusal gives that field (the Autorisaties API's rules code each one). */
    readonly fieldCode?: string | undefined,
  ) {
    super('admin_api_refused', detail, { status });
    this.name = 'AdminApiProblem';
  }
}

/** The session's token no longer opens the admin API (expired, revoked, client disabled): sign in again. */
export class SessionRefusedError extends ZgwAuthError {
  /** Why the session ends, for the audit trail. */
  constructor(readonly why: SessionEnd = 'refused') {
    super('session_ended', 'the admin API refused the session token');
    this.name = 'SessionRefusedError';
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * The console's only way to the data: the admin API, called in this process through Fastify's
 * inject with the session's bearer token and the browser's address, so that every read and change
 * passes the admin API's authorization, validation and audit trail exactly as a direct call would.
 */
export class AdminApi {
  constructor(
    private readonly server: Pick<FastifyInstance, 'inject'>,
    private readonly token: string,
    private readonly address: string,
  ) {}

  /** The response body; throws AdminApiProblem for a refusal and SessionRefusedError for 401. */
  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const res = await this.server.inject({
      method,
      url: `/admin${path}`,
      remoteAddress: this.address,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    if (res.statusCode === 401) throw new SessionRefusedError();
    const parsed: unknown = res.body ? JSON.parse(res.body) : undefined;
    if (res.statusCode >= 400) {
      const p = (parsed ?? {}) as {
        code?: string;
        detail?: string;
        invalidParams?: { name?: string; code?: string }[];
      };
      throw new AdminApiProblem(
        res.statusCode,
        p.code ?? 'error',
        p.detail ?? `status ${res.statusCode}`,
        p.invalidParams?.[0]?.name,
        p.invalidParams?.[0]?.code,
      );
    }
    return parsed as T;
  }

  get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
    const qs = q.toString();
    return this.call<T>('GET', qs ? `${path}?${qs}` : path);
  }
}
