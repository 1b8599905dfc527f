import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { type ErrorCode, InvalidParamsError, ValidationError, type ZgwAuthError } from '../../errors.js';
import { classifyError } from './classify-error.js';

const PROBLEM = 'application/problem+json';

/** Sends an RFC 9457 problem document; `code` also names its type, `urn:zgw-auth:error:<code>`. */
export function sendProblem(
  reply: FastifyReply,
  status: number,
  code: string,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM)
    .send({ type: `urn:zgw-auth:error:${code}`, code, title, status, detail, ...extra });
}

type Problem = [code: string, title: string, detail: string];

/** What the admin API says for codes whose wording differs from the error's own. */
const WORDING: Partial<Record<ErrorCode, (err: ZgwAuthError) => Problem>> = {
  invalid_input: (err) => ['invalid_input', 'Invalid input', err.message],
  forbidden: (err) => ['forbidden', 'Forbidden', err.message],
  not_found: (err) => ['not_found', 'Not found', err.message],
  conflict: (err) => ['conflict', 'Conflict', err.message],
  body_too_large: () => ['body_too_large', 'Body too large', 'request body too large'],
  unsupported_media_type: () => ['unsupported_media_type', 'Unsupported media type', 'send application/json'],
  malformed_body: (err) => ['bad_request', 'Bad request', err.message.slice(0, 300)],
  bad_request: (err) => ['bad_request', 'Bad request', err.message.slice(0, 300)],
  unstorable_value: () => ['invalid_input', 'Invalid input', 'a field holds a value that cannot be stored'],
  storage_unavailable: () => ['unavailable', 'Service unavailable', 'the database is unreachable; retry shortly'],
  too_many_attempts: (err) => ['too_many_attempts', 'Too many attempts', err.message],
};

/**
 * The admin API's answer to anything thrown: refusals as problem documents with their status and
 * headers, internal errors (logged) as a bare 500.
 */
export function renderProblem(
  thrown: unknown,
  reply: FastifyReply,
  logUnexpected: (err: unknown) => void,
): FastifyReply {
  const err = classifyError(thrown);
  if (!err || (err.status >= 500 && err.code !== 'storage_unavailable')) {
    logUnexpected(thrown);
    return sendProblem(reply, 500, 'internal_error', 'Internal error', 'internal error');
  }
  const [code, title, detail] = WORDING[err.code]?.(err) ?? [
    err.code,
    STATUS_CODES[err.status] ?? 'Error',
    err.message,
  ];
  // Every refused field, named and coded (the Autorisaties rules give several), else the one field named.
  const extra =
    err instanceof InvalidParamsError
      ? { invalidParams: err.invalidParams.map((p) => ({ name: p.name, code: p.code, reason: p.reason })) }
      : err instanceof ValidationError && err.field
        ? { invalidParams: [{ name: err.field, reason: err.message }] }
        : {};
  return sendProblem(reply.headers(err.headers), err.status, code, title, detail, extra);
}
