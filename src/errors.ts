/** Base class of every error zgw-auth raises on purpose; `code` is stable, callers and tests switch on it. */
export class ZgwAuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ZgwAuthError';
  }
}

/** Input that failed validation (maps to 400 / problem+json in the admin API). */
export class ValidationError extends ZgwAuthError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super('invalid_input', message);
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
