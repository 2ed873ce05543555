import { once } from 'node:events';
import type { DescMethod } from '@bufbuild/protobuf';
import { HealthImplementation } from 'grpc-health-check';
import { deadlineMs, runInCall, type CallContext } from './context.js';
import { grpcDefinition, UndecodableRequest } from './definition.js';
import { InvalidArgumentError, toServiceError } from './errors.js';
import { grpc, type GrpcJs } from './grpc-js.js';
import { handlerOf, type ServiceImplementation } from './handlers.js';
import { addReflection, HEALTH_SERVICE } from './reflection.js';

/** What the server reports about each finished call (metrics and logs hook in here). */
export interface CallRecord {
  /** Fully-qualified service name, e.g. `nepse.ingestion.v1.IngestionService`. */
  service: string;
  /** Method name as in the proto, e.g. `ListSymbols`. */
  method: string;
  kind: DescMethod['methodKind'];
  /** gRPC status code the call ended with. */
  code: GrpcJs.status;
  /** Wall time from the call's arrival to its status, in seconds. */
  durationSeconds: number;
  /** What the handler threw, if anything. */
  error?: unknown;
}

/** Receives a record of every call; must not throw. */
export type CallObserver = (record: CallRecord) => void;

/** Options of {@link createGrpcServer}. */
export interface GrpcServerOptions {
  services: readonly ServiceImplementation[];
  /** Called once per finished call with its status and duration. */
  observer?: CallObserver;
  /** Largest request message accepted, in bytes (default 16 MiB). */
  maxReceiveMessageBytes?: number;
}

/** A gRPC server with reflection and health, serving protobuf-es service descriptors. */
export interface GrpcServer {
  /** Binds and starts; resolves with the bound port (pass 0 for a free one). */
  listen(port: number, host?: string): Promise<number>;
  /** Sets grpc.health.v1 status for the server and every served service. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, waits up to `graceMs` for in-flight calls, then cancels the rest. */
  stop(graceMs?: number): Promise<void>;
  readonly raw: GrpcJs.Server;
}

/** Creates a server for the given implementations, plus server reflection and grpc.health.v1. */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 16 * 1024 * 1024,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const names = options.services.map((s) => s.service.typeName);
  const health = new HealthImplementation(Object.fromEntries(['', ...names].map((n) => [n, 'NOT_SERVING' as const])));
  health.addToServer(server);
  addReflection(server, names);
  for (const implementation of options.services) {
    const handlers: Record<string, GrpcJs.UntypedHandleCall> = {};
    for (const method of implementation.service.methods) {
      handlers[method.name] = wrapHandler(method, handlerOf(implementation, method), options.observer);
    }
    server.addService(grpcDefinition(implementation.service), handlers);
  }
  return {
    raw: server,
    listen: (port, host = '0.0.0.0') =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        );
      }),
    setServing(serving) {
      for (const name of ['', ...names, HEALTH_SERVICE]) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
    },
    stop: (graceMs = 5_000) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

type AnyCall =
  | GrpcJs.ServerUnaryCall<unknown, unknown>
  | GrpcJs.ServerReadableStream<unknown, unknown>
  | GrpcJs.ServerWritableStream<unknown, unknown>
  | GrpcJs.ServerDuplexStream<unknown, unknown>;

/** How close to its deadline a cancelled call counts as expired, in milliseconds (timer and clock skew). */
const DEADLINE_SLACK_MS = 5;

/** An abort reason carrying the status the client got: CANCELLED or DEADLINE_EXCEEDED. */
const abortReason = (code: GrpcJs.status) =>
  Object.assign(new Error(code === grpc.status.DEADLINE_EXCEEDED ? 'deadline exceeded' : 'call cancelled by the client'), { code });

/**
 * The context of one call: its deadline, and a signal that fires on cancel or deadline; and how the
 * call ended early, read when its status is recorded.
 *
 * The signal (an AbortController and a deadline timer) is made only when the handler first reads
 * it: most unary handlers never do, and on a sub-millisecond call the controller, its listeners
 * and the timer are a visible share of the work. A signal read late is already aborted when the
 * call was cancelled or its deadline has passed by then. A class rather than closures for the same
 * reason: the services run through tsx, which names every named closure as it is made.
 */
class CallScope {
  readonly context: CallContext;
  private readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended: GrpcJs.status | undefined;
  private readonly onCancel: () => void;
  private peerAddress: string | undefined;

  constructor(
    private readonly call: AnyCall,
    path: string,
  ) {
    const deadline = deadlineMs(call.getDeadline());
    this.deadline = deadline;
    this.onCancel = this.cancelled.bind(this);
    (call as NodeJS.EventEmitter).on('cancelled', this.onCancel);
    const scope = this;
    this.context = {
      method: path,
      metadata: call.metadata,
      deadline,
      // Read from the socket only if asked: few handlers do.
      get peer() {
        return (scope.peerAddress ??= call.getPeer());
      },
      get signal() {
        return scope.signal();
      },
    };
  }

  /** Whether the call was cancelled or its deadline passed, and so which status the client got. */
  abortedCode(): GrpcJs.status | undefined {
    return this.ended ?? (this.expired() ? grpc.status.DEADLINE_EXCEEDED : undefined);
  }

  done(): void {
    if (this.timer) clearTimeout(this.timer);
    (this.call as NodeJS.EventEmitter).removeListener('cancelled', this.onCancel);
  }

  private expired(): boolean {
    return this.deadline !== undefined && Date.now() >= this.deadline;
  }

  private end(code: GrpcJs.status): void {
    this.ended ??= code;
    this.controller?.abort(abortReason(this.ended));
  }

  // grpc-js also reports a passed deadline as 'cancelled' (its stream closes after the status), so
  // the clock tells a deadline from a client's cancel.
  private cancelled(): void {
    const deadline = this.deadline;
    this.end(deadline !== undefined && deadline - Date.now() <= DEADLINE_SLACK_MS ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED);
  }

  private signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    if (this.ended === undefined && this.expired()) this.ended = grpc.status.DEADLINE_EXCEEDED;
    if (this.ended !== undefined) controller.abort(abortReason(this.ended));
    else if (this.deadline !== undefined)
      this.timer = setTimeout(() => this.end(grpc.status.DEADLINE_EXCEEDED), Math.max(0, this.deadline - Date.now()));
    return controller.signal;
  }
}

/**
 * The INVALID_ARGUMENT of request bytes that are not the method's message; `index` is the
 * message's place (from 0) in a request stream.
 */
function notDecodable(request: UndecodableRequest, index?: number): InvalidArgumentError {
  const cause = request.cause instanceof Error ? request.cause.message : String(request.cause);
  return new InvalidArgumentError(
    { field: index === undefined ? 'request' : `requests[${index}]`, description: `not a valid ${request.typeName}: ${cause}` },
    `${index === undefined ? 'request' : `request ${index} of the stream`} is not a valid ${request.typeName}`,
  );
}

/** Where a request stream records a message that did not decode, so the call ends with it whatever the handler made of it. */
interface DecodeFailure {
  error?: InvalidArgumentError;
}

/**
 * Reads a request stream as an async iterable that ends with an error when the call is cancelled
 * or a message does not decode. Leaving the loop early does not destroy the call's stream: a bidi
 * call still has its responses and status to send.
 */
async function* requestsOf(
  call: GrpcJs.ServerReadableStream<unknown, unknown> | GrpcJs.ServerDuplexStream<unknown, unknown>,
  signal: AbortSignal,
  failure: DecodeFailure,
) {
  const abort = () => call.destroy(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
  signal.addEventListener('abort', abort, { once: true });
  try {
    let index = 0;
    for await (const message of call.iterator({ destroyOnReturn: false })) {
      if (message instanceof UndecodableRequest) throw (failure.error = notDecodable(message, index));
      yield message;
      index++;
    }
  } finally {
    signal.removeEventListener('abort', abort);
  }
}

/** Writes a response stream honouring back-pressure; stops when the call is cancelled. */
async function writeAll(
  call: GrpcJs.ServerWritableStream<unknown, unknown> | GrpcJs.ServerDuplexStream<unknown, unknown>,
  responses: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const response of responses) {
    if (signal.aborted) return;
    if (!call.write(response)) {
      try {
        await once(call, 'drain', { signal });
      } catch {
        return;
      }
    }
  }
}

function wrapHandler(method: DescMethod, handler: (...args: never[]) => unknown, observer?: CallObserver): GrpcJs.UntypedHandleCall {
  const path = `/${method.parent.typeName}/${method.name}`;
  const invoke = handler as (input: unknown, context: CallContext) => unknown;
  const record = (started: number, code: GrpcJs.status, error?: unknown) =>
    observer?.({
      service: method.parent.typeName,
      method: method.name,
      kind: method.methodKind,
      code,
      durationSeconds: (performance.now() - started) / 1e3,
      error,
    });
  const fail = (started: number, error: unknown, aborted: GrpcJs.status | undefined) => {
    const status = toServiceError(error);
    // Once cancelled or expired, the client already has its status; what the handler threw after is moot.
    record(started, aborted ?? status.code ?? grpc.status.INTERNAL, error);
    return status;
  };

  switch (method.methodKind) {
    case 'unary':
    case 'client_streaming':
      return (call: AnyCall, callback: GrpcJs.sendUnaryData<unknown>) => {
        const started = performance.now();
        const scope = new CallScope(call, path);
        const { context } = scope;
        const failure: DecodeFailure = {};
        const input =
          method.methodKind === 'unary'
            ? (call as GrpcJs.ServerUnaryCall<unknown, unknown>).request
            : requestsOf(call as GrpcJs.ServerReadableStream<unknown, unknown>, context.signal, failure);
        runInCall(context, async () => {
          try {
            if (input instanceof UndecodableRequest) throw notDecodable(input);
            const response = await invoke(input, context);
            if (failure.error) throw failure.error;
            record(started, scope.abortedCode() ?? grpc.status.OK);
            callback(null, response);
          } catch (error) {
            callback(fail(started, failure.error ?? error, scope.abortedCode()));
          } finally {
            scope.done();
          }
        });
      };
    case 'server_streaming':
    case 'bidi_streaming':
      return (call: GrpcJs.ServerWritableStream<unknown, unknown> | GrpcJs.ServerDuplexStream<unknown, unknown>) => {
        const started = performance.now();
        const scope = new CallScope(call, path);
        const { context } = scope;
        const failure: DecodeFailure = {};
        const input =
          method.methodKind === 'server_streaming'
            ? (call as GrpcJs.ServerWritableStream<unknown, unknown>).request
            : requestsOf(call as GrpcJs.ServerDuplexStream<unknown, unknown>, context.signal, failure);
        runInCall(context, async () => {
          try {
            if (input instanceof UndecodableRequest) throw notDecodable(input);
            await writeAll(call, invoke(input, context) as AsyncIterable<unknown>, context.signal);
            if (failure.error) throw failure.error;
            record(started, context.signal.aborted ? (scope.abortedCode() ?? grpc.status.CANCELLED) : grpc.status.OK);
            if (!context.signal.aborted) call.end();
          } catch (error) {
            call.emit('error', fail(started, failure.error ?? error, context.signal.aborted ? scope.abortedCode() : undefined));
          } finally {
            scope.done();
          }
        });
      };
  }
}
