/**
 * gRPC callers' unary calls forwarded as bytes. A gRPC request to an exposed unary method that
 * the gateway passes on unchanged (Predict, GetModel, ListSymbols, …) is not decoded, re-encoded,
 * decoded again from the upstream's answer and encoded once more: the request's message bytes go
 * upstream as they came, over one grpc-js channel per service, and the answer's bytes come back
 * the same way. Admission (credentials, role, rate limit), the deadline, the trace context, the
 * identity metadata, the gateway's span and its metrics are the same as on the Connect path
 * (authenticate.ts, forward.ts, observe.ts); an upstream status comes back with its code, message
 * and google.rpc details byte for byte. Everything else (Connect, gRPC-Web, compressed requests,
 * streams, the methods whose request the gateway changes) goes to connect-node.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders } from 'node:http2';
import type { DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { parseTimeout, setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import { grpc, isServiceError, methodPath, type CallObserver, type GrpcJs } from '../../lib/grpc/index.js';
import { credentialsOf } from './authenticate.js';
import { startCallSpan, withCallSpan } from './call-span.js';
import { toConnectError } from './errors.js';
import type { Identity } from './identity.js';
import type { Handler } from './listener.js';
import { roleName } from './roles.js';

/** One method served by byte forwarding. */
export interface PassthroughRoute {
  readonly method: DescMethod;
  /** The raw channel of the service that serves it. */
  readonly client: GrpcJs.Client;
}

/** Options of {@link grpcPassthrough}. */
export interface PassthroughOptions {
  /** The methods forwarded as bytes; see {@link passthroughRoutes}. */
  readonly routes: readonly PassthroughRoute[];
  /** Admits one call of `<service>/<method>` (authenticate.ts's `admit`), or throws the refusal. */
  admit(path: string, credentials: string | undefined): Promise<Identity>;
  /** The server observer the Connect path reports to (metrics, error logs). */
  readonly observer: CallObserver;
  /** Time allowed for a call whose caller set no deadline, in ms. */
  readonly defaultTimeoutMs: number;
  /** Largest request message accepted, in bytes. */
  readonly maxBytes: number;
}

const passBytes = (bytes: Buffer) => bytes;
const RESPONSE_HEADERS = { 'content-type': 'application/grpc' };
const OK_TRAILERS = { 'grpc-status': '0' };
/** The longest grpc-timeout honoured, in ms (about 24 days: what a timer can wait). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A raw grpc-js channel to `address`, with the options of the kit's clients so that both share one connection. */
export function rawChannel(address: string): GrpcJs.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    'grpc.keepalive_time_ms': 30_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** Upstream metadata of an identity, made once per identity and copied per call. */
const identityMetadata = new WeakMap<Identity, GrpcJs.Metadata>();

function metadataOf(identity: Identity, trace: Readonly<Record<string, string>>): GrpcJs.Metadata {
  let base = identityMetadata.get(identity);
  if (!base) {
    base = new grpc.Metadata();
    base.set('x-nepse-principal', identity.principal);
    base.set('x-nepse-role', roleName(identity.role));
    base.set('x-nepse-key-id', identity.keyId);
    identityMetadata.set(identity, base);
  }
  const metadata = base.clone();
  for (const name in trace) metadata.set(name, trace[name]);
  return metadata;
}

/** Whether a request is plain gRPC (not gRPC-Web, not compressed) over HTTP/2. */
function isPlainGrpc(req: IncomingMessage | Http2ServerRequest): boolean {
  if (req.httpVersionMajor !== 2 || req.method !== 'POST') return false;
  const type = req.headers['content-type'];
  const encoding = req.headers['grpc-encoding'];
  return (type === 'application/grpc' || type === 'application/grpc+proto') && (encoding === undefined || encoding === 'identity');
}

/** The gRPC trailers of a failed call: an upstream's status as it came, anything else as the Connect path maps it. */
function errorTrailers(error: unknown): Record<string, string> {
  if (isServiceError(error)) {
    const trailers: Record<string, string> = { 'grpc-status': String(error.code), 'grpc-message': encodeURIComponent(error.details) };
    const details = error.metadata.get('grpc-status-details-bin')[0];
    if (details && typeof details !== 'string') trailers['grpc-status-details-bin'] = details.toString('base64');
    return trailers;
  }
  const trailers: Record<string, string> = {};
  setTrailerStatus(new Headers(), toConnectError(error)).forEach((value, key) => (trailers[key] = value));
  return trailers;
}

/** Wraps `next` (connect-node): the calls of `options.routes` from gRPC callers are served here. */
export function grpcPassthrough(options: PassthroughOptions, next: Handler): Handler {
  const routes = new Map(options.routes.map((route) => [methodPath(route.method), route]));
  return (req, res) => {
    const route = routes.get(req.url ?? '');
    if (!route || !isPlainGrpc(req)) return next(req, res);
    serve(route, req as Http2ServerRequest, res as Http2ServerResponse, options);
  };
}

function serve(route: PassthroughRoute, req: Http2ServerRequest, res: Http2ServerResponse, options: PassthroughOptions): void {
  const started = process.hrtime.bigint();
  const { method } = route;
  const headers: IncomingHttpHeaders = req.headers;
  const header = (name: string) => {
    const value = headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const span = startCallSpan(method.parent.typeName, method.name, header);
  let call: GrpcJs.ClientUnaryCall | undefined;
  let done = false;
  const finish = (code: number, error?: unknown) => {
    if (done) return;
    done = true;
    res.off('close', onClose);
    span.end(code, error);
    options.observer({
      service: method.parent.typeName,
      method: method.name,
      kind: 'unary',
      code,
      durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      error,
    });
  };
  const fail = (error: unknown) => {
    const trailers = errorTrailers(error);
    finish(Number(trailers['grpc-status']), error);
    if (res.stream.destroyed) return;
    res.writeHead(200, RESPONSE_HEADERS);
    res.addTrailers(trailers);
    res.end();
  };
  // The caller went away (reset, deadline on its side): the upstream call ends too.
  const onClose = () => {
    call?.cancel();
    finish(Code.Canceled);
  };
  res.once('close', onClose);

  const timeout = parseTimeout(header('grpc-timeout') ?? null, MAX_TIMEOUT_MS);
  if (timeout.error) return fail(timeout.error);
  const deadline = Date.now() + (timeout.timeoutMs ?? options.defaultTimeoutMs);
  const admitted = options.admit(`${method.parent.typeName}/${method.name}`, credentialsOf(header));
  // Unhandled until the body is read: a refusal is answered then.
  admitted.catch(() => {});

  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= options.maxBytes + 5) chunks.push(chunk);
  });
  req.once('end', () => {
    if (done) return;
    if (size > options.maxBytes + 5)
      return fail(new ConnectError(`message of ${size - 5} bytes is larger than the ${options.maxBytes} allowed`, Code.ResourceExhausted));
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
      return fail(
        new ConnectError(`protocol error: a unary call carries exactly one message (${body.length} bytes received)`, Code.InvalidArgument),
      );
    }
    if (body[0] !== 0) return fail(new ConnectError('protocol error: a compressed message without a grpc-encoding', Code.Internal));
    const message = body.subarray(5);
    admitted.then((identity) => {
      if (done) return;
      const metadata = metadataOf(identity, span.headers);
      call = withCallSpan(span, () =>
        route.client.makeUnaryRequest(
          methodPath(method),
          passBytes,
          passBytes,
          message,
          metadata,
          { deadline },
          (error: GrpcJs.ServiceError | null, response?: Buffer) => {
            if (error || !response) return fail(error ?? new ConnectError('no response', Code.Internal));
            finish(0);
            if (res.stream.destroyed) return;
            const frame = Buffer.allocUnsafe(5 + response.length);
            frame[0] = 0;
            frame.writeUInt32BE(response.length, 1);
            response.copy(frame, 5);
            res.writeHead(200, RESPONSE_HEADERS);
            res.addTrailers(OK_TRAILERS);
            res.end(frame);
          },
        ),
      );
    }, fail);
  });
}

/** The byte-forwarded routes: every exposed unary method of `services` that no override replaces. */
export function passthroughRoutes(
  services: ReadonlyArray<{
    methods: readonly DescMethod[];
    exposed: ReadonlySet<string>;
    overridden: ReadonlySet<string>;
    client: GrpcJs.Client;
  }>,
): PassthroughRoute[] {
  return services.flatMap((s) =>
    s.methods
      .filter((m) => m.methodKind === 'unary' && s.exposed.has(m.name) && !s.overridden.has(m.localName))
      .map((method) => ({ method, client: s.client })),
  );
}
