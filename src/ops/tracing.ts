import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Context,
  context,
  createContextKey,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type {
  OpenSpan,
  RequestSpan,
  ServerTracing,
  SpanAttributes,
  SpanOptions,
  TraceSpan,
  TracingSettings,
} from '../tracing.js';

// The OpenTelemetry SDK behind the tracing port (src/tracing.ts). This module is imported only
// when OTEL_TRACES_EXPORTER=otlp (cli/serve.ts): with tracing off, no SDK module is loaded.

/** The server span of the request being served, wherever its children run. */
const REQUEST_SPAN = createContextKey('zgw-auth request span');
/** At most this long for the last export at shutdown. */
const SHUTDOWN_MS = 3000;
/** At most one SDK warning (an export that failed, say) a minute reaches the log. */
const DIAG_INTERVAL_MS = 60_000;
/** The HTTP methods a span names as they are; any other is `_OTHER` (OpenTelemetry's HTTP conventions). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
const KINDS = { client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

/**
 * Starts the SDK: OTLP over HTTP to the collector the OTEL_EXPORTER_OTLP_* variables name,
 * batched (OTEL_BSP_*), sampled as OTEL_TRACES_SAMPLER says (by default every trace, or as the
 * caller's traceparent decided), W3C Trace Context in and out.
 */
export async function startTracing(settings: TracingSettings): Promise<ServerTracing> {
  const version = packageVersion();
  const exporter: SpanExporter =
    settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  // The service, and what OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES add. Deliberately not the
  // process detector: the command line it reports may hold --master-key or a secret.
  const resource = resourceFromAttributes({ 'service.name': 'zgw-auth', 'service.version': version }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return new OtelTracing(provider.getTracer('zgw-auth', version), provider);
}

class OtelTracing implements ServerTracing {
  private readonly requests = new WeakMap<IncomingMessage, ServerSpan>();

  constructor(
    private readonly tracer: Tracer,
    private readonly provider: BasicTracerProvider,
  ) {}

  start(name: string, options: SpanOptions): OpenSpan | undefined {
    const active = context.active();
    const parent = options.parent instanceof SpanHandle ? trace.setSpan(active, options.parent.span) : active;
    // A parent that is over (a request already answered, whose timer runs a batched write) or not
    // sampled gets no child that needs one.
    if (options.requireParent && !trace.getSpan(parent)?.isRecording()) return undefined;
    const span = this.tracer.startSpan(
      name,
      { kind: KINDS[options.kind], ...(options.attributes ? { attributes: options.attributes } : {}) },
      parent,
    );
    return new SpanHandle(span, parent);
  }

  run<T>(name: string, options: SpanOptions, work: (span: TraceSpan | undefined) => Promise<T>): Promise<T> {
    const span = this.start(name, options) as SpanHandle | undefined;
    if (!span) return work(undefined);
    let done: Promise<T>;
    try {
      done = context.with(trace.setSpan(span.parent, span.span), work, undefined, span);
    } catch (err) {
      span.end(err);
      throw err;
    }
    return done.then(
      (result) => (span.end(), result),
      (err: unknown) => {
        span.end(err);
        throw err;
      },
    );
  }

  annotateRequest(attributes: SpanAttributes): void {
    (context.active().getValue(REQUEST_SPAN) as ServerSpan | undefined)?.setAttributes(attributes);
  }

  serveRequest(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
    const method = req.method && METHODS.has(req.method) ? req.method : '_OTHER';
    const caller = propagation.extract(ROOT_CONTEXT, req.headers);
    // The name and http.route follow once the router has matched (ServerSpan.route): the raw URL
    // never goes into a span, as its query string may carry a secret.
    const span = this.tracer.startSpan(
      method === '_OTHER' ? 'HTTP' : method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
      caller,
    );
    const server = new ServerSpan(span);
    this.requests.set(req, server);
    res.once('close', () => server.end(res));
    // Fastify's hooks, the route handler (also when the body comes in later packets) and the log
    // lines of the answer all run in this context (test/traces.test.ts checks both).
    context.with(trace.setSpan(caller, span).setValue(REQUEST_SPAN, server), handle);
  }

  requestSpan(req: IncomingMessage): RequestSpan | undefined {
    return this.requests.get(req);
  }

  logFields(): { traceId?: string; spanId?: string } {
    const span = trace.getSpan(context.active());
    // A new object each time: pino merges the line's own fields into it.
    if (span === undefined) return {};
    const { traceId, spanId } = span.spanContext();
    return { traceId, spanId };
  }

  logTo(log: (message: string) => void): void {
    let last = -Infinity;
    let suppressed = 0;
    const write = (message: string, ...args: unknown[]) => {
      const now = Date.now();
      if (now - last < DIAG_INTERVAL_MS) return void suppressed++;
      last = now;
      const more = suppressed ? ` (${suppressed} more since the last one)` : '';
      suppressed = 0;
      // The SDK's own words, bounded: an exporter error names the collector's answer, never the
      // headers sent. Outside any request's context: the export's timer may have been started in one.
      const text = [firstLine(message), ...args.map(describe)].join(' ').slice(0, 400);
      context.with(ROOT_CONTEXT, () => log(`OpenTelemetry: ${text}${more}`));
    };
    diag.setLogger(
      { error: write, warn: write, info: () => {}, debug: () => {}, verbose: () => {} },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.provider.shutdown().catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_MS))),
    ]);
    clearTimeout(timer);
  }
}

/** zgw-auth's version, for service.version (dist/src/ops/ is three folders below package.json). */
function packageVersion(): string {
  try {
    const manifest = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** An error the SDK passes as JSON (`{"stack":"Error: …\n at …"}`): its first line. */
function firstLine(message: string): string {
  try {
    const parsed = JSON.parse(message) as { stack?: unknown; message?: unknown };
    const text = typeof parsed.stack === 'string' ? parsed.stack : parsed.message;
    if (typeof text === 'string') return text.split('\n')[0]!;
  } catch {
    // Plain words.
  }
  return message;
}

const describe = (value: unknown): string =>
  value instanceof Error ? `${value.name}: ${value.message}` : typeof value === 'string' ? value : '';

/** The error type a failed span records: a code or a class name, never the message. */
function errorType(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown } | null;
  const raw = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'error';
  return raw.replace(/[^\w.-]/g, '').slice(0, 64) || 'error';
}

class SpanHandle implements OpenSpan {
  constructor(
    readonly span: Span,
    /** The context it was started in, with its parent. */
    readonly parent: Context,
  ) {}

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }

  fail(type: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.setAttribute('error.type', type);
  }

  headers(): Record<string, string> {
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(this.parent, this.span), carrier);
    return carrier;
  }

  end(error?: unknown): void {
    if (error !== undefined) this.fail(errorType(error));
    this.span.end();
  }
}

class ServerSpan implements RequestSpan {
  readonly traceId: string;

  constructor(private readonly span: Span) {
    this.traceId = span.spanContext().traceId;
  }

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }

  route(method: string, template: string): void {
    this.span.updateName(`${METHODS.has(method) ? method : 'HTTP'} ${template}`);
    this.span.setAttribute('http.route', template);
  }

  /** At the response's close: its status (5xx marks the span failed), or that the caller left first. */
  end(res: ServerResponse): void {
    const status = res.statusCode;
    this.span.setAttribute('http.response.status_code', status);
    if (!res.writableFinished) {
      this.span.setStatus({ code: SpanStatusCode.ERROR });
      this.span.setAttribute('error.type', 'response_not_finished');
    } else if (status >= 500) {
      this.span.setStatus({ code: SpanStatusCode.ERROR });
      this.span.setAttribute('error.type', String(status));
    }
    this.span.end();
  }
}
