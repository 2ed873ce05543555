import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { CallContext } from './context.js';
import type { Encoded } from './definition.js';

type Out<O extends DescMessage> = MessageInitShape<O> | MessageShape<O> | Encoded<MessageShape<O>>;

/** A unary handler: one request in, one response out. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<Out<O>> | Out<O>;

/** A server-streaming handler: yields responses; stops early when `context.signal` aborts. */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<Out<O>>;

/** A client-streaming handler: consumes the request stream, answers once. */
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<Out<O>>;

/** A bidirectional handler: consumes requests and yields responses at its own pace. */
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<Out<O>>;

/** The handler type a method descriptor calls for, by its stream kind. */
export type HandlerFor<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryHandler<I, O>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamingHandler<I, O>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreamingHandler<I, O>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BidiStreamingHandler<I, O>
        : never;

/** Handlers for every method of a generated service, keyed by the method's local (camelCase) name. */
export type ServiceHandlers<S extends DescService> = S extends { method: infer Methods }
  ? { [K in keyof Methods]: HandlerFor<Methods[K]> }
  : never;

/** A service descriptor paired with its handlers, ready to be served. */
export interface ServiceImplementation {
  readonly service: DescService;
  readonly handlers: Record<string, (...args: never[]) => unknown>;
}

/** Pairs a generated service descriptor with its typed handlers. */
export function implement<S extends DescService>(service: S, handlers: ServiceHandlers<S>): ServiceImplementation {
  return { service, handlers: handlers as ServiceImplementation['handlers'] };
}

/** Finds the handler of a method, failing loudly at start-up when one is missing. */
export function handlerOf(implementation: ServiceImplementation, method: DescMethod): (...args: never[]) => unknown {
  const handler = implementation.handlers[method.localName];
  if (typeof handler !== 'function') {
    throw new Error(`${implementation.service.typeName}: no handler for ${method.name} (expected "${method.localName}")`);
  }
  return handler;
}

type Handler = (...args: never[]) => unknown;

/**
 * The same service with every handler's failures passed through `map` first: the one place a
 * service turns its infrastructure errors (database down, a lost race) into domain errors.
 */
export function mapErrors(implementation: ServiceImplementation, map: (error: unknown) => unknown): ServiceImplementation {
  const handlers: Record<string, Handler> = {};
  for (const method of implementation.service.methods) {
    const handler = implementation.handlers[method.localName];
    const streaming = method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming';
    handlers[method.localName] = streaming
      ? async function* (...args: never[]) {
          try {
            yield* handler(...args) as AsyncIterable<unknown>;
          } catch (error) {
            throw map(error);
          }
        }
      : async (...args: never[]) => {
          try {
            return await handler(...args);
          } catch (error) {
            throw map(error);
          }
        };
  }
  return { service: implementation.service, handlers };
}
