/**
 * Every error zgw-auth raises on purpose, with the HTTP status it stands for. Each wire format
 * (RFC 6749 errors, RFC 9457 problems, the CLI) renders these codes; nothing else is rendered
 * but an internal error. Token refusals of the verifier package (TokenError) are mapped where the
 * server meets them.
 */
const STATUS = {
  // Registry (admin API, CLI, import)
  invalid_input: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  // The Autorisaties API: a method the standard does not define on a resource it does
  method_not_allowed: 405,
  // OAuth 2.0 (RFC 6749 §5.2; unsupported_token_type from RFC 7009)
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  unsupported_token_type: 400,
  // RFC 9449 §5 and §8: a DPoP proof at /token that does not hold; a proof without the server's nonce
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  // Guessing back-off of a caller that is not an OAuth client (the admin API's self-signed tokens)
  too_many_attempts: 429,
  // A server the CLI asked (zgw-auth itself, with --server) answered with a refusal or not at all
  upstream_error: 502,
  // The console: the admin API it calls refused (with the API's status), or the session ended
  admin_api_refused: 400,
  session_ended: 401,
  // The request as HTTP, refused before any route saw it
  unsupported_media_type: 415,
  body_too_large: 413,
  malformed_body: 400,
  bad_request: 400,
  // Storage: a value the database cannot hold; the database away
  unstorable_value: 400,
  storage_unavailable: 503,
  // Setup and keys
  no_registry: 500,
  address_in_use: 500,
  no_signing_key: 500,
  invalid_master_key: 500,
  master_key_unreadable: 500,
  master_key_exposed: 500,
  master_key_missing: 500,
  master_key_mismatch: 500,
  sealed_value_corrupt: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof STATUS;

const OAUTH_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'server_error',
  'temporarily_unavailable',
] as const satisfies readonly ErrorCode[];

/** The codes an OAuth endpoint sends as they are (RFC 6749 §5.2 `error`). */
export type OAuthErrorCode = (typeof OAUTH_CODES)[number];

export const isOAuthErrorCode = (code: ErrorCode): code is OAuthErrorCode =>
  (OAUTH_CODES as readonly ErrorCode[]).includes(code);

export interface ZgwAuthErrorOptions {
  /** Instead of the code's usual status (e.g. 429 for an invalid_client while backed off). */
  status?: number;
  /** Sent with the answer in every wire format, e.g. retry-after or a WWW-Authenticate challenge. */
  headers?: Record<string, string>;
}

/** Base class of every error zgw-auth raises on purpose; `code` is stable, callers and tests switch on it. */
export class ZgwAuthError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ZgwAuthErrorOptions = {},
  ) {
    super(message);
    this.name = 'ZgwAuthError';
    this.status = options.status ?? STATUS[code];
    this.headers = options.headers ?? {};
  }
}

/** Input that failed validation (400). */
export class ValidationError extends ZgwAuthError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super('invalid_input', message);
  }
}

/** One refused field as the ZGW standards name it: `name` a dotted path (`autorisaties.0.zaaktype`). */
export interface InvalidParam {
  name: string;
  code: string;
  reason: string;
}

/** Input refused field by field (400), each with the ZGW code the standard's reference implementation gives. */
export class InvalidParamsError extends ValidationError {
  constructor(readonly invalidParams: readonly InvalidParam[]) {
    super(invalidParams.map((p) => `${p.name}: ${p.reason}`).join('; '), invalidParams[0]?.name);
  }
}

/** An administrator asking for something its role does not allow (403). */
export class ForbiddenError extends ZgwAuthError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class NotFoundError extends ZgwAuthError {
  constructor(message: string) {
    super('not_found', message);
  }
}

export class ConflictError extends ZgwAuthError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/**
 * A value the database refused to store (400): NUL in text, a number beyond bigint, a too long
 * string. Validation refuses these first; this is the net under it. `cause` is the driver's error.
 */
export class UnstorableValueError extends ZgwAuthError {
  constructor(cause?: unknown) {
    super('unstorable_value', 'a value cannot be stored');
    this.cause = cause;
  }
}

/** The database away, refusing connections, locked or timing out (503): retry after a second. `cause` is the driver's error. */
export class StorageUnavailableError extends ZgwAuthError {
  constructor(cause?: unknown) {
    super('storage_unavailable', 'the database is unreachable', { headers: { 'retry-after': '1' } });
    this.cause = cause;
  }
}

/** A refusal of the OAuth endpoints, sent with its own code (RFC 6749 §5.2). */
export class OAuthError extends ZgwAuthError {
  declare readonly code: OAuthErrorCode;

  constructor(code: OAuthErrorCode, message: string, options: ZgwAuthErrorOptions = {}) {
    super(code, message, options);
  }
}

export const invalidRequest = (message: string) => new OAuthError('invalid_request', message);

/**
 * One answer for unknown client, wrong secret and disabled client (RFC 6749 §5.2, 401). The Basic
 * challenge depends on how the client sent its credentials: the OAuth renderer adds it.
 */
export const invalidClient = (message = 'client authentication failed') => new OAuthError('invalid_client', message);

/**
 * A part of a request as the HTTP layer read it: its value, or the refusal reading it gave (a
 * parameter sent twice, credentials missing). The use case throws that refusal when its check
 * comes, so that a request with several faults gets the same refusal whatever the reading order.
 */
export type Parsed<T> = T | ZgwAuthError;

/** Reads a part of a request, keeping a refusal as the part's value; anything else is thrown. */
export function attempt<T>(read: () => T): Parsed<T> {
  try {
    return read();
  } catch (err) {
    if (err instanceof ZgwAuthError) return err;
    throw err;
  }
}

export function orThrow<T>(part: Parsed<T>): T {
  if (part instanceof ZgwAuthError) throw part;
  return part;
}
