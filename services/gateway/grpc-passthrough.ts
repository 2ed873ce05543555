/**
 * gRPC callers' unary calls forwarded as bytes. A gRPC request to an exposed unary method that
 * the gateway passes on unchanged (Predict, GetModel, ListSymbols, …) is not decoded, re-encoded,
 * decoded again from the upstream's answer and encoded once more: the request's gRPC frame goes
 * upstream as it came, on an HTTP/2 stream of the gateway's own connections to the service
 * (upstream-sessions.ts), and the answer's frames and trailers come back as they arrive. Admission (credentials, role, rate limit), the deadline, the trace context, the
 * identity metadata, the gateway's span and its metrics are the same as on the Connect path
 * (authenticate.ts, forward.ts, observe.ts); an upstream status comes back with its code, message
 * and google.rpc details byte for byte. Everything else (Connect, gRPC-Web, compressed requests,
 * streams, the methods whose request the gateway changes) goes to connect-node.
 */
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { parseTimeout, setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import { methodPath, socketFailure, type CallObserver } from '../../lib/grpc/index.js';
import { credentialsOf } from './authenticate.js';
import { startCallSpan, type CallSpan } from './call-span.js';
import { toConnectError } from './errors.js';
import type { Identity } from './identity.js';
import type { StreamHandler } from './listener.js';
import { roleName } from './roles.js';
import type { UpstreamSessions } from './upstream-sessions.js';

/** One method served by byte forwarding. */
export interface PassthroughRoute {
  readonly method: DescMethod;
  /** The connections to the service that serves it. */
  readonly upstream: UpstreamSessions;
}

/** Options of {@link grpcPassthrough}. */
export interface PassthroughOptions {
  /** The methods forwarded as bytes; see {@link passthroughRoutes}. */
  readonly routes: readonly PassthroughRoute[];
  /**
   * Admits one call of `<service>/<method>` (authenticate.ts's `admit`): the identity, at once or
   * later; a refusal is thrown or rejected.
   */
  admit(path: string, credentials: string | undefined): Identity | Promise<Identity>;
  /** The server observer the Connect path reports to (metrics, error logs). */
  readonly observer: CallObserver;
  /** Time allowed for a call whose caller set no deadline, in ms. */
  readonly defaultTimeoutMs: number;
  /** Largest request message accepted, in bytes. */
  readonly maxBytes: number;
}

const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
/** The caller's answer ends with trailers (the status) after its frames. */
const RESPOND_OPTIONS = { waitForTrailers: true };
/** The longest grpc-timeout honoured, in ms (about 24 days: what a timer can wait). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Response headers of the upstream that are not its status or metadata. */
const NOT_METADATA = new Set(['content-type', 'date', 'content-length', 'grpc-encoding', 'grpc-accept-encoding']);

/** A method's fixed part of the upstream request headers, and its names for metrics and spans. */
interface Route extends PassthroughRoute {
  readonly path: string;
  readonly service: string;
  readonly name: string;
  readonly headers: Readonly<OutgoingHttpHeaders>;
}

/** Upstream request headers of an identity, made once per identity. */
const identityHeaders = new WeakMap<Identity, Readonly<Record<string, string>>>();

function headersOf(identity: Identity): Readonly<Record<string, string>> {
  let headers = identityHeaders.get(identity);
  if (!headers) {
    headers = { 'x-nepse-principal': identity.principal, 'x-nepse-role': roleName(identity.role), 'x-nepse-key-id': identity.keyId };
    identityHeaders.set(identity, headers);
  }
  return headers;
}

/** A grpc-timeout value of `ms` (the wire format allows at most 8 digits). */
function timeoutValue(ms: number): string {
  return ms < 1e8 ? `${ms}m` : `${Math.ceil(ms / 1000)}S`;
}

/**
 * Whether a request is plain gRPC (not gRPC-Web, not compressed). One with an Origin goes the
 * general way, where the CORS headers are added (a browser cannot send plain gRPC anyway).
 */
function isPlainGrpc(headers: IncomingHttpHeaders): boolean {
  if (headers[':method'] !== 'POST' || headers.origin !== undefined) return false;
  const type = headers['content-type'];
  const encoding = headers['grpc-encoding'];
  return (type === 'application/grpc' || type === 'application/grpc+proto') && (encoding === undefined || encoding === 'identity');
}

/** gRPC codes of an upstream stream reset, as grpc-js maps them. */
const RESET_CODES: Record<number, Code> = {
  [constants.NGHTTP2_REFUSED_STREAM]: Code.Unavailable,
  [constants.NGHTTP2_CANCEL]: Code.Canceled,
  [constants.NGHTTP2_ENHANCE_YOUR_CALM]: Code.ResourceExhausted,
  [constants.NGHTTP2_INADEQUATE_SECURITY]: Code.PermissionDenied,
};

/** gRPC codes of an HTTP status that is not 200 and carries no gRPC status (the gRPC HTTP mapping). */
function httpCode(status: number): Code {
  if (status === 400) return Code.Internal;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.Unimplemented;
  if (status === 429 || status === 502 || status === 503 || status === 504) return Code.Unavailable;
  return Code.Unknown;
}

/**
 * The HTTP/2 streams of `options.routes` from gRPC callers, taken before node:http2 makes its
 * request and response objects of them (listener.ts): served on the stream itself, which spares
 * each call those two objects, their listeners and their header bookkeeping. Everything else is
 * left to connect-node.
 */
export function grpcPassthrough(options: PassthroughOptions): StreamHandler {
  const routes = new Map<string, Route>(
    options.routes.map((route) => {
      const path = methodPath(route.method);
      const headers = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
      return [path, { ...route, path, service: route.method.parent.typeName, name: route.method.name, headers }];
    }),
  );
  return (stream, headers) => {
    const route = routes.get(headers[':path'] ?? '');
    if (!route || !isPlainGrpc(headers)) return false;
    new ForwardedCall(route, stream, headers, options);
    return true;
  };
}

/** The forwarded call an emitter's events belong to (set on the caller's stream and on the upstream stream). */
const CALL = Symbol('forwarded call');
type Carrier = { [CALL]?: ForwardedCall };

// Listeners shared by every call: the call is found through the emitter, so none is made per call.
function onRequestData(this: Carrier, chunk: Buffer) {
  this[CALL]!.received(chunk);
}
function onRequestEnd(this: Carrier) {
  this[CALL]!.requestEnded();
}
function onCallerClose(this: Carrier) {
  this[CALL]!.callerClosed();
}
function onWantTrailers(this: Carrier) {
  this[CALL]!.sendTrailers();
}
function onUpstreamResponse(this: Carrier, headers: IncomingHttpHeaders) {
  this[CALL]!.upstreamHeaders(headers);
}
function onUpstreamData(this: Carrier, chunk: Buffer) {
  this[CALL]!.upstreamData(chunk);
}
function onUpstreamTrailers(this: Carrier, trailers: IncomingHttpHeaders) {
  this[CALL]!.upstreamTrailers = trailers;
}
function onUpstreamError(this: Carrier, error: Error) {
  this[CALL]!.upstreamError = error;
}
function onUpstreamClose(this: Carrier) {
  this[CALL]!.upstreamClosed();
}
function onDeadline(call: ForwardedCall) {
  call.deadlineReached();
}

/**
 * One call from its headers to its status: admitted as soon as its headers are in, the request's
 * bytes forwarded once they are all in (one gRPC frame as it came), and the answer's bytes and
 * trailers passed back as they arrive.
 */
class ForwardedCall {
  private readonly started = performance.now();
  private readonly span: CallSpan;
  private readonly deadline: number = 0;
  private admitted: Identity | Promise<Identity> | undefined;
  private refused: unknown;
  private chunks: Buffer[] | undefined;
  private first: Buffer | undefined;
  private size = 0;
  private upstream: ClientHttp2Stream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  upstreamTrailers: IncomingHttpHeaders | undefined;
  upstreamError: Error | undefined;
  private upstreamStatus: IncomingHttpHeaders | undefined;
  private trailers: Record<string, string | string[]> | undefined;

  constructor(
    private readonly route: Route,
    private readonly caller: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly options: PassthroughOptions,
  ) {
    this.span = startCallSpan(route.service, route.name, (name) => {
      const value = headers[name];
      return typeof value === 'string' ? value : undefined;
    });
    (caller as Carrier)[CALL] = this;
    caller.once('close', onCallerClose);
    caller.once('wantTrailers', onWantTrailers);
    const grpcTimeout = headers['grpc-timeout'];
    const timeout = parseTimeout(typeof grpcTimeout === 'string' ? grpcTimeout : null, MAX_TIMEOUT_MS);
    if (timeout.error) {
      this.fail(timeout.error);
      return;
    }
    this.deadline = Date.now() + (timeout.timeoutMs ?? options.defaultTimeoutMs);
    try {
      this.admitted = options.admit(`${route.service}/${route.name}`, credentialsOf(headers));
      // A refusal found later is answered once the body is in, as one found now is.
      if (this.admitted instanceof Promise) this.admitted.catch(() => {});
    } catch (error) {
      this.refused = error;
    }
    caller.on('data', onRequestData);
    caller.once('end', onRequestEnd);
  }

  received(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.options.maxBytes + 5) return;
    if (this.first === undefined) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
  }

  requestEnded(): void {
    if (this.done) return;
    const { size, options } = this;
    if (size > options.maxBytes + 5)
      return this.fail(
        new ConnectError(`message of ${size - 5} bytes is larger than the ${options.maxBytes} allowed`, Code.ResourceExhausted),
      );
    const body = this.chunks ? Buffer.concat(this.chunks, size) : (this.first ?? Buffer.alloc(0));
    if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
      return this.fail(
        new ConnectError(`protocol error: a unary call carries exactly one message (${body.length} bytes received)`, Code.InvalidArgument),
      );
    }
    if (body[0] !== 0) return this.fail(new ConnectError('protocol error: a compressed message without a grpc-encoding', Code.Internal));
    if (this.refused !== undefined) return this.fail(this.refused);
    const admitted = this.admitted!;
    if (admitted instanceof Promise) {
      admitted.then(
        (identity) => this.forward(identity, body),
        (error: unknown) => this.fail(error),
      );
    } else this.forward(admitted, body);
  }

  /** Sends the request upstream: the gRPC frame as it came, with the identity, deadline and trace context. */
  private forward(identity: Identity, body: Buffer): void {
    if (this.done) return;
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return this.fail(new ConnectError('the deadline passed before the call was forwarded', Code.DeadlineExceeded));
    const headers: OutgoingHttpHeaders = { ...this.route.headers, ...headersOf(identity), ...this.span.headers };
    headers['grpc-timeout'] = timeoutValue(remaining);
    let upstream: ClientHttp2Stream;
    try {
      upstream = this.route.upstream.request(headers);
    } catch (error) {
      return this.fail(error);
    }
    this.upstream = upstream;
    (upstream as Carrier)[CALL] = this;
    upstream.once('response', onUpstreamResponse);
    upstream.on('data', onUpstreamData);
    upstream.once('trailers', onUpstreamTrailers);
    upstream.on('error', onUpstreamError);
    upstream.once('close', onUpstreamClose);
    // The upstream enforces the deadline it is sent; this is for an upstream that cannot.
    this.timer = setTimeout(onDeadline, remaining, this);
    upstream.end(body);
  }

  upstreamHeaders(headers: IncomingHttpHeaders): void {
    // A status in the headers is a trailers-only answer (an error, usually): no message follows.
    if (headers['grpc-status'] !== undefined) this.upstreamStatus = headers;
    else if (Number(headers[':status']) !== 200) this.upstreamStatus = headers;
    else if (!this.done && !this.caller.destroyed) this.caller.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
  }

  upstreamData(chunk: Buffer): void {
    if (!this.done && !this.caller.destroyed) this.caller.write(chunk);
  }

  upstreamClosed(): void {
    clearTimeout(this.timer);
    if (this.done) return;
    const status = this.upstreamTrailers ?? this.upstreamStatus;
    if (status && status['grpc-status'] !== undefined) return this.answer(status);
    const error = this.upstreamError;
    const { service } = this.route;
    if (status) {
      const http = Number(status[':status']);
      return this.fail(new ConnectError(`${service} answered HTTP ${http} without a gRPC status`, httpCode(http)));
    }
    // A connection that failed cancels the streams waiting on it, with the socket's error as the cause.
    const socketError = (error?.cause ?? error) as NodeJS.ErrnoException | undefined;
    const reason = socketFailure(socketError?.code);
    if (reason) return this.fail(new ConnectError(`${service} is unreachable (${reason})`, Code.Unavailable, undefined, undefined, error));
    const reset = this.upstream?.rstCode ?? 0;
    if (reset !== 0 || error)
      return this.fail(
        new ConnectError(
          error ? `${service} call failed: ${error.message}` : `${service} reset the call (HTTP/2 code ${reset})`,
          RESET_CODES[reset] ?? (error ? Code.Unavailable : Code.Internal),
          undefined,
          undefined,
          error,
        ),
      );
    this.fail(new ConnectError(`${service} ended the call without a status`, Code.Unknown));
  }

  deadlineReached(): void {
    if (this.done) return;
    this.upstream?.close(constants.NGHTTP2_CANCEL);
    this.fail(new ConnectError('deadline exceeded', Code.DeadlineExceeded));
  }

  // The caller went away (reset, deadline on its side): the upstream call ends too.
  callerClosed(): void {
    if (this.done) return;
    this.upstream?.close(constants.NGHTTP2_CANCEL);
    this.finish(Code.Canceled);
  }

  /** Passes the upstream's status and trailing metadata back as they came. */
  private answer(status: IncomingHttpHeaders): void {
    const code = Number(status['grpc-status']);
    const trailers: Record<string, string | string[]> = {};
    for (const name in status) {
      const value = status[name];
      if (name[0] !== ':' && value !== undefined && !NOT_METADATA.has(name)) trailers[name] = value;
    }
    this.finish(code, code === 0 ? undefined : upstreamError(code, status['grpc-message']));
    this.end(trailers);
  }

  private fail(error: unknown): void {
    if (this.done) return;
    const trailers: Record<string, string> = {};
    setTrailerStatus(new Headers(), toConnectError(error)).forEach((value, key) => (trailers[key] = value));
    this.finish(Number(trailers['grpc-status']), error);
    this.end(trailers);
  }

  /** Ends the caller's answer; `trailers` go once its last frame is out ('wantTrailers'). */
  private end(trailers: Record<string, string | string[]>): void {
    const { caller } = this;
    if (caller.destroyed || caller.closed) return;
    this.trailers = trailers;
    if (!caller.headersSent) caller.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
    caller.end();
  }

  sendTrailers(): void {
    if (!this.caller.destroyed) this.caller.sendTrailers(this.trailers ?? {});
  }

  private finish(code: number, error?: unknown): void {
    this.done = true;
    clearTimeout(this.timer);
    this.span.end(code, error);
    this.options.observer({
      service: this.route.service,
      method: this.route.name,
      kind: 'unary',
      code,
      durationSeconds: (performance.now() - this.started) / 1e3,
      error,
    });
  }
}

/** The error an upstream's non-OK status stands for, for the span and the logs (the caller gets the trailers as they came). */
function upstreamError(code: number, message: string | string[] | undefined): ConnectError {
  let text = typeof message === 'string' ? message : '';
  try {
    text = decodeURIComponent(text);
  } catch {
    // not percent-encoded as it should be: shown as it came
  }
  return new ConnectError(text, code as Code);
}

/** The byte-forwarded routes: every exposed unary method of `services` that no override replaces. */
export function passthroughRoutes(
  services: ReadonlyArray<{
    methods: readonly DescMethod[];
    exposed: ReadonlySet<string>;
    overridden: ReadonlySet<string>;
    upstream: UpstreamSessions;
  }>,
): PassthroughRoute[] {
  return services.flatMap((s) =>
    s.methods
      .filter((m) => m.methodKind === 'unary' && s.exposed.has(m.name) && !s.overridden.has(m.localName))
      .map((method) => ({ method, upstream: s.upstream })),
  );
}
