import type { FastifyError } from 'fastify';
import { ValidationError, ZgwAuthError } from '../../errors.js';

/**
 * Anything a route or Fastify threw as the ZgwAuthError it stands for; undefined for an internal
 * error. Fastify's own refusals (body parsing, schema validation, other 4xx) are mapped here only;
 * the stores throw their drivers' refusals as ZgwAuthErrors already (storage/storage-errors.ts).
 */
export function classifyError(err: unknown): ZgwAuthError | undefined {
  if (err instanceof ZgwAuthError) return err;
  if (typeof err !== 'object' || err === null) return undefined;
  return classifyFastifyError(err as Partial<FastifyError>);
}

function classifyFastifyError(err: Partial<FastifyError>): ZgwAuthError | undefined {
  const message = String(err.message);
  if (err.validation) return new ValidationError(message.slice(0, 500));
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ZgwAuthError('unsupported_media_type', message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ZgwAuthError('body_too_large', message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new ZgwAuthError('malformed_body', message, { status: clientErrorStatus(err.statusCode) ?? 400 });
  }
  const status = clientErrorStatus(err.statusCode);
  return status === undefined ? undefined : new ZgwAuthError('bad_request', message, { status });
}

const clientErrorStatus = (status: unknown): number | undefined =>
  typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
