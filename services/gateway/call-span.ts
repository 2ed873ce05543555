/**
 * The gateway's own server span of every call it serves. connect-node is not instrumented (the
 * services' grpc-js servers are, through @opentelemetry/instrumentation-grpc), so the span is made
 * here, named and attributed the way the instrumentation names the services' spans
 * (`grpc.<service>/<method>`, rpc.system, rpc.service, rpc.method, rpc.grpc.status_code), as a
 * child of the caller's traceparent. Its context is what goes upstream, so the service's span
 * descends from it: through the upstream call's client span on the Connect path (forward.ts), as
 * its child for a call forwarded as bytes (grpc-passthrough.ts sends the span's trace headers).
 */
import {
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';

/** Trace headers passed on (W3C trace context and baggage). */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const;

const tracer = trace.getTracer('nepse-gateway');

/** The provider the API answers with while no SDK is registered. */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether no tracer provider is registered, so that every span would be a no-op. Asked per call
 * (a provider may be registered after this module loads); a provider of another copy of the API
 * counts as registered, which costs only the no-op span.
 */
function tracingOff(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NO_PROVIDER;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const UNTRACED: Omit<CallSpan, 'headers'> = { context: ROOT_CONTEXT, end() {} };

/** Codes that are the server's fault, as the instrumentation marks them: the span's status is ERROR. */
const SERVER_FAULTS = new Set([2, 4, 12, 13, 14, 15]);

/** The span of one call and what to send upstream. */
export interface CallSpan {
  /** The context the upstream call runs in (the span is its active span). */
  readonly context: Context;
  /**
   * Trace headers for the upstream call: the span's context when tracing runs, else the caller's
   * headers as they came, so that a mesh without a tracer still carries the caller's trace ids.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** Ends the span with the call's gRPC status code. */
  end(code: number, error?: unknown): void;
}

/**
 * Starts the server span of `service/method`; `header` reads one request header. Without a tracer
 * this costs the header lookups.
 */
export function startCallSpan(service: string, method: string, header: (name: string) => string | undefined): CallSpan {
  let incoming: Record<string, string> | undefined;
  for (const name of TRACE_HEADERS) {
    const value = header(name);
    if (value) (incoming ??= {})[name] = value;
  }
  // Without a tracer there is no span to make: the caller's headers go on as they came.
  if (tracingOff()) return { ...UNTRACED, headers: incoming ?? NO_HEADERS };
  const parent = incoming ? propagation.extract(ROOT_CONTEXT, incoming) : ROOT_CONTEXT;
  const span: Span = tracer.startSpan(
    `grpc.${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } },
    parent,
  );
  const context = trace.setSpan(parent, span);
  let headers: Record<string, string> = incoming ?? {};
  if (span.isRecording()) {
    headers = {};
    propagation.inject(context, headers);
    if (incoming?.baggage && !headers.baggage) headers.baggage = incoming.baggage;
  }
  return {
    context,
    headers,
    end(code, error) {
      span.setAttribute('rpc.grpc.status_code', code);
      if (SERVER_FAULTS.has(code))
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
      span.end();
    },
  };
}
