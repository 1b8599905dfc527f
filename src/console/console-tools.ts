import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZgwAuthError } from '../errors.js';
import type { AdminApi } from './admin-api.js';
import type { ConsoleSession } from '../sessions/console-sessions.js';
import type { SafeHtml } from './html.js';
import { alert, type PageContext } from './layout.js';

/** What the page modules are given: rendering, the session's admin API, and the Post/Redirect/Get step. */
export interface ConsoleTools {
  ctx(request: FastifyRequest): PageContext;
  api(request: FastifyRequest): AdminApi;
  /** Sends a whole page; data pages are never cached. */
  send(reply: FastifyReply, request: FastifyRequest, title: string, content: SafeHtml, status?: number): FastifyReply;
  /** 303 to `path`, with a notice for the next page. */
  redirect(reply: FastifyReply, request: FastifyRequest, path: string, flash?: ConsoleSession['flash']): FastifyReply;
}

/** The form fields of a POST, one value each. */
export type FormFields = Record<string, string>;

/** More fields than any console form has. */
const MAX_FIELDS = 32;
/** Longer than any console field can be (a token to inspect: 8 KiB; static claims: 4 KiB). */
export const FIELD_LIMIT = 16 * 1024;

/**
 * The fields of a URL-encoded form as the console's forms send them: each name once, none longer
 * than FIELD_LIMIT, at most MAX_FIELDS. Anything else is refused (400), not read one way or another.
 * Without a prototype: a field named like an object method reads as sent, `__proto__` included.
 */
export function formFieldsOf(params: URLSearchParams): FormFields {
  const fields = Object.create(null) as FormFields;
  let count = 0;
  for (const [k, v] of params) {
    if (++count > MAX_FIELDS) throw new ZgwAuthError('malformed_body', `too many form fields (at most ${MAX_FIELDS})`);
    if (Object.hasOwn(fields, k))
      throw new ZgwAuthError('malformed_body', `form field "${k.slice(0, 50)}" is sent more than once`);
    if (k.length > 100 || v.length > FIELD_LIMIT)
      throw new ZgwAuthError('malformed_body', `form field "${k.slice(0, 50)}" is longer than any form sends`);
    fields[k] = v;
  }
  return fields;
}

/** The parsed form of a POST (the console's content type parser); empty for anything else. */
export function formOf(request: FastifyRequest): FormFields {
  const body = request.body;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as FormFields) : {};
}

/**
 * Refuses (400) a form that lacks a field its page always sends: a POST without them is no form
 * of the console's, and an absent field is never read as "clear this".
 */
export function refuseIncompleteForm(
  tools: ConsoleTools,
  reply: FastifyReply,
  request: FastifyRequest,
  fields: FormFields,
  always: readonly string[],
): FastifyReply | undefined {
  if (always.every((name) => Object.hasOwn(fields, name))) return undefined;
  const m = tools.ctx(request).m;
  return tools.send(reply, request, m.errorTitle, alert('error', m.formIncomplete), 400);
}
