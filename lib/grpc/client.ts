import { once } from 'node:events';
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { remainingMs } from './context.js';
import { grpcDefinition } from './definition.js';
import { grpc, type GrpcJs } from './grpc-js.js';
import type { CallObserver } from './server.js';

/** Per-call options. */
export interface CallOptions {
  /** Time allowed for the call, in milliseconds; capped by the deadline of the call being served, less {@link deadlineReserveMs}. */
  timeoutMs?: number;
  /** Extra request metadata (headers). */
  metadata?: Record<string, string>;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
}

type In<I extends DescMessage> = MessageInitShape<I> | MessageShape<I>;
type Requests<I extends DescMessage> = AsyncIterable<In<I>> | Iterable<In<I>>;

/** The client-side function a method descriptor calls for, by its stream kind. */
export type ClientMethodFor<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (request: In<I>, options?: CallOptions) => Promise<MessageShape<O>>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (request: In<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (requests: Requests<I>, options?: CallOptions) => Promise<MessageShape<O>>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (requests: Requests<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
        : never;

/** A typed client of a generated service: one function per method, keyed by its local name. */
export type ServiceClient<S extends DescService> = (S extends { method: infer Methods }
  ? { [K in keyof Methods]: ClientMethodFor<Methods[K]> }
  : never) & {
  /** Closes the channel. */
  close(): void;
  /** Resolves once the channel is connected, rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void>;
};

/** Options of {@link createGrpcClient}. */
export interface GrpcClientOptions {
  /** Timeout of unary and client-streaming calls that set none, in milliseconds (default 10 s). */
  defaultTimeoutMs?: number;
  /** Called once per finished call with its status and duration. */
  observer?: CallObserver;
  /** Extra grpc-js channel options. */
  channelOptions?: GrpcJs.ChannelOptions;
  /** Metadata sent with every call, e.g. credentials for the gateway; a call's own metadata wins. */
  metadata?: Record<string, string>;
}

/**
 * A typed gRPC client of a protobuf-es service descriptor over @grpc/grpc-js. Calls made while
 * serving a request inherit that request's deadline, so a chain of services never outlives it.
 */
export function createGrpcClient<S extends DescService>(service: S, address: string, options: GrpcClientOptions = {}): ServiceClient<S> {
  const Constructor = grpc.makeGenericClientConstructor(grpcDefinition(service), service.name);
  const raw = new Constructor(address, grpc.credentials.createInsecure(), {
    'grpc.keepalive_time_ms': 30_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...options.channelOptions,
  }) as GrpcJs.Client & Record<string, (...args: unknown[]) => unknown>;
  const client: Record<string, unknown> = {
    close: () => raw.close(),
    waitForReady: (timeoutMs: number) =>
      new Promise<void>((resolve, reject) => raw.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()))),
  };
  for (const method of service.methods) {
    client[method.localName] = clientMethod(raw, method, options);
  }
  return client as ServiceClient<S>;
}

/**
 * Part of an inherited budget kept back, in milliseconds: 10 % of it, at most 50 ms. grpc-js sends a
 * deadline as a relative timeout, so each hop's copy of it drifts later by the transit time; keeping
 * a slice back puts the downstream deadline before the caller's and leaves the handler time to
 * answer (a fallback or a clear error) when the dependency is slow.
 */
export function deadlineReserveMs(remaining: number): number {
  return Math.min(50, remaining / 10);
}

function callSetup(method: DescMethod, options: CallOptions, defaults: GrpcClientOptions) {
  const metadata = new grpc.Metadata();
  if (defaults.metadata) for (const key in defaults.metadata) metadata.set(key, defaults.metadata[key]);
  if (options.metadata) for (const key in options.metadata) metadata.set(key, options.metadata[key]);
  const streamingResponses = method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming';
  let budget = options.timeoutMs ?? (streamingResponses ? undefined : (defaults.defaultTimeoutMs ?? 10_000));
  const left = remainingMs();
  if (left !== undefined) {
    const inherited = Math.floor(left - deadlineReserveMs(left));
    budget = budget === undefined ? inherited : Math.min(budget, inherited);
  }
  const callOptions: GrpcJs.CallOptions = budget === undefined ? {} : { deadline: Date.now() + budget };
  return { metadata, callOptions };
}

/** Cancels `call` when `signal` aborts; returns the function that removes the listener. */
function cancelOn(call: GrpcJs.Call, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  if (signal.aborted) call.cancel();
  const cancel = () => call.cancel();
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

/** Streams requests with back-pressure; stops early once the call has ended (e.g. the server refused it). */
async function writeRequests(
  call: GrpcJs.ClientWritableStream<unknown>,
  requests: AsyncIterable<unknown> | Iterable<unknown>,
): Promise<void> {
  let ended = false;
  const ending = new Promise<void>((resolve) => call.once('status', () => resolve()));
  void ending.then(() => (ended = true));
  try {
    for await (const request of requests) {
      if (ended) return;
      if (!call.write(request)) await Promise.race([once(call, 'drain'), ending]);
    }
    if (!ended) call.end();
  } catch (error) {
    call.cancel();
    throw error;
  }
}

function clientMethod(raw: Record<string, (...args: unknown[]) => unknown>, method: DescMethod, defaults: GrpcClientOptions) {
  const invoke = raw[method.name].bind(raw);
  const observe = (started: bigint, error?: unknown) =>
    defaults.observer?.({
      service: method.parent.typeName,
      method: method.name,
      kind: method.methodKind,
      code: error ? ((error as { code?: number }).code ?? grpc.status.UNKNOWN) : grpc.status.OK,
      durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      error,
    });

  switch (method.methodKind) {
    case 'unary':
      return (request: unknown, options: CallOptions = {}) => {
        const started = process.hrtime.bigint();
        const { metadata, callOptions } = callSetup(method, options, defaults);
        return new Promise((resolve, reject) => {
          let release = () => {};
          const call = invoke(request, metadata, callOptions, (error: GrpcJs.ServiceError | null, response: unknown) => {
            release();
            observe(started, error ?? undefined);
            if (error) reject(error);
            else resolve(response);
          }) as GrpcJs.Call;
          release = cancelOn(call, options.signal);
        });
      };
    case 'client_streaming':
      return (requests: AsyncIterable<unknown> | Iterable<unknown>, options: CallOptions = {}) => {
        const started = process.hrtime.bigint();
        const { metadata, callOptions } = callSetup(method, options, defaults);
        return new Promise((resolve, reject) => {
          let release = () => {};
          const call = invoke(metadata, callOptions, (error: GrpcJs.ServiceError | null, response: unknown) => {
            release();
            observe(started, error ?? undefined);
            if (error) reject(error);
            else resolve(response);
          }) as GrpcJs.ClientWritableStream<unknown>;
          release = cancelOn(call, options.signal);
          writeRequests(call, requests).catch((error) => {
            release();
            reject(error);
          });
        });
      };
    case 'server_streaming':
      return (request: unknown, options: CallOptions = {}) =>
        readResponses(
          options,
          () => {
            const { metadata, callOptions } = callSetup(method, options, defaults);
            return invoke(request, metadata, callOptions) as GrpcJs.ClientReadableStream<unknown>;
          },
          observe,
        );
    case 'bidi_streaming':
      return (requests: AsyncIterable<unknown> | Iterable<unknown>, options: CallOptions = {}) =>
        readResponses(
          options,
          () => {
            const { metadata, callOptions } = callSetup(method, options, defaults);
            const call = invoke(metadata, callOptions) as GrpcJs.ClientDuplexStream<unknown, unknown>;
            // A failed request stream cancels the call, which surfaces to the reader as CANCELLED.
            writeRequests(call, requests).catch(() => {});
            return call;
          },
          observe,
        );
  }
}

/** Reads a response stream lazily; leaving the loop early cancels the call. */
async function* readResponses(
  options: CallOptions,
  start: () => GrpcJs.ClientReadableStream<unknown>,
  observe: (started: bigint, error?: unknown) => void,
): AsyncGenerator<unknown> {
  const started = process.hrtime.bigint();
  const call = start();
  const release = cancelOn(call, options.signal);
  let finished = false;
  try {
    for await (const response of call) yield response;
    finished = true;
    observe(started);
  } catch (error) {
    finished = true;
    observe(started, error);
    throw error;
  } finally {
    release();
    if (!finished) {
      // The caller left the loop early: the call ends here, cancelled, and still counts as a call.
      call.cancel();
      observe(started, Object.assign(new Error('cancelled by the caller'), { code: grpc.status.CANCELLED }));
    }
  }
}
