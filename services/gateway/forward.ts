/**
 * Forwarding of the mesh's public RPCs: each exposed method of a mesh service is served by the
 * gateway under its own name and passed to the service over the internal gRPC mesh (lib/grpc),
 * with the caller's deadline, its trace context and its identity as metadata. Server streams are
 * pulled one message at a time, so a slow caller slows the upstream stream (HTTP/2 flow control
 * on both sides) instead of filling the gateway's memory. Errors come back unchanged (errors.ts).
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { context as otelContext, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import type { CallOptions, ServiceClient } from '../../lib/grpc/index.js';
import { TRACE_HEADERS } from './call-span.js';
import { toConnectError } from './errors.js';
import { identityOf } from './identity.js';
import { callSpanOf } from './observe.js';
import { roleName } from './roles.js';

/** Time allowed for a client stream (an import) whose caller set no deadline, in ms. */
const CLIENT_STREAM_TIMEOUT_MS = 600_000;

/** Options of {@link forwardOptions}. */
export interface ForwardDefaults {
  /** Time allowed for a unary call whose caller set no deadline, in ms. */
  defaultTimeoutMs: number;
}

/**
 * The call options of the upstream call serving `ctx`: the caller's remaining time (or the
 * default), cancellation with the caller, trace headers, and the identity as metadata
 * (`x-nepse-principal`, `x-nepse-role`, `x-nepse-key-id`) for the services' logs.
 */
export function forwardOptions(ctx: HandlerContext, defaults: ForwardDefaults): CallOptions {
  const identity = identityOf(ctx);
  const metadata: Record<string, string> = {
    'x-nepse-principal': identity.principal,
    'x-nepse-role': roleName(identity.role),
    'x-nepse-key-id': identity.keyId,
  };
  const span = callSpanOf(ctx);
  if (span) Object.assign(metadata, span.headers);
  else {
    for (const name of TRACE_HEADERS) {
      const value = ctx.requestHeader.get(name);
      if (value) metadata[name] = value;
    }
  }
  const kind = ctx.method.methodKind;
  const fallback = kind === 'unary' ? defaults.defaultTimeoutMs : kind === 'client_streaming' ? CLIENT_STREAM_TIMEOUT_MS : undefined;
  return { timeoutMs: ctx.timeoutMs() ?? fallback, signal: ctx.signal, metadata };
}

/**
 * The context of the gateway's span of this call (observe.ts), so that the upstream call's span
 * (gRPC instrumentation) is its child rather than a new trace; the caller's trace context when no
 * span was made. Without tracing this is a no-op and the raw headers in {@link forwardOptions}
 * carry the context on.
 */
export function callerContext(ctx: HandlerContext): Context {
  const span = callSpanOf(ctx);
  if (span) return span.context;
  const carrier: Record<string, string> = {};
  for (const name of TRACE_HEADERS) {
    const value = ctx.requestHeader.get(name);
    if (value) carrier[name] = value;
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}

type AnyClient = Record<string, (input: unknown, options: CallOptions) => unknown>;

/** Starts `start` in the caller's trace context, mapping a rejection to the caller's error. */
async function unaryCall(ctx: HandlerContext, start: () => Promise<unknown>): Promise<unknown> {
  try {
    return await otelContext.with(callerContext(ctx), start);
  } catch (error) {
    throw toConnectError(error);
  }
}

/** Re-yields an upstream response stream, one message per pull (back-pressure), errors mapped. */
async function* streamCall(ctx: HandlerContext, start: () => AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const iterator = start()[Symbol.asyncIterator]();
  try {
    // The upstream call starts on the first pull: make that pull in the caller's trace context.
    let next = await otelContext.with(callerContext(ctx), () => iterator.next());
    while (!next.done) {
      yield next.value;
      next = await iterator.next();
    }
  } catch (error) {
    throw toConnectError(error);
  } finally {
    // The caller went away or the stream failed: end the upstream call too.
    await iterator.return?.();
  }
}

/** The forwarding implementation of one method. */
export function forwardMethod(
  method: DescMethod,
  client: AnyClient,
  defaults: ForwardDefaults,
): (input: never, ctx: HandlerContext) => unknown {
  const call = client[method.localName];
  switch (method.methodKind) {
    case 'unary':
    case 'client_streaming':
      return (input, ctx) => unaryCall(ctx, () => call(input, forwardOptions(ctx, defaults)) as Promise<unknown>);
    case 'server_streaming':
    case 'bidi_streaming':
      return (input, ctx) => streamCall(ctx, () => call(input, forwardOptions(ctx, defaults)) as AsyncIterable<unknown>);
  }
}

/**
 * A partial implementation of `service` forwarding the methods named in `methods` to `client`;
 * the router answers UNIMPLEMENTED for the rest. `overrides` replace the forwarding of a method
 * where the gateway has more to do (TransitionStage sets the actor).
 */
export function forwardingService<S extends DescService>(
  service: S,
  client: ServiceClient<S>,
  methods: ReadonlySet<string>,
  defaults: ForwardDefaults,
  overrides: Partial<ServiceImpl<S>> = {},
): Partial<ServiceImpl<S>> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (!methods.has(method.name)) continue;
    impl[method.localName] =
      (overrides as Record<string, unknown>)[method.localName] ?? forwardMethod(method, client as unknown as AnyClient, defaults);
  }
  return impl as Partial<ServiceImpl<S>>;
}
