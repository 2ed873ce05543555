/**
 * A raw @grpc/grpc-js echo server, no protobuf: the machine's gRPC ceiling that the benchmarks
 * print their figures beside. bench/grpc-echo.ts spawns it as its own process:
 * `node --import tsx bench/grpc-echo-server.ts <port>` (or ECHO_PORT); it binds 127.0.0.1 only,
 * prints `ready <port>` on stdout once bound, and exits on SIGTERM or SIGINT, and also when its
 * stdin closes if ECHO_EXIT_WITH_STDIN=1 (the parent went away without stopping it).
 */
import { pathToFileURL } from 'node:url';
import { grpc, type GrpcJs } from '../lib/grpc/grpc-js.js';

const identity = (bytes: Buffer) => bytes;

/** Both echo methods: payloads are opaque bytes, (de)serialized as they are. */
export const ECHO_SERVICE = {
  unary: {
    path: '/bench.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  bidi: {
    path: '/bench.Echo/Bidi',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies GrpcJs.ServiceDefinition;

/** Starts the echo server on 127.0.0.1:`port` (0: a free one); resolves with the server and bound port. */
export function startEchoServer(port: number): Promise<{ server: GrpcJs.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    unary: (call: GrpcJs.ServerUnaryCall<Buffer, Buffer>, callback: GrpcJs.sendUnaryData<Buffer>) => callback(null, call.request),
    // Writes regardless of write()'s return: the client's window bounds what is in flight.
    bidi: (call: GrpcJs.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (message: Buffer) => call.write(message));
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve({ server, port: bound }),
    ),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? process.env.ECHO_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`grpc-echo-server: bad port ${process.argv[2] ?? process.env.ECHO_PORT}`);
    process.exit(2);
  }
  const { server, port: bound } = await startEchoServer(port);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // In-flight calls get a moment, then everything is cut: this is a benchmark target.
    const timer = setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, 1_000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent holds our stdin open; it closes when the parent dies, even by SIGKILL.
  if (process.env.ECHO_EXIT_WITH_STDIN === '1') process.stdin.once('close', stop).resume();
  console.log(`ready ${bound}`);
}
