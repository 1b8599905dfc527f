import type { IncomingMessage, ServerResponse } from 'node:http';
import { ValidationError } from './errors.js';

/**
 * Traces: spans of what zgw-auth does, sent to an OpenTelemetry collector when the standard
 * OpenTelemetry environment variables ask for it (tracingSettings). This module is the port: the
 * domains, the stores and the HTTP layer take a `Tracing` where they may make spans and, without
 * one (tracing off, the default), wrap nothing and pay nothing. ops/tracing.ts implements it on
 * the OpenTelemetry SDK, which is loaded only then.
 *
 * What a span may carry: names, routes as templates, status codes, client ids, database
 * operations and table names, never a secret, a token, an assertion, an Authorization header, a
 * query string or a SQL parameter.
 */

/** Attribute values of a span: plain values only. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** A span while it runs, for the code it covers. */
export interface TraceSpan {
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed with a short error type (a code, a status), never a message. */
  fail(errorType: string): void;
  /** The W3C Trace Context headers (`traceparent`, `tracestate`) naming this span, for a request made in it. */
  headers(): Record<string, string>;
}

/** A span started with `start`, ended by its owner. */
export interface OpenSpan extends TraceSpan {
  /** Ends the span; with an error it is marked failed (with the error's code or class, never its message). */
  end(error?: unknown): void;
}

export interface SpanOptions {
  /** `client`: a call to another system (a database, Redis, an HTTP server); `internal`: work of zgw-auth's own. */
  kind: 'client' | 'internal';
  attributes?: SpanAttributes;
  /** The parent; the current span when not given. */
  parent?: TraceSpan;
  /**
   * Make no span without a live parent: a database query or Redis command outside a request (a
   * background poll), or after its request was answered (a batched write its timer runs later), is
   * not worth a trace of its own.
   */
  requireParent?: boolean;
}

/** Makes spans. Implemented in ops/tracing.ts; absent when tracing is off. */
export interface Tracing {
  /** Starts a span (a child of options.parent or of the current span); undefined when none is made (requireParent). */
  start(name: string, options: SpanOptions): OpenSpan | undefined;
  /**
   * Runs `work` in a new span, current while it runs (spans started inside are its children),
   * ended when the promise settles; `span` is undefined when none is made (requireParent).
   */
  run<T>(name: string, options: SpanOptions, work: (span: TraceSpan | undefined) => Promise<T>): Promise<T>;
  /** Attributes of the server span of the request being served (the client id once known); nothing outside a request. */
  annotateRequest(attributes: SpanAttributes): void;
}

/** The server span of one incoming HTTP request. */
export interface RequestSpan {
  readonly traceId: string;
  setAttributes(attributes: SpanAttributes): void;
  /** The route (its template) once the router found it: the span's name becomes `METHOD route`. */
  route(method: string, template: string): void;
}

/** What the process running `serve` uses: spans of HTTP requests, trace ids in log lines, the export at exit. */
export interface ServerTracing extends Tracing {
  /**
   * Runs `handle` (the HTTP server's request handler) in a new server span, a child of the
   * caller's `traceparent` when it sent one; the span ends when the response is closed.
   */
  serveRequest(req: IncomingMessage, res: ServerResponse, handle: () => void): void;
  /** The server span of a request that serveRequest handles. */
  requestSpan(req: IncomingMessage): RequestSpan | undefined;
  /** The current trace and span ids, for a log line; an empty object outside any span. */
  logFields(): { traceId?: string; spanId?: string };
  /** Where the SDK's own warnings go (an export that fails, a bad setting): the process log. */
  logTo(log: (message: string) => void): void;
  /** Exports what is still queued, within a few seconds, and stops. */
  shutdown(): Promise<void>;
}

/** Runs `work` in a span when tracing is on, else as it is. */
export function inSpan<T>(
  tracing: Tracing | undefined,
  name: string,
  options: SpanOptions,
  work: (span: TraceSpan | undefined) => Promise<T>,
): Promise<T> {
  return tracing ? tracing.run(name, options, work) : work(undefined);
}

/** The name of the attribute holding the authenticated client's id. */
export const CLIENT_ID_ATTRIBUTE = 'zgw_auth.client_id';

/** OTLP over HTTP: protobuf (the OpenTelemetry default) or JSON. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  protocol: OtlpProtocol;
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/**
 * Whether traces are on, from the standard OpenTelemetry variables: only with
 * OTEL_TRACES_EXPORTER=otlp (off when unset, `none`, or OTEL_SDK_DISABLED=true). Values zgw-auth
 * cannot honour are refused at start rather than ignored: another exporter, gRPC, an unknown
 * sampler, a ratio outside 0..1, an endpoint that is not an http(s) URL. The exporter reads the
 * endpoint, headers, timeout and compression itself, the SDK the sampler, the batch sizes and the
 * limits (OTEL_EXPORTER_OTLP_*, OTEL_TRACES_SAMPLER*, OTEL_BSP_*, OTEL_*_LIMIT).
 */
export function tracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings | undefined {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const shown = (v: string) => JSON.stringify(v.slice(0, 60));
  if (/^true$/i.test(value('OTEL_SDK_DISABLED') ?? '')) return undefined;
  const exporter = value('OTEL_TRACES_EXPORTER');
  if (exporter === undefined || exporter === 'none') return undefined;
  if (exporter !== 'otlp')
    throw new ValidationError(
      `OTEL_TRACES_EXPORTER must be otlp (traces to an OpenTelemetry collector over OTLP/HTTP) or none, got ${shown(exporter)}`,
    );
  const protocol =
    value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json')
    throw new ValidationError(
      `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL must be http/protobuf or http/json (OTLP over HTTP; gRPC is not supported), got ${shown(protocol)}`,
    );
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    const endpoint = value(name);
    if (endpoint !== undefined && !/^https?:\/\/[^/?#\s]+/i.test(endpoint))
      throw new ValidationError(`${name} must be an http:// or https:// URL (e.g. http://collector:4318)`);
  }
  const sampler = value('OTEL_TRACES_SAMPLER');
  if (sampler !== undefined && !SAMPLERS.includes(sampler))
    throw new ValidationError(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}, got ${shown(sampler)}`);
  const ratio = value('OTEL_TRACES_SAMPLER_ARG');
  if (sampler?.endsWith('traceidratio') && ratio !== undefined) {
    const n = Number(ratio);
    if (!/^[0-9.eE+-]+$/.test(ratio) || !(n >= 0 && n <= 1))
      throw new ValidationError(
        `OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept), got ${shown(ratio)}`,
      );
  }
  return { protocol };
}
