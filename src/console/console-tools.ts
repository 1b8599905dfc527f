import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminApi } from './admin-api.js';
import type { ConsoleSession } from './console-sessions.js';
import type { SafeHtml } from './html.js';
import type { PageContext } from './layout.js';

/** What the page modules are given: rendering, the session's admin API, and the Post/Redirect/Get step. */
export interface ConsoleTools {
  ctx(request: FastifyRequest): PageContext;
  api(request: FastifyRequest): AdminApi;
  /** Sends a whole page; data pages are never cached. */
  send(reply: FastifyReply, request: FastifyRequest, title: string, content: SafeHtml, status?: number): FastifyReply;
  /** 303 to `path`, with a notice for the next page. */
  redirect(reply: FastifyReply, request: FastifyRequest, path: string, flash?: ConsoleSession['flash']): FastifyReply;
}

/** The form fields of a POST, one value each (the first when sent twice). */
export type FormFields = Record<string, string>;

/** The parsed form of a POST (the console's content type parser); empty for anything else. */
export function formOf(request: FastifyRequest): FormFields {
  const body = request.body;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as FormFields) : {};
}
