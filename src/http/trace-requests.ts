import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CLIENT_ID_ATTRIBUTE, type ServerTracing } from '../tracing.js';

const PROBLEM = 'application/problem+json';

/**
 * With tracing on: a server span per request (ServerTracing.serveRequest) around Fastify's own
 * handler, named by the route's template once the router has matched it; the caller's client id on
 * it once known; the trace id in every problem document (`traceId`), so that a caller can quote
 * it. Registered before the routes, so that its hooks reach every one of them. Off, none of this
 * is registered and a request pays nothing for it.
 */
export function traceRequests(server: FastifyInstance, tracing: ServerTracing): void {
  // Fastify's handler is the server's request listener; it runs inside the request's span.
  const raw = server.server;
  for (const handler of raw.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>) {
    raw.removeListener('request', handler);
    raw.on('request', (req: IncomingMessage, res: ServerResponse) =>
      tracing.serveRequest(req, res, () => handler.call(raw, req, res)),
    );
  }

  server.addHook('onSend', (request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof payload !== 'string' || typeof type !== 'string' || !type.startsWith(PROBLEM))
      return done(null, payload);
    const traceId = tracing.requestSpan(request.raw)?.traceId;
    done(null, traceId ? withTraceId(payload, traceId) : payload);
  });

  // Once answered: the route, and the admin API's, the Autorisaties API's or the console's caller,
  // known once its token or session was checked (the OAuth endpoints' clients are named where
  // they authenticate).
  server.addHook('onResponse', (request, _reply, done) => {
    const span = tracing.requestSpan(request.raw);
    const template = request.routeOptions.url;
    // Not matched (a 404): the span keeps the method alone, never the path the caller made up.
    if (template !== undefined) span?.route(request.method, template);
    const clientId = callerOf(request);
    if (clientId !== undefined) span?.setAttributes({ [CLIENT_ID_ATTRIBUTE]: clientId });
    done();
  });
}

function callerOf(request: FastifyRequest): string | undefined {
  return request.admin?.clientId ?? request.acCaller?.clientId ?? request.consoleSession?.clientId;
}

/** The problem document with a `traceId` member (RFC 9457 §3.2: an extension member). */
function withTraceId(payload: string, traceId: string): string {
  const end = payload.lastIndexOf('}');
  if (!payload.startsWith('{') || end < 0) return payload;
  const empty = payload.slice(1, end).trim() === '';
  return `${payload.slice(0, end)}${empty ? '' : ','}"traceId":"${traceId}"${payload.slice(end)}`;
}
